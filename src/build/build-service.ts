import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
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
}
