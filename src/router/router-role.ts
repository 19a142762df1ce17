import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import type { Settings } from '../settings.js';
import type { State } from '../state/index.js';
import { RouteTable } from './route-table.js';
import { Router } from './router.js';

export interface RouterRoleDeps {
  state: State;
  /** A new Redis connection (the route watch takes one as its subscriber). */
  connection: () => Redis;
  settings: Settings;
  log: Logger;
}

/** The daemon's router role: the route table loaded from Redis and kept live, served on PIER_HTTP_PORT. Returns its closer. */
export async function startRouterRole({ state, connection, settings, log }: RouterRoleDeps): Promise<() => Promise<void>> {
  const table = new RouteTable(state, settings.domain);
  const subscriber = connection();
  await state.routes.watch(subscriber, (app) => {
    table.refresh(app).catch((err: unknown) => log.warn({ err, app }, 'route refresh failed'));
  });
  await table.load();
  const router = new Router(table, log, { trustedProxies: settings.trustedProxies });
  await router.listen({ port: settings.httpPort });
  log.info({ port: settings.httpPort, domain: settings.domain }, 'router listening');
  return () => router.close();
}
