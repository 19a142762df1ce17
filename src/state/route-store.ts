import type { Redis } from 'ioredis';
import type { Keyspace } from './keys.js';

export interface Route {
  app: string;
  /** host:port of each healthy web instance, reached over Pier's Docker network. */
  upstreams: string[];
}

const APPLIED_POLL_MS = 20;
/** What routes-applied holds for an app: its upstreams, or GONE once a router serves no route for it. */
const GONE = 'gone';
const appliedValue = (upstreams: readonly string[] | undefined) => (upstreams ? JSON.stringify([...upstreams].sort()) : GONE);

export class RouteStore {
  constructor(private readonly redis: Redis, private readonly keys: Keyspace) {}

  async set(route: Route): Promise<void> {
    await this.redis.multi().set(this.keys.route(route.app), JSON.stringify(route)).publish(this.keys.routesChannel, route.app).exec();
  }

  async remove(app: string): Promise<void> {
    await this.redis.multi().del(this.keys.route(app)).publish(this.keys.routesChannel, app).exec();
  }

  async get(app: string): Promise<Route | undefined> {
    const raw = await this.redis.get(this.keys.route(app));
    return raw === null ? undefined : (JSON.parse(raw) as Route);
  }

  async all(): Promise<Route[]> {
    const apps = await this.redis.smembers(this.keys.apps);
    const routes = await Promise.all(apps.map((a) => this.get(a)));
    return routes.filter((r): r is Route => r !== undefined);
  }

  /**
   * A router serves these upstreams for the app (for a data plane that reloads, once the reload is complete);
   * `undefined`: it serves no route for the app, which is gone.
   */
  async applied(app: string, upstreams: readonly string[] | undefined): Promise<void> {
    await this.redis.hset(this.keys.routesApplied, app, appliedValue(upstreams));
  }

  /**
   * Resolves true once a router serves exactly these upstreams for the app, false after `timeoutMs` (no router
   * runs, or its data plane refused the change): a deploy waits for it before stopping old instances.
   */
  async waitApplied(app: string, upstreams: readonly string[] | undefined, timeoutMs: number): Promise<boolean> {
    const want = appliedValue(upstreams);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if ((await this.redis.hget(this.keys.routesApplied, app)) === want) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, APPLIED_POLL_MS));
    }
  }

  /**
   * Resolves true once a router has dropped a destroyed app's route (its host names answer 404), false after
   * `timeoutMs`; the mark is then removed, so a new app of the same name starts clean.
   */
  async waitForgotten(app: string, timeoutMs: number): Promise<boolean> {
    const forgotten = await this.waitApplied(app, undefined, timeoutMs);
    await this.redis.hdel(this.keys.routesApplied, app);
    return forgotten;
  }

  /** Calls `onChange(app)` whenever an app's route changes. `subscriber` becomes a subscriber connection. */
  async watch(subscriber: Redis, onChange: (app: string) => void): Promise<void> {
    subscriber.on('message', (channel: string, app: string) => {
      if (channel === this.keys.routesChannel) onChange(app);
    });
    await subscriber.subscribe(this.keys.routesChannel);
  }
}
