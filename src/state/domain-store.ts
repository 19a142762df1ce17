import type { Redis } from 'ioredis';
import type { Keyspace } from './keys.js';

/**
 * Which host names reach which app: the global domain (every app is `<app>.<global>`) and
 * custom domains, each owned by one app. Changes are published like route changes, so routers
 * pick them up live.
 */
export class DomainStore {
  constructor(private readonly redis: Redis, private readonly keys: Keyspace) {}

  /** The global domain set at run time, else `initial` (PIER_DOMAIN). */
  async globalDomain(initial: string): Promise<string> {
    return (await this.redis.get(this.keys.domainGlobal)) ?? initial;
  }

  async setGlobal(domain: string): Promise<void> {
    await this.redis.multi().set(this.keys.domainGlobal, domain).publish(this.keys.routesChannel, '*').exec();
  }

  async list(app: string): Promise<string[]> {
    return (await this.redis.smembers(this.keys.domains(app))).sort();
  }

  /** Custom domain → owning app, for every app. */
  async owners(): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.domainOwners);
  }

  /** Adds a domain to an app; when another app owns it, nothing changes and that app is returned. */
  async add(app: string, domain: string): Promise<{ owner?: string }> {
    const claimed = await this.redis.hsetnx(this.keys.domainOwners, domain, app);
    if (!claimed) {
      const owner = await this.redis.hget(this.keys.domainOwners, domain);
      if (owner !== app) return { owner: owner ?? undefined };
    }
    await this.redis.multi().sadd(this.keys.domains(app), domain).publish(this.keys.routesChannel, app).exec();
    return {};
  }

  /** Returns false when the app did not have the domain. */
  async remove(app: string, domain: string): Promise<boolean> {
    if ((await this.redis.hget(this.keys.domainOwners, domain)) !== app) return false;
    await this.redis.multi().hdel(this.keys.domainOwners, domain).srem(this.keys.domains(app), domain).publish(this.keys.routesChannel, app).exec();
    return true;
  }

  /** Drops every domain of an app (apps:destroy). */
  async removeAll(app: string): Promise<void> {
    const domains = await this.list(app);
    const multi = this.redis.multi().del(this.keys.domains(app));
    if (domains.length > 0) multi.hdel(this.keys.domainOwners, ...domains);
    await multi.publish(this.keys.routesChannel, app).exec();
  }

  /** Hands every domain of `from` to `to` (apps:rename). */
  async move(from: string, to: string): Promise<void> {
    const domains = await this.list(from);
    if (domains.length === 0) return;
    const multi = this.redis.multi().del(this.keys.domains(from)).sadd(this.keys.domains(to), ...domains);
    for (const d of domains) multi.hset(this.keys.domainOwners, d, to);
    await multi.publish(this.keys.routesChannel, to).exec();
  }
}
