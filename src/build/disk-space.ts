import { statfs } from 'node:fs/promises';
import { BuildError } from './builder.js';

const MB = 1024 * 1024;

export async function freeMegabytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return Math.floor((s.bavail * s.bsize) / MB);
}

/** Refuses a build before it starts when any of `dirs` (Docker's data, PIER_HOME) is nearly full. */
export async function assertFreeDisk(dirs: string[], minMb: number): Promise<void> {
  for (const dir of dirs) {
    const free = await freeMegabytes(dir).catch(() => undefined);
    if (free !== undefined && free < minMb) {
      throw new BuildError(
        `only ${free} MB are free on ${dir}; builds need at least ${minMb} MB (PIER_MIN_FREE_DISK_MB). Free space with "pier cleanup" (and "docker system prune"), then push again.`,
      );
    }
  }
}
