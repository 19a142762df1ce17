import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import { isFinal, type BuildRecord } from '../state/build-store.js';
import type { State } from '../state/index.js';
import { sourcePhrase, type BuildJob } from './build-queue.js';

export function newBuildId(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** Accepts pushes: records a queued build and puts a job on the build queue. */
export class BuildService {
  constructor(private readonly state: State, private readonly queue: Queue<BuildJob>) {}

  /**
   * Queues a build. Builds of the same app still waiting in the queue are superseded by it:
   * only the newest pushed commit gets built, and the older pushers are told which one won.
   */
  async enqueue(job: Omit<BuildJob, 'buildId'>): Promise<string> {
    const waiting = await this.pending(job.app);
    const buildId = newBuildId();
    await this.state.builds.create({
      id: buildId,
      app: job.app,
      commit: job.commit,
      origin: job.origin,
      status: 'queued',
      createdBy: job.createdBy,
      createdAt: new Date().toISOString(),
    });
    await this.queue.add('build', { ...job, buildId }, { jobId: buildId });
    const reason = `Superseded by ${sourcePhrase(job.origin, job.commit)} pushed by ${job.createdBy}, which is built instead.`;
    for (const older of waiting) {
      // A build that started meanwhile is left to finish; one that starts later stops at once.
      if (older.status === 'queued' && !(await this.dropQueued(older.id, reason))) {
        await this.state.builds.requestCancel(older.id, reason);
      }
    }
    return buildId;
  }

  /**
   * Cancels the app's queued builds at once and asks the worker to stop a running one.
   * Returns what was done to each build.
   */
  async cancel(app: string, who: string): Promise<Array<{ id: string; commit: string; was: 'queued' | 'running' }>> {
    const done: Array<{ id: string; commit: string; was: 'queued' | 'running' }> = [];
    for (const build of await this.pending(app)) {
      if (build.status === 'queued' && (await this.dropQueued(build.id, `Build cancelled by ${who} before it started.`))) {
        done.push({ id: build.id, commit: build.commit, was: 'queued' });
      } else {
        await this.state.builds.requestCancel(build.id, `Build cancelled by ${who}; the app keeps running its previous release.`);
        done.push({ id: build.id, commit: build.commit, was: 'running' });
      }
    }
    return done;
  }

  /** The app's builds that have not finished, oldest first. */
  private async pending(app: string): Promise<BuildRecord[]> {
    const records = await Promise.all((await this.state.builds.activeIds()).map((id) => this.state.builds.get(id)));
    return records
      .filter((r): r is BuildRecord => r !== undefined && r.app === app && !isFinal(r.status))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Removes a build's job before a worker starts it; false when it has started meanwhile. */
  private async dropQueued(id: string, reason: string): Promise<boolean> {
    const job = await this.queue.getJob(id);
    const waiting = job && ['waiting', 'delayed', 'prioritized'].includes(await job.getState());
    if (!waiting || !(await job.remove().then(() => true, () => false))) return false;
    await this.state.builds.appendLog(id, ` !     ${reason}`);
    await this.state.builds.finish(id, 'cancelled', reason);
    return true;
  }
}
