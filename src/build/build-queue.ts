import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

export const BUILD_QUEUE = 'builds';

export interface BuildJob {
  buildId: string;
  app: string;
  commit: string;
  sourceTar: string;
  createdBy: string;
}

export function createBuildQueue(connection: Redis, prefix: string): Queue<BuildJob> {
  return new Queue<BuildJob>(BUILD_QUEUE, {
    connection,
    prefix,
    defaultJobOptions: { attempts: 1, removeOnComplete: 1000, removeOnFail: 1000 },
  });
}
