import type { Redis } from 'ioredis';
import type { Keyspace } from './keys.js';

export interface AppRecord {
  name: string;
  createdAt: string;
  /** The release the scheduler last made current, 0 before the first deploy. */
  currentRelease: number;
}

export class AppStore {
  constructor(private readonly redis: Redis, private readonly keys: Keyspace) {}

  /** Returns false when the app already exists. */
  async create(name: string): Promise<boolean> {
    const added = await this.redis.sadd(this.keys.apps, name);
    if (added === 0) return false;
    await this.redis.hset(this.keys.app(name), { name, createdAt: new Date().toISOString(), currentRelease: '0' });
    return true;
  }

  async exists(name: string): Promise<boolean> {
    return (await this.redis.sismember(this.keys.apps, name)) === 1;
  }

  async get(name: string): Promise<AppRecord | undefined> {
    const h = await this.redis.hgetall(this.keys.app(name));
    if (!h.name) return undefined;
    return { name: h.name, createdAt: h.createdAt ?? '', currentRelease: Number(h.currentRelease ?? 0) };
  }

  async list(): Promise<AppRecord[]> {
    const names = (await this.redis.smembers(this.keys.apps)).sort();
    const apps = await Promise.all(names.map((n) => this.get(n)));
    return apps.filter((a): a is AppRecord => a !== undefined);
  }

  async setCurrentRelease(name: string, version: number): Promise<void> {
    await this.redis.hset(this.keys.app(name), 'currentRelease', String(version));
  }

  /** Removes the app and everything Redis holds for it. */
  async destroy(name: string, buildIds: string[]): Promise<void> {
    const k = this.keys;
    const multi = this.redis.multi().srem(k.apps, name);
    multi.del(k.app(name), k.config(name), k.builder(name), k.formation(name), k.processSettings(name), k.events(name), k.storage(name), k.releases(name), k.releaseSeq(name), k.builds(name), k.route(name));
    for (const id of buildIds) multi.del(k.build(id), k.buildLog(id)).srem(k.activeBuilds, id);
    await multi.exec();
  }
}
