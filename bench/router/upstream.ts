/** The bench's app: a tiny HTTP server answering "ok", in its own process. Prints its port on stdout. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const body = Buffer.from('ok');
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
