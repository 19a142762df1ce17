import type { Redis } from 'ioredis';
import type { Keyspace } from './keys.js';

export interface Route {
  app: string;
  /** host:port of each healthy web instance, reached over Pier's Docker network. */
  upstreams: string[];
}

const POLL_MS = 20;
/** A message on the routes channel that is no app name (those are [a-z0-9-], or `*`): a barrier, `#<sequence>`. */
const BARRIER_PREFIX = '#';

/** What a router answers to a barrier: it serves every change published before it, or its data plane refused them. */
export type RoutesServed = { served: true } | { served: false; error: string } | { served: 'unconfirmed' };

// Acknowledgements only move forward: a slower router answering an older barrier must not hide a newer answer.
const ACK_SCRIPT = `
local current = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if tonumber(ARGV[1]) > current then redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'error', ARGV[2]) end
return 0`;
const upstreamsKey = (upstreams: readonly string[]) => JSON.stringify([...upstreams].sort());

/** How long an operation or a deploy waits for a router to serve its change, or refuse it (none may run: an API-only daemon). */
export const ROUTES_SERVED_TIMEOUT_MS = 10_000;

/** `read` every POLL_MS until it answers, or undefined once `timeoutMs` has passed. */
async function poll<T>(read: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await read();
    if (answer !== undefined || Date.now() >= deadline) return answer;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

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

  /** A router serves these upstreams for the app (for a data plane that reloads, once the reload is complete). */
  async applied(app: string, upstreams: readonly string[]): Promise<void> {
    await this.redis.hset(this.keys.routesApplied, app, upstreamsKey(upstreams));
  }

  /**
   * Resolves true once a router serves exactly these upstreams for the app, false after `timeoutMs` (no router
   * runs, or its data plane refused the change): a deploy waits for it before stopping old instances.
   */
  async waitApplied(app: string, upstreams: readonly string[], timeoutMs: number): Promise<boolean> {
    const want = upstreamsKey(upstreams);
    const served = await poll(async () => ((await this.redis.hget(this.keys.routesApplied, app)) === want ? true : undefined), timeoutMs);
    return served === true;
  }

  /**
   * After an operation's changes: resolves once a router serves every route change published before this call,
   * with the error its data plane gave when it refused them (nginx -t), or `unconfirmed` after `timeoutMs`.
   */
  async served(timeoutMs: number): Promise<RoutesServed> {
    const seq = await this.redis.incr(this.keys.routesBarrier);
    // Published after the changes, on their channel: a router hears it after them.
    await this.redis.publish(this.keys.routesChannel, `${BARRIER_PREFIX}${seq}`);
    const answer = await poll(async (): Promise<RoutesServed | undefined> => {
      const [acked, error] = await this.redis.hmget(this.keys.routesAck, 'seq', 'error');
      if (Number(acked) < seq) return undefined;
      return error ? { served: false, error } : { served: true };
    }, timeoutMs);
    return answer ?? { served: 'unconfirmed' };
  }

  /** A router's answer to barrier `seq` (see served()); `error` empty when it serves the changes. */
  async acknowledge(seq: number, error: string): Promise<void> {
    await this.redis.eval(ACK_SCRIPT, 1, this.keys.routesAck, String(seq), error);
  }

  /**
   * Calls `onChange(app)` whenever an app's route changes, and `onBarrier(seq)` for each barrier (served()):
   * the router acknowledges it once it serves what it heard before. `subscriber` becomes a subscriber connection.
   */
  async watch(subscriber: Redis, onChange: (app: string) => void, onBarrier?: (seq: number) => void): Promise<void> {
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.keys.routesChannel) return;
      if (!message.startsWith(BARRIER_PREFIX)) onChange(message);
      else onBarrier?.(Number(message.slice(BARRIER_PREFIX.length)));
    });
    await subscriber.subscribe(this.keys.routesChannel);
  }
}
