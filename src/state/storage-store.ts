import type { Redis } from 'ioredis';
import type { Keyspace } from './keys.js';

/** A named volume mounted into every instance of an app (storage:mount NAME:/path). */
export interface Mount {
  /** The Docker volume's name. */
  volume: string;
  /** Where it appears in the container. */
  path: string;
}

export class StorageStore {
  constructor(private readonly redis: Redis, private readonly keys: Keyspace) {}

  async mounts(app: string): Promise<Mount[]> {
    const h = await this.redis.hgetall(this.keys.storage(app));
    return Object.entries(h)
      .map(([path, volume]) => ({ volume, path }))
      .sort((a, b) => a.path.localeCompare(b.path));
  }

  async add(app: string, mount: Mount): Promise<void> {
    await this.redis.hset(this.keys.storage(app), mount.path, mount.volume);
  }

  /** Returns false when nothing was mounted at `path`. */
  async remove(app: string, path: string): Promise<boolean> {
    return (await this.redis.hdel(this.keys.storage(app), path)) === 1;
  }
}
