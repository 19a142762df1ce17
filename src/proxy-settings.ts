import { z } from 'zod';
import { PLANE_KEY, type DataPlane } from './proxy-plane.js';
import { MAX_HEAD_BYTES } from './router/http-head.js';

/*
 * The router's settings of `pier proxy:set [--global] [APP] KEY VALUE`: one table of keys, parsed the
 * same way by the CLI (early errors), the API (parseWith) and the router (values read back from
 * Redis). An app's value wins over the global one, which wins over the default.
 */

const KIB = 1024;
const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: KIB, kb: KIB, m: KIB ** 2, mb: KIB ** 2, g: KIB ** 3, gb: KIB ** 3 };
const DURATION_UNITS: Record<string, number> = { ms: 1, '': 1000, s: 1000, m: 60_000, h: 3_600_000 };

type Issue = (message: string) => never;

function duration(raw: string, issue: Issue, { min, max }: { min: number; max: number }): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
  const ms = match ? Math.round(Number(match[1]) * DURATION_UNITS[match[2] ?? '']!) : NaN;
  if (!(ms >= min && ms <= max)) issue(`is not a duration from ${min / 1000}s to ${max / 1000}s, in seconds or with a unit ms, s, m or h (e.g. 30, 30s, 500ms, 2m)`);
  return ms;
}

/** A size as proxy:set takes it, in the largest unit that divides it. */
function sizeText(bytes: number): string {
  for (const [unit, factor] of [['g', KIB ** 3], ['m', KIB ** 2], ['k', KIB]] as const) if (bytes > 0 && bytes % factor === 0) return `${bytes / factor}${unit}`;
  return String(bytes);
}

function size(raw: string, issue: Issue, { min, max }: { min: number; max: number }): number {
  const match = /^(\d+(?:\.\d+)?)([kmg]?b?)$/i.exec(raw.trim());
  const bytes = match ? Math.round(Number(match[1]) * SIZE_UNITS[match[2]!.toLowerCase()]!) : NaN;
  if (!(bytes >= min && bytes <= max)) issue(`is not a size from ${sizeText(min)} to ${sizeText(max)}, in bytes or with a unit k, m or g (e.g. 1m, 512k)`);
  return bytes;
}

function boolean(raw: string, issue: Issue): boolean {
  const value = raw.trim().toLowerCase();
  if (value === 'true' || value === 'on' || value === 'yes') return true;
  if (value === 'false' || value === 'off' || value === 'no') return false;
  return issue('is not true or false');
}

function choice<T extends string>(options: readonly T[]) {
  return (raw: string, issue: Issue): T => {
    const value = raw.trim() as T;
    return options.includes(value) ? value : issue(`is not one of: ${options.join(', ')}`);
  };
}

export const LOAD_BALANCING = ['round-robin', 'least-connections'] as const;
export type LoadBalancing = (typeof LOAD_BALANCING)[number];

/** The settings as the router uses them: durations in ms, sizes in bytes. */
export interface ProxySettings {
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  idleTimeoutMs: number;
  maxBodyBytes: number;
  maxHeaderBytes: number;
  httpsOnly: boolean;
  hsts: boolean;
  hstsMaxAgeSec: number;
  loadBalancing: LoadBalancing;
  accessLog: boolean;
}

interface KeyDef<K extends keyof ProxySettings> {
  field: K;
  default: string;
  help: string;
  parse: (raw: string, issue: Issue) => ProxySettings[K];
}

const key = <K extends keyof ProxySettings>(def: KeyDef<K>) => def;

/** Every key `proxy:set` takes, in the order `proxy:report` shows them. */
export const PROXY_KEYS = {
  'connect-timeout': key({ field: 'connectTimeoutMs', default: '5s', help: 'connecting to an instance; past it the next one is tried, then 502', parse: (r, i) => duration(r, i, { min: 100, max: 300_000 }) }),
  'response-timeout': key({ field: 'responseTimeoutMs', default: '30s', help: 'from the request reaching the app to its response head; past it 504', parse: (r, i) => duration(r, i, { min: 100, max: 3_600_000 }) }),
  'idle-timeout': key({ field: 'idleTimeoutMs', default: '65s', help: 'a kept-alive client connection with no request is closed after this', parse: (r, i) => duration(r, i, { min: 1000, max: 3_600_000 }) }),
  'max-body-size': key({ field: 'maxBodyBytes', default: '100m', help: 'larger request bodies get 413', parse: (r, i) => size(r, i, { min: 0, max: 64 * KIB ** 3 }) }),
  'max-header-size': key({ field: 'maxHeaderBytes', default: '16k', help: 'larger request heads get 431', parse: (r, i) => size(r, i, { min: KIB, max: MAX_HEAD_BYTES }) }),
  'https-only': key({ field: 'httpsOnly', default: 'false', help: 'HTTP requests are redirected to HTTPS (308) when the app has a certificate', parse: boolean }),
  hsts: key({ field: 'hsts', default: 'false', help: 'HTTPS responses carry Strict-Transport-Security', parse: boolean }),
  'hsts-max-age': key({ field: 'hstsMaxAgeSec', default: '31536000', help: 'max-age of Strict-Transport-Security, in seconds', parse: (r, i) => duration(r, i, { min: 0, max: 2 * 31_536_000_000 }) / 1000 }),
  'load-balancing': key({ field: 'loadBalancing', default: 'round-robin', help: `how requests spread over web instances: ${LOAD_BALANCING.join(' or ')}`, parse: choice(LOAD_BALANCING) }),
  'access-log': key({ field: 'accessLog', default: 'true', help: 'each request is a JSON line in `pier logs APP -p router` (off: about a fifth less router CPU per request)', parse: boolean }),
} as const;

export type ProxyKey = keyof typeof PROXY_KEYS;
export const PROXY_KEY_NAMES = Object.keys(PROXY_KEYS) as ProxyKey[];

export class ProxySettingError extends Error {}

/** The parsed value of one key, or a ProxySettingError naming the key, the value and the rule. */
export function parseProxyValue<K extends ProxyKey>(name: K, raw: string): ProxySettings[(typeof PROXY_KEYS)[K]['field']] {
  const def = PROXY_KEYS[name] as KeyDef<keyof ProxySettings>;
  const issue: Issue = (rule) => {
    throw new ProxySettingError(`${name} "${raw}" ${rule}`);
  };
  return def.parse(raw, issue) as ProxySettings[(typeof PROXY_KEYS)[K]['field']];
}

export const proxyKeySchema = z.string().refine((k): k is ProxyKey => Object.hasOwn(PROXY_KEYS, k), (k) => ({
  message:
    k === PLANE_KEY
      ? `${PLANE_KEY} is a global setting, the data plane serving every app: pier proxy:set --global ${PLANE_KEY} builtin|nginx (or PUT /api/proxy/type)`
      : `"${k}" is not a proxy setting; the settings are: ${PROXY_KEY_NAMES.join(', ')}, and --global ${PLANE_KEY}`,
}));

/** A key and value as `proxy:set` takes them, checked together. */
export const proxySettingSchema = z.object({ key: proxyKeySchema, value: z.string() }).superRefine((s, ctx) => {
  // zod runs this even when the key was refused; that issue is the one to report.
  if (!Object.hasOwn(PROXY_KEYS, s.key)) return;
  try {
    parseProxyValue(s.key as ProxyKey, s.value);
  } catch (err) {
    if (!(err instanceof ProxySettingError)) throw err;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: err.message, path: ['value'] });
  }
});

export type RawProxySettings = Partial<Record<ProxyKey, string>>;

/**
 * The settings in force for an app from the raw values stored for it and globally. A stored value that
 * no longer parses (written by an older Pier) falls back to the next level, so the router keeps serving.
 */
export function effectiveProxySettings(app: RawProxySettings, global: RawProxySettings): ProxySettings {
  const out: Partial<Record<keyof ProxySettings, unknown>> = {};
  for (const name of PROXY_KEY_NAMES) out[PROXY_KEYS[name].field] = firstParsed(name, [app[name], global[name], PROXY_KEYS[name].default]);
  return out as unknown as ProxySettings;
}

function firstParsed(name: ProxyKey, candidates: (string | undefined)[]): unknown {
  for (const raw of candidates) {
    if (raw === undefined) continue;
    try {
      return parseProxyValue(name, raw);
    } catch (err) {
      if (!(err instanceof ProxySettingError)) throw err;
    }
  }
  throw new Error(`no valid value for ${name}`);
}

export const DEFAULT_PROXY_SETTINGS: ProxySettings = effectiveProxySettings({}, {});

export interface ProxyReportRow {
  key: ProxyKey | typeof PLANE_KEY;
  value: string;
  source: 'app' | 'global' | 'default';
  help: string;
}

/** Where each key's value comes from, for `proxy:report`; the data plane (`plane`, global only) last. */
export function proxyReport(app: RawProxySettings, global: RawProxySettings, plane: DataPlane): ProxyReportRow[] {
  const rows = PROXY_KEY_NAMES.map((name): ProxyReportRow => {
    const def = PROXY_KEYS[name];
    if (app[name] !== undefined) return { key: name, value: app[name]!, source: 'app', help: def.help };
    if (global[name] !== undefined) return { key: name, value: global[name]!, source: 'global', help: def.help };
    return { key: name, value: def.default, source: 'default', help: def.help };
  });
  const help = 'the data plane serving HTTP and HTTPS for every app: builtin (Pier\'s router) or nginx (the nginx-proxy plugin); set with --global only';
  return [...rows, { key: PLANE_KEY, value: plane, source: plane === 'builtin' ? 'default' : 'global', help }];
}

/** Maintenance mode's Retry-After: a minute by default, long enough for a deploy or a migration, short enough that clients come back soon after. */
export const DEFAULT_RETRY_AFTER_SEC = 60;

export const maintenanceSchema = z.object({
  retryAfter: z.coerce
    .number({ invalid_type_error: 'retry-after must be a number of seconds' })
    .int('retry-after must be a whole number of seconds')
    .min(0, 'retry-after must be 0 seconds or more')
    .max(86_400, 'retry-after must be at most 86400 seconds (a day)')
    .default(DEFAULT_RETRY_AFTER_SEC),
});
