import { z } from 'zod';
import type { Logger } from '../log.js';
import type { ProgressFn } from '../scheduler/scheduler.js';
import type { DockerServices } from '../scheduler/docker-services.js';
import type { State } from '../state/index.js';
import { certificateUploadSchema } from '../certificates.js';
import { CertificateService } from '../release/cert-service.js';
import { appNameSchema, configKeySchema, configVarsSchema } from '../validation.js';
import { serviceCommandSchema, serviceNameSchema, serviceUserSchema } from './protocol.js';

/** What a config change made: the keys it touched and the release it made (null for an app not deployed yet). */
export interface ConfigChange {
  keys: string[];
  release: number | null;
}

/** The daemon's config path (AppService): a change makes a release and emits config-changed, as `pier config:set` does. */
export interface ConfigWriter {
  require(app: string): Promise<void>;
  setConfig(app: string, vars: Record<string, string>, who: string, progress: ProgressFn, description?: string): Promise<ConfigChange>;
  unsetConfig(app: string, keys: string[], who: string, progress: ProgressFn, description?: string): Promise<ConfigChange>;
}

export interface CapabilityDeps {
  state: State;
  apps: ConfigWriter;
  log: Logger;
  /** Add-on service containers; absent in a daemon without Docker access. */
  services?: DockerServices;
}

/** Who is asking: the plugin, and where lines about the operation go (the output of the call the RPC came from). */
export interface Caller {
  plugin: string;
  progress: ProgressFn;
}

interface Capability {
  params: z.ZodTypeAny;
  run(caller: Caller, params: never): Promise<unknown>;
}

/** One capability: its parameters are checked before `run` sees them (plugins are not trusted to send the types). */
function capability<S extends z.ZodTypeAny>(params: S, run: (caller: Caller, params: z.infer<S>) => Promise<unknown>): Capability {
  return { params, run };
}

const app = z.object({ app: appNameSchema });
const key = z.string().min(1).max(256);
/** What the release a plugin's config change makes is called (`pier releases`). */
const description = z.string().min(1).max(200).optional();
const service = z.object({ name: serviceNameSchema });
const user = serviceUserSchema;
const command = serviceCommandSchema;

/**
 * Everything a plugin can ask of the daemon, by RPC method name. Adding a capability is one
 * entry here (and, for the SDK's convenience, one line in child.ts's context); plugins may also
 * reach any of them with ctx.call(method, params).
 */
export function capabilities({ state, apps, log, services }: CapabilityDeps): Record<string, Capability> {
  const existing = async (name: string) => {
    await apps.require(name);
    return name;
  };
  const certs = new CertificateService(state, log);
  const docker = () => {
    if (!services) throw new Error('this daemon process has no Docker access for services');
    return services;
  };
  return {
    log: capability(
      z.object({ level: z.enum(['info', 'warn', 'error']), message: z.string().max(4000), app: appNameSchema.optional() }),
      async ({ plugin }, { level, message, app: name }) => {
        log[level]({ plugin, app: name }, message);
        if (name) await state.events.append(await existing(name), plugin, message);
      },
    ),
    'apps.list': capability(z.undefined(), async () => (await state.apps.list()).map((a) => a.name)),
    'apps.exists': capability(app, async (_caller, p) => state.apps.exists(p.app)),
    'config.get': capability(app, async (_caller, p) => state.config.all(await existing(p.app))),
    'config.set': capability(z.object({ app: appNameSchema, vars: configVarsSchema, description }), async ({ plugin, progress }, p) =>
      apps.setConfig(p.app, p.vars, `plugin:${plugin}`, progress, p.description),
    ),
    'config.unset': capability(z.object({ app: appNameSchema, keys: z.array(configKeySchema).min(1), description }), async ({ plugin, progress }, p) =>
      apps.unsetConfig(p.app, p.keys, `plugin:${plugin}`, progress, p.description),
    ),
    // What an ACME plugin needs: its certificates are checked and stored as certs:add's are, marked source "acme".
    'certs.list': capability(z.undefined(), async () => certs.list()),
    'certs.get': capability(app, async (_caller, p) => (await certs.get(await existing(p.app))) ?? null),
    'certs.put': capability(z.object({ app: appNameSchema, cert: certificateUploadSchema.shape.cert, key: certificateUploadSchema.shape.key }), async (_caller, p) =>
      certs.put(await existing(p.app), { certPem: p.cert, keyPem: p.key, source: 'acme' }),
    ),
    'certs.remove': capability(app, async (_caller, p) => certs.remove(await existing(p.app))),
    'kv.get': capability(z.object({ key }), async ({ plugin }, p) => (await state.plugins.kvGet(plugin, p.key)) ?? null),
    'kv.set': capability(z.object({ key, value: z.string().max(64 * 1024, 'values are limited to 64 KiB') }), async ({ plugin }, p) =>
      state.plugins.kvSet(plugin, p.key, p.value),
    ),
    'kv.delete': capability(z.object({ key }), async ({ plugin }, p) => state.plugins.kvDelete(plugin, p.key)),
    'kv.list': capability(z.undefined(), async ({ plugin }) => state.plugins.kvAll(plugin)),
    // Services live in the calling plugin's namespace (container <instance>-<plugin>-<name>): a plugin reaches only its own.
    'services.status': capability(service, async ({ plugin }, p) => docker().status(plugin, p.name)),
    'services.start': capability(
      service.extend({
        packages: z.array(z.string().regex(/^[a-z0-9][a-z0-9.+-]*$/, 'packages are Debian package names')).min(1).max(20),
        user,
        script: z.string().max(16 * 1024),
        env: z.record(configKeySchema, z.string().max(4096)),
      }),
      async ({ plugin, progress }, p) => docker().start({ plugin, ...p }, progress),
    ),
    'services.wait': capability(service.extend({ cmd: command, user, timeoutSeconds: z.number().int().min(1).max(300) }), async ({ plugin }, p) =>
      docker().waitUntil(plugin, p.name, p.cmd, p.user, p.timeoutSeconds * 1000),
    ),
    'services.exec': capability(service.extend({ cmd: command, user, stdin: z.string().optional() }), async ({ plugin }, p) => {
      const r = await docker().exec(plugin, p.name, p.cmd, p.user, p.stdin === undefined ? undefined : Buffer.from(p.stdin, 'base64'));
      return { exitCode: r.exitCode, stdout: r.stdout.toString('base64'), stderr: r.stderr };
    }),
    'services.logs': capability(service.extend({ tail: z.number().int().min(1).max(10_000) }), async ({ plugin }, p) => docker().logs(plugin, p.name, p.tail)),
    'services.remove': capability(service.extend({ volume: z.boolean() }), async ({ plugin }, p) => docker().remove(plugin, p.name, p.volume)),
  };
}

/** Runs one RPC of `caller`; an unknown method or bad parameters fail it with a message for the plugin's author. */
export async function serve(table: Record<string, Capability>, caller: Caller, method: string, params: unknown): Promise<unknown> {
  const cap = Object.hasOwn(table, method) ? table[method] : undefined;
  if (!cap) throw new Error(`Pier has no capability "${method}"; it has ${Object.keys(table).join(', ')}`);
  const parsed = cap.params.safeParse(params);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${method}: ${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
  }
  return cap.run(caller, parsed.data as never);
}
