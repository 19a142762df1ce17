import cluster from 'node:cluster';
import type net from 'node:net';
import path from 'node:path';
import type { Logger } from '../log.js';
import type { PluginEmitter } from '../plugins/emitter.js';
import type { DataPlane } from '../proxy-plane.js';
import type { Settings } from '../settings.js';
import type { State } from '../state/index.js';
import { builtinTemplates } from './nginx/nginx-config.js';
import type { RecordAccessLine } from './nginx/nginx-access-log.js';
import { stopStaleMaster } from './nginx/nginx-master.js';
import { NginxPlane } from './nginx/nginx-plane.js';
import { parkSocket, type ParkedSocket } from './nginx/parked-socket.js';
import type { Pages } from './pages.js';
import type { RouteTable } from './route-table.js';
import type { Router } from './router.js';

export interface DataPlanesDeps {
  state: State;
  table: RouteTable;
  /** The built-in router, already listening on PIER_HTTP_PORT (and PIER_HTTPS_PORT when it serves HTTPS). */
  router: Router;
  port: number;
  httpsPort: number;
  /** An nginx plane for the addresses the router listens on (HTTPS: undefined when it does not serve it). */
  nginx: (listen: string, httpsListen: string | undefined) => NginxPlane;
  /** Why nginx cannot be used now (the nginx-proxy plugin is disabled), or undefined. */
  nginxUnavailable: () => Promise<string | undefined>;
  log: Logger;
}

/** How long the built-in router tries to take the port back while nginx lets go of it. */
const RELISTEN_TIMEOUT_MS = 5000;

/**
 * Which data plane serves PIER_HTTP_PORT and PIER_HTTPS_PORT, switched at run time (`pier proxy:type`).
 * The daemon's listening sockets are the ones nginx serves (inherited): when switching to nginx, both
 * accept from them until nginx is up, then the built-in router stops accepting, so no connection is refused.
 */
export class DataPlanes {
  private serving: DataPlane = 'builtin';
  private wanted: DataPlane = 'builtin';
  private nginx: NginxPlane | undefined;
  /** The listening sockets (HTTP, then HTTPS), kept while nginx serves them, for the built-in router to accept from again. */
  private parked: ParkedSocket[] = [];
  /** Switches run one at a time; route changes reach nginx through its own coalescing queue. */
  private switches: Promise<void> = Promise.resolve();

  constructor(private readonly deps: DataPlanesDeps) {}

  /** Applies the plane stored in Redis (a failure to start nginx is reported, and the built-in router keeps serving). */
  async start(): Promise<void> {
    // In the chain, so a close() that comes while nginx starts waits for it, then stops it.
    this.switches = this.switches.then(() => this.sync());
    await this.switches;
  }

  /** A route changed (`*`: anything, the plane choice included). */
  changed(app: string): void {
    if (app === '*') {
      this.switches = this.switches.then(() => this.sync());
      return;
    }
    if (this.serving === 'nginx') this.reloadNginx(app);
    else this.applied(app, this.deps.table.route(app)?.upstreams);
  }

  /** Once the plane serves every change it was told of (changed()): why it refused some, if it did. */
  async settled(): Promise<string | undefined> {
    await this.switches;
    return this.serving === 'nginx' ? this.nginx!.settled() : undefined;
  }

  /** Tells deploys waiting to stop old instances which upstreams are served. */
  private applied(app: string, upstreams: readonly string[] | undefined): void {
    if (!upstreams) return;
    this.deps.state.routes.applied(app, upstreams).catch((err: unknown) => this.deps.log.warn({ err, app }, 'could not record the route as served'));
  }

  async close(): Promise<void> {
    await this.switches;
    await this.nginx?.stop();
    this.nginx = undefined;
    for (const p of this.parked) p.close();
    this.parked = [];
  }

  private reloadNginx(app: string): void {
    const nginx = this.nginx!;
    nginx.changed().then(
      () => {
        this.applied(app, nginx.served(app));
        return this.report();
      },
      () => this.report(),
    );
  }

  private async sync(): Promise<void> {
    let failure: string | undefined;
    try {
      this.wanted = await this.deps.state.proxy.plane();
      if (this.wanted === this.serving) {
        if (this.serving === 'nginx') await this.nginx!.changed();
      } else if (this.wanted === 'nginx') await this.toNginx();
      else await this.toBuiltin();
    } catch (err) {
      failure = (err as Error).message;
      this.deps.log.error({ problem: failure, wanted: this.wanted, serving: this.serving }, 'data plane switch failed');
    }
    await this.report(failure);
  }

  private async toNginx(): Promise<void> {
    const unavailable = await this.deps.nginxUnavailable();
    if (unavailable) throw new Error(unavailable);
    const servers = this.servers();
    const fds = servers.map(listeningFd);
    const parked: ParkedSocket[] = [];
    try {
      for (const fd of fds) parked.push(await parkSocket(fd));
      const [http, https] = servers.map(listenAddress);
      const nginx = this.deps.nginx(http!, https);
      this.nginx = nginx;
      await nginx.start(fds);
    } catch (err) {
      this.nginx = undefined;
      for (const p of parked) p.close();
      throw err;
    }
    this.parked = parked;
    // nginx accepts from the sockets now; the built-in router lets its connections finish and takes no new ones.
    for (const server of servers) server.close();
    this.serving = 'nginx';
    this.deps.log.info({ port: this.deps.port, httpsPort: servers.length > 1 ? this.deps.httpsPort : undefined }, 'nginx serves HTTP');
  }

  private async toBuiltin(): Promise<void> {
    const nginx = this.nginx;
    this.nginx = undefined;
    // Both accept from the socket until nginx has closed its copies: no connection finds the port closed.
    await this.resume();
    await nginx?.stop();
    this.serving = 'builtin';
    this.deps.log.info({ port: this.deps.port }, 'the built-in router serves HTTP');
  }

  /** nginx went away on its own: the built-in router takes the port back. */
  nginxExited(): void {
    this.switches = this.switches.then(async () => {
      if (this.serving !== 'nginx') return;
      this.nginx = undefined;
      this.serving = 'builtin';
      await this.resume().catch((err: unknown) => this.deps.log.error({ err }, 'the built-in router could not take the port back'));
      await this.report('nginx exited; the built-in router serves HTTP again');
    });
  }

  /** The built-in router's listeners nginx takes over: HTTP, and HTTPS when the router serves it. */
  private servers(): net.Server[] {
    const { server, tlsServer } = this.deps.router;
    return tlsServer?.listening ? [server, tlsServer] : [server];
  }

  /** The built-in router accepts again, from the parked sockets. */
  private async resume(): Promise<void> {
    const [http, https] = this.parked;
    this.parked = [];
    const { server, tlsServer } = this.deps.router;
    await Promise.all([http ? listenOn(server, http) : relisten(server, this.deps.port), https && tlsServer ? listenOn(tlsServer, https) : undefined]);
  }

  private async report(error?: string): Promise<void> {
    await this.deps.state.proxy
      .setPlaneStatus({ wanted: this.wanted, serving: this.serving, error: error ?? this.nginx?.lastError, reloads: this.nginx?.reloads ?? 0, at: Date.now() })
      .catch((err: unknown) => this.deps.log.warn({ err }, 'could not record the data plane status'));
  }
}

/** The descriptor under a listening net.Server; Node has no public accessor for it. */
function listeningFd(server: net.Server): number {
  const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the router has no listening socket to hand to nginx');
  return fd;
}

function listenAddress(server: net.Server): string {
  const a = server.address() as net.AddressInfo;
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

function listenOn(server: net.Server, handle: ParkedSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(handle, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Without a parked socket: listens again as soon as the port is free (nginx closes its sockets on SIGQUIT). */
async function relisten(server: net.Server, port: number): Promise<void> {
  const deadline = Date.now() + RELISTEN_TIMEOUT_MS;
  for (;;) {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

/** The plugin whose templates the nginx plane renders; disabling it keeps the built-in router. */
export const NGINX_PLUGIN = 'nginx-proxy';
/** Idle upstream connections per app and worker: at least the client concurrency a busy app sees (see bench/router). */
export const NGINX_KEEPALIVE = 256;

export interface StartPlanesDeps {
  state: State;
  table: RouteTable;
  router: Router;
  pages: Pages;
  plugins: PluginEmitter;
  settings: Settings;
  log: Logger;
  /** The built-in router's access log writer: nginx's lines, as it wrote them, go there too. */
  recordAccess: RecordAccessLine;
}

/** The nginx plane's folder: config, pid, logs, control socket. */
const nginxDir = (settings: Settings) => path.join(settings.home, 'nginx');

/** Before the router binds PIER_HTTP_PORT: an nginx a killed daemon left behind would hold it. */
export const freeHttpPort = (settings: Settings, log: Logger) => stopStaleMaster(nginxDir(settings), log);

/** The router role's data planes, with the plane stored in Redis applied. */
export async function startDataPlanes({ state, table, router, pages, plugins, settings, log, recordAccess }: StartPlanesDeps): Promise<DataPlanes> {
  const templates = builtinTemplates();
  const planes: DataPlanes = new DataPlanes({
    state,
    table,
    router,
    port: settings.httpPort,
    httpsPort: settings.httpsPort,
    log,
    nginx: (listen, httpsListen) =>
      new NginxPlane({
        table,
        plugins,
        pages,
        templates,
        layout: {
          dir: nginxDir(settings),
          listen,
          https: httpsListen === undefined ? undefined : { listen: httpsListen, port: settings.httpsPort },
          workers: 'auto',
          trustedProxies: settings.trustedProxies,
          keepalive: NGINX_KEEPALIVE,
        },
        binary: 'nginx',
        certificate: (app) => state.certs.get(app),
        appTemplate: (app) => state.proxy.template(app),
        accessLog: { record: recordAccess },
        log,
        onExit: () => planes.nginxExited(),
      }),
    nginxUnavailable: async () => {
      // A cluster worker's listener is the primary's, handed out connection by connection: there is no socket to give nginx.
      if (cluster.isWorker) {
        return `nginx runs worker processes of its own, so the nginx plane needs PIER_ROUTER_WORKERS=1 (it is ${settings.routerWorkers}): set PIER_ROUTER_WORKERS=1 in the daemon's settings and restart it, or keep the built-in router (pier proxy:type builtin)`;
      }
      return (await state.plugins.switches())[NGINX_PLUGIN] === 'disabled' ? `the ${NGINX_PLUGIN} plugin is disabled; enable it (pier plugins:enable ${NGINX_PLUGIN}) or keep the built-in router (pier proxy:type builtin)` : undefined;
    },
  });
  await planes.start();
  return planes;
}
