import { rm } from 'node:fs/promises';
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import { noPlugins, type PluginEmitter } from '../plugins/emitter.js';
import type { ReleaseService } from '../release/release-service.js';
import type { State } from '../state/index.js';
import type { AppImages } from './app-images.js';
import { BUILD_QUEUE, describeSource, sourcePhrase, type BuildJob } from './build-queue.js';
import type { Builder } from './builder.js';
import { assertFreeDisk } from './disk-space.js';

/** Finished builds (records and logs) kept per app for `pier builds` and `builds:output`; older ones are forgotten. */
export const KEEP_BUILDS = 100;

/** How soon a build queued behind another build of the same app looks again. */
const BUSY_RETRY_MS = 1000;

export interface BuildWorkerOptions {
  prefix: string;
  concurrency: number;
  timeoutSec: number;
  appUrl: (app: string) => Promise<string>;
  /** Images of this many latest releases per app are kept; older ones are pruned after each deploy. */
  keepReleases: number;
  /** Builds refuse to start when any of `diskDirs` has less free space than this. */
  minFreeDiskMb: number;
  diskDirs: () => Promise<string[]>;
}

export interface BuildWorkerDeps {
  state: State;
  builder: Builder;
  images: AppImages;
  releases: ReleaseService;
  log: Logger;
  /** pre-build may veto a build; post-build hears of each image built. */
  plugins?: PluginEmitter;
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
export function startBuildWorker(connection: Redis, deps: BuildWorkerDeps, opts: BuildWorkerOptions): BuildWorker {
  const { state, images, log } = deps;
  const inFlight = new Set<string>();
  const background = new Set<Promise<void>>();
  const track = (work: Promise<void>) => {
    background.add(work);
    void work.finally(() => background.delete(work));
  };
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
      await runBuild(job.data, deps, opts, closing.signal, track);
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
    sweepInterrupted(state, queue, images).catch((err: unknown) => log.warn({ err }, 'sweep of interrupted builds failed'));
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
        await images.removeBuildContainers(id);
      }
      await queue.close();
      await Promise.all(background);
    },
  };
}

/**
 * Marks failed the builds whose job is gone or ended without its worker recording the end
 * (a crash), so no build stays "running" forever.
 */
async function sweepInterrupted(state: State, queue: Queue<BuildJob>, images: AppImages): Promise<void> {
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
      await images.removeBuildContainers(id);
    }
  }
}

async function runBuild(
  job: BuildJob,
  deps: BuildWorkerDeps,
  opts: BuildWorkerOptions,
  closing: AbortSignal,
  track: (work: Promise<void>) => void,
): Promise<void> {
  const { state, builder, images, releases, log, plugins = noPlugins } = deps;
  const { app, buildId, commit } = job;
  const source = describeSource(job.origin, commit);
  const abort = new AbortController();
  const onClosing = () => abort.abort();
  closing.addEventListener('abort', onClosing, { once: true });
  const write = (line: string) => {
    state.builds.appendLog(buildId, line).catch((err: unknown) => log.warn({ err, buildId }, 'could not store a build log line'));
  };
  const started = Date.now();
  // builds:cancel and the build timeout stop the build container (or the Docker build), which makes the running step fail at once.
  const halt: { reason?: { status: 'cancelled' | 'failed'; message: string }; removal?: Promise<void> } = {};
  const stop = (status: 'cancelled' | 'failed', message: string) => {
    if (halt.reason) return;
    halt.reason = { status, message };
    abort.abort();
    halt.removal = images.removeBuildContainers(buildId).catch((err: unknown) => log.warn({ err, buildId }, 'could not stop a build container'));
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
    write(`-----> Building ${app} from ${sourcePhrase(job.origin, commit)}`);
    await assertFreeDisk(await opts.diskDirs(), opts.minFreeDiskMb);
    // Before the config is read: a handler's config change reaches this build.
    await plugins.emit('pre-build', { app, buildId, commit, origin: job.origin }, (line) => write(`       ${line}`));
    const config = await state.config.all(app);
    const builderSettings = await state.builders.get(app);
    await checkCancel();
    throwIfHalted();
    const built = await builder.build({
      app,
      buildId,
      sourceTar: job.sourceTar,
      config,
      // An image is deployed by a Dockerfile that starts FROM it, whatever the app's builder.
      builder: job.origin === 'image' ? { ...builderSettings, selected: 'dockerfile' } : builderSettings,
      log: write,
      signal: abort.signal,
    });
    clearInterval(watchCancel);
    clearTimeout(timeout);
    throwIfHalted();
    await plugins.emit('post-build', { app, buildId, commit, image: built.image, processTypes: built.processTypes }, (line) => write(`       ${line}`));
    write('-----> Deploying');
    await releases.release(
      app,
      {
        image: built.image,
        config,
        processTypes: built.processTypes,
        runtime: built.runtime,
        appJson: built.appJson,
        description: `Deploy ${source}`,
        createdBy: job.createdBy,
        buildId,
        commit: job.origin === 'image' ? undefined : commit,
      },
      (line) => write(`       ${line}`),
    );
    await pruneImages(app, deps, opts.keepReleases, write);
    // Images of instances still draining cannot go yet; they go once those instances have stopped.
    track(releases.settled().then(() => pruneImages(app, deps, opts.keepReleases, () => undefined)));
    write(`=====> Application deployed in ${((Date.now() - started) / 1000).toFixed(1)}s:`);
    write(`       ${await opts.appUrl(app)}`);
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
    closing.removeEventListener('abort', onClosing);
    await rm(job.sourceTar, { force: true });
    await state.builds.trim(app, KEEP_BUILDS).catch((err: unknown) => log.warn({ err, app }, 'trimming build history failed'));
  }
}

/** Keeps the images of the app's last `keep` releases, so disk use stays flat however often it deploys. */
async function pruneImages(app: string, deps: BuildWorkerDeps, keep: number, write: (line: string) => void): Promise<void> {
  try {
    // Failed releases are not restorable; builds still running have images no release names yet.
    const kept = async () => {
      const releases = (await deps.state.releases.list(app)).filter((r) => !r.failed).slice(0, keep).map((r) => r.image);
      const building = (await deps.state.builds.activeIds()).map((id) => `${deps.images.repository(app)}:${id}`);
      return [...releases, ...building];
    };
    const removed = await deps.images.prune(app, kept);
    if (removed.length > 0) write(`-----> Pruned ${removed.length} image(s) older than the last ${keep} releases`);
  } catch (err) {
    deps.log.warn({ err, app }, 'image pruning failed');
  }
}
