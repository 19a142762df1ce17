import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../log.js';
import { ClientConnection, DEFAULT_TIMEOUTS, type ProxyContext, type RouterHooks, type Timeouts } from './client-connection.js';
import { MIN_TLS_VERSION } from './tls-certificates.js';
import { BUILTIN_PAGES, type Pages } from './pages.js';
import type { RouteTable } from './route-table.js';
import { TrustedProxies } from './trusted-proxies.js';
import { UpstreamHealth } from './upstream-health.js';
import { UpstreamPools, type PoolLimits } from './upstream-pool.js';

export interface RouterOptions {
  port: number;
  host?: string;
}

export interface RouterSettings extends RouterHooks {
  /** IPs and CIDR ranges whose X-Forwarded-* headers are kept (PIER_TRUSTED_PROXIES). */
  trustedProxies?: readonly string[];
  timeouts?: Partial<Timeouts>;
  pool?: Partial<PoolLimits>;
  /** The error and maintenance pages, with the operator's overrides (loadPages); the built-in ones by default. */
  pages?: Pages;
  /** Serves HTTPS too, on its own port, into the same data plane. */
  https?: HttpsSettings;
}

export interface HttpsSettings {
  port: number;
  certificates: {
    /** The context for a client's SNI name; none fails the handshake. */
    contextFor(servername: string): tls.SecureContext | undefined;
    covers(app: string, hostHeader: string): boolean;
  };
}

export const DEFAULT_POOL: PoolLimits = { maxIdle: 1024, idleTimeoutMs: 4000 };

const SWEEP_MAX_MS = 100;

/** Busy connections get this long to finish their response when the router closes. */
const CLOSE_GRACE_MS = 5000;

/**
 * The reverse proxy: Host header → app → one of its healthy upstreams, over kept-alive connections.
 * A raw-socket HTTP/1.1 data plane (see client-connection.ts): http-proxy on node:http reached a
 * fifth of nginx's throughput, this reaches more than half.
 */
export class Router {
  readonly server: net.Server;
  readonly tlsServer: tls.Server | undefined;
  private readonly httpsPort: number | undefined;
  private readonly ctx: ProxyContext;
  private readonly sweepMs: number;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(table: RouteTable, log: Logger, settings: RouterSettings = {}) {
    const timeouts = { ...DEFAULT_TIMEOUTS, ...settings.timeouts };
    this.ctx = {
      table,
      log,
      timeouts,
      pools: new UpstreamPools({ ...DEFAULT_POOL, ...settings.pool }),
      health: new UpstreamHealth(),
      trusted: new TrustedProxies(settings.trustedProxies ?? []),
      hooks: { onRequestDone: settings.onRequestDone, policy: settings.policy },
      pages: settings.pages ?? BUILTIN_PAGES,
      connections: new Set(),
      https: settings.https && { port: settings.https.port, covers: (app, host) => settings.https!.certificates.covers(app, host) },
    };
    // Deadlines are checked by one sweep rather than a timer per request. It runs often enough for the
    // shortest router timeout, and every 100 ms at most so an app's timeouts (as short as 100 ms, set at
    // run time) are kept to within that.
    this.sweepMs = Math.max(20, Math.min(SWEEP_MAX_MS, ...Object.values(timeouts).map((t) => t / 4)));
    // Half-open clients (a request, then FIN) still get their response.
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => new ClientConnection(socket, this.ctx));
    if (settings.https) {
      this.httpsPort = settings.https.port;
      this.tlsServer = httpsServer(settings.https, timeouts.headerMs, log, (socket) => new ClientConnection(socket, this.ctx));
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const conn of this.ctx.connections) if (conn.deadline <= now) conn.onDeadline(now);
    this.ctx.pools.sweep(now);
  }

  /** Listens for HTTP on `opts.port` and, when the router serves HTTPS, on its port (same host). */
  async listen(opts: RouterOptions): Promise<void> {
    await listenOn(this.server, opts.port, opts.host);
    if (this.tlsServer) {
      try {
        await listenOn(this.tlsServer, this.httpsPort!, opts.host);
      } catch (err) {
        this.server.close();
        throw err;
      }
    }
    this.sweeper = setInterval(() => this.sweep(), this.sweepMs).unref();
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      let open = this.tlsServer?.listening ? 2 : 1;
      const closed = () => --open === 0 && resolve();
      this.server.close(closed);
      if (this.tlsServer?.listening) this.tlsServer.close(closed);
      for (const conn of this.ctx.connections) conn.shutdown();
      setTimeout(() => {
        for (const conn of this.ctx.connections) conn.destroy();
      }, CLOSE_GRACE_MS).unref();
    });
    clearInterval(this.sweeper);
    this.ctx.pools.close();
  }
}

function listenOn(server: net.Server, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * TLS 1.2+ with the certificate SNI names. A client naming a host without one (or sending no SNI)
 * fails its handshake with an alert: there is no default certificate to mislead it with.
 */
function httpsServer(https: HttpsSettings, handshakeMs: number, log: Logger, onSocket: (socket: tls.TLSSocket) => void): tls.Server {
  const server = tls.createServer({
    minVersion: MIN_TLS_VERSION,
    // The data plane speaks HTTP/1.1 only: a client offering h2 too settles on HTTP/1.1 (as with node:https), and
    // one offering h2 alone fails at the handshake (no_application_protocol) instead of sending frames nothing reads.
    ALPNProtocols: ['http/1.1'],
    // Unlike plain HTTP, not half-open: a client that leaves mid-handshake would otherwise hold its
    // socket until the handshake timeout (TLS clients end with close_notify, not a half-close).
    allowHalfOpen: false,
    // A handshake is bounded like a request head, so slow clients cannot hold the listener.
    handshakeTimeout: handshakeMs,
    SNICallback: (servername, cb) => {
      const context = https.certificates.contextFor(servername);
      if (context) cb(null, context);
      else cb(new Error(`no certificate for ${servername}`));
    },
  }, onSocket);
  server.on('tlsClientError', (err, socket) => {
    log.debug({ reason: err.message }, 'TLS handshake failed');
    socket.destroy();
  });
  return server;
}
