import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import { noPlugins, type PluginEmitter } from '../plugins/emitter.js';
import type { Settings } from '../settings.js';
import type { State } from '../state/index.js';
import { AccessLog } from './access-log.js';
import type { RequestDone } from './client-connection.js';
import { freeHttpPort, startDataPlanes } from './data-planes.js';
import { loadPages } from './pages.js';
import { RouteTable } from './route-table.js';
import { Router } from './router.js';
import { TlsCertificates } from './tls-certificates.js';

export interface RouterRoleDeps {
  state: State;
  /** A new Redis connection (the route watch takes one as its subscriber). */
  connection: () => Redis;
  settings: Settings;
  log: Logger;
  /** Where the nginx plane's proxy-config-render event goes; none for a router running alone. */
  plugins?: PluginEmitter;
}

/** The daemon's router role: the route table loaded from Redis and kept live, served on PIER_HTTP_PORT and PIER_HTTPS_PORT. Returns its closer. */
export async function startRouterRole({ state, connection, settings, log, plugins = noPlugins }: RouterRoleDeps): Promise<() => Promise<void>> {
  const table = new RouteTable(state, settings.domain);
  const certificates = new TlsCertificates(state, table, log);
  const subscriber = connection();
  let planes: Awaited<ReturnType<typeof startDataPlanes>> | undefined;
  // Changes being read, for a barrier to wait on: refreshes run side by side and may finish out of order.
  const refreshing = new Set<Promise<unknown>>();
  const track = (work: Promise<unknown>) => {
    refreshing.add(work);
    void work.finally(() => refreshing.delete(work));
  };
  const acknowledge = async (seq: number) => {
    await Promise.allSettled([...refreshing]);
    const refused = await planes?.settled();
    await state.routes.acknowledge(seq, refused ?? '');
  };
  await state.routes.watch(
    subscriber,
    (app) => {
      track(table.refresh(app).then(() => planes?.changed(app), (err: unknown) => log.warn({ err, app }, 'route refresh failed')));
      track(certificates.refresh(app).catch((err: unknown) => log.warn({ err, app }, 'certificate refresh failed')));
    },
    (seq) => acknowledge(seq).catch((err: unknown) => log.warn({ err, seq }, 'could not acknowledge the route changes')),
  );
  await table.load();
  await certificates.load();
  // Operators' page templates are read once, here: edits take effect at the next router start.
  const pages = await loadPages(path.join(settings.home, 'templates'), log);
  // Its connection opens at the first write: a router that fails to start leaves none behind.
  const accessLogWriter = state.events.accessLogWriter();
  const accessLog = new AccessLog((entries) => accessLogWriter.write(entries), log);
  const recordAccess = (done: RequestDone) => {
    if (done.app !== undefined && table.settings(done.app).accessLog) accessLog.record(done);
  };
  const router = new Router(table, log, { trustedProxies: settings.trustedProxies, onRequestDone: recordAccess, pages, https: { port: settings.httpsPort, certificates } });
  await freeHttpPort(settings, log);
  await router.listen({ port: settings.httpPort });
  log.info({ port: settings.httpPort, httpsPort: settings.httpsPort, domain: settings.domain }, 'router listening');
  // nginx's lines arrive built and stamped. Its config leaves out apps whose access-log setting is false, but an app's own template may not.
  const recordNginxLine = (app: string, record: Buffer) => {
    if (table.settings(app).accessLog) accessLog.recordLine(app, record);
  };
  planes = await startDataPlanes({ state, table, router, pages, plugins, settings, log, recordAccess: recordNginxLine });
  return async () => {
    await planes?.close();
    await router.close();
    await accessLog.close();
    accessLogWriter.close();
  };
}
