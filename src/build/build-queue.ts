import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { BuildOrigin } from '../state/build-store.js';

export const BUILD_QUEUE = 'builds';

export interface BuildJob {
  buildId: string;
  app: string;
  /** The git commit, the archive's sha256, or the image reference. */
  commit: string;
  origin: BuildOrigin;
  /** A tar of the source (for an image: a Dockerfile that starts FROM it). */
  sourceTar: string;
  createdBy: string;
}

/** How releases and build logs name what was deployed: "1a2b3c4", "archive 1a2b3c4", "image web:2". */
export function describeSource(origin: BuildOrigin | undefined, commit: string): string {
  if (origin === 'image') return `image ${commit}`;
  return origin === 'archive' ? `archive ${commit.slice(0, 7)}` : commit.slice(0, 7);
}

/** The same, as a phrase in a sentence: "commit 1a2b3c4", "archive 1a2b3c4", "image web:2". */
export function sourcePhrase(origin: BuildOrigin | undefined, commit: string): string {
  return origin === 'archive' || origin === 'image' ? describeSource(origin, commit) : `commit ${commit.slice(0, 7)}`;
}

export function createBuildQueue(connection: Redis, prefix: string): Queue<BuildJob> {
  return new Queue<BuildJob>(BUILD_QUEUE, {
    connection,
    prefix,
    defaultJobOptions: { attempts: 1, removeOnComplete: 1000, removeOnFail: 1000 },
  });
}
