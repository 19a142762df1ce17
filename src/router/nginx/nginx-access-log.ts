import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../log.js';
import type { RequestDone } from '../client-connection.js';

/** The fields of the nginx-proxy template's `log_format pier`, as nginx's escape=json writes them. */
interface NginxLine {
  app: string;
  host: string;
  method: string;
  path: string;
  status: number;
  bytes: number;
  seconds: string;
  upstream: string;
  request_id: string;
}

/**
 * Pure: one syslog datagram from nginx (`<PRI>TIMESTAMP TAG: {json}`, nohostname) as the built-in router's
 * RequestDone; undefined for anything else, a datagram without the tag included (the tag is only in the
 * 0600 nginx.conf, so another local process cannot write into an app's log by guessing the port).
 */
export function parseNginxAccessLine(datagram: string, tag: string): RequestDone | undefined {
  const marker = `${tag}: `;
  const at = datagram.indexOf(marker);
  if (at === -1) return undefined;
  let line: NginxLine;
  try {
    line = JSON.parse(datagram.slice(at + marker.length)) as NginxLine;
  } catch {
    return undefined;
  }
  if (typeof line.app !== 'string' || typeof line.status !== 'number') return undefined;
  // Retried upstreams read "a, b" (a : b across upstream groups); the last one answered. "-" or empty: none did.
  const upstream = line.upstream.split(/[,:] (?=\S)/).at(-1)?.trim();
  return {
    app: line.app === '' ? undefined : line.app,
    host: line.host,
    method: line.method,
    path: line.path,
    status: line.status,
    bytes: line.bytes,
    durationMs: Math.round(Number(line.seconds) * 1000),
    upstream: upstream && upstream !== '-' ? upstream : undefined,
    requestId: line.request_id,
  };
}

export interface NginxAccessLogSocket {
  /** `host:port`, for the template's `access_log syslog:server=`. */
  server: string;
  tag: string;
  close(): Promise<void>;
}

/** A UDP socket on loopback that nginx's workers send access log lines to; each one parsed goes to `record`. */
export async function listenForNginxAccessLog(record: (done: RequestDone) => void, log: Logger): Promise<NginxAccessLogSocket> {
  const tag = `pier_${randomBytes(12).toString('hex')}`;
  const socket = dgram.createSocket('udp4');
  let unparsed = 0;
  socket.on('message', (msg) => {
    const done = parseNginxAccessLine(msg.toString('utf8'), tag);
    if (done) record(done);
    else if (unparsed++ === 0) log.warn({ bytes: msg.length }, 'nginx access log: a datagram that is not nginx\'s line was ignored');
  });
  socket.on('error', (err) => log.warn({ err }, 'nginx access log socket failed'));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const { port } = socket.address() as AddressInfo;
  return { server: `127.0.0.1:${port}`, tag, close: () => new Promise((resolve) => socket.close(() => resolve())) };
}
