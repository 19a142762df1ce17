import type { Formation } from '../state/formation-store.js';
import type { ProcessSettings } from '../state/process-settings-store.js';
import type { Release } from '../state/release-store.js';

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
  /** Repairs what has drifted from the formation (crashed, killed or missing instances, stale routes). Returns what it did. */
  reconcile(app: string, release: Release, ctx: RunContext): Promise<string[]>;
  /** Every container of the app's processes. */
  instances(app: string): Promise<InstanceStatus[]>;
  /** Web instances currently serving. */
  running(app: string): Promise<Instance[]>;
  /** Removes every container of the app. */
  destroy(app: string): Promise<void>;
  /** Resolves when the old instances being drained and stopped in the background are gone. */
  settle(): Promise<void>;
}
