import { expect } from 'chai';
import { mkdtemp, readdir, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { createLogger } from '../../src/log.js';
import { AccessLog } from '../../src/router/access-log.js';
import type { AccessLogWriter } from '../../src/state/access-log-writer.js';
import { createState, type State } from '../../src/state/index.js';
import { close, get, listen } from '../helpers/http.js';
import { startNginxPlane, type RunningNginxPlane } from '../helpers/nginx-plane.js';
import { connectTestRedis, deleteInstanceKeys, testRedisUrl, uniqueInstance } from '../helpers/redis.js';

const APP = 'rotating';
const HOST = `${APP}.localhost`;

/**
 * The nginx plane's access log file, end to end: real nginx (two workers) writing it, the plane reading and
 * rotating it, the router's AccessLog writing the lines to Redis, read back as `pier logs` reads them.
 */
describe('the nginx plane\'s access log file (real nginx, Redis)', function () {
  this.timeout(60_000);

  let redis: Redis;
  let state: State;
  let instance: string;
  let dir: string;
  let upstream: http.Server;
  let upstreamAddress: string;
  let writer: AccessLogWriter;
  let accessLog: AccessLog;
  let plane: RunningNginxPlane | undefined;

  const logDir = () => path.join(dir, 'pier-nginx');

  async function startPlane(rotateAccessLogBytes?: number): Promise<RunningNginxPlane> {
    plane = await startNginxPlane(testRedisUrl, instance, { dir, workers: '2', recordAccess: accessLog.recordLine, rotateAccessLogBytes });
    return plane;
  }

  /** Stops the plane (its last lines read), then writes what the access log holds to Redis. */
  async function stopAndFlush(): Promise<void> {
    await plane?.stop();
    plane = undefined;
    await accessLog.close();
  }

  /** The request ids of the app's router lines, as `pier logs` reads them back. */
  async function loggedIds(): Promise<string[]> {
    const { streams } = await state.events.tail(APP, 100_000);
    return streams[1].map((e) => (JSON.parse(e.line) as { request_id: string }).request_id);
  }

  beforeEach(async () => {
    redis = await connectTestRedis(testRedisUrl);
    instance = uniqueInstance('nal');
    state = createState(redis, instance);
    dir = await mkdtemp(path.join(os.tmpdir(), 'pier-nginx-log-'));
    upstream = http.createServer((_req, res) => res.end('ok'));
    upstreamAddress = `127.0.0.1:${await listen(upstream)}`;
    await state.apps.create(APP);
    await state.routes.set({ app: APP, upstreams: [upstreamAddress] });
    writer = state.events.accessLogWriter();
    accessLog = new AccessLog((batches) => writer.write(batches), createLogger('warn'));
  });

  afterEach(async () => {
    await stopAndFlush();
    writer.close();
    await close(upstream);
    await deleteInstanceKeys(redis, instance);
    await redis.quit();
    await rm(dir, { recursive: true, force: true });
  });

  it('loses and doubles no line across rotations while two workers write, and leaves no file behind', async () => {
    const running = await startPlane(16 * 1024);
    const sent: string[] = [];
    let rotations = 0;
    let sawRotated = false;
    let mode = 0;
    // A rotation takes about a second (a reload, then the old workers' exit): load runs until a third one begins, which the stop then finishes.
    const deadline = Date.now() + 30_000;
    const loading = () => rotations < 3 && Date.now() < deadline;
    const watch = (async () => {
      while (loading()) {
        const files = await readdir(logDir());
        if (files.includes('access.log.1') !== sawRotated) rotations += (sawRotated = !sawRotated) ? 1 : 0;
        mode = (await stat(path.join(logDir(), 'access.log')).catch(() => ({ mode: 0 }))).mode & 0o777 || mode;
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await Promise.all(
      Array.from({ length: 8 }, async (_, loop) => {
        for (let i = 0; loading(); i++) {
          const id = `rot-${loop}-${i}`;
          // Fresh connections: a rotation reloads nginx, which closes idle kept-alive ones (a client retries those).
          const reply = await get(running.port, HOST, { agent: false, headers: { 'x-request-id': id } });
          expect(reply.status).to.equal(200);
          sent.push(id);
        }
      }),
    );
    await watch;
    await stopAndFlush();
    const ids = await loggedIds();
    expect(rotations, 'rotations seen').to.be.at.least(3);
    expect(ids.length, `${sent.length} requests sent`).to.equal(sent.length);
    expect(new Set(ids).size).to.equal(sent.length);
    expect(ids.slice().sort()).to.deep.equal(sent.slice().sort());
    expect(mode.toString(8), 'the file only Pier can read').to.equal('600');
    expect((await readdir(logDir())).filter((f) => f.startsWith('access.log'))).to.deep.equal([]);
  });

  it('does not read a file a previous run left behind, whose lines may already be logged', async () => {
    await mkdir(logDir(), { recursive: true, mode: 0o700 });
    await writeFile(path.join(logDir(), 'access.log'), `${APP}\t2026-12-01T12:00:00.000Z {"request_id":"left-behind"}\n`);
    const running = await startPlane();
    expect((await get(running.port, HOST, { agent: false, headers: { 'x-request-id': 'fresh' } })).status).to.equal(200);
    await stopAndFlush();
    expect(await loggedIds()).to.deep.equal(['fresh']);
  });
});
