/**
 * The time bound of a bench run: `measureMs` of measuring, then at most `cleanUpMs` of clean-up. A
 * watchdog kills the children still running and exits should even that overrun; SIGINT and SIGTERM
 * abort the run through `abort.signal`, so it still cleans up; a closed stdout (piped into head)
 * does not end it before its clean-up.
 */
import { rm } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type Docker from 'dockerode';
import { removeInstance, type TestPier } from '../../test/helpers/test-pier.js';
import { killGroup } from './common.js';

/** A run cut short: out of budget, or interrupted. */
export class BenchAbort extends Error {}

export class Budget {
  readonly abort = new AbortController();
  /** Process groups of the children still running (each spawned `detached`, so it leads its own group). */
  readonly children = new Set<number>();
  /** The Pier instance under test, which the watchdog names as possibly left behind. */
  instance: string | undefined;
  private readonly deadline: number;

  constructor(bench: string, private readonly measureMs: number, private readonly cleanUpMs: number) {
    this.deadline = performance.now() + measureMs;
    const graceMs = 5000;
    setTimeout(() => {
      this.children.forEach(killGroup);
      console.error(`\n${bench}: still running after ${(measureMs + cleanUpMs + graceMs) / 1000} s; exiting before clean-up finished`);
      if (this.instance) console.error(`(instance ${this.instance} may be left: its containers, volumes and Redis keys carry that name)`);
      process.exit(2);
    }, measureMs + cleanUpMs + graceMs).unref();
    process.stdout.on('error', () => undefined);
    process.stderr.on('error', () => undefined);
    process.once('SIGINT', () => this.abort.abort(new BenchAbort('interrupted (SIGINT)')));
    process.once('SIGTERM', () => this.abort.abort(new BenchAbort('terminated (SIGTERM)')));
  }

  /** Milliseconds of measuring left. */
  left(): number {
    return this.deadline - performance.now();
  }

  /** Time for a step: its own cap, or what is left of the budget, whichever is smaller. */
  timeFor(step: string, capMs: number): number {
    if (this.abort.signal.aborted) throw this.abort.signal.reason as Error;
    if (this.left() <= 1000) throw new BenchAbort(`out of time before ${step}: the bench is bounded to ${this.measureMs / 1000} s of measuring`);
    return Math.min(capMs, this.left());
  }

  /** Waits, or less when the run is aborted. */
  sleep(ms: number): Promise<void> {
    const { signal } = this.abort;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * Closes the Pier under test and removes all it made, within the clean-up bound; after a failure
   * its build containers go first, so a build left running cannot hold up the worker's close. When
   * the close overruns or fails, the instance is removed directly and this answers false: the
   * daemon may still hold handles, and the caller should exit rather than wait for them.
   */
  async closePier(docker: Docker, pier: TestPier, failed: boolean): Promise<boolean> {
    this.children.forEach(killGroup);
    const { instance, home } = pier.settings;
    const closing = (async () => {
      if (failed) {
        for (const c of await docker.listContainers({ all: true, filters: { label: [`pier.instance=${instance}`, 'pier.role=build'] } })) {
          await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
        }
      }
      await pier.close();
      return 'closed' as const;
    })();
    let timer: NodeJS.Timeout | undefined;
    const overrun = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`did not close within ${this.cleanUpMs / 1000} s`), this.cleanUpMs)));
    const outcome = await Promise.race([closing, overrun]).catch((err: Error) => `failed to close (${err.message})`);
    clearTimeout(timer);
    if (outcome === 'closed') return true;
    console.error(`Clean-up: the daemon ${outcome}; removing instance ${instance} directly.`);
    await removeInstance(instance).catch((err: unknown) => console.error(`Clean-up of ${instance} failed: ${(err as Error).message}`));
    await rm(home, { recursive: true, force: true }).catch(() => undefined);
    return false;
  }
}
