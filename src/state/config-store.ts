import type { Redis } from 'ioredis';
import type { Keyspace } from './keys.js';

export class ConfigStore {
  constructor(private readonly redis: Redis, private readonly keys: Keyspace) {}

  async all(app: string): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.config(app));
  }

  async set(app: string, vars: Record<string, string>): Promise<void> {
    if (Object.keys(vars).length > 0) await this.redis.hset(this.keys.config(app), vars);
  }

  /** Returns the keys that existed and were removed. */
  async unset(app: string, keys: string[]): Promise<string[]> {
    const current = await this.all(app);
    const present = keys.filter((k) => k in current);
    if (present.length > 0) await this.redis.hdel(this.keys.config(app), ...present);
    return present;
  }

  /** Config every app gets (config:set --global); an app's own value of the same key wins. */
  async global(): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.globalConfig);
  }

  async setGlobal(vars: Record<string, string>): Promise<void> {
    if (Object.keys(vars).length > 0) await this.redis.hset(this.keys.globalConfig, vars);
  }

  /** Returns the keys that existed and were removed. */
  async unsetGlobal(keys: string[]): Promise<string[]> {
    const current = await this.global();
    const present = keys.filter((k) => k in current);
    if (present.length > 0) await this.redis.hdel(this.keys.globalConfig, ...present);
    return present;
  }

  /** Replaces the app's config with a release's snapshot (rollback). */
  async replace(app: string, vars: Record<string, string>): Promise<void> {
    const multi = this.redis.multi().del(this.keys.config(app));
    if (Object.keys(vars).length > 0) multi.hset(this.keys.config(app), vars);
    await multi.exec();
  }
}
