import { rm } from 'node:fs/promises';
import { DelayedError, Worker, type Job } from 'bullmq';
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
  appUrl: (app: string) => string;
}

/** Consumes the build queue: build, release, deploy, and stream every step into the build log. */
export function startBuildWorker(
  connection: Redis,
  state: State,
  builder: BuildpackBuilder,
  releases: ReleaseService,
  opts: BuildWorkerOptions,
  log: Logger,
): Worker<BuildJob> {
  const processJob = async (job: Job<BuildJob>, token?: string) => {
    const { app } = job.data;
    // One active build per app; BullMQ groups are not in the free edition, so a Redis lock serialises.
    const lock = await state.locks.tryAcquire(app, 'build');
    if (!lock) {
      await job.moveToDelayed(Date.now() + BUSY_RETRY_MS, token);
      throw new DelayedError();
    }
    try {
      await runBuild(job.data, state, builder, releases, opts, log);
    } finally {
      await lock.release();
    }
  };
  const worker = new Worker<BuildJob>(BUILD_QUEUE, processJob, {
    connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency,
    // Builds run for minutes; the lock must outlive a long npm install.
    lockDuration: 60_000,
  });
  worker.on('error', (err) => log.error({ err }, 'build worker error'));
  return worker;
}

async function runBuild(
  job: BuildJob,
  state: State,
  builder: BuildpackBuilder,
  releases: ReleaseService,
  opts: BuildWorkerOptions,
  log: Logger,
): Promise<void> {
  const { app, buildId, commit } = job;
  const write = (line: string) => {
    state.builds.appendLog(buildId, line).catch((err: unknown) => log.warn({ err, buildId }, 'could not store a build log line'));
  };
  const started = Date.now();
  try {
    await state.builds.update(buildId, { status: 'running' });
    write(`-----> Building ${app} from commit ${commit.slice(0, 7)}`);
    const config = await state.config.all(app);
    const built = await builder.build({ app, buildId, sourceTar: job.sourceTar, config, log: write });
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
    const message = (err as Error).message;
    for (const line of message.split('\n')) write(` !     ${line}`);
    write(' !     Deploy failed; the app keeps running its previous release.');
    log.warn({ app, buildId, error: message }, 'build failed');
    await state.builds.finish(buildId, 'failed', message.split('\n')[0]);
  } finally {
    await rm(job.sourceTar, { force: true });
  }
}
