import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { projectRoot } from '../paths.js';
import type { DockerServices } from '../scheduler/docker-services.js';
import type { AttachedSession, ProgressFn } from '../scheduler/scheduler.js';
import type { State } from '../state/index.js';
import { dispatch } from './bus.js';
import { capabilities, serve, type ConfigWriter } from './capabilities.js';
import type { PluginEmitter } from './emitter.js';
import type { EventName, EventPayload } from './events.js';
import { installFiles, type InstallSource } from './installer.js';
import { PluginError, PluginFailure } from './errors.js';
import { runOrder } from './manifest.js';
import { CommandSession } from './command-session.js';
import {
  commandExitSchema,
  execHandoffSchema,
  routeResponseSchema,
  type CommandInput,
  type CommandSpec,
  type Registration,
  type RouteRequest,
  type RouteResponse,
} from './protocol.js';
import { discover, isEnabled, type FoundPlugin, type PluginSource } from './registry.js';
import { PluginProcess, type OutputSink } from './runner.js';

/** The plugins that ship with Pier, in the checkout it runs from. */
export const builtinPluginsDir = path.join(projectRoot, 'plugins');

export interface PluginHostOptions {
  state: State;
  log: Logger;
  builtinDir: string;
  /** Where plugins:install puts plugins (PIER_HOME/plugins). */
  installDir: string;
  /** Each plugin's own folder lives below (PIER_HOME/plugin-data/<name>); uninstalling keeps it. */
  dataDir: string;
  /** The add-on services plugins run (services.* capabilities). */
  services?: DockerServices;
}

export interface PluginInfo {
  name: string;
  version: string | null;
  description: string | null;
  state: 'enabled' | 'disabled' | 'failed';
  source: PluginSource;
  priority: number | null;
  /** Why a failed plugin failed. */
  error?: string;
  events: EventName[];
  /** Full names: `<plugin>:<command>`. */
  commands: string[];
  routes: string[];
}

export interface PluginCommandInfo {
  /** `<plugin>:<command>`, as typed after `pier`. */
  name: string;
  plugin: string;
  command: string;
  help: string;
  usage?: string;
  stdin: boolean;
  /** Runs attached to the caller, as pier run does (see CommandSpec.stream). */
  stream: boolean;
}

interface Loaded {
  found: FoundPlugin;
  enabled: boolean;
  process?: PluginProcess;
  /** What the plugin registered, once its process has started. */
  registration?: Registration;
  error?: string;
}

/**
 * Loads plugins, keeps one process per enabled plugin, and routes events, commands and HTTP
 * routes to them. Until start() it knows no plugins, so every event passes through untouched.
 */
export class PluginHost implements PluginEmitter {
  private loaded = new Map<string, Loaded>();
  private generation = -1;
  /** Reloads run one after the other, each after the call that asked for it. */
  private syncs: Promise<void> = Promise.resolve();
  private rpc?: ReturnType<typeof capabilities>;
  /** Stream commands attached to their callers, ended when the daemon closes. */
  private readonly sessions = new Set<CommandSession>();
  private closed = false;

  constructor(private readonly opts: PluginHostOptions) {}

  /** Loads the plugins, starting the enabled ones, which may then use `apps` to change config. */
  async start(apps: ConfigWriter): Promise<void> {
    this.rpc = capabilities({ state: this.opts.state, apps, log: this.opts.log, services: this.opts.services });
    await this.sync();
  }

  /** The daemon is shutting down: stream commands were cut off by that, not by their command. */
  get closing(): boolean {
    return this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.rpc = undefined;
    await Promise.all([...this.sessions].map((s) => s.kill()));
    await this.syncs;
    await Promise.all([...this.loaded.values()].map((l) => l.process?.stop()));
    this.loaded.clear();
  }

  async emit<E extends EventName>(event: E, payload: EventPayload<E>, progress: ProgressFn = () => undefined): Promise<EventPayload<E>> {
    // Without Redis the operation fails on its own; the plugins loaded already still hear of it.
    await this.sync().catch((err: unknown) => this.opts.log.warn({ err, event }, 'could not reload plugins'));
    const handlers = this.running()
      .filter((l) => l.registration!.events.includes(event))
      .map((l) => ({
        plugin: l.found.name,
        call: (p: unknown) => l.process!.call('event', event, p, event, asLines((line) => progress(`${l.found.name}: ${line}`))),
      }));
    if (handlers.length === 0) return payload;
    return dispatch(event, handlers, payload, (message) => {
      this.opts.log.warn({ event }, message);
      progress(`Warning: ${message}`);
    });
  }

  async list(): Promise<PluginInfo[]> {
    await this.sync();
    return [...this.loaded.values()].sort((a, b) => (a.found.name < b.found.name ? -1 : 1)).map(describe);
  }

  async info(name: string): Promise<PluginInfo | undefined> {
    await this.sync();
    const entry = this.loaded.get(name);
    return entry && describe(entry);
  }

  async commands(): Promise<PluginCommandInfo[]> {
    await this.sync();
    return this.running()
      .flatMap((l) => l.registration!.commands.map((c) => ({ name: `${l.found.name}:${c.name}`, plugin: l.found.name, command: c.name, help: c.help, usage: c.usage, stdin: c.stdin ?? false, stream: c.stream ?? false })))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Runs a plugin command; resolves with its exit code, its output goes to `onOutput` as it comes. */
  async runCommand(name: string, command: string, input: Omit<CommandInput, 'tty'>, onOutput: OutputSink): Promise<number> {
    const { entry, spec } = await this.command(name, command);
    if (spec.stream) throw new PluginError(`${name}:${command} runs attached to its caller: run it with the pier CLI (pier ${name}:${command}), which connects as pier run does.`);
    const label = `command ${name}:${command}`;
    // Only a command that asked for stdin gets it: no command reads input meant for another.
    const value = await entry.process!.call('command', command, { ...input, stdin: spec.stdin ? input.stdin : null, tty: false }, label, onOutput);
    const code = commandExitSchema.safeParse(value);
    if (!code.success) throw new PluginFailure(`plugin "${name}" failed in ${label}: it returned ${JSON.stringify(value)}, not an exit code from 0 to 255`);
    return code.data;
  }

  /**
   * Starts a stream command attached to its caller (the API relays the session over an upgraded
   * connection). Refusals (no such plugin or command) reject here, before the caller is attached.
   */
  async streamCommand(name: string, command: string, input: Omit<CommandInput, 'stdin'>): Promise<AttachedSession> {
    const { entry, spec } = await this.command(name, command);
    if (!spec.stream) throw new PluginError(`${name}:${command} is not a stream command; run it with POST /api/plugins/${name}/commands/${command}.`);
    const label = `command ${name}:${command}`;
    const failure = (reason: string) => new PluginFailure(`plugin "${name}" failed in ${label}: ${reason}`);
    const session = new CommandSession(
      async (onOutput) => {
        const value = await entry.process!.call('command', command, { ...input, stdin: null }, label, onOutput);
        const result = commandExitSchema.or(execHandoffSchema).safeParse(value);
        if (!result.success) throw failure(`it returned ${JSON.stringify(value)}, neither an exit code from 0 to 255 nor {exec: {service, cmd, user}}`);
        return result.data;
      },
      async ({ exec }, size) => {
        if (!this.opts.services) throw failure('this daemon process has no Docker access for services');
        const status = await this.opts.services.status(name, exec.service);
        if (!status.running) throw failure(`its service ${exec.service} is not running (${status.state ?? 'no container'})`);
        return this.opts.services.attach(name, exec.service, exec.cmd, exec.user, input.tty, size);
      },
    );
    this.sessions.add(session);
    void session.wait().catch(() => undefined).finally(() => this.sessions.delete(session));
    return session;
  }

  /** Serves one request to a plugin's routes (under /api/plugins/<name>/routes). */
  async route(name: string, request: Omit<RouteRequest, 'params'>): Promise<RouteResponse> {
    const entry = await this.usable(name);
    const label = `route ${request.method} ${request.path}`;
    const value = await entry.process!.call('route', '', request, label);
    const response = routeResponseSchema.safeParse(value);
    if (!response.success) throw new PluginFailure(`plugin "${name}" failed in ${label}: its response is not valid (${response.error.issues[0]!.message})`);
    return response.data;
  }

  /** Installs and enables a plugin; one that is refused (bad manifest, incompatible API, fails to start) leaves nothing behind. */
  async install(source: InstallSource): Promise<PluginInfo> {
    const manifest = await installFiles(source, this.opts.installDir);
    await this.opts.state.plugins.setSwitch(manifest.name, 'enabled');
    await this.sync();
    const entry = this.loaded.get(manifest.name)!;
    if (!entry.registration) {
      const error = entry.error ?? 'it did not start';
      await this.remove(entry);
      throw new PluginError(`Plugin ${manifest.name} was not installed: ${error}`);
    }
    return describe(entry);
  }

  async uninstall(name: string): Promise<{ name: string; dataDir: string }> {
    const entry = await this.existing(name);
    if (entry.found.source !== 'installed') {
      throw new PluginError(`Plugin ${name} is built into Pier and cannot be uninstalled. Disable it instead: pier plugins:disable ${name}`);
    }
    await this.remove(entry);
    return { name, dataDir: path.join(this.opts.dataDir, name) };
  }

  /** Switches a plugin on or off for every daemon process; enabling one that cannot start leaves it off and says why. */
  async setEnabled(name: string, enabled: boolean): Promise<PluginInfo> {
    const entry = await this.existing(name);
    if (!entry.found.manifest) throw new PluginError(`Plugin ${name} cannot be enabled: ${entry.found.error}`);
    await this.opts.state.plugins.setSwitch(name, enabled ? 'enabled' : 'disabled');
    await this.sync();
    const now = this.loaded.get(name)!;
    if (enabled && !now.registration) {
      await this.opts.state.plugins.setSwitch(name, 'disabled');
      await this.sync();
      throw new PluginError(`Plugin ${name} could not start, so it stays disabled: ${now.error ?? 'it did not start'}`);
    }
    return describe(now);
  }

  private async remove(entry: Loaded): Promise<void> {
    await entry.process?.stop();
    await rm(entry.found.dir, { recursive: true, force: true });
    await this.opts.state.plugins.forget(entry.found.name);
    await this.sync();
  }

  private running(): Loaded[] {
    return [...this.loaded.values()].filter((l) => l.enabled && l.registration).sort((a, b) => runOrder(a.found.manifest!, b.found.manifest!));
  }

  private async command(name: string, command: string): Promise<{ entry: Loaded; spec: CommandSpec }> {
    const entry = await this.usable(name);
    const spec = entry.registration!.commands.find((c) => c.name === command);
    if (!spec) {
      const known = entry.registration!.commands.map((c) => `${name}:${c.name}`).join(', ') || 'none';
      throw new PluginError(`Plugin ${name} has no command ${command}; its commands: ${known}.`);
    }
    return { entry, spec };
  }

  private async existing(name: string): Promise<Loaded> {
    await this.sync();
    const entry = this.loaded.get(name);
    if (!entry) throw new PluginError(`No plugin named ${name}. List plugins: pier plugins`);
    return entry;
  }

  private async usable(name: string): Promise<Loaded> {
    const entry = await this.existing(name);
    if (!entry.enabled) throw new PluginError(`Plugin ${name} is disabled. Enable it: pier plugins:enable ${name}`);
    if (!entry.registration) throw new PluginError(`Plugin ${name} could not start: ${entry.error}. Fix it, then: pier plugins:enable ${name}`);
    return entry;
  }

  /** Reloads when any process of this Pier changed what is installed or enabled: one Redis read when nothing did. */
  private sync(): Promise<void> {
    if (!this.rpc) return Promise.resolve();
    const reload = this.syncs.then(() => this.reload());
    this.syncs = reload.catch(() => undefined);
    return reload;
  }

  private async reload(): Promise<void> {
    const generation = await this.opts.state.plugins.generation();
    if (generation === this.generation) return;
    this.generation = generation;
    const [found, switches] = await Promise.all([discover(this.opts.builtinDir, this.opts.installDir), this.opts.state.plugins.switches()]);
    const next = new Map<string, Loaded>();
    for (const [name, plugin] of found) {
      const enabled = isEnabled(plugin, switches[name]);
      const old = this.loaded.get(name);
      const unchanged = old?.registration && old.enabled === enabled && old.found.dir === plugin.dir && old.found.manifest?.version === plugin.manifest?.version;
      if (unchanged) {
        next.set(name, old);
        continue;
      }
      await old?.process?.stop();
      next.set(name, { found: plugin, enabled, error: plugin.error });
    }
    for (const [name, old] of this.loaded) if (!next.has(name)) await old.process?.stop();
    this.loaded = next;
    await Promise.all([...next.values()].filter((l) => l.enabled && !l.process).map((l) => this.launch(l)));
  }

  private async launch(entry: Loaded): Promise<void> {
    const { name, dir, manifest } = entry.found;
    const dataDir = path.join(this.opts.dataDir, name);
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const child = new PluginProcess({ name, version: manifest!.version, dir, entry: manifest!.entry, dataDir }, manifest!, (method, params, output) => {
      const caller = { plugin: name, progress: (line: string) => output?.('stderr', `${line}\n`) };
      return this.rpc ? serve(this.rpc, caller, method, params) : Promise.reject(new Error('the daemon is shutting down'));
    }, this.opts.log);
    try {
      entry.registration = await child.start();
      entry.process = child;
    } catch (err) {
      entry.error = (err as Error).message;
      this.opts.log.warn({ plugin: name, error: entry.error }, 'plugin could not start');
    }
  }
}

function describe({ found, enabled, registration, error }: Loaded): PluginInfo {
  const m = found.manifest;
  return {
    name: found.name,
    version: m?.version ?? null,
    description: m?.description ?? null,
    state: !m || (enabled && !registration) ? 'failed' : enabled ? 'enabled' : 'disabled',
    source: found.source,
    priority: m?.priority ?? null,
    ...(error && (!m || enabled) ? { error } : {}),
    events: registration?.events ?? [],
    commands: registration?.commands.map((c) => `${found.name}:${c.name}`) ?? [],
    routes: registration?.routes ?? [],
  };
}

/** Output as whole lines (handlers' progress lines arrive one per chunk; capability progress too). */
function asLines(onLine: (line: string) => void): OutputSink {
  return (_stream, data) => {
    for (const line of data.toString().split('\n')) if (line !== '') onLine(line);
  };
}
