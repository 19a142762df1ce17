import type { Redis } from 'ioredis';
import type { Keyspace } from './keys.js';

export interface Maintenance {
  /** Seconds the router tells clients to wait before trying again (Retry-After). */
  retryAfterSec: number;
  /** When maintenance mode was turned on, ISO 8601. */
  since: string;
}

/**
 * Maintenance mode per app: while it is on, the router answers the app's requests itself (503, the
 * maintenance page) and leaves its containers alone. Changes are published on the routes channel, so
 * routers pick them up with the app's route.
 */
export class MaintenanceStore {
  constructor(private readonly redis: Redis, private readonly keys: Keyspace) {}

  async get(app: string): Promise<Maintenance | undefined> {
    const h = await this.redis.hgetall(this.keys.maintenance(app));
    if (h.retryAfterSec === undefined) return undefined;
    return { retryAfterSec: Number(h.retryAfterSec), since: h.since ?? '' };
  }

  /** Turns it on, or changes the Retry-After of maintenance already on (keeping when it started). */
  async on(app: string, retryAfterSec: number): Promise<Maintenance> {
    const key = this.keys.maintenance(app);
    await this.redis
      .multi()
      .hsetnx(key, 'since', new Date().toISOString())
      .hset(key, 'retryAfterSec', String(retryAfterSec))
      .publish(this.keys.routesChannel, app)
      .exec();
    return (await this.get(app))!;
  }

  /** Returns false when maintenance mode was not on. */
  async off(app: string): Promise<boolean> {
    const [[, removed] = []] = (await this.redis.multi().del(this.keys.maintenance(app)).publish(this.keys.routesChannel, app).exec()) ?? [];
    return removed === 1;
  }
}
