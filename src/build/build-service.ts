import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import { isFinal } from '../state/build-store.js';
import type { State } from '../state/index.js';
import type { BuildJob } from './build-queue.js';

export function newBuildId(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** Accepts pushes: records a queued build and puts a job on the build queue. */
export class BuildService {
  constructor(private readonly state: State, private readonly queue: Queue<BuildJob>) {}

  async enqueue(job: Omit<BuildJob, 'buildId'>): Promise<string> {
    const buildId = newBuildId();
    await this.state.builds.create({
      id: buildId,
      app: job.app,
      commit: job.commit,
      status: 'queued',
      createdBy: job.createdBy,
      createdAt: new Date().toISOString(),
    });
    await this.queue.add('build', { ...job, buildId }, { jobId: buildId });
    return buildId;
  }

  /**
   * Cancels the app's queued builds at once and asks the worker to stop a running one.
   * Returns what was done to each build.
   */
  async cancel(app: string, who: string): Promise<Array<{ id: string; commit: string; was: 'queued' | 'running' }>> {
    const done: Array<{ id: string; commit: string; was: 'queued' | 'running' }> = [];
    for (const id of await this.state.builds.activeIds()) {
      const record = await this.state.builds.get(id);
      if (!record || record.app !== app || isFinal(record.status)) continue;
      const job = await this.queue.getJob(id);
      const waiting = job && ['waiting', 'delayed', 'prioritized'].includes(await job.getState());
      // A job that became active in between cannot be removed; the worker's flag check takes over.
      const removed = waiting ? await job.remove().then(() => true, () => false) : false;
      if (removed) {
        await this.state.builds.appendLog(id, ` !     Build cancelled by ${who} before it started.`);
        await this.state.builds.finish(id, 'cancelled', `Build cancelled by ${who} before it started.`);
        done.push({ id, commit: record.commit, was: 'queued' });
      } else {
        await this.state.builds.requestCancel(id, who);
        done.push({ id, commit: record.commit, was: 'running' });
      }
    }
    return done;
  }
}
