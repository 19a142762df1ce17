import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { createLogger } from '../../src/log.js';
import { RouteTable } from '../../src/router/route-table.js';
import { Router, type RouterSettings } from '../../src/router/router.js';
import { createState, type State } from '../../src/state/index.js';
import { startNginxPlane, type RunningNginxPlane } from './nginx-plane.js';
import { connectTestRedis, deleteInstanceKeys } from './redis.js';

export interface RunningRouter {
  state: State;
  port: number;
  /** Resolves once the plane serves exactly these upstreams for the app (nginx: its reload complete, no old worker accepting). */
  ready(app: string, upstreams: readonly string[]): Promise<void>;
  /** Deletes the instance's keys, then closes the router and both Redis connections. */
  stop(): Promise<void>;
}

/** The router suites run on Pier's nginx data plane: PIER_TEST_PLANE=nginx. */
export const onNginx = process.env.PIER_TEST_PLANE === 'nginx';

/**
 * A test of a built-in router hook (onRequestDone, policy: objects passed to it in-process), or of a built-in
 * behaviour nginx does not promise: skipped on the nginx plane, with the reason in its title.
 */
export function builtinOnly(reason: string): Mocha.TestFunction | Mocha.PendingTestFunction {
  if (!onNginx) return it;
  return ((title: string) => it.skip(`${title} [built-in only: ${reason}]`)) as Mocha.PendingTestFunction;
}

/**
 * Pier's router wired as src/daemon.ts wires it (route table, pub/sub watch, load), on an ephemeral port.
 * With PIER_TEST_PLANE=nginx the port is Pier's nginx data plane's instead, on the same Redis instance,
 * so a router suite runs against both planes: PIER_TEST_PLANE=nginx npx mocha test/integration/router.test.ts
 */
export async function startRouter(redisUrl: string, instance: string, domain = 'localhost', settings: RouterSettings = {}): Promise<RunningRouter> {
  const redis = await connectTestRedis(redisUrl);
  let subscriber: Redis | undefined;
  let router: Router | undefined;
  let nginx: { plane: RunningNginxPlane; dir: string } | undefined;
  const state = createState(redis, instance);
  const ready = async (app: string, upstreams: readonly string[]) => {
    if (!(await state.routes.waitApplied(app, upstreams, 10_000))) throw new Error(`the router did not serve ${app} at ${upstreams.join(', ') || 'no upstream'} within 10 s`);
  };
  const stop = async () => {
    await deleteInstanceKeys(redis, instance).catch(() => undefined);
    if (nginx) {
      await nginx.plane.stop();
      await rm(nginx.dir, { recursive: true, force: true });
    }
    if (router) await router.close();
    if (subscriber) await subscriber.quit().catch(() => subscriber!.disconnect());
    await redis.quit().catch(() => redis.disconnect());
  };
  try {
    const table = new RouteTable(state, domain);
    subscriber = redis.duplicate();
    await state.routes.watch(subscriber, (app) => {
      table.refresh(app).then(() => {
        const upstreams = table.route(app)?.upstreams;
        if (!onNginx && upstreams) return state.routes.applied(app, upstreams);
      }).catch(() => undefined);
    });
    await table.load();
    router = new Router(table, createLogger('silent'), settings);
    await router.listen({ port: 0, host: '127.0.0.1' });
    if (process.env.PIER_TEST_PLANE === 'nginx') {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'pier-test-nginx-'));
      nginx = { dir, plane: await startNginxPlane(redisUrl, instance, { dir, domain, trustedProxies: settings.trustedProxies }) };
      return { state, port: nginx.plane.port, ready, stop };
    }
    const port = (router.server.address() as AddressInfo).port;
    return { state, port, ready, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
