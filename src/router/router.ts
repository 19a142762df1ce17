import net from 'node:net';
import type { Logger } from '../log.js';
import { ClientConnection, DEFAULT_TIMEOUTS, type ProxyContext, type RouterHooks, type Timeouts } from './client-connection.js';
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
}

export const DEFAULT_POOL: PoolLimits = { maxIdle: 1024, idleTimeoutMs: 4000 };

/** Busy connections get this long to finish their response when the router closes. */
const CLOSE_GRACE_MS = 5000;

/**
 * The reverse proxy: Host header → app → one of its healthy upstreams, over kept-alive connections.
 * A raw-socket HTTP/1.1 data plane (see client-connection.ts): http-proxy on node:http reached a
 * fifth of nginx's throughput, this reaches more than half.
 */
export class Router {
  readonly server: net.Server;
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
      connections: new Set(),
    };
    // Deadlines are checked by one sweep rather than a timer per request; it runs often enough for the shortest timeout.
    this.sweepMs = Math.max(20, Math.min(1000, ...Object.values(timeouts).map((t) => t / 4)));
    // Half-open clients (a request, then FIN) still get their response.
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => new ClientConnection(socket, this.ctx));
  }

  private sweep(): void {
    const now = Date.now();
    for (const conn of this.ctx.connections) if (conn.deadline <= now) conn.onDeadline(now);
    this.ctx.pools.sweep(now);
  }

  listen(opts: RouterOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(opts.port, opts.host, () => {
        this.server.off('error', reject);
        this.sweeper = setInterval(() => this.sweep(), this.sweepMs).unref();
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const conn of this.ctx.connections) conn.shutdown();
      setTimeout(() => {
        for (const conn of this.ctx.connections) conn.destroy();
      }, CLOSE_GRACE_MS).unref();
    });
    clearInterval(this.sweeper);
    this.ctx.pools.close();
  }
}
