/**
 * Pier's nginx data plane for the router bench and tests, wired as the daemon's router role wires it (route table,
 * pub/sub watch, the nginx-proxy templates, nginx -t, graceful reloads), on a loopback port of its own.
 */
import { readFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { createLogger } from '../../src/log.js';
import { noPlugins } from '../../src/plugins/emitter.js';
import { builtinTemplates } from '../../src/router/nginx/nginx-config.js';
import type { RecordAccessLine } from '../../src/router/nginx/nginx-access-log.js';
import { NginxPlane } from '../../src/router/nginx/nginx-plane.js';
import { BUILTIN_PAGES } from '../../src/router/pages.js';
import { RouteTable } from '../../src/router/route-table.js';
import { createState, type State } from '../../src/state/index.js';
import { connectTestRedis } from './redis.js';

export interface RunningNginxPlane {
  state: State;
  port: number;
  /** The nginx master, whose CPU time (with its workers') the bench counts. */
  pid: number;
  stop(): Promise<void>;
}

export interface NginxPlaneOptions {
  dir: string;
  workers?: string;
  nginx?: string;
  domain?: string;
  trustedProxies?: readonly string[];
  /** Where nginx's access log lines go (read from its file, as in the daemon: AccessLog's recordLine); none: nginx logs nothing. */
  recordAccess?: RecordAccessLine;
  /** The access log file is rotated past this size (the daemon's default otherwise). */
  rotateAccessLogBytes?: number;
}

export async function startNginxPlane(redisUrl: string, instance: string, { dir, workers = '1', nginx = 'nginx', domain = 'localhost', trustedProxies = [], recordAccess, rotateAccessLogBytes }: NginxPlaneOptions): Promise<RunningNginxPlane> {
  const redis = await connectTestRedis(redisUrl);
  const subscriber: Redis = redis.duplicate();
  const state = createState(redis, instance);
  const table = new RouteTable(state, domain);
  // The daemon's listening socket, which nginx inherits; closed here once nginx serves it.
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const log = createLogger('warn');
  const plane = new NginxPlane({
    table,
    plugins: noPlugins,
    pages: BUILTIN_PAGES,
    templates: builtinTemplates(),
    layout: { dir: join(dir, 'pier-nginx'), listen: `127.0.0.1:${port}`, workers, trustedProxies, keepalive: 256 },
    binary: nginx,
    certificate: (app) => state.certs.get(app),
    accessLog: recordAccess && { record: recordAccess, rotateBytes: rotateAccessLogBytes },
    log,
    onExit: () => undefined,
  });
  await state.routes.watch(subscriber, (app) => {
    table.refresh(app).then(
      () =>
        plane.changed().then(
          // As the daemon's data planes do: tests wait for this acknowledgement (RunningRouter.ready).
          () => {
            const served = plane.served(app);
            return served && state.routes.applied(app, served);
          },
          (err: unknown) => console.error(`nginx plane: ${(err as Error).message}`),
        ),
      () => undefined,
    );
  });
  await table.load();
  await plane.start([(server as unknown as { _handle: { fd: number } })._handle.fd]);
  server.close();
  const pid = Number(readFileSync(join(dir, 'pier-nginx', 'nginx.pid'), 'utf8').trim());
  return {
    state,
    port,
    pid,
    stop: async () => {
      await plane.stop();
      await subscriber.quit();
      await redis.quit();
    },
  };
}
