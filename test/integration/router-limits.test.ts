import { expect } from 'chai';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { ProxyKey } from '../../src/proxy-settings.js';
import { get, listen, waitFor } from '../helpers/http.js';
import { TestResources } from '../helpers/test-resources.js';
import { connect, ResponseReader } from '../helpers/raw-http.js';
import { testRedisUrl, uniqueInstance } from '../helpers/redis.js';
import { startRouter, type RunningRouter } from '../helpers/router.js';
import { TestPier, webContainer } from '../helpers/test-pier.js';
import { recordingUpstream as recordUpstream } from '../helpers/upstreams.js';

const hostOf = (app: string) => `${app}.localhost`;
const PROBE = '/probe';

describe('router limits, timeouts, load balancing and Via (real Redis, loopback upstreams)', function () {
  this.timeout(60_000);

  let router: RunningRouter;
  const held = new TestResources();
  const { servers, sockets } = held;

  before(async () => {
    router = await startRouter(testRedisUrl, uniqueInstance('rl'));
  });

  afterEach(() => held.release());

  after(async () => {
    if (router) await router.stop();
  });

  /** A Node upstream answering `handler`; it records every request it was handed and whether its body arrived whole. */
  async function upstream(handler: http.RequestListener = (_req, res) => res.end('ok')) {
    const requests: { path: string; complete: boolean }[] = [];
    const server = http.createServer((req, res) => {
      const seen = { path: req.url ?? '', complete: false };
      requests.push(seen);
      req.on('end', () => (seen.complete = true));
      req.resume();
      if (req.url === PROBE) res.writeHead(204).end();
      else handler(req, res);
    });
    servers.push(server);
    return { address: `127.0.0.1:${await listen(server)}`, requests };
  }

  /** A raw upstream that records every byte it gets and answers only the probe. */
  const recordingUpstream = () => recordUpstream({ servers, sockets }, PROBE);

  /** Creates the app with these `proxy:set` values and upstreams, and waits until the router serves it. */
  async function deploy(app: string, upstreams: string[], proxy: Partial<Record<ProxyKey, string>> = {}): Promise<void> {
    await router.state.apps.create(app);
    for (const [key, value] of Object.entries(proxy)) await router.state.proxy.set(app, key as ProxyKey, value);
    await router.state.routes.set({ app, upstreams });
    await waitFor(() => get(router.port, hostOf(app), { agent: false, path: PROBE }), (r) => r.status === 204, `the router to serve ${app}`);
  }

  async function rawClient(): Promise<ResponseReader> {
    const socket = await connect(router.port);
    sockets.push(socket);
    return new ResponseReader(socket);
  }

  describe('max-body-size', () => {
    it('a Content-Length over the limit gets 413 at once, and the app never sees the request', async () => {
      const up = await recordingUpstream();
      await deploy('small', [up.address], { 'max-body-size': '1k' });
      const client = await rawClient();
      client.socket.write(`POST /upload HTTP/1.1\r\nHost: ${hostOf('small')}\r\nContent-Length: 5000\r\n\r\n${'x'.repeat(100)}`);
      const reply = await client.next();
      expect(reply.status).to.equal(413);
      expect(reply.headers['cache-control']).to.equal('no-store');
      expect(reply.headers.connection).to.equal('close');
      expect(reply.body.toString()).to.include('413 Content Too Large').and.include('(1 KB)');
      expect(await client.closedWithin(2000)).to.equal(true);
      expect(up.received()).to.not.include('/upload');
    });

    it('a body within the limit is served', async () => {
      const up = await upstream((req, res) => {
        let n = 0;
        req.on('data', (d: Buffer) => (n += d.length));
        req.on('end', () => res.end(`got ${n}`));
      });
      await deploy('fits', [up.address], { 'max-body-size': '1k' });
      const client = await rawClient();
      client.socket.write(`POST /upload HTTP/1.1\r\nHost: ${hostOf('fits')}\r\nContent-Length: 1024\r\n\r\n${'x'.repeat(1024)}`);
      const reply = await client.next();
      expect(reply.status).to.equal(200);
      expect(reply.body.toString()).to.equal('got 1024');
    });

    it('a chunked body over the limit with its head gets 413, and the app never sees the request', async () => {
      const up = await recordingUpstream();
      await deploy('chunky', [up.address], { 'max-body-size': '1k' });
      const client = await rawClient();
      client.socket.write(`POST /upload HTTP/1.1\r\nHost: ${hostOf('chunky')}\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n${'x'.repeat(2048)}\r\n`);
      const reply = await client.next();
      expect(reply.status).to.equal(413);
      expect(await client.closedWithin(2000)).to.equal(true);
      expect(up.received()).to.not.include('/upload');
    });

    it('a chunked body that passes the limit mid-stream is cut: 413, and the app never gets the whole body', async () => {
      const up = await upstream(() => undefined);
      await deploy('stream', [up.address], { 'max-body-size': '1k' });
      const client = await rawClient();
      client.socket.write(`POST /upload HTTP/1.1\r\nHost: ${hostOf('stream')}\r\nTransfer-Encoding: chunked\r\n\r\n200\r\n${'x'.repeat(512)}\r\n`);
      await waitFor(async () => up.requests.some((r) => r.path === '/upload'), (seen) => seen, 'the app to get the request head');
      client.socket.write(`400\r\n${'y'.repeat(1024)}\r\n`);
      const reply = await client.next();
      expect(reply.status).to.equal(413);
      expect(await client.closedWithin(2000)).to.equal(true);
      expect(up.requests.find((r) => r.path === '/upload')!.complete).to.equal(false);
    });
  });

  it('a head over the app\'s max-header-size gets 431, while another app takes it', async () => {
    const up = await upstream();
    await deploy('tight', [up.address], { 'max-header-size': '2k' });
    await deploy('roomy', [up.address]);
    const cookie = 'c'.repeat(3000);
    const tight = await rawClient();
    tight.socket.write(`GET / HTTP/1.1\r\nHost: ${hostOf('tight')}\r\nCookie: ${cookie}\r\n\r\n`);
    const refused = await tight.next();
    expect(refused.status).to.equal(431);
    expect(refused.body.toString()).to.include('(2 KB, 100 fields)');
    expect(await tight.closedWithin(2000)).to.equal(true);
    const roomy = await rawClient();
    roomy.socket.write(`GET / HTTP/1.1\r\nHost: ${hostOf('roomy')}\r\nCookie: ${cookie}\r\n\r\n`);
    expect((await roomy.next()).status).to.equal(200);
  });

  it('an app with a response-timeout of 1 s gets the 504 page after about a second', async () => {
    const silent = await recordingUpstream();
    await deploy('sleepy', [silent.address], { 'response-timeout': '1s' });
    const started = Date.now();
    const reply = await get(router.port, hostOf('sleepy'), { agent: false });
    const took = Date.now() - started;
    expect(reply.status).to.equal(504);
    expect(reply.headers['cache-control']).to.equal('no-store');
    expect(reply.body).to.include('The app did not answer in time. It has 1 s to start its response.');
    expect(took).to.be.within(950, 1600);
  });

  it("idle-timeout closes a kept-alive connection per the app of its last request", async () => {
    const up = await upstream();
    await deploy('brief', [up.address], { 'idle-timeout': '1s' });
    await deploy('patient', [up.address]);
    const brief = await rawClient();
    const patient = await rawClient();
    brief.socket.write(`GET / HTTP/1.1\r\nHost: ${hostOf('brief')}\r\n\r\n`);
    patient.socket.write(`GET / HTTP/1.1\r\nHost: ${hostOf('patient')}\r\n\r\n`);
    expect((await brief.next()).status).to.equal(200);
    expect((await patient.next()).status).to.equal(200);
    const started = Date.now();
    expect(await brief.closedWithin(2500), 'brief closed').to.equal(true);
    expect(Date.now() - started).to.be.at.least(900);
    expect(patient.isClosed, 'patient still open').to.equal(false);
    patient.socket.write(`GET / HTTP/1.1\r\nHost: ${hostOf('patient')}\r\n\r\n`);
    expect((await patient.next()).status).to.equal(200);
  });

  describe('load balancing', () => {
    /** Two instances that answer their name at once, except /hold, which they keep waiting. */
    async function twoInstances() {
      const held: http.ServerResponse[] = [];
      const instance = (name: string) =>
        upstream((req, res) => {
          if (req.url === '/hold') held.push(res);
          else res.end(name);
        });
      const [a, b] = await Promise.all([instance('a'), instance('b')]);
      return { addresses: [a.address, b.address], held, release: () => held.forEach((r) => r.end('held')) };
    }

    /** Holds one request on an instance, then sends four more one after the other: which instances answer them. */
    async function whileOneIsBusy(app: string, instances: Awaited<ReturnType<typeof twoInstances>>): Promise<string[]> {
      const holding = get(router.port, hostOf(app), { agent: false, path: '/hold' });
      await waitFor(async () => instances.held.length, (n) => n === 1, 'the held request to reach an instance');
      const answers: string[] = [];
      for (let i = 0; i < 4; i++) answers.push((await get(router.port, hostOf(app), { agent: false })).body);
      instances.release();
      expect((await holding).body).to.equal('held');
      return answers;
    }

    it('least-connections sends new requests to the idle instance while the other is busy', async () => {
      const instances = await twoInstances();
      await deploy('least', instances.addresses, { 'load-balancing': 'least-connections' });
      const answers = await whileOneIsBusy('least', instances);
      expect(new Set(answers).size, answers.join()).to.equal(1);
    });

    it('round-robin (the default) keeps taking the instances in turn', async () => {
      const instances = await twoInstances();
      await deploy('turns', instances.addresses);
      const answers = await whileOneIsBusy('turns', instances);
      expect(answers.sort()).to.deep.equal(['a', 'a', 'b', 'b']);
    });

    it('least-connections spreads requests over idle instances in turn', async () => {
      const instances = await twoInstances();
      await deploy('spread', instances.addresses, { 'load-balancing': 'least-connections' });
      const answers: string[] = [];
      for (let i = 0; i < 4; i++) answers.push((await get(router.port, hostOf('spread'), { agent: false })).body);
      expect(answers.sort()).to.deep.equal(['a', 'a', 'b', 'b']);
    });
  });

  it("a proxy setting changed at run time is served at once", async () => {
    const up = await upstream();
    await deploy('live', [up.address]);
    const client = await rawClient();
    client.socket.write(`POST / HTTP/1.1\r\nHost: ${hostOf('live')}\r\nContent-Length: 2000\r\n\r\n${'x'.repeat(2000)}`);
    expect((await client.next()).status).to.equal(200);
    await router.state.proxy.set('live', 'max-body-size', '1k');
    await waitFor(
      async () => {
        const c = await rawClient();
        c.socket.write(`POST / HTTP/1.1\r\nHost: ${hostOf('live')}\r\nContent-Length: 2000\r\n\r\n${'x'.repeat(2000)}`);
        return (await c.next()).status;
      },
      (status) => status === 413,
      'the new limit to be served',
      2000,
    );
  });

  it('maintenance mode answers 503 with Retry-After and the maintenance page, and the app gets nothing', async () => {
    const up = await upstream();
    await deploy('resting', [up.address]);
    await router.state.maintenance.on('resting', 120);
    // Probes until the router has heard of it; then /page, which the app must never see.
    await waitFor(() => get(router.port, hostOf('resting'), { agent: false, path: '/probe' }), (r) => r.status === 503, 'maintenance mode');
    const reply = await get(router.port, hostOf('resting'), { agent: false, path: '/page' });
    expect(reply.status).to.equal(503);
    expect(reply.headers['retry-after']).to.equal('120');
    expect(reply.headers['cache-control']).to.equal('no-store');
    expect(reply.body).to.include('Down for Maintenance');
    expect(up.requests.map((r) => r.path)).to.not.include('/page');
    await router.state.maintenance.off('resting');
    await waitFor(() => get(router.port, hostOf('resting'), { agent: false, path: '/page' }), (r) => r.status === 200, 'maintenance mode to end');
  });

  it("responses carry Via: the router appends itself to the app's", async () => {
    const up = await upstream((req, res) => {
      if (req.url === '/cdn') res.setHeader('via', '1.1 cdn');
      res.end('ok');
    });
    await deploy('via', [up.address]);
    expect((await get(router.port, hostOf('via'), { agent: false })).headers.via).to.equal('1.1 pier');
    expect((await get(router.port, hostOf('via'), { agent: false, path: '/cdn' })).headers.via).to.equal('1.1 cdn, 1.1 pier');
  });
});

describe('proxy:* and maintenance:* through pier (real daemon, app containers, page templates)', function () {
  this.timeout(600_000);
  const app = 'limits';
  let pier: TestPier;
  let logFile: string;

  before(async () => {
    // PIER_HOME is made here so the operator's templates are in place when the router starts.
    const home = await mkdtemp(path.join(os.tmpdir(), 'pier-test-'));
    await mkdir(path.join(home, 'templates'));
    await writeFile(path.join(home, 'templates', '404.hbs'), '<h1>Nothing at {{host}}</h1><p>request {{requestId}}</p>');
    await writeFile(path.join(home, 'templates', '503.hbs'), '<h1>{{#if app}}{{app}} is resting</h1>');
    logFile = path.join(home, 'daemon.log');
    pier = await TestPier.start({ env: { PIER_HOME: home }, logFile });
    const repo = await pier.fixtureRepo('node-app');
    expect((await pier.cli(['apps:create', app])).code).to.equal(0);
    const pushed = await pier.push(repo, app);
    expect(pushed.code, pushed.stderr).to.equal(0);
  });

  after(async () => {
    if (pier) await pier.close();
  });

  it('proxy:report shows every setting, its value and where it comes from', async () => {
    const report = await pier.cli(['proxy:report', app]);
    expect(report.code, report.stderr).to.equal(0);
    const lines = report.stdout.trimEnd().split('\n');
    expect(lines[0]).to.equal(`=====> ${app} proxy settings`);
    expect(lines).to.include.members([
      '       connect-timeout:   5s           (default)',
      '       max-body-size:     100m         (default)',
      '       load-balancing:    round-robin  (default)',
    ]);
  });

  it('proxy:set sets an app value, --global a global one, and the report says which wins', async () => {
    const set = await pier.cli(['proxy:set', app, 'max-body-size', '2m']);
    expect(set.code, set.stderr).to.equal(0);
    expect(set.stdout).to.equal(`-----> max-body-size set to 2m for ${app}; the router applies it at once\n`);
    expect((await pier.cli(['proxy:set', '--global', 'max-body-size', '5m'])).code).to.equal(0);
    expect((await pier.cli(['proxy:set', '--global', 'response-timeout', '45s'])).code).to.equal(0);
    const json = await pier.cli(['proxy:report', app, '--json']);
    expect(json.code, json.stderr).to.equal(0);
    const report = JSON.parse(json.stdout) as { app: string; settings: { key: string; value: string; source: string }[] };
    expect(report.app).to.equal(app);
    expect(report.settings.find((s) => s.key === 'max-body-size')).to.include({ value: '2m', source: 'app' });
    expect(report.settings.find((s) => s.key === 'response-timeout')).to.include({ value: '45s', source: 'global' });
    const global = await pier.cli(['proxy:report', '--global']);
    expect(global.stdout).to.include('=====> Global proxy settings').and.match(/max-body-size: +5m +\(global\)/);
  });

  it('proxy:set without a value goes back to the global value, then to the default', async () => {
    const unset = await pier.cli(['proxy:set', app, 'max-body-size']);
    expect(unset.code, unset.stderr).to.equal(0);
    expect(unset.stdout).to.equal(`-----> max-body-size unset for ${app}; it is now 5m (global)\n`);
    const globalUnset = await pier.cli(['proxy:set', '--global', 'max-body-size']);
    expect(globalUnset.stdout).to.equal('-----> max-body-size unset for every app (global); it is now 100m (default)\n');
  });

  it('a bad key or value exits 1 naming the rule, before and at the API', async () => {
    const key = await pier.cli(['proxy:set', app, 'timeout', '5']);
    expect(key.code).to.equal(1);
    expect(key.stderr).to.include(' !     "timeout" is not a proxy setting; the settings are: connect-timeout, response-timeout');
    const value = await pier.cli(['proxy:set', app, 'response-timeout', 'soon']);
    expect(value.code).to.equal(1);
    expect(value.stderr).to.include(' !     response-timeout "soon" is not a duration from 0.1s to 3600s');
    const api = await fetch(`${pier.apiUrl}/api/apps/${app}/proxy`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${pier.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'load-balancing', value: 'random' }),
    });
    expect(api.status).to.equal(400);
    expect(((await api.json()) as { error: string }).error).to.equal('value: load-balancing "random" is not one of: round-robin, least-connections');
    const noApp = await pier.cli(['proxy:report']);
    expect(noApp.code).to.equal(1);
    expect(noApp.stderr).to.include('Name an app, or pass --global');
  });

  it('maintenance:on answers 503 with Retry-After and the maintenance page, and the containers keep running', async () => {
    const before = await webContainer(pier, app);
    const on = await pier.cli(['maintenance:on', app, '--retry-after', '300']);
    expect(on.code, on.stderr).to.equal(0);
    expect(on.stdout).to.equal(`-----> Maintenance mode on for ${app}: requests get 503 (Retry-After: 300 s); its instances keep running\n`);
    const reply = await waitFor(() => get(pier.settings.httpPort, `${app}.localhost`, { agent: false }), (r) => r.status === 503, 'maintenance mode');
    expect(reply.headers['retry-after']).to.equal('300');
    expect(reply.headers['cache-control']).to.equal('no-store');
    expect(reply.body).to.include('Down for Maintenance');
    const during = await webContainer(pier, app);
    expect(during.Id).to.equal(before.Id);
    expect(during.State.Running).to.equal(true);
    const report = await pier.cli(['maintenance:report', app, '--json']);
    expect(JSON.parse(report.stdout)).to.include({ app, enabled: true, retryAfter: 300 });
  });

  it('maintenance mode survives a daemon restart', async () => {
    await pier.restart();
    const reply = await get(pier.settings.httpPort, `${app}.localhost`, { agent: false });
    expect(reply.status).to.equal(503);
    expect(reply.headers['retry-after']).to.equal('300');
    const report = await pier.cli(['maintenance:report', app]);
    expect(report.stdout).to.match(/^=====> limits maintenance\n {7}Enabled: {6}true\n {7}Retry-After: {2}300 s\n {7}Since: {8}\d{4}-/);
  });

  it('maintenance:off serves the app again, from the same container', async () => {
    const before = await webContainer(pier, app);
    const off = await pier.cli(['maintenance:off', app]);
    expect(off.code, off.stderr).to.equal(0);
    expect(off.stdout).to.equal(`-----> Maintenance mode off for ${app}: requests reach its instances again\n`);
    const reply = await waitFor(() => pier.get(app), (r) => r.status === 200, 'the app to be served again');
    expect(reply.body).to.contain('hello from pier-fixture-node-app');
    expect((await webContainer(pier, app)).Id).to.equal(before.Id);
    expect(JSON.parse((await pier.cli(['maintenance:report', app, '--json'])).stdout)).to.deep.equal({ app, enabled: false });
  });

  it("maintenance:on's Retry-After is checked: a bad one exits 1 naming the rule", async () => {
    const bad = await pier.cli(['maintenance:on', app, '--retry-after', 'soon']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.include(' !     retry-after must be a number of seconds');
  });

  it("the operator's 404 template is served; a broken 503 one is logged and the built-in page used", async () => {
    const unknown = await get(pier.settings.httpPort, 'nobody.localhost', { agent: false, headers: { 'x-request-id': 'abc-123' } });
    expect(unknown.status).to.equal(404);
    expect(unknown.headers['cache-control']).to.equal('no-store');
    expect(unknown.body).to.equal('<h1>Nothing at nobody.localhost</h1><p>request abc-123</p>');
    const log = await readFile(logFile, 'utf8');
    expect(log).to.include(`page template ${path.join(pier.settings.home, 'templates', '503.hbs')} is broken (`).and.include('the built-in 503 page is used');
    expect((await pier.cli(['ps:stop', app])).code).to.equal(0);
    const stopped = await waitFor(() => pier.get(app), (r) => r.status === 503, 'the stopped app to get 503');
    expect(stopped.body).to.include('This app has no running web process right now.');
  });

  it('apps:destroy removes the maintenance state with the app', async () => {
    expect((await pier.cli(['maintenance:on', app])).code).to.equal(0);
    expect((await pier.cli(['apps:destroy', app, '--force'])).code).to.equal(0);
    expect((await pier.cli(['apps:create', app])).code).to.equal(0);
    const report = await pier.cli(['maintenance:report', app, '--json']);
    expect(JSON.parse(report.stdout)).to.deep.equal({ app, enabled: false });
  });
});
