/**
 * What plugins import (`import { definePlugin } from 'pier:sdk'`): the types of everything a
 * plugin defines and receives. Nothing here reaches into the daemon: a plugin's context talks to
 * the daemon over RPC (see capabilities.ts), so plugins depend on this file alone.
 */
import type { EventName, EventPayload, EventResult } from './events.js';
import type { CommandSpec, ExecHandoff, RouteRequest } from './protocol.js';

export type { EventName, EventPayload, EventResult, PluginEventMap } from './events.js';
export type { ExecHandoff, RouteRequest } from './protocol.js';
export { defineServicePlugin, type ServiceKind } from './service-plugin.js';

export interface PluginLog {
  /** With `app`, the line also becomes one of the app's events, shown by `pier logs APP` as `pier[<plugin>]`. */
  info(message: string, opts?: { app?: string }): Promise<void>;
  warn(message: string, opts?: { app?: string }): Promise<void>;
  error(message: string, opts?: { app?: string }): Promise<void>;
}

/** What every handler gets: the plugin's identity and the daemon's capabilities. */
export interface PluginContext {
  plugin: { name: string; version: string; dataDir: string };
  log: PluginLog;
  apps: {
    list(): Promise<string[]>;
    exists(app: string): Promise<boolean>;
  };
  /** An app's config vars. set and unset make a release, as `pier config:set` does, and emit config-changed. */
  config: {
    get(app: string): Promise<Record<string, string>>;
    /** `opts.description` names the release ("Attach postgres db"); by default it lists the keys. */
    set(app: string, vars: Record<string, string>, opts?: { description?: string }): Promise<{ keys: string[]; release: number | null }>;
    unset(app: string, keys: string[], opts?: { description?: string }): Promise<{ keys: string[]; release: number | null }>;
  };
  /** A small store of the plugin's own (in Redis, so every daemon process sees the same). */
  kv: {
    get(key: string): Promise<string | undefined>;
    set(key: string, value: string): Promise<void>;
    delete(key: string): Promise<boolean>;
    list(): Promise<Record<string, string>>;
  };
  /** Any capability by name, including ones newer than this file; see docs/plugins.md. */
  call(method: string, params?: unknown): Promise<unknown>;
}

export interface EventContext extends PluginContext {
  /** A line in the output of the operation that emitted the event (the push, the CLI command), prefixed with the plugin's name. */
  progress(line: string): void;
}

export interface Writer {
  /** Bytes (a Buffer or Uint8Array) reach the caller unchanged, for binary output such as a dump. */
  write(data: string | Uint8Array): void;
}

export interface CommandContext extends PluginContext {
  /** The caller's stdin when the command declares `stdin: true`, else empty. */
  stdin: Buffer;
  stdout: Writer;
  stderr: Writer;
  /** stdout.write(line + "\n"). */
  print(line: string): void;
  /** The name of the API token that ran the command. */
  who: string;
  /** Whether the caller is a terminal: only ever true for a stream command. */
  tty: boolean;
}

export type EventHandlers = {
  [E in EventName]?: (payload: EventPayload<E>, ctx: EventContext) => EventResult<E> | Promise<EventResult<E>>;
};

export interface CommandDefinition extends Omit<CommandSpec, 'name'> {
  /**
   * Resolves with the exit code (none: 0). A throw fails the command with its message. A command
   * with `stream: true` may instead resolve with an ExecHandoff: Pier then runs `cmd` in the
   * plugin's service, attached to the caller, and exits with its code.
   */
  run(args: string[], io: CommandContext): number | void | ExecHandoff | Promise<number | void | ExecHandoff>;
}

export interface PluginResponse {
  status?: number;
  headers?: Record<string, string>;
  /** A string is sent as it is (text/plain unless headers say otherwise); anything else as JSON. */
  body?: unknown;
}

export type RouteHandler = (req: RouteRequest, ctx: PluginContext) => PluginResponse | Promise<PluginResponse>;

export interface PluginDefinition {
  events?: EventHandlers;
  /** By name: `hello` is `pier <plugin>:hello` and POST /api/plugins/<plugin>/commands/hello. */
  commands?: Record<string, CommandDefinition>;
  /** By "METHOD /path", served under /api/plugins/<plugin>/routes. */
  routes?: Record<string, RouteHandler>;
}

/** Returns its argument: it is there to give a plugin's definition its types. */
export function definePlugin(definition: PluginDefinition): PluginDefinition {
  return definition;
}
