/**
 * The steady load of bench/zero-downtime, in its own process so that its timing is not held up by
 * the in-process Pier daemon it measures (and the daemon's by it): CONCURRENCY loops, each on its own
 * kept-alive connection to the router, each sending GET / with the app's Host header, waiting for
 * the whole answer, pausing PAUSE_MS, and again, until a line arrives on stdin (or stdin closes) or
 * MAX_SECONDS pass. Then it prints one JSON line: the distinct bodies, every request as
 * [start, end, status, body index, error] with times in epoch milliseconds (performance.timeOrigin
 * based, so they line up with the parent's clock to a fraction of a millisecond), and how many
 * connections the loops opened (CONCURRENCY when every connection was kept alive throughout).
 *
 *   tsx bench/zero-downtime/load.ts PORT HOST CONCURRENCY PAUSE_MS MAX_SECONDS
 *
 * A request that gets no complete answer within REQUEST_TIMEOUT_MS is a transport error ("timeout").
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const REQUEST_TIMEOUT_MS = 5000;

const [portArg = '', host = '', concurrencyArg = '8', pauseArg = '5', maxArg = '300'] = process.argv.slice(2);
const port = Number(portArg);
const concurrency = Number(concurrencyArg);
const pauseMs = Number(pauseArg);
const maxMs = Number(maxArg) * 1000;

/** [start, end, status (0: none), body index (-1: none), error ('' when answered)]. */
export type LoadRecord = [number, number, number, number, string];
export interface LoadResult {
  bodies: string[];
  requests: LoadRecord[];
  connections: number;
}

const now = () => performance.timeOrigin + performance.now();
const bodies: string[] = [];
const bodyIndex = new Map<string, number>();
const requests: LoadRecord[] = [];
const sockets = new WeakSet<object>();
let connections = 0;
let stopping = false;

function once(agent: http.Agent): Promise<void> {
  const start = now();
  return new Promise((resolve) => {
    let done = false;
    const record = (status: number, body: string | undefined, error: string) => {
      if (done) return;
      done = true;
      let index = -1;
      if (body !== undefined) {
        index = bodyIndex.get(body) ?? bodies.push(body) - 1;
        bodyIndex.set(body, index);
      }
      requests.push([start, now(), status, index, error]);
      resolve();
    };
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => record(res.statusCode ?? 0, body, ''));
      res.on('error', (err: NodeJS.ErrnoException) => record(res.statusCode ?? 0, undefined, err.code ?? err.message));
      res.on('aborted', () => record(res.statusCode ?? 0, undefined, 'aborted'));
    });
    req.on('socket', (socket) => {
      if (sockets.has(socket)) return;
      sockets.add(socket);
      connections++;
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
    req.on('error', (err: NodeJS.ErrnoException) => record(0, undefined, err.code ?? err.message));
  });
}

async function loop(): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const end = now() + maxMs;
  while (!stopping && now() < end) {
    await once(agent);
    if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
  }
  agent.destroy();
}

process.stdin.on('data', () => (stopping = true));
process.stdin.on('end', () => (stopping = true));
process.stderr.write('ready\n');
await Promise.all(Array.from({ length: concurrency }, loop));
process.stdout.write(`${JSON.stringify({ bodies, requests, connections } satisfies LoadResult)}\n`, () => process.exit(0));
