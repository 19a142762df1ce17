import type { Formation } from '../state/formation-store.js';
import type { ProcessSettings } from '../state/process-settings-store.js';
import type { Readable, Writable } from 'node:stream';
import type { Release } from '../state/release-store.js';
import type { LogCursor, LogLine } from './log-lines.js';

export type ProgressFn = (line: string) => void;

export interface Instance {
  id: string;
  app: string;
  process: string;
  release: number;
  /** host:port on Pier's network. */
  address: string;
}

/** One container of an app, as `pier ps` shows it. */
export interface InstanceStatus {
  id: string;
  /** "web.1" */
  name: string;
  process: string;
  index: number;
  release: number;
  /** Docker's state: running, restarting, exited, created, dead… */
  state: string;
  /** ISO time the current run started; empty when it never ran. */
  startedAt: string;
  restarts: number;
  exitCode: number;
}

/** Everything besides the release that decides how an app's containers run. */
export interface RunContext {
  /** Instances per process type of the release (types absent from the release are not here). */
  formation: Formation;
  settings: ProcessSettings;
  globalConfig: Record<string, string>;
  mounts: Array<{ volume: string; path: string }>;
}

/** What `applySettings` did to the running instances. */
export interface AppliedSettings {
  /** Instances updated in place ("web.1"). */
  updated: string[];
  /** Instances Docker refused to update, with its reason; they get the settings when they restart. */
  failed: Array<{ name: string; reason: string }>;
}

/** What the machine that runs the containers has, for checking limits against. */
export interface HostCapacity {
  cpus: number;
  /** Bytes. */
  memory: number;
}

/** One of an app's storage volumes. */
export interface StorageVolume {
  /** The NAME of storage:mount NAME:/path. */
  name: string;
  /** The volume's own name. */
  volume: string;
}

/** Persistent storage: named volumes that outlive releases, instances and restarts. */
export interface Volumes {
  /** Creates the app's volume NAME, or finds it; refuses a NAME whose volume belongs to another app. */
  create(app: string, name: string): Promise<StorageVolume>;
  /** The volumes made for the app, mounted or not (storage:unmount and apps:destroy keep them). */
  list(app: string): Promise<StorageVolume[]>;
  /** The NAME a volume was made for. */
  nameOf(volume: string): string;
  remove(volume: string): Promise<void>;
}

/** A one-off run of `pier run` / `run:detached`. */
export interface OneOffRequest {
  /** None gives a shell, one word is a shell line (as in a Procfile), more run as given. */
  argv: string[];
  tty: boolean;
  /** run:detached has no stdin: it reads EOF at once. */
  stdin: boolean;
  /** Its output is copied elsewhere (run:detached: the app's event stream), so Docker keeps no log of it. */
  unlogged?: boolean;
}

/** A started one-off container. Docker removes it once it exits. */
/** A command whose stdin, stdout and stderr are relayed to a client (pier run, a plugin's stream command). */
export type AttachedSession = Pick<OneOffSession, 'stdout' | 'stderr' | 'stdin' | 'resize' | 'wait' | 'kill'>;

export interface OneOffSession {
  /** "run.1234", its DYNO. */
  name: string;
  stdout: Readable;
  /** Ends at once in TTY mode: the terminal carries both streams on stdout. */
  stderr: Readable;
  /** Without stdin: null. Ending it is the command's EOF. */
  stdin: Writable | null;
  /** Reads stdout and stderr as lines (each line's handler is awaited before reading on), until both end. */
  lines(onLine: (line: string) => unknown): Promise<void>;
  /** Sets the terminal size (TTY mode only). */
  resize(cols: number, rows: number): Promise<void>;
  /** The exit code, once the container is gone. */
  wait(): Promise<number>;
  /** Ends the command (its client left), dropping output not read yet; wait() then resolves with 137. */
  kill(): Promise<void>;
  /** Stops following the container, which runs on; wait() then rejects. */
  detach(): void;
}

/** Runs releases. The docker implementation is the only one today; a swarm one comes with multi-node. */
export interface Scheduler {
  /**
   * Rolls a release out: new web instances start and pass their checks, traffic moves to them,
   * old ones drain and stop; then the other process types are replaced. `only` limits the
   * rollout to some process types (ps:restart TYPE).
   */
  deploy(app: string, release: Release, ctx: RunContext, progress: ProgressFn, only?: string[]): Promise<void>;
  /** Starts or stops instances of the running release until they match ctx.formation. */
  scale(app: string, release: Release, ctx: RunContext, progress: ProgressFn): Promise<void>;
  /** Stops and removes the instances of some process types (all: undefined). */
  stop(app: string, types: string[] | undefined, stopTimeoutSec: number, progress: ProgressFn): Promise<void>;
  /** Runs a command in a one-off container of the release; resolves with its exit code. */
  runOnce(app: string, release: Release, ctx: RunContext, command: string, onLine: (line: string) => void, timeoutMs: number): Promise<number>;
  /** Starts a one-off container of the release (pier run, run:detached), attached to the caller. */
  startOneOff(app: string, release: Release, ctx: RunContext, run: OneOffRequest): Promise<OneOffSession>;
  /** Repairs what has drifted from the formation (crashed, killed or missing instances, stale routes). Returns what it did. */
  reconcile(app: string, release: Release, ctx: RunContext): Promise<string[]>;
  /** Every container of the app's processes. */
  instances(app: string): Promise<InstanceStatus[]>;
  /** Web instances currently serving. */
  running(app: string): Promise<Instance[]>;
  /** Removes every container of the app. */
  destroy(app: string): Promise<void>;
  /** The last `tail` lines of the app's containers (instances and one-off runs, exited ones too) in time order, and where each ends. */
  recentLogs(app: string, opts: { tail: number; process?: string }): Promise<{ lines: LogLine[]; cursor: LogCursor }>;
  /** Their output after `cursor` as it comes, from containers running now or started later, until `signal` aborts. */
  followLogs(app: string, cursor: LogCursor, opts: { process?: string; signal: AbortSignal }): AsyncIterable<LogLine>;
  /** Resolves when the old instances being drained and stopped in the background are gone. */
  settle(): Promise<void>;
  /** Gives the app's instances ctx.settings' limits and restart policy in place, without restarting them. */
  applySettings(app: string, ctx: RunContext): Promise<AppliedSettings>;
  capacity(): Promise<HostCapacity>;
  readonly volumes: Volumes;
}
