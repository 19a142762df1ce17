import { rm } from 'node:fs/promises';
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import type { ReleaseService } from '../release/release-service.js';
import type { State } from '../state/index.js';
import { BUILD_QUEUE, type BuildJob } from './build-queue.js';
import type { BuildpackBuilder } from './buildpack-builder.js';

/** How soon a build queued behind another build of the same app looks again. */
const BUSY_RETRY_MS = 1000;

export interface BuildWorkerOptions {
  prefix: string;
  concurrency: number;
  timeoutSec: number;
  appUrl: (app: string) => string;
}

/** How often builds whose worker died are looked for. */
const SWEEP_INTERVAL_MS = 30_000;
const ENQUEUE_GRACE_MS = 60_000;
const CANCEL_POLL_MS = 1000;

export const INTERRUPTED =
  'Interrupted: the Pier daemon stopped during this build (restart or crash). Push again to rebuild.';

export interface BuildWorker {
  /** Stops taking builds; builds in flight are marked failed (interrupted) and their containers removed. */
  close(): Promise<void>;
}

/** Consumes the build queue: build, release, deploy, and stream every step into the build log. */
export function startBuildWorker(
  connection: Redis,
  state: State,
  builder: BuildpackBuilder,
  releases: ReleaseService,
  opts: BuildWorkerOptions,
  log: Logger,
): BuildWorker {
  const inFlight = new Set<string>();
  const closing = new AbortController();
  const processJob = async (job: Job<BuildJob>, token?: string) => {
    const { app } = job.data;
    // One active build per app; BullMQ groups are not in the free edition, so a Redis lock serialises.
    const lock = await state.locks.tryAcquire(app, 'build');
    if (!lock) {
      await job.moveToDelayed(Date.now() + BUSY_RETRY_MS, token);
      throw new DelayedError();
    }
    inFlight.add(job.data.buildId);
    try {
      await runBuild(job.data, state, builder, releases, opts, log, closing.signal);
    } finally {
      inFlight.delete(job.data.buildId);
      await lock.release();
    }
  };
  const worker = new Worker<BuildJob>(BUILD_QUEUE, processJob, {
    connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency,
    // Builds run for minutes; the lock must outlive a long npm install.
    lockDuration: 60_000,
    // A build whose worker died is not run again behind the pusher's back: it fails, and the sweep says so.
    maxStalledCount: 0,
  });
  worker.on('error', (err) => log.error({ err }, 'build worker error'));
  const queue = new Queue<BuildJob>(BUILD_QUEUE, { connection, prefix: opts.prefix });
  const sweep = () =>
    sweepInterrupted(state, queue, builder).catch((err: unknown) => log.warn({ err }, 'sweep of interrupted builds failed'));
  void sweep();
  const timer = setInterval(sweep, SWEEP_INTERVAL_MS);
  timer.unref();
  return {
    close: async () => {
      clearInterval(timer);
      closing.abort();
      await worker.close(true);
      for (const id of inFlight) {
        await state.builds.appendLog(id, ` !     ${INTERRUPTED}`);
        await state.builds.finish(id, 'failed', INTERRUPTED);
        await builder.removeBuildContainers(id);
      }
      await queue.close();
    },
  };
}

/**
 * Marks failed the builds whose job is gone or ended without its worker recording the end
 * (a crash), so no build stays "running" forever.
 */
async function sweepInterrupted(state: State, queue: Queue<BuildJob>, builder: BuildpackBuilder): Promise<void> {
  for (const id of await state.builds.activeIds()) {
    const job = await queue.getJob(id);
    const jobState = job ? await job.getState() : 'unknown';
    if (jobState !== 'failed' && jobState !== 'completed' && jobState !== 'unknown') continue;
    const record = await state.builds.get(id);
    // The record is written just before its job is queued; a very young one may have no job yet.
    const young = record !== undefined && Date.now() - Date.parse(record.createdAt) < ENQUEUE_GRACE_MS;
    if (record && !young && (record.status === 'queued' || record.status === 'running')) {
      await state.builds.appendLog(id, ` !     ${INTERRUPTED}`);
      await state.builds.finish(id, 'failed', INTERRUPTED);
      await builder.removeBuildContainers(id);
    }
  }
}

async function runBuild(
  job: BuildJob,
  state: State,
  builder: BuildpackBuilder,
  releases: ReleaseService,
  opts: BuildWorkerOptions,
  log: Logger,
  closing: AbortSignal,
): Promise<void> {
  const { app, buildId, commit } = job;
  const write = (line: string) => {
    state.builds.appendLog(buildId, line).catch((err: unknown) => log.warn({ err, buildId }, 'could not store a build log line'));
  };
  const started = Date.now();
  // builds:cancel and the build timeout stop the build container, which makes the running step fail at once.
  const halt: { reason?: { status: 'cancelled' | 'failed'; message: string }; removal?: Promise<void> } = {};
  const stop = (status: 'cancelled' | 'failed', message: string) => {
    if (halt.reason) return;
    halt.reason = { status, message };
    halt.removal = builder.removeBuildContainers(buildId).catch((err: unknown) => log.warn({ err, buildId }, 'could not stop a build container'));
  };
  const throwIfHalted = () => {
    if (halt.reason) throw new Error(halt.reason.message);
  };
  const checkCancel = () =>
    state.builds
      .cancelRequest(buildId)
      .then((reason) => reason && stop('cancelled', reason))
      .catch((err: unknown) => log.warn({ err, buildId }, 'cancel check failed'));
  const watchCancel = setInterval(checkCancel, CANCEL_POLL_MS);
  const timeout = setTimeout(() => {
    const minutes = (opts.timeoutSec / 60).toFixed(1);
    stop('failed', `Build timed out after ${minutes} min and was stopped; the app keeps running its previous release. Raise PIER_BUILD_TIMEOUT (seconds) if the build needs longer.`);
  }, opts.timeoutSec * 1000);
  try {
    await state.builds.update(buildId, { status: 'running', startedAt: new Date().toISOString() });
    write(`-----> Building ${app} from commit ${commit.slice(0, 7)}`);
    const config = await state.config.all(app);
    await checkCancel();
    throwIfHalted();
    const built = await builder.build({ app, buildId, sourceTar: job.sourceTar, config, log: write });
    clearInterval(watchCancel);
    clearTimeout(timeout);
    throwIfHalted();
    write('-----> Deploying');
    await releases.release(
      app,
      {
        image: built.image,
        config,
        processTypes: built.processTypes,
        description: `Deploy ${commit.slice(0, 7)}`,
        createdBy: job.createdBy,
        buildId,
        commit,
      },
      (line) => write(`       ${line}`),
    );
    write(`=====> Application deployed in ${((Date.now() - started) / 1000).toFixed(1)}s:`);
    write(`       ${opts.appUrl(app)}`);
    await state.builds.finish(buildId, 'succeeded');
  } catch (err) {
    // A build cut short by shutdown was already recorded as interrupted by close().
    if (closing.aborted) return;
    if (halt.reason) {
      // The pusher hears of it only once the build container is really gone.
      await halt.removal;
      write(` !     ${halt.reason.message}`);
      await state.builds.finish(buildId, halt.reason.status, halt.reason.message);
      return;
    }
    const message = (err as Error).message;
    for (const line of message.split('\n')) write(` !     ${line}`);
    write(' !     Deploy failed; the app keeps running its previous release.');
    log.warn({ app, buildId, error: message }, 'build failed');
    await state.builds.finish(buildId, 'failed', message.split('\n')[0]);
  } finally {
    clearInterval(watchCancel);
    clearTimeout(timeout);
    await rm(job.sourceTar, { force: true });
  }
}
