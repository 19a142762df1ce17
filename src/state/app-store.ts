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

  /** Every per-app key, so destroy and rename cannot forget one. */
  private appKeys(name: string): string[] {
    const k = this.keys;
    return [
      k.app(name), k.config(name), k.builder(name), k.formation(name), k.processSettings(name), k.events(name),
      k.storage(name), k.releases(name), k.releaseSeq(name), k.builds(name), k.route(name), k.proxy(name),
      k.cert(name), k.proxyTemplate(name),
      k.maintenance(name),
      k.accessLog(name),
    ];
  }

  /** Removes the app and everything Redis holds for it. */
  async destroy(name: string, buildIds: string[]): Promise<void> {
    const k = this.keys;
    const multi = this.redis.multi().srem(k.apps, name).del(...this.appKeys(name)).hdel(k.routesApplied, name);
    for (const id of buildIds) multi.del(k.build(id), k.buildLog(id)).srem(k.activeBuilds, id);
    await multi.exec();
  }

  /**
   * Moves everything Redis holds for an app to a new name, atomically; `rewrite` gives the new
   * JSON of each release (image names change with the app's name). Returns false when `to` exists.
   */
  async rename(from: string, to: string, buildIds: string[], rewriteRelease: (json: string) => string): Promise<boolean> {
    const k = this.keys;
    if (await this.exists(to)) return false;
    const releases = await this.redis.hgetall(k.releases(from));
    const multi = this.redis.multi().srem(k.apps, from).sadd(k.apps, to).hdel(k.routesApplied, from);
    const fromKeys = this.appKeys(from);
    const toKeys = this.appKeys(to);
    for (const [i, key] of fromKeys.entries()) {
      if (await this.redis.exists(key)) multi.rename(key, toKeys[i]!);
    }
    multi.hset(k.app(to), 'name', to);
    for (const [version, json] of Object.entries(releases)) multi.hset(k.releases(to), version, rewriteRelease(json));
    for (const id of buildIds) {
      const raw = await this.redis.get(k.build(id));
      if (raw) multi.set(k.build(id), JSON.stringify({ ...JSON.parse(raw), app: to }));
    }
    await multi.exec();
    return true;
  }
}
