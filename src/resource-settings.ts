import path from 'node:path';
import { z } from 'zod';
import type { RestartPolicy } from './state/process-settings-store.js';

/*
 * The values of resource:limit, ps:set and storage:mount, parsed the same way by the CLI (early
 * errors) and the API (parseWith). Limits that depend on the host (CPU cores, memory) are checked
 * by the daemon, which knows the host.
 */

const KIB = 1024;
const UNITS: Record<string, number> = { '': 1, b: 1, k: KIB, kb: KIB, m: KIB ** 2, mb: KIB ** 2, g: KIB ** 3, gb: KIB ** 3 };
/** Docker refuses smaller memory limits. */
export const MIN_MEMORY = 6 * KIB ** 2;
const MEMORY_RULE = 'a size in bytes or with a unit k, m or g (e.g. 512m, 1.5g), at least 6m';

export const memorySchema = z.string().transform((raw, ctx) => {
  const match = /^(\d+(?:\.\d+)?|\.\d+)([kmg]?b?)$/i.exec(raw.trim());
  const bytes = match ? Math.round(Number(match[1]) * UNITS[match[2]!.toLowerCase()]!) : NaN;
  if (!(bytes >= MIN_MEMORY)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `memory "${raw}" is not ${MEMORY_RULE}` });
    return z.NEVER;
  }
  return bytes;
});

/** Docker's finest CPU step. */
const MIN_CPUS = 0.01;

export const cpusSchema = z.string().transform((raw, ctx) => {
  const cpus = /^(\d+(?:\.\d+)?|\.\d+)$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!(cpus >= MIN_CPUS)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `cpu "${raw}" is not a number of CPUs of at least ${MIN_CPUS} (e.g. 0.5, 1, 2)` });
    return z.NEVER;
  }
  return cpus;
});

const MAX_RETRIES = 1000;
const POLICY_RULE = `no, always, on-failure (retry forever) or on-failure:N with N from 1 to ${MAX_RETRIES} (e.g. on-failure:5)`;

export const restartPolicySchema = z.string().transform((raw, ctx): RestartPolicy => {
  const value = raw.trim();
  if (value === 'no' || value === 'always') return { name: value };
  const match = /^on-failure(?::(\d+))?$/.exec(value);
  const retries = match?.[1] === undefined ? 0 : Number(match[1]);
  if (!match || (match[1] !== undefined && (retries < 1 || retries > MAX_RETRIES))) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `restart policy "${raw}" is not one of: ${POLICY_RULE}` });
    return z.NEVER;
  }
  // Docker's on-failure without a count (MaximumRetryCount 0) retries forever.
  return { name: 'on-failure', maxRetries: retries };
});

export const MAX_STOP_TIMEOUT_SEC = 3600;

export const stopTimeoutSchema = z.string().transform((raw, ctx) => {
  const match = /^(\d+)s?$/.exec(raw.trim());
  const seconds = match ? Number(match[1]) : NaN;
  if (!(seconds <= MAX_STOP_TIMEOUT_SEC)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `stop timeout "${raw}" is not a number of seconds from 0 to ${MAX_STOP_TIMEOUT_SEC} (e.g. 45)` });
    return z.NEVER;
  }
  return seconds;
});

/** `pier ps:set APP KEY [VALUE]`: no value restores the default. */
export const processSettingSchema = z.discriminatedUnion('key', [
  z.object({ key: z.literal('restart-policy'), value: restartPolicySchema.optional() }),
  z.object({ key: z.literal('stop-timeout'), value: stopTimeoutSchema.optional() }),
]);
export type ProcessSetting = z.output<typeof processSettingSchema>;
export const PROCESS_SETTING_KEYS = ['restart-policy', 'stop-timeout'] as const;

export const volumeNameSchema = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'storage names are lowercase letters, digits and inner dashes, up to 63 (e.g. "uploads")');

/** Folders of the OS an app must not hide under a volume. */
const SYSTEM_DIRS = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc', '/sbin', '/sys', '/usr'];

/** "/data/" is "/data". */
const trimSlash = (p: string) => (p.length > 1 ? p.replace(/\/$/, '') : p);

export const mountPathSchema = z.string().superRefine((p, ctx) => {
  const refuse = (why: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, message: `mount path "${p}" ${why}` });
  if (!p.startsWith('/')) return refuse('must be absolute (e.g. /app/uploads or /data)');
  // ":" and "," are separators of Docker's mount syntax.
  if (!/^[A-Za-z0-9._/-]+$/.test(p)) return refuse('may hold only letters, digits, ".", "_", "-" and "/"');
  const clean = trimSlash(p);
  if (path.posix.normalize(clean) !== clean) return refuse('must be a plain path, without "..", "." or "//" (e.g. /data)');
  if (clean === '/') return refuse('is the root folder; mount a folder inside it (e.g. /data)');
  if (clean === '/app') return refuse('would hide the app itself; mount a folder inside it (e.g. /app/uploads) or elsewhere (e.g. /data)');
  const system = SYSTEM_DIRS.find((d) => clean === d || clean.startsWith(`${d}/`));
  if (system) refuse(`is ${system === clean ? '' : 'inside '}${system}, which the system needs; mount elsewhere (e.g. /data)`);
});

const normalizedPath = mountPathSchema.transform(trimSlash);

/** A mount: "NAME:/path". */
export const storageMountSchema = z.string().transform((raw, ctx) => {
  const colon = raw.indexOf(':');
  if (colon <= 0) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${raw}" is not NAME:/path (e.g. uploads:/app/uploads)` });
    return z.NEVER;
  }
  return parseParts(raw.slice(0, colon), raw.slice(colon + 1), ctx);
});

/** What storage:unmount names: "NAME:/path", or the path alone. */
export const storageTargetSchema = z.string().transform((raw, ctx): { name?: string; path: string } => {
  const colon = raw.indexOf(':');
  if (colon < 0) {
    const checked = normalizedPath.safeParse(raw);
    if (checked.success) return { path: checked.data };
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: checked.error.issues[0]!.message });
    return z.NEVER;
  }
  return parseParts(raw.slice(0, colon), raw.slice(colon + 1), ctx);
});

function parseParts(name: string, where: string, ctx: z.RefinementCtx): { name: string; path: string } {
  const checkedName = volumeNameSchema.safeParse(name);
  const checkedPath = normalizedPath.safeParse(where);
  if (checkedName.success && checkedPath.success) return { name: checkedName.data, path: checkedPath.data };
  const issue = (checkedName.error ?? checkedPath.error)!.issues[0]!;
  ctx.addIssue({ code: z.ZodIssueCode.custom, message: checkedName.success ? issue.message : `invalid storage name "${name}": ${issue.message}` });
  return z.NEVER;
}

/** 268435456 → "256m", 1610612736 → "1.5g": the largest unit, at most two decimals. */
export function formatBytes(bytes: number): string {
  for (const unit of ['g', 'm', 'k'] as const) {
    if (bytes >= UNITS[unit]!) return `${Math.round((bytes / UNITS[unit]!) * 100) / 100}${unit}`;
  }
  return `${bytes}b`;
}

export function formatRestartPolicy(policy: RestartPolicy): string {
  if (policy.name !== 'on-failure') return policy.name;
  return policy.maxRetries === 0 ? 'on-failure' : `on-failure:${policy.maxRetries}`;
}

/** 0 means no CPU cap. */
export function formatCpus(cpus: number): string {
  return cpus === 0 ? 'unlimited' : String(cpus);
}
