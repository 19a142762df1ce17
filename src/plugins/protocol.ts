import { z } from 'zod';
import { EVENT_NAMES, type EventName } from './events.js';
import type { CallKind } from './manifest.js';
import { routeKeySchema } from './routes.js';

/**
 * The messages between the daemon and a plugin's process, over Node's IPC channel (JSON). Every
 * message names its type; calls and RPCs carry ids, so many can be in flight at once, and output
 * names the call it belongs to: no shared stdin or stdout, and nothing is parsed out of free text.
 *
 * The process gets its PluginIdentity as its argument. Then:
 * daemon → plugin: call, rpc-reply.
 * plugin → daemon: ready or broken (once, when loaded), reply (one per call), rpc, output.
 */
export interface PluginIdentity {
  name: string;
  version: string;
  /** The installed plugin folder. */
  dir: string;
  entry: string;
  /** A folder of the plugin's own that survives upgrades and restarts. */
  dataDir: string;
}

export interface CommandInput {
  args: string[];
  /** Base64 of the caller's stdin, for commands that declare `stdin: true`; else null. */
  stdin: string | null;
  /** The name of the API token that ran the command. */
  who: string;
  /** Whether the caller is a terminal (stream commands only: the CLI asks for one when its stdin and stdout are one). */
  tty: boolean;
}

export interface RouteRequest {
  method: string;
  /** The path below /api/plugins/<name>/routes, e.g. "/status". */
  path: string;
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  /** The JSON body ({} when there was none). */
  body: unknown;
  who: string;
}

export type HostMessage =
  | { type: 'call'; id: number; kind: CallKind; name: string; input: unknown }
  | { type: 'rpc-reply'; id: number; ok: boolean; value?: unknown; error?: string };

/** A plugin command's arguments, as typed after it. */
export const commandArgsSchema = z.array(z.string().max(128 * 1024)).max(1024).default([]);

export const commandNameSchema = z.string().regex(/^[a-z][a-z0-9-]{0,40}$/, 'command names are lowercase letters, digits and dashes, starting with a letter');

export const commandSpecSchema = z
  .object({
    name: commandNameSchema,
    help: z.string().min(1, 'every command needs help text').max(300),
    /** The arguments, for help: "NAME [--force]". */
    usage: z.string().max(200).optional(),
    /** Whether the command reads the caller's stdin; only then is it sent. */
    stdin: z.boolean().optional(),
    /**
     * Whether the command runs attached to the caller (an upgraded connection, as `pier run`): it may
     * resolve with an ExecHandoff, which connects the caller's stdin, stdout and stderr, or terminal,
     * to a command in the plugin's service, streamed without a size limit.
     */
    stream: z.boolean().optional(),
  })
  .strict();
export type CommandSpec = z.infer<typeof commandSpecSchema>;

const id = z.number().int().nonnegative();
/** Larger output is sent as several messages, so no single message gets large. */
export const MAX_OUTPUT_CHUNK = 64 * 1024;

export const registrationSchema = z.object({
  events: z.array(z.enum(EVENT_NAMES as [EventName, ...EventName[]])),
  commands: z.array(commandSpecSchema),
  routes: z.array(routeKeySchema),
});

const childMessageSchema = z.discriminatedUnion('type', [
  registrationSchema.extend({ type: z.literal('ready') }).strict(),
  z.object({ type: z.literal('broken'), error: z.string() }).strict(),
  z.object({ type: z.literal('reply'), id, ok: z.boolean(), value: z.unknown().optional(), error: z.string().optional() }).strict(),
  z.object({ type: z.literal('rpc'), id, call: id, method: z.string().max(100), params: z.unknown().optional() }).strict(),
  // Bytes (a pg_dump archive) travel as base64; text as it is, so the common case stays readable in the daemon log.
  z.object({ type: z.literal('output'), call: id, stream: z.enum(['stdout', 'stderr']), data: z.string().max(MAX_OUTPUT_CHUNK), encoding: z.literal('base64').optional() }).strict(),
]);
export type ChildMessage = z.infer<typeof childMessageSchema>;
export type Registration = z.infer<typeof registrationSchema>;

export class ProtocolError extends Error {}

/** A message from a plugin's process, checked: the plugin's code is not trusted to keep to the protocol. */
export function parseChildMessage(raw: unknown): ChildMessage {
  const parsed = childMessageSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const type = (raw as { type?: unknown } | null)?.type;
  throw new ProtocolError(
    `sent a message Pier does not understand (${typeof type === 'string' ? `${type}: ` : ''}${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message})`,
  );
}

export const commandExitSchema = z.number().int().min(0).max(255);

export const serviceNameSchema = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'service names are lowercase letters, digits and dashes, starting with a letter');
export const serviceUserSchema = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/);
export const serviceCommandSchema = z.array(z.string().max(4096)).min(1).max(64);

/** What a stream command may resolve with instead of an exit code: `cmd` run as `user` in the plugin's own service, attached to the caller. */
export const execHandoffSchema = z.object({ exec: z.object({ service: serviceNameSchema, cmd: serviceCommandSchema, user: serviceUserSchema }).strict() }).strict();
export type ExecHandoff = z.infer<typeof execHandoffSchema>;

export const routeResponseSchema = z
  .object({
    status: z.number().int().min(100).max(599),
    headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/), z.string()),
    body: z.string(),
  })
  .strict();
export type RouteResponse = z.infer<typeof routeResponseSchema>;
