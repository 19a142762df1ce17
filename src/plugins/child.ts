/**
 * The program of a plugin's own process (forked by runner.ts): loads the plugin's entry, tells the
 * daemon what it registered, then runs the calls the daemon sends and relays the plugin's
 * capability calls back as RPCs. Whatever the plugin does here — throw, hang, loop, exit — stays
 * in this process.
 */
import { register } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { MAX_OUTPUT_CHUNK, type ChildMessage, type CommandInput, type HostMessage, type PluginIdentity, type RouteRequest } from './protocol.js';
import type { EventName } from './events.js';
import { matchRoute } from './routes.js';
import type { CommandContext, PluginContext, PluginDefinition, PluginResponse, Writer } from './sdk.js';

/** Plugins import the SDK by this name; it resolves to the daemon's own copy, so a plugin folder needs no node_modules for it. */
const SDK_SPECIFIER = 'pier:sdk';
const sdkUrl = new URL(`./sdk${path.extname(new URL(import.meta.url).pathname)}`, import.meta.url).href;
register(
  `data:text/javascript,${encodeURIComponent(
    // Handed on down the chain rather than answered here, so a loader below (tsx, from sources) still loads it.
    `export async function resolve(s, c, next) { return next(s === ${JSON.stringify(SDK_SPECIFIER)} ? ${JSON.stringify(sdkUrl)} : s, c); }`,
  )}`,
);

/** How soon a process whose daemon died without closing it (SIGKILL, a crash) ends itself. */
const ORPHAN_CHECK_MS = 1000;

let plugin: PluginIdentity;
let definition: PluginDefinition;
const pendingRpcs = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
let nextRpc = 1;

const send = (message: ChildMessage) => void process.send!(message);
const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

// The daemon is this process's only reason to run: when the channel goes (even by SIGKILL of the daemon), so does it.
process.on('disconnect', () => process.exit(0));
// A plugin stuck in a loop never sees the channel go; this thread, with an event loop of its own, still sees the daemon gone.
new Worker(`const { ppid } = process; setInterval(() => { if (process.ppid !== ppid) process.kill(process.pid, 'SIGKILL'); }, ${ORPHAN_CHECK_MS});`, { eval: true, execArgv: [] }).unref();

process.on('message', (message: HostMessage) => {
  if (message.type === 'call') void handle(message.id, message.kind, message.name, message.input);
  else settle(message.id, message.ok, message.value, message.error);
});

// Who this process serves comes as its argument: it can start loading at once, before any message.
void init(JSON.parse(process.argv[2]!) as PluginIdentity);

async function init(identity: PluginIdentity): Promise<void> {
  plugin = identity;
  try {
    const mod = (await import(pathToFileURL(path.join(identity.dir, identity.entry)).href)) as { default?: unknown };
    definition = checked(mod.default, identity.entry);
    send({
      type: 'ready',
      // Checked by the daemon, which names any event it does not know.
      events: Object.keys(definition.events ?? {}) as EventName[],
      commands: Object.entries(definition.commands ?? {}).map(([name, c]) => ({ name, help: c.help, usage: c.usage, stdin: c.stdin, stream: c.stream })),
      routes: Object.keys(definition.routes ?? {}),
    });
  } catch (err) {
    send({ type: 'broken', error: errorText(err) });
  }
}

/** The shape the SDK's types promise, checked once at load, so a mistake fails there and not in the middle of a deploy. */
function checked(value: unknown, entry: string): PluginDefinition {
  if (typeof value !== 'object' || value === null) throw new Error(`${entry} must export default definePlugin({ ... }) (its default export is ${typeof value})`);
  const def = value as PluginDefinition;
  const functions = (group: string, entries: Record<string, unknown> | undefined, pick: (v: unknown) => unknown = (v) => v) => {
    for (const [name, v] of Object.entries(entries ?? {})) {
      if (typeof pick(v) !== 'function') throw new Error(`${entry}: ${group} "${name}" must be a function${group === 'command' ? ' named run' : ''}`);
    }
  };
  functions('event handler', def.events as Record<string, unknown>);
  functions('command', def.commands, (c) => (c as { run?: unknown } | null)?.run);
  functions('route', def.routes);
  return def;
}

async function handle(id: number, kind: string, name: string, input: unknown): Promise<void> {
  try {
    send({ type: 'reply', id, ok: true, value: await run(id, kind, name, input) });
  } catch (err) {
    send({ type: 'reply', id, ok: false, error: errorText(err) });
  }
}

async function run(call: number, kind: string, name: string, input: unknown): Promise<unknown> {
  const ctx = context(call);
  if (kind === 'event') {
    const handler = definition.events?.[name as keyof typeof definition.events] as ((p: unknown, c: unknown) => unknown) | undefined;
    if (!handler) throw new Error(`it has no handler of ${name}`);
    return handler(input, { ...ctx, progress: (line: string) => output(call, 'stdout', `${line}\n`) });
  }
  if (kind === 'command') {
    const command = definition.commands?.[name];
    if (!command) throw new Error(`it has no command ${name}`);
    const { args, stdin, who, tty } = input as CommandInput;
    const writer = (stream: 'stdout' | 'stderr'): Writer => ({ write: (data) => (data instanceof Uint8Array ? outputBytes(call, stream, data) : output(call, stream, String(data))) });
    const io: CommandContext = { ...ctx, stdin: Buffer.from(stdin ?? '', 'base64'), stdout: writer('stdout'), stderr: writer('stderr'), print: (line) => output(call, 'stdout', `${line}\n`), who, tty };
    return (await command.run(args, io)) ?? 0;
  }
  const req = input as Omit<RouteRequest, 'params'>;
  const routes = definition.routes ?? {};
  const match = matchRoute(Object.keys(routes), req.method, req.path);
  if (!match) return response({ status: 404, body: { error: `Plugin ${plugin.name} has no route ${req.method} ${req.path}.` } });
  return response(await routes[match.key]!({ ...req, params: match.params }, ctx));
}

function response(r: PluginResponse | undefined): { status: number; headers: Record<string, string>; body: string } {
  const text = typeof r?.body === 'string';
  const headers = { 'content-type': text ? 'text/plain; charset=utf-8' : 'application/json', ...r?.headers };
  return { status: r?.status ?? 200, headers, body: text ? (r!.body as string) : r?.body === undefined ? '' : JSON.stringify(r.body) };
}

function output(call: number, stream: 'stdout' | 'stderr', text: string): void {
  for (let at = 0; at < text.length; at += MAX_OUTPUT_CHUNK) send({ type: 'output', call, stream, data: text.slice(at, at + MAX_OUTPUT_CHUNK) });
}

/** Base64 grows by a third: chunks of this many bytes stay within MAX_OUTPUT_CHUNK. */
const BYTES_PER_CHUNK = (MAX_OUTPUT_CHUNK / 4) * 3;

function outputBytes(call: number, stream: 'stdout' | 'stderr', bytes: Uint8Array): void {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at < buf.length; at += BYTES_PER_CHUNK) {
    send({ type: 'output', call, stream, data: buf.subarray(at, at + BYTES_PER_CHUNK).toString('base64'), encoding: 'base64' });
  }
}

function rpc<T>(call: number, method: string, params?: unknown): Promise<T> {
  const id = nextRpc++;
  return new Promise<T>((resolve, reject) => {
    pendingRpcs.set(id, { resolve: resolve as (value: unknown) => void, reject });
    send({ type: 'rpc', id, call, method, params });
  });
}

function settle(id: number, ok: boolean, value: unknown, error: string | undefined): void {
  const pending = pendingRpcs.get(id);
  pendingRpcs.delete(id);
  if (ok) pending?.resolve(value);
  else pending?.reject(new Error(error));
}

/** The capabilities of the SDK's PluginContext, each one RPC (capabilities.ts serves them). */
function context(call: number): PluginContext {
  const c = <T>(method: string, params?: unknown) => rpc<T>(call, method, params);
  const log = (level: string) => (message: string, opts?: { app?: string }) => c<void>('log', { level, message, app: opts?.app });
  return {
    plugin: { name: plugin.name, version: plugin.version, dataDir: plugin.dataDir },
    log: { info: log('info'), warn: log('warn'), error: log('error') },
    apps: { list: () => c('apps.list'), exists: (app) => c('apps.exists', { app }) },
    config: {
      get: (app) => c('config.get', { app }),
      set: (app, vars, opts) => c('config.set', { app, vars, description: opts?.description }),
      unset: (app, keys, opts) => c('config.unset', { app, keys, description: opts?.description }),
    },
    kv: {
      get: async (key) => (await c<string | null>('kv.get', { key })) ?? undefined,
      set: (key, value) => c('kv.set', { key, value }),
      delete: (key) => c('kv.delete', { key }),
      list: () => c('kv.list'),
    },
    call: c,
  };
}
