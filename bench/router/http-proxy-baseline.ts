/**
 * The bench's baseline: what Pier's router used to be, a node:http server proxying with http-proxy over
 * a keep-alive agent (pool as large as the client concurrency), adding X-Forwarded-*. In its own
 * process. Usage: http-proxy-baseline.ts UPSTREAM_PORT CONNECTIONS; prints its port on stdout.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import httpProxy from 'http-proxy';

const [upstreamPort = '', connections = '64'] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(connections) * 2, maxFreeSockets: Number(connections) * 2 });
const proxy = httpProxy.createProxyServer({ agent, xfwd: true, target: `http://127.0.0.1:${upstreamPort}` });
proxy.on('proxyReq', (proxyReq) => proxyReq.setHeader('connection', 'keep-alive'));
proxy.on('error', (_err, _req, res) => {
  if (res instanceof http.ServerResponse && !res.headersSent) res.writeHead(502).end();
  else res.destroy();
});
const server = http.createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
