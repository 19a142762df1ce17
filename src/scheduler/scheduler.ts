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

/** Runs releases. The docker implementation is the only one today; a swarm one comes with multi-node. */
export interface Scheduler {
  /** Starts the release's web process, waits until it answers, switches traffic, retires the old instances. */
  deploy(app: string, release: Release, progress: ProgressFn): Promise<Instance[]>;
  /** Web instances currently running for the app. */
  running(app: string): Promise<Instance[]>;
  /** Removes every container of the app. */
  destroy(app: string): Promise<void>;
  /** Resolves when the old instances being drained and stopped in the background are gone. */
  settle(): Promise<void>;
}
