import type { z } from 'zod';
import { RESULT_MARKER } from '../git/push-protocol.js';
import { loadSettings } from '../settings.js';
import { readAdminToken } from '../setup.js';
import { appNameSchema, configKeySchema } from '../validation.js';
import { ApiClient } from './api-client.js';

/** A mistake in how a command was called; printed as it is, exit 1. */
export class UsageError extends Error {}

export function settings() {
  return loadSettings();
}

export async function client(): Promise<ApiClient> {
  const s = settings();
  const url = process.env.PIER_URL ?? `http://127.0.0.1:${s.apiPort}`;
  const token = process.env.PIER_TOKEN ?? (await readAdminToken(s));
  return new ApiClient(url.replace(/\/$/, ''), token);
}

export function appName(value: string): string {
  const parsed = appNameSchema.safeParse(value);
  if (!parsed.success) throw new UsageError(`Invalid app name "${value}": ${parsed.error.issues[0]!.message}`);
  return value;
}

export function configKey(value: string): string {
  const parsed = configKeySchema.safeParse(value);
  if (!parsed.success) throw new UsageError(`Invalid config key "${value}": ${parsed.error.issues[0]!.message}`);
  return value;
}

/** Checks an argument with the schema the API checks it with, so a mistake fails before any request. */
export function checked<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new UsageError(parsed.error.issues[0]!.message);
  return parsed.data;
}

export const out = (text: string): void => void process.stdout.write(`${text}\n`);
export const progress = (line: string) => process.stderr.write(`-----> ${line}\n`);

/** Prints a streamed build log; the exit code is 1 unless the build succeeded. */
export async function followBuild(run: (onLine: (line: string) => void) => Promise<void>): Promise<void> {
  let status = 'unknown';
  await run((line) => {
    if (line.startsWith(RESULT_MARKER)) status = line.slice(RESULT_MARKER.length).trim();
    else out(line);
  });
  if (status !== 'succeeded') process.exitCode = 1;
}
