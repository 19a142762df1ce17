import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { get, waitFor } from '../helpers/http.js';
import { ResponseReader } from '../helpers/raw-http.js';
import { RouterProcess } from '../helpers/router-process.js';
import { TestPier, repoRoot } from '../helpers/test-pier.js';

/** `2026-12-01T07:00:00.123456+00:00 pier[router]: {...}` */
const ROUTER_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00) pier\[router\]: (\{.*\})$/;

interface AccessLine {
  host: string;
  method: string;
  path: string;
  status: number;
  bytes: number;
  duration_ms: number;
  upstream: string | null;
  request_id: string;
}

/** Runs, and is no zombie waiting for whichever process reaps orphans here (a zombie holds no socket). */
function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function deploy(pier: TestPier, app: string): Promise<void> {
  const pushed = await pier.push(await pier.fixtureRepo('logs-app'), app);
  expect(pushed.code, pushed.stderr).to.equal(0);
}

/** The router's lines of `pier logs APP -p router`, parsed. */
async function accessLines(pier: TestPier, app: string): Promise<AccessLine[]> {
  const result = await pier.cli(['logs', app, '-p', 'router', '-n', '1000']);
  expect(result.code, result.stderr).to.equal(0);
  return result.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      expect(l).to.match(ROUTER_LINE);
      return JSON.parse(ROUTER_LINE.exec(l)![2]!) as AccessLine;
    });
}

const logged = (pier: TestPier, app: string, requestId: string) =>
  waitFor(() => accessLines(pier, app), (lines) => lines.some((l) => l.request_id === requestId), `${requestId} in the access log`, 5000).then(
    (lines) => lines.find((l) => l.request_id === requestId)!,
  );

describe('the router access log: every request, one JSON line in the app\'s log', function () {
  this.timeout(300_000);
  const app = 'access-demo';
  let pier: TestPier;
  let port: number;
  const host = () => `${app}.${pier.settings.domain}`;

  before(async () => {
    pier = await TestPier.start();
    port = pier.settings.httpPort;
    await deploy(pier, app);
  });

  after(async () => {
    await pier?.close();
  });

  it('pier logs APP -p router shows each request with its host, method, path, status, bytes, duration, instance and request id', async () => {
    const ok = await get(port, host(), { path: '/?first=1', headers: { 'x-request-id': 'test-req-1' } });
    expect(ok.status).to.equal(200);
    const missing = await get(port, host(), { path: '/missing', headers: { 'x-request-id': 'test-req-2' } });
    expect(missing.status).to.equal(404);

    const line = await logged(pier, app, 'test-req-1');
    expect(line).to.include({ host: host(), method: 'GET', path: '/?first=1', status: 200, request_id: 'test-req-1' });
    expect(line.bytes).to.be.greaterThan(ok.body.length);
    expect(line.duration_ms).to.be.a('number').and.at.least(0).and.below(5000);
    expect(line.upstream).to.match(/^\d+\.\d+\.\d+\.\d+:5000$/);
    expect(Object.keys(line)).to.deep.equal(['host', 'method', 'path', 'status', 'bytes', 'duration_ms', 'upstream', 'request_id']);
    expect(await logged(pier, app, 'test-req-2')).to.include({ path: '/missing', status: 404 });
  });

  it('a very long path is logged cut to its first 1024 bytes and an ellipsis, as the nginx plane logs it', async () => {
    const long = `/${'a'.repeat(2999)}`;
    await get(port, host(), { path: long, headers: { 'x-request-id': 'test-req-long' } });
    expect((await logged(pier, app, 'test-req-long')).path).to.equal(`${long.slice(0, 1024)}…`);
  });

  it('a request without X-Request-Id is logged with the id the router gave it', async () => {
    const reply = await get(port, host(), { path: '/?no-id' });
    expect(reply.status).to.equal(200);
    const lines = await waitFor(() => accessLines(pier, app), (ls) => ls.some((l) => l.path === '/?no-id'), 'the /?no-id request', 5000);
    expect(lines.find((l) => l.path === '/?no-id')!.request_id).to.match(/^[\w-]{8,}$/);
  });

  it('pier logs APP merges the router\'s lines by time with the instances\' output and the deploy events', async () => {
    await get(port, host(), { path: '/?merged', headers: { 'x-request-id': 'test-req-merged' } });
    await logged(pier, app, 'test-req-merged');
    const result = await pier.cli(['logs', app, '-n', '1000']);
    expect(result.code, result.stderr).to.equal(0);
    const lines = result.stdout.split('\n').filter((l) => l !== '');
    const text = lines.join('\n');
    expect(text).to.match(/ pier\[deploy\]: Releasing v1 /);
    expect(text).to.match(/ app\[web\.1\]: .*"GET \/\?merged HTTP\/1\.1" 200 -$/m);
    expect(text).to.match(/ pier\[router\]: \{"host":"access-demo\.localhost","method":"GET","path":"\/\?merged","status":200,/);
    const times = lines.map((l) => l.slice(0, 32));
    expect(times).to.deep.equal([...times].sort());
    // -p web keeps the instances' output alone.
    const web = await pier.cli(['logs', app, '-p', 'web', '-n', '1000']);
    expect(web.stdout).to.contain('app[web.1]').and.not.contain('pier[router]');
  });

  it('-n N counts the router\'s lines, however they were batched', async () => {
    for (let i = 0; i < 30; i++) await get(port, host(), { path: `/?burst=${i}` });
    await waitFor(() => accessLines(pier, app), (ls) => ls.some((l) => l.path === '/?burst=29'), 'the burst', 5000);
    const result = await pier.cli(['logs', app, '-p', 'router', '-n', '3']);
    expect(result.code, result.stderr).to.equal(0);
    const paths = result.stdout.trim().split('\n').map((l) => (JSON.parse(ROUTER_LINE.exec(l)![2]!) as AccessLine).path);
    expect(paths).to.deep.equal(['/?burst=27', '/?burst=28', '/?burst=29']);
  });

  it('requests for a host no app owns are in no app\'s log', async () => {
    const unknown = await get(port, `nobody.${pier.settings.domain}`, { headers: { 'x-request-id': 'test-req-nobody' } });
    expect(unknown.status).to.equal(404);
    await get(port, host(), { path: '/after-nobody', headers: { 'x-request-id': 'test-req-after' } });
    const lines = await waitFor(() => accessLines(pier, app), (ls) => ls.some((l) => l.request_id === 'test-req-after'), 'the later request', 5000);
    expect(lines.map((l) => l.request_id)).to.not.include('test-req-nobody');
    const unknownApp = await pier.cli(['logs', 'nobody', '-p', 'router']);
    expect(unknownApp.code).to.equal(1);
    expect(unknownApp.stderr).to.contain(' !     App nobody does not exist.');
  });

  it('proxy:set APP access-log false leaves the app\'s requests out of its log, and true brings them back', async () => {
    const off = await pier.cli(['proxy:set', app, 'access-log', 'false']);
    expect(off.code, off.stderr).to.equal(0);
    // Served once the router holds the new setting: a request after that is not logged.
    await waitFor(() => pier.cli(['proxy:report', app, '--json']), (r) => r.stdout.includes('"false"'), 'the setting', 5000);
    await new Promise((r) => setTimeout(r, 300));
    await get(port, host(), { path: '/?unlogged', headers: { 'x-request-id': 'test-req-unlogged' } });
    const on = await pier.cli(['proxy:set', app, 'access-log']);
    expect(on.code, on.stderr).to.equal(0);
    await waitFor(
      async () => (await get(port, host(), { path: '/?logged-again' }), accessLines(pier, app)),
      (ls) => ls.some((l) => l.path === '/?logged-again'),
      'logging to come back',
      5000,
    );
    expect((await accessLines(pier, app)).map((l) => l.request_id)).to.not.include('test-req-unlogged');
  });

  it('pier logs APP -p router -t streams requests as they are served', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'logs', app, '-p', 'router', '-t', '-n', '1'], {
      env: { ...process.env, PIER_URL: pier.apiUrl, PIER_TOKEN: pier.token, PIER_ENV_FILE: '/nonexistent' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let streamed = '';
    child.stdout.on('data', (d: Buffer) => (streamed += d.toString()));
    try {
      await waitFor(async () => streamed, (s) => s.includes('pier[router]'), 'the latest line first', 30_000);
      const started = Date.now();
      await get(port, host(), { path: '/live', headers: { 'x-request-id': 'test-req-live' } });
      await waitFor(async () => streamed, (s) => s.includes('"request_id":"test-req-live"'), 'the new request\'s line', 5000);
      expect(Date.now() - started).to.be.lessThan(2000);
      for (const line of streamed.trim().split('\n')) expect(line).to.match(ROUTER_LINE);
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('pier daemon --role router: the router alone, from Redis only, and several router processes', function () {
  this.timeout(300_000);
  const app = 'solo';
  let pier: TestPier;
  let router: RouterProcess | undefined;
  let port: number;
  const host = () => `${app}.${pier.settings.domain}`;
  /** Bodies of `count` requests, each on a new connection (the router's round-robin picks the instance). */
  const bodies = async (h: string, count: number) => {
    const seen: string[] = [];
    for (let i = 0; i < count; i++) {
      const reply = await get(port, h, { agent: false });
      expect(reply.status, `${h}: ${reply.body}`).to.equal(200);
      seen.push(reply.body.trim());
    }
    return seen;
  };

  before(async () => {
    // API and build worker in this process; the router runs in processes of its own.
    pier = await TestPier.start({ roles: ['api', 'worker'] });
    port = pier.settings.httpPort;
    router = await RouterProcess.start(pier);
    await deploy(pier, app);
  });

  after(async () => {
    await router?.kill('SIGKILL');
    await pier?.close();
  });

  it('serves an app deployed through the API, and writes its access log', async () => {
    expect(await bodies(host(), 2)).to.deep.equal(['hello from web.1', 'hello from web.1']);
    await get(port, host(), { path: '/?through-solo', headers: { 'x-request-id': 'test-req-solo' } });
    expect(await logged(pier, app, 'test-req-solo')).to.include({ path: '/?through-solo', status: 200 });
  });

  it('killed and started again, serves every route at once, and the scale and domain changes made while it was down', async () => {
    expect(await router!.kill('SIGKILL')).to.deep.equal({ code: null, signal: 'SIGKILL' });
    expect(await get(port, host()).then(() => 'answered', (err: Error) => err.message)).to.match(/ECONNREFUSED/);
    const scaled = await pier.cli(['ps:scale', app, 'web=2']);
    expect(scaled.code, scaled.stderr).to.equal(0);
    const added = await pier.cli(['domains:add', app, 'solo.example.test']);
    expect(added.code, added.stderr).to.equal(0);

    router = await RouterProcess.start(pier);
    // The first requests after start-up, with no retry: the table was loaded before the port opened.
    expect((await bodies(host(), 4)).sort()).to.deep.equal(['hello from web.1', 'hello from web.1', 'hello from web.2', 'hello from web.2']);
    expect(new Set(await bodies('solo.example.test', 2))).to.deep.equal(new Set(['hello from web.1', 'hello from web.2']));
  });

  it('stops cleanly on SIGTERM', async () => {
    expect(await router!.kill('SIGTERM')).to.deep.equal({ code: 0, signal: null });
    router = undefined;
  });

  it('PIER_ROUTER_WORKERS=2: two worker processes share the port; one killed loses no route and is replaced; SIGTERM stops them all', async () => {
    router = await RouterProcess.start(pier, { PIER_ROUTER_WORKERS: '2' });
    const primary = router.child.pid!;
    const workerPids = () => router!.logged('router worker listening').map((l) => l.worker as number);
    const [first, second] = workerPids();
    expect(new Set([first, second, primary]).size).to.equal(3);
    // A worker's own line can reach the shared pipe after the primary has logged hearing it listen.
    const listening = () => router!.logs.filter((l) => l.msg === 'router listening').map((l) => l.pid as number).sort();
    await waitFor(async () => listening(), (pids) => pids.length >= 2, 'both workers to log "router listening"', 5000);
    expect(listening()).to.deep.equal([first, second].sort());

    // Two kept-alive connections, one after the other: round-robin hands them to different workers.
    const readers: ResponseReader[] = [];
    for (let i = 0; i < 2; i++) {
      const socket = net.connect({ host: '127.0.0.1', port });
      await new Promise((resolve) => socket.once('connect', resolve));
      const reader = new ResponseReader(socket);
      socket.write(`GET / HTTP/1.1\r\nHost: ${host()}\r\n\r\n`);
      expect((await reader.next()).status).to.equal(200);
      readers.push(reader);
    }
    try {
      process.kill(first!, 'SIGKILL');
      // Exactly one connection was on the killed worker: both workers were serving.
      await waitFor(async () => readers.filter((r) => r.isClosed).length, (n) => n >= 1, 'the killed worker\'s connection to close', 2000);
      expect(await readers.find((r) => !r.isClosed)!.closedWithin(300)).to.equal(false);
      const survivor = readers.find((r) => !r.isClosed)!;
      survivor.socket.write(`GET / HTTP/1.1\r\nHost: ${host()}\r\n\r\n`);
      expect((await survivor.next()).status).to.equal(200);
      // Every route is served at once, by the surviving worker.
      await bodies(host(), 3);
      await bodies('solo.example.test', 3);

      await waitFor(async () => workerPids(), (pids) => pids.length === 3, 'a replacement worker', 30_000);
      const replacement = workerPids()[2]!;
      expect(router.logs.some((l) => l.msg === 'router worker died; starting another' && l.worker === first)).to.equal(true);
      // With the other first worker gone too, the replacement is the one serving.
      process.kill(second!, 'SIGKILL');
      await waitFor(async () => router!.logs.filter((l) => l.msg === 'router worker died; starting another').length, (n) => n === 2, 'the second death', 5000);
      expect(await bodies(host(), 4)).to.have.length(4);
      expect(await bodies('solo.example.test', 2)).to.have.length(2);

      await waitFor(async () => workerPids(), (pids) => pids.length === 4, 'the second replacement', 30_000);
      const survivors = workerPids().slice(2);
      expect(survivors[0]).to.equal(replacement);
      expect(await router.kill('SIGTERM')).to.deep.equal({ code: 0, signal: null });
      expect(survivors.filter(alive)).to.deep.equal([]);
      router = undefined;
    } finally {
      for (const r of readers) r.socket.destroy();
    }
  });

  it('PIER_ROUTER_WORKERS=2: the workers do not outlive a primary killed with SIGKILL, and the port is free again', async () => {
    router = await RouterProcess.start(pier, { PIER_ROUTER_WORKERS: '2' });
    const workers = router.logged('router worker listening').map((l) => l.worker as number);
    await router.kill('SIGKILL');
    router = undefined;
    await waitFor(async () => workers.filter(alive), (pids) => pids.length === 0, 'the workers to exit', 5000);
    router = await RouterProcess.start(pier);
    expect(await bodies(host(), 2)).to.have.length(2);
  });
});

describe('PIER_ROUTER_WORKERS in a whole pier daemon', function () {
  this.timeout(300_000);
  let pier: TestPier;

  before(async () => {
    pier = await TestPier.start({ child: true, env: { PIER_ROUTER_WORKERS: '2' } });
  });

  after(async () => {
    await pier?.close();
  });

  it('the API, the build worker and two router workers: a push is served through the workers, with its access log', async () => {
    await deploy(pier, 'workers-demo');
    const reply = await get(pier.settings.httpPort, `workers-demo.${pier.settings.domain}`, { agent: false, headers: { 'x-request-id': 'test-req-workers' } });
    expect(reply.status).to.equal(200);
    expect(reply.body.trim()).to.equal('hello from web.1');
    expect(await logged(pier, 'workers-demo', 'test-req-workers')).to.include({ path: '/', status: 200 });
  });

  it('proxy:type nginx is refused with the setting to change, and the workers keep serving', async () => {
    const switched = await pier.cli(['proxy:type', 'nginx']);
    expect(switched.code).to.equal(1);
    expect(switched.stderr).to.contain('needs PIER_ROUTER_WORKERS=1 (it is 2)');
    expect(switched.stderr).to.contain('The built-in router keeps serving');
    expect((await get(pier.settings.httpPort, `workers-demo.${pier.settings.domain}`, { agent: false })).body.trim()).to.equal('hello from web.1');
    const report = JSON.parse((await pier.cli(['proxy:type', '--json'])).stdout) as { type: string };
    expect(report.type, 'the refused switch is not kept').to.equal('builtin');
  });
});
