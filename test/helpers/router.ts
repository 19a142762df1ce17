import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { createLogger } from '../../src/log.js';
import { RouteTable } from '../../src/router/route-table.js';
import { Router, type RouterSettings } from '../../src/router/router.js';
import { createState, type State } from '../../src/state/index.js';
import { connectTestRedis, deleteInstanceKeys } from './redis.js';

export interface RunningRouter {
  state: State;
  port: number;
  /** Deletes the instance's keys, then closes the router and both Redis connections. */
  stop(): Promise<void>;
}

/** Pier's router wired as src/daemon.ts wires it (route table, pub/sub watch, load), on an ephemeral port. */
export async function startRouter(redisUrl: string, instance: string, domain = 'localhost', settings: RouterSettings = {}): Promise<RunningRouter> {
  const redis = await connectTestRedis(redisUrl);
  let subscriber: Redis | undefined;
  let router: Router | undefined;
  const state = createState(redis, instance);
  const stop = async () => {
    await deleteInstanceKeys(redis, instance).catch(() => undefined);
    if (router) await router.close();
    if (subscriber) await subscriber.quit().catch(() => subscriber!.disconnect());
    await redis.quit().catch(() => redis.disconnect());
  };
  try {
    const table = new RouteTable(state, domain);
    subscriber = redis.duplicate();
    await state.routes.watch(subscriber, (app) => {
      table.refresh(app).catch(() => undefined);
    });
    await table.load();
    router = new Router(table, createLogger('silent'), settings);
    await router.listen({ port: 0, host: '127.0.0.1' });
    const port = (router.server.address() as AddressInfo).port;
    return { state, port, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
