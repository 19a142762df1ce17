import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import semver from 'semver';
import { z } from 'zod';
import { PluginError } from './errors.js';

/**
 * The plugin API this Pier provides. A minor version adds events or capabilities and keeps every
 * older plugin working; a major version may break them, which is why manifests name a range.
 */
export const PLUGIN_API_VERSION = '1.2.0';

export const MANIFEST_FILE = 'plugin.json';

/** The longest one call of each kind may run. A manifest may lower these, never raise them. */
export const DEFAULT_TIMEOUTS_SEC = { event: 30, command: 600, route: 30 } as const;
export type CallKind = keyof typeof DEFAULT_TIMEOUTS_SEC;

/** Namespaces of Pier's own verbs (`pier apps:create`, …): a plugin there would shadow them, or be shadowed. */
const RESERVED_NAMES = [
  'apps', 'builder', 'builds', 'cleanup', 'config', 'daemon', 'domains', 'git', 'help', 'logs', 'plugins', 'proxy',
  'ps', 'releases', 'resource', 'resources', 'rollback', 'run', 'setup', 'storage', 'token', 'urls',
];

export const pluginNameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}$/, 'Plugin names are 1 to 31 lowercase letters, digits or dashes, starting with a letter (e.g. "postgres")')
  .refine((name) => !RESERVED_NAMES.includes(name), (name) => ({ message: `"${name}" is the namespace of Pier's own commands (pier ${name}:…); pick another plugin name` }));

const seconds = (kind: CallKind) =>
  z
    .number()
    .int()
    .min(1, 'at least 1 second')
    .max(DEFAULT_TIMEOUTS_SEC[kind], `at most ${DEFAULT_TIMEOUTS_SEC[kind]} seconds: a manifest may lower the default, not raise it`)
    .optional();

const apiRangeSchema = z
  .string({ required_error: 'pierApi is required: the range of plugin API versions the plugin works with, e.g. "^1.0.0"' })
  .refine((range) => semver.validRange(range) !== null, 'pierApi must be a semver range of the plugin API, e.g. "^1.0.0"');

export const manifestSchema = z
  .object({
    name: pluginNameSchema,
    version: z.string().refine((v) => semver.valid(v) !== null, 'version must be a semantic version such as 1.0.0'),
    description: z.string().min(1, 'description must say what the plugin does').max(200),
    pierApi: apiRangeSchema,
    /** Plain JavaScript (ES module): plugins run on the daemon's Node, without a compiler. */
    entry: z
      .string()
      .regex(/^(?!\/)(?!.*\.\.)[\w./-]+\.m?js$/, 'entry must be a .js or .mjs file inside the plugin folder')
      .default('index.mjs'),
    /** Handlers of one event run by ascending priority, then by plugin name. */
    priority: z.number().int().min(0).max(1000).default(100),
    /** Only for built-in plugins: whether one nobody enabled or disabled yet is enabled. */
    defaultEnabled: z.boolean().default(true),
    timeouts: z.object({ event: seconds('event'), command: seconds('command'), route: seconds('route') }).strict().default({}),
  })
  .strict();

export type PluginManifest = z.infer<typeof manifestSchema>;

/** Checks a parsed plugin.json. */
export function parseManifest(raw: unknown): PluginManifest {
  // The API range first: a plugin made for a newer API may use manifest keys this Pier does not know yet.
  const api = z.object({ pierApi: apiRangeSchema }).safeParse(raw);
  if (!api.success) throw new PluginError(api.error.issues[0]!.message);
  if (!semver.satisfies(PLUGIN_API_VERSION, api.data.pierApi)) {
    throw new PluginError(
      `the plugin needs plugin API ${api.data.pierApi}, and this Pier provides ${PLUGIN_API_VERSION}. ` +
        `Install a version of the plugin made for plugin API ${semver.major(PLUGIN_API_VERSION)}.x, or upgrade Pier.`,
    );
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PluginError(`${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
  }
  return parsed.data;
}

/** Reads and checks a plugin folder's manifest, and that its entry file is there; errors start with `where` (the folder or URL the user named). */
export async function readManifest(dir: string, where = dir): Promise<PluginManifest> {
  const text = await readFile(path.join(dir, MANIFEST_FILE), 'utf8').catch(() => {
    throw new PluginError(`${where} has no ${MANIFEST_FILE}, so it is no Pier plugin. See docs/plugins.md for what a plugin folder holds.`);
  });
  let manifest: PluginManifest;
  try {
    manifest = parseManifest(JSON.parse(text));
  } catch (err) {
    const problem = err instanceof SyntaxError ? `is not valid JSON (${err.message})` : `is not valid: ${(err as Error).message}`;
    throw new PluginError(`${where}: ${MANIFEST_FILE} ${problem}`);
  }
  if (!existsSync(path.join(dir, manifest.entry))) throw new PluginError(`${where}: ${MANIFEST_FILE} names the entry ${manifest.entry}, which is not in the plugin folder.`);
  return manifest;
}

export function timeoutMs(manifest: PluginManifest, kind: CallKind): number {
  return (manifest.timeouts[kind] ?? DEFAULT_TIMEOUTS_SEC[kind]) * 1000;
}

/** The order handlers of one event run in: priority, then name (plain code-unit order, the same in every locale). */
export function runOrder(a: Pick<PluginManifest, 'name' | 'priority'>, b: Pick<PluginManifest, 'name' | 'priority'>): number {
  return a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}
