import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';
import { PluginFailure } from './errors.js';
import { timeoutMs, type CallKind, type PluginManifest } from './manifest.js';
import { parseChildMessage, type ChildMessage, type HostMessage, type PluginIdentity, type Registration } from './protocol.js';

/** How long a plugin may take to load and register before it counts as broken. */
const STARTUP_TIMEOUT_MS = 10_000;
/** How long a stopped plugin gets to exit after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 2000;
/** A plugin that leaks memory runs out in its own process, not in the daemon. */
const MAX_HEAP_MB = 256;

// From sources the child program is TypeScript too, and needs the loader the daemon itself runs with.
const fromSources = import.meta.url.endsWith('.ts');
const childProgram = fileURLToPath(new URL(`./child.${fromSources ? 'ts' : 'js'}`, import.meta.url));
const execArgv = [...(fromSources ? ['--import', import.meta.resolve('tsx')] : []), `--max-old-space-size=${MAX_HEAP_MB}`];

/** `data` is a Buffer for bytes a command wrote as such (binary stdout), else text. */
export type OutputSink = (stream: 'stdout' | 'stderr', data: string | Buffer) => void;
/** Serves one RPC of a plugin; `output` is that of the call the RPC was made during. */
export type RpcServer = (method: string, params: unknown, output: OutputSink | undefined) => Promise<unknown>;

interface PendingCall {
  done(value: unknown): void;
  fail(reason: string): void;
  timer: NodeJS.Timeout;
  onOutput?: OutputSink;
}

/**
 * One plugin's process: forked on first use (or by start()), and forked again on the next call
 * after it died or was killed. Each call has its own timeout; a call that times out kills the
 * process, because it may be stuck in a loop that starves every other call.
 */
export class PluginProcess {
  private child?: ChildProcess;
  private starting?: Promise<Registration>;
  private readonly calls = new Map<number, PendingCall>();
  private nextCall = 1;

  constructor(
    readonly identity: PluginIdentity,
    private readonly manifest: PluginManifest,
    private readonly serveRpc: RpcServer,
    private readonly log: Logger,
  ) {}

  /** Forks the process unless it runs; resolves with what the plugin registered. */
  start(): Promise<Registration> {
    this.starting ??= this.spawn();
    return this.starting;
  }

  /** Runs one call; the rejection says `plugin "<name>" failed in <label>: <why>`. */
  async call(kind: CallKind, name: string, input: unknown, label: string, onOutput?: OutputSink): Promise<unknown> {
    const failure = (reason: string) => new PluginFailure(`plugin "${this.identity.name}" failed in ${label}: ${reason}`);
    try {
      await this.start();
    } catch (err) {
      throw failure(`it could not start: ${(err as Error).message}`);
    }
    const child = this.child;
    if (!child) throw failure('its process exited as soon as it started');
    const id = this.nextCall++;
    const limit = timeoutMs(this.manifest, kind);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.calls.delete(id);
        reject(failure(`timed out after ${limit / 1000}s`));
        this.end(`its process was restarted because ${label} timed out`, 'SIGKILL');
      }, limit);
      this.calls.set(id, { done: resolve, fail: (reason) => reject(failure(reason)), timer, onOutput });
      send(child, { type: 'call', id, kind, name, input });
    });
  }

  /** Ends the process (SIGTERM, then SIGKILL after a grace period); calls in flight fail. */
  async stop(): Promise<void> {
    const child = this.end('the plugin was stopped (disabled, uninstalled, or the daemon shut down)', 'SIGTERM');
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const grace = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      child.once('exit', () => {
        clearTimeout(grace);
        resolve();
      });
    });
  }

  private spawn(): Promise<Registration> {
    return new Promise<Registration>((resolve, reject) => {
      const child = fork(childProgram, [JSON.stringify(this.identity)], {
        cwd: this.identity.dir,
        // Nothing of the daemon's environment (Redis URL, tokens): what a plugin may use comes through its capabilities.
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.identity.dataDir, NODE_ENV: 'production' },
        execArgv,
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        serialization: 'json',
      });
      this.child = child;
      let registered = false;
      const refuse = (reason: string) => {
        clearTimeout(startup);
        this.end(reason, 'SIGKILL');
        reject(new Error(reason));
      };
      const startup = setTimeout(() => refuse(`it did not register within ${STARTUP_TIMEOUT_MS / 1000}s`), STARTUP_TIMEOUT_MS);
      this.logLines(child.stdout!, 'stdout');
      this.logLines(child.stderr!, 'stderr');
      child.on('message', (raw) => {
        // A process already ended (killed, not yet exited) has no say any more.
        if (this.child !== child) return;
        let message: ChildMessage;
        try {
          message = parseChildMessage(raw);
        } catch (err) {
          if (registered) this.end(`its process ${(err as Error).message}`, 'SIGKILL');
          else refuse(`its process ${(err as Error).message}`);
          return;
        }
        if (registered) return this.receive(child, message);
        if (message.type === 'broken') return refuse(message.error);
        if (message.type !== 'ready') return refuse(`its process sent ${message.type} before registering`);
        registered = true;
        clearTimeout(startup);
        const { type: _type, ...registration } = message;
        resolve(registration);
      });
      child.on('error', (err) => this.log.warn({ err, plugin: this.identity.name }, 'plugin process error'));
      child.on('exit', (code, signal) => {
        clearTimeout(startup);
        const how = signal ? `signal ${signal}` : `code ${code}`;
        if (!registered) reject(new Error(`its process exited during start-up (${how})`));
        if (this.child === child) this.end(`its process exited (${how})`, 'SIGKILL');
      });
    });
  }

  private receive(child: ChildProcess, message: ChildMessage): void {
    if (message.type === 'reply') {
      const pending = this.calls.get(message.id);
      if (!pending) return; // it timed out already
      this.calls.delete(message.id);
      clearTimeout(pending.timer);
      if (message.ok) pending.done(message.value);
      else pending.fail(message.error ?? 'it failed without saying why');
    } else if (message.type === 'output') {
      this.calls.get(message.call)?.onOutput?.(message.stream, message.encoding === 'base64' ? Buffer.from(message.data, 'base64') : message.data);
    } else if (message.type === 'rpc') {
      this.serveRpc(message.method, message.params, this.calls.get(message.call)?.onOutput).then(
        (value) => send(child, { type: 'rpc-reply', id: message.id, ok: true, value }),
        (err: Error) => send(child, { type: 'rpc-reply', id: message.id, ok: false, error: err.message }),
      );
    } else {
      this.end(`its process sent ${message.type} a second time`, 'SIGKILL');
    }
  }

  /** Detaches the current process and kills it; the calls in flight fail with `reason`. Returns the process it ended. */
  private end(reason: string, signal: NodeJS.Signals): ChildProcess | undefined {
    const child = this.child;
    if (!child) return undefined;
    this.child = undefined;
    this.starting = undefined;
    for (const [id, pending] of this.calls) {
      this.calls.delete(id);
      clearTimeout(pending.timer);
      pending.fail(reason);
    }
    child.kill(signal);
    return child;
  }

  private logLines(stream: Readable, name: string): void {
    createInterface({ input: stream }).on('line', (line) => this.log.info({ plugin: this.identity.name, stream: name }, line));
  }
}

function send(child: ChildProcess, message: HostMessage): void {
  // A closed channel means the process is exiting; its exit fails what is pending.
  if (child.connected) child.send(message, () => undefined);
}
