import http from 'node:http';
import httpProxy from 'http-proxy';
import type { Logger } from '../log.js';
import { sendPage } from './pages.js';
import type { RouteTable } from './route-table.js';

export interface RouterOptions {
  port: number;
  host?: string;
}

/** The reverse proxy: Host header → app → one of its healthy upstreams, over kept-alive connections. */
export class Router {
  readonly server: http.Server;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, keepAliveMsecs: 1000 });
  private readonly proxy = httpProxy.createProxyServer({ agent: this.agent, xfwd: true, ws: false });

  constructor(private readonly table: RouteTable, private readonly log: Logger) {
    this.proxy.on('proxyReq', (proxyReq) => {
      // The client's Connection header is hop-by-hop; upstream connections stay pooled regardless.
      proxyReq.setHeader('connection', 'keep-alive');
    });
    this.proxy.on('proxyRes', (proxyRes) => {
      // The upstream's keep-alive terms are its own; the client connection follows the client's and the router's.
      delete proxyRes.headers.connection;
      delete proxyRes.headers['keep-alive'];
    });
    this.proxy.on('error', (err, req, res) => {
      this.log.debug({ err: (err as Error).message, host: req.headers.host }, 'upstream error');
      if (res instanceof http.ServerResponse) sendPage(res, 502, req.headers.host ?? '');
      else res.destroy();
    });
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 65_000;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const host = req.headers.host ?? '';
    const app = this.table.appFor(host);
    if (!app) return sendPage(res, 404, host);
    const upstream = this.table.pick(app);
    if (!upstream) return sendPage(res, 503, host);
    this.proxy.web(req, res, { target: `http://${upstream}` });
  }

  listen(opts: RouterOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(opts.port, opts.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
    this.agent.destroy();
    this.proxy.close();
  }
}
