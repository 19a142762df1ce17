import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import Docker from 'dockerode';
import type { Redis } from 'ioredis';
import { createState, type State } from '../../src/state/index.js';
import { testCa, type IssuedCert, type TestCa } from '../helpers/certs.js';
import { close, get, listen, waitFor, type Reply } from '../helpers/http.js';
import { connectTestRedis, testRedisUrl } from '../helpers/redis.js';
import { commitAll, TestPier, usePier } from '../helpers/test-pier.js';

const hostOf = (app: string) => `${app}.localhost`;

/**
 * The nginx data plane in a whole test daemon: `pier proxy:type nginx` starts an nginx master of the
 * daemon's own (prefix under the test's PIER_HOME, serving the daemon's PIER_HTTP_PORT socket), then
 * the router's behaviours are checked through it. Upstreams are Node servers on loopback.
 */
describe('nginx data plane (real nginx, Redis, loopback HTTP)', function () {
  this.timeout(120_000);

  let pier: TestPier;
  let redis: Redis;
  let state: State;
  const servers: net.Server[] = [];
  /** Upgraded sockets, which closing their server does not end. */
  const upgraded: net.Socket[] = [];

  /** An upstream answering `name` and the request head it saw, as JSON. */
  async function upstream(name: string): Promise<string> {
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ name, headers: req.headers, url: req.url }));
    });
    servers.push(server);
    return `127.0.0.1:${await listen(server)}`;
  }

  // Fresh connections: a reload closes nginx's idle kept-alive ones, which a client must retry (see startLoad).
  const request = (host: string, opts: Parameters<typeof get>[2] = {}): Promise<Reply> => get(pier.settings.httpPort, host, { agent: false, ...opts });

  function post(host: string, body: string): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: pier.settings.httpPort, method: 'POST', path: '/', headers: { host, 'content-length': Buffer.byteLength(body) }, agent: false }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Creates the app with these upstreams; resolves once nginx serves them (the acknowledgement deploys wait for). */
  async function deploy(app: string, upstreams: string[]): Promise<void> {
    await state.apps.create(app);
    await state.routes.set({ app, upstreams });
    expect(await state.routes.waitApplied(app, upstreams, 5000), `nginx to serve ${app}`).to.equal(true);
  }

  let ca: TestCa;
  let shopCert: IssuedCert;
  const fingerprintOf = (cert: IssuedCert) => new X509Certificate(cert.certPem).fingerprint256;

  /** A bare handshake: the negotiated protocol and the served certificate's fingerprint, or the error. */
  function handshake(servername: string, opts: tls.ConnectionOptions = {}): Promise<{ protocol: string | null; fingerprint: string } | { error: string }> {
    return new Promise((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port: pier.settings.httpsPort, servername, ca: ca.caPem, ...opts }, () => {
        resolve({ protocol: socket.getProtocol(), fingerprint: socket.getPeerCertificate().fingerprint256 });
        socket.destroy();
      });
      socket.setTimeout(5000, () => socket.destroy(new Error('handshake timed out')));
      socket.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
  }

  function httpsGet(host: string): Promise<Reply & { subject: string }> {
    return new Promise((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port: pier.settings.httpsPort, servername: host, headers: { host }, ca: ca.caPem, agent: false }, (res) => {
        const subject = String((res.socket as tls.TLSSocket).getPeerCertificate().subject.CN);
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, subject }));
        res.on('error', reject);
      });
      req.setTimeout(5000, () => req.destroy(new Error(`no HTTPS answer within 5 s for ${host}`)));
      req.on('error', reject);
    });
  }


  before(async () => {
    pier = await TestPier.start();
    redis = await connectTestRedis(testRedisUrl);
    state = createState(redis, pier.settings.instance);
  });

  after(async () => {
    for (const s of upgraded) s.destroy();
    await pier?.close();
    await redis?.quit();
    for (const s of servers) await close(s);
  });

  it('switches to nginx with proxy:type, and says so', async () => {
    const switched = await pier.cli(['proxy:type', 'nginx']);
    expect(switched.stderr).to.equal('');
    expect(switched.code).to.equal(0);
    expect(switched.stdout).to.include('-----> Switching the data plane to nginx').and.include('nginx serves HTTP now');
    const shown = await pier.cli(['proxy:type']);
    expect(shown.stdout).to.include('Type:     nginx').and.include('Serving:  nginx');
    const unknown = await request('nobody.localhost');
    expect(unknown.headers.server).to.equal('nginx');
  });

  it('serves an app at its own host, a custom domain and a wildcard domain', async () => {
    await deploy('web', [await upstream('web')]);
    await state.domains.add('web', 'www.example.test');
    await state.domains.add('web', '*.wild.test');
    await waitFor(() => request('a.b.wild.test'), (r) => r.status === 200, 'the wildcard domain', 5000);
    for (const host of [hostOf('web'), 'www.example.test', 'a.b.wild.test', 'WWW.Example.Test:80']) {
      const reply = await request(host);
      expect(reply.status, host).to.equal(200);
      expect(JSON.parse(reply.body).name).to.equal('web');
      expect(reply.headers.server).to.equal('nginx');
    }
  });

  it('answers unknown hosts with the 404 page and an app without instances with the 503 page, never cached', async () => {
    const unknown = await request('nobody.localhost');
    expect(unknown.status).to.equal(404);
    expect(unknown.headers['content-type']).to.equal('text/html; charset=utf-8');
    expect(unknown.headers['cache-control']).to.equal('no-store');
    expect(unknown.body).to.include('<h1>404 Not Found</h1>').and.include('nobody.localhost');
    await state.apps.create('idle');
    await state.routes.set({ app: 'idle', upstreams: [] });
    const idle = await waitFor(() => request(hostOf('idle')), (r) => r.status !== 404, 'nginx to learn of idle', 5000);
    expect(idle.status).to.equal(503);
    expect(idle.headers['cache-control']).to.equal('no-store');
    expect(idle.body).to.include('503 Service Unavailable');
  });

  it('answers with the maintenance page while maintenance mode is on, and serves the app again after', async () => {
    await state.maintenance.on('web', 90);
    const down = await waitFor(() => request(hostOf('web')), (r) => r.status === 503, 'maintenance mode', 5000);
    expect(down.headers['retry-after']).to.equal('90');
    expect(down.headers['cache-control']).to.equal('no-store');
    expect(down.body).to.include('Down for Maintenance');
    await state.maintenance.off('web');
    await waitFor(() => request(hostOf('web')), (r) => r.status === 200, 'maintenance off', 5000);
  });

  it('serves a route change within a second', async () => {
    const fresh = await upstream('fresh');
    const started = Date.now();
    await state.routes.set({ app: 'web', upstreams: [fresh] });
    await waitFor(() => request(hostOf('web')), (r) => r.status === 200 && JSON.parse(r.body).name === 'fresh', 'the new upstream', 5000);
    expect(Date.now() - started).to.be.below(1000);
    // Acknowledged once nginx's old workers take no more connections: what a deploy waits for before stopping old instances.
    expect(await state.routes.waitApplied('web', [fresh], 1000)).to.equal(true);
    for (let i = 0; i < 20; i++) expect(JSON.parse((await request(hostOf('web'))).body).name).to.equal('fresh');
  });

  // Each nginx worker keeps its own round-robin cursor, so the rotation is even per worker, not strict overall.
  it('spreads requests round-robin over every instance', async () => {
    await deploy('trio', [await upstream('one'), await upstream('two'), await upstream('three')]);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 30; i++) {
      const name = JSON.parse((await request(hostOf('trio'))).body).name as string;
      counts[name] = (counts[name] ?? 0) + 1;
    }
    expect(Object.keys(counts).sort()).to.deep.equal(['one', 'three', 'two']);
    for (const n of Object.values(counts)) expect(n).to.be.within(5, 15);
  });

  it('sets the forwarded headers as the built-in router does, replacing an untrusted client\'s', async () => {
    const reply = await request(hostOf('trio'), { headers: { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https', 'x-request-id': 'req-42', via: '1.0 corp', forwarded: 'for=6.6.6.6' } });
    const seen = JSON.parse(reply.body).headers as Record<string, string>;
    expect(seen['x-forwarded-for']).to.equal('127.0.0.1');
    expect(seen['x-forwarded-proto']).to.equal('http');
    expect(seen['x-forwarded-host']).to.equal(hostOf('trio'));
    expect(seen['x-forwarded-port']).to.equal(String(pier.settings.httpPort));
    expect(seen['x-request-id']).to.equal('req-42');
    expect(seen['x-request-start']).to.match(/^t=\d{13}$/);
    expect(seen.via).to.equal('1.0 corp, 1.1 pier');
    expect(seen.forwarded).to.equal(undefined);
    expect(reply.headers.via).to.equal('1.1 pier');
    const generated = JSON.parse((await request(hostOf('trio'))).body).headers as Record<string, string>;
    expect(generated['x-request-id']).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('passes websockets both ways', async () => {
    const server = http.createServer((_req, res) => res.end('plain'));
    server.on('upgrade', (_req, socket: net.Socket) => {
      upgraded.push(socket);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.on('data', (d: Buffer) => socket.write(`echo:${d.toString()}`));
    });
    servers.push(server);
    await deploy('ws', [`127.0.0.1:${await listen(server)}`]);
    const client = net.connect(pier.settings.httpPort, '127.0.0.1');
    try {
      client.write(`GET /chat HTTP/1.1\r\nHost: ${hostOf('ws')}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
      let received = '';
      client.on('data', (d: Buffer) => {
        received += d.toString();
        if (received.includes('\r\n\r\n') && !received.includes('echo')) client.write('hello');
      });
      await waitFor(async () => received, (r) => r.includes('echo:hello'), 'the echo', 5000);
      expect(received).to.match(/^HTTP\/1.1 101 /);
    } finally {
      client.destroy();
    }
  });

  it('streams server-sent events as they are sent', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      setTimeout(() => res.end('data: second\n\n'), 800);
    });
    servers.push(server);
    await deploy('sse', [`127.0.0.1:${await listen(server)}`]);
    const arrivals: { at: number; text: string }[] = [];
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: pier.settings.httpPort, path: '/', headers: { host: hostOf('sse') } }, (res) => {
        res.on('data', (d: Buffer) => arrivals.push({ at: Date.now() - started, text: d.toString() }));
        res.on('end', resolve);
        res.on('error', reject);
      }).on('error', reject);
    });
    expect(arrivals[0]!.text).to.include('first');
    expect(arrivals[0]!.at).to.be.below(500);
    expect(arrivals.map((a) => a.text).join('')).to.include('second');
  });

  it('writes each request to the app\'s log as the built-in router does: pier logs APP -p router', async () => {
    const reply = await request(hostOf('web'), { path: '/logged?q=1', headers: { 'x-request-id': 'req-nginx-log' } });
    expect(reply.status).to.equal(200);
    const logged = await waitFor(() => pier.cli(['logs', 'web', '-p', 'router']), (r) => r.stdout.includes('req-nginx-log'), 'the access log line', 5000);
    expect(logged.code, logged.stderr).to.equal(0);
    const line = logged.stdout.split('\n').find((l) => l.includes('req-nginx-log'))!;
    expect(line).to.match(/ pier\[router\]: \{"host":"web\.localhost","method":"GET","path":"\/logged\?q=1","status":200,"bytes":\d+,"duration_ms":\d+,"upstream":"127\.0\.0\.1:\d+","request_id":"req-nginx-log"\}$/);
    // A host no app owns is in no app's log.
    await request('nobody.localhost', { headers: { 'x-request-id': 'req-nginx-nobody' } });
    await request(hostOf('web'), { headers: { 'x-request-id': 'req-nginx-after' } });
    const later = await waitFor(() => pier.cli(['logs', 'web', '-p', 'router']), (r) => r.stdout.includes('req-nginx-after'), 'the later line', 5000);
    expect(later.stdout).to.not.include('req-nginx-nobody');
  });

  it('logs a very long path cut to its first 1024 bytes and an ellipsis, as the built-in router logs it', async () => {
    const long = `/${'a'.repeat(2999)}`;
    expect((await request(hostOf('web'), { path: long, headers: { 'x-request-id': 'req-nginx-long' } })).status).to.equal(200);
    const logged = await waitFor(() => pier.cli(['logs', 'web', '-p', 'router']), (r) => r.stdout.includes('req-nginx-long'), 'the long request\'s line', 5000);
    const line = logged.stdout.split('\n').find((l) => l.includes('req-nginx-long'))!;
    expect((JSON.parse(line.slice(line.indexOf('{'))) as { path: string }).path).to.equal(`${long.slice(0, 1024)}…`);
  });

  /** The router lines `pier logs APP -p router` shows, once one holds `requestId`. */
  async function routerLines(app: string, requestId: string): Promise<string[]> {
    const logged = await waitFor(() => pier.cli(['logs', app, '-p', 'router']), (r) => r.stdout.includes(`"request_id":"${requestId}"`), `${requestId}'s line`, 5000);
    expect(logged.code, logged.stderr).to.equal(0);
    return logged.stdout.split('\n').filter((l) => l.includes(' pier[router]: '));
  }

  it('stamps each line with the time nginx wrote it, to the millisecond, and logs a request no instance answered with upstream null', async () => {
    const before = Date.now();
    expect((await request(hostOf('web'), { headers: { 'x-request-id': 'req-nginx-time' } })).status).to.equal(200);
    const after = Date.now();
    const line = (await routerLines('web', 'req-nginx-time')).find((l) => l.includes('req-nginx-time'))!;
    const time = line.slice(0, line.indexOf(' '));
    // The built-in router's stamp (toISOString) as `pier logs` shows every time: milliseconds, then zeros.
    expect(time).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}000\+00:00$/);
    expect(Date.parse(`${time.slice(0, 23)}Z`)).to.be.within(before, after);
    expect((await request(hostOf('idle'), { headers: { 'x-request-id': 'req-nginx-idle' } })).status).to.equal(503);
    const idle = (await routerLines('idle', 'req-nginx-idle')).find((l) => l.includes('req-nginx-idle'))!;
    expect(idle).to.match(/ pier\[router\]: \{"host":"idle\.localhost","method":"GET","path":"\/","status":503,"bytes":\d+,"duration_ms":\d+,"upstream":null,"request_id":"req-nginx-idle"\}$/);
  });

  it('leaves out the requests of an app whose access-log setting is false, and logs them again once it is true', async () => {
    const off = await pier.cli(['proxy:set', 'web', 'access-log', 'false']);
    expect(off.code, off.stderr).to.equal(0);
    // proxy:set returns once nginx serves the setting: this request is not logged, however late its line is read.
    await request(hostOf('web'), { headers: { 'x-request-id': 'req-nginx-unlogged' } });
    const on = await pier.cli(['proxy:set', 'web', 'access-log', 'true']);
    expect(on.code, on.stderr).to.equal(0);
    await request(hostOf('web'), { headers: { 'x-request-id': 'req-nginx-relogged' } });
    expect((await routerLines('web', 'req-nginx-relogged')).join('\n')).to.not.include('req-nginx-unlogged');
  });

  it('answers past the limits with Pier\'s pages: 413 for a large body, 431 for a large head, 504 for a slow app', async () => {
    const slow = http.createServer((_req, res) => setTimeout(() => res.end('late'), 1500));
    servers.push(slow);
    await deploy('limits', [`127.0.0.1:${await listen(slow)}`]);
    for (const [key, value] of [['max-body-size', '1k'], ['response-timeout', '300ms']]) expect((await pier.cli(['proxy:set', 'limits', key!, value!])).code).to.equal(0);
    await waitFor(() => request(hostOf('limits')), (r) => r.status === 504, 'the response timeout', 5000);

    const large = await post(hostOf('limits'), 'x'.repeat(4096));
    expect(large.status).to.equal(413);
    expect(large.headers['cache-control']).to.equal('no-store');
    expect(large.body).to.include('413 Content Too Large').and.include('1 KB');

    const head = await request(hostOf('limits'), { headers: { 'x-big': 'y'.repeat(20 * 1024) } });
    expect(head.status).to.equal(431);
    expect(head.headers['content-type']).to.equal('text/html; charset=utf-8');
    expect(head.body).to.include('Request Header Fields Too Large').and.include('16 KB');

    const timedOut = await request(hostOf('limits'));
    expect(timedOut.status).to.equal(504);
    expect(timedOut.body).to.include('504').and.include('300 ms');
  });

  it('serves HTTPS from the certificate store: each host its own certificate by SNI (a wildcard one too), TLS 1.2 or newer, X-Forwarded-Proto https', async () => {
    ca = await testCa(await pier.tempDir('pier-nginx-ca-'));
    shopCert = await ca.issue(['shop.localhost']);
    const blogCert = await ca.issue(['blog.localhost', '*.blog.test']);
    for (const app of ['shop', 'blog']) await state.apps.create(app);
    await state.domains.add('blog', '*.blog.test');
    for (const [app, cert] of [['shop', shopCert], ['blog', blogCert]] as const) {
      const added = await pier.cli(['certs:add', app, cert.certFile, cert.keyFile]);
      expect(added.code, added.stderr).to.equal(0);
    }
    // Acknowledged once the reload that has them is complete (no old worker takes connections): it has the certificates too.
    await deploy('shop', [await upstream('shop')]);
    await deploy('blog', [await upstream('blog')]);
    const shop = await httpsGet('shop.localhost');
    expect(shop.status).to.equal(200);
    expect(shop.headers.server).to.equal('nginx');
    expect(shop.subject).to.equal('shop.localhost');
    const seen = JSON.parse(shop.body) as { name: string; headers: Record<string, string> };
    expect(seen.name).to.equal('shop');
    expect(seen.headers).to.include({ 'x-forwarded-proto': 'https', 'x-forwarded-port': String(pier.settings.httpsPort), 'x-forwarded-host': 'shop.localhost' });
    const blog = await httpsGet('eu.blog.test');
    expect(blog.subject).to.equal('blog.localhost');
    expect((JSON.parse(blog.body) as { name: string }).name).to.equal('blog');
    expect(await handshake('shop.localhost', { maxVersion: 'TLSv1.2' })).to.deep.equal({ protocol: 'TLSv1.2', fingerprint: fingerprintOf(shopCert) });
    expect(await handshake('shop.localhost')).to.have.property('protocol', 'TLSv1.3');
  });

  it('refuses TLS 1.1 and older, and a host without a certificate, at the handshake', async () => {
    const old = await handshake('shop.localhost', { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    expect(old).to.have.property('error').that.matches(/ERR_SSL/);
    // A deeper subdomain than *.blog.test covers, an app without a certificate, an unknown host, and no SNI at all.
    for (const name of ['a.b.blog.test', hostOf('web'), 'nobody.localhost']) expect(await handshake(name), name).to.have.property('error').that.matches(/ECONNRESET|ERR_SSL/);
    expect(await handshake('', { servername: undefined })).to.have.property('error').that.matches(/ECONNRESET|ERR_SSL/);
    expect((await httpsGet('shop.localhost')).status).to.equal(200);
  });

  it('https-only redirects plain HTTP with 308 to the same URL over HTTPS; HSTS is sent over HTTPS only', async () => {
    for (const [key, value] of [['https-only', 'true'], ['hsts', 'true'], ['hsts-max-age', '600']]) expect((await pier.cli(['proxy:set', 'shop', key!, value!])).code).to.equal(0);
    const redirected = await waitFor(() => request('shop.localhost', { path: '/cart?item=1&q=a%20b' }), (r) => r.status === 308, 'the https-only redirect', 5000);
    expect(redirected.headers.location).to.equal(`https://shop.localhost:${pier.settings.httpsPort}/cart?item=1&q=a%20b`);
    expect(redirected.headers['strict-transport-security']).to.equal(undefined);
    // Three settings, three route changes: the last reload carries them all.
    const secure = await waitFor(() => httpsGet('shop.localhost'), (r) => r.headers['strict-transport-security'] === 'max-age=600', 'HSTS over HTTPS', 5000);
    expect(secure.status).to.equal(200);
    expect(secure.headers['strict-transport-security']).to.equal('max-age=600');
    // The other app set neither.
    expect((await request('blog.localhost')).status).to.equal(200);
    expect((await httpsGet('blog.localhost')).headers['strict-transport-security']).to.equal(undefined);
  });

  it('sends HSTS on Pier\'s own pages over HTTPS, as the built-in router does: the 503 page and the maintenance page; never over HTTP', async () => {
    await state.apps.create('vault');
    const cert = await ca.issue(['vault.localhost']);
    expect((await pier.cli(['certs:add', 'vault', cert.certFile, cert.keyFile])).code).to.equal(0);
    // No instances: nginx answers with the 503 page itself.
    await deploy('vault', []);
    expect((await pier.cli(['proxy:set', 'vault', 'hsts', 'true'])).code).to.equal(0);
    const idle = await waitFor(() => httpsGet('vault.localhost'), (r) => r.headers['strict-transport-security'] !== undefined, 'HSTS on the 503 page', 5000);
    expect(idle.status).to.equal(503);
    expect(idle.body).to.include('503 Service Unavailable');
    expect(idle.headers['strict-transport-security']).to.equal('max-age=31536000');
    const plainIdle = await request('vault.localhost');
    expect(plainIdle.status).to.equal(503);
    expect(plainIdle.headers['strict-transport-security']).to.equal(undefined);

    await state.maintenance.on('vault', 30);
    const down = await waitFor(() => httpsGet('vault.localhost'), (r) => r.body.includes('Down for Maintenance'), 'maintenance mode over HTTPS', 5000);
    expect(down.status).to.equal(503);
    expect(down.headers['strict-transport-security']).to.equal('max-age=31536000');
    const plainDown = await waitFor(() => request('vault.localhost'), (r) => r.body.includes('Down for Maintenance'), 'maintenance mode over HTTP', 5000);
    expect(plainDown.headers['strict-transport-security']).to.equal(undefined);
    await state.maintenance.off('vault');
    expect((await pier.cli(['certs:remove', 'vault'])).code).to.equal(0);
  });

  it('serves a replaced certificate after a reload, from a file only Pier can read, and stops HTTPS when it is removed', async () => {
    const renewed = await ca.issue(['shop.localhost']);
    expect((await pier.cli(['certs:add', 'shop', renewed.certFile, renewed.keyFile])).code).to.equal(0);
    await waitFor(() => handshake('shop.localhost'), (r) => 'fingerprint' in r && r.fingerprint === fingerprintOf(renewed), 'the renewed certificate', 5000);
    const certs = path.join(pier.settings.home, 'nginx', 'certs');
    // The replaced certificate's file is gone once the reload landed.
    const files = await waitFor(() => readdir(certs), (f) => f.length === 2, 'one file per certificate served', 5000);
    expect(files.sort()).to.have.length(2).and.satisfy((f: string[]) => f[0]!.startsWith('blog-') && f[1]!.startsWith('shop-'));
    expect((await stat(certs)).mode & 0o777).to.equal(0o700);
    for (const f of files) expect((await stat(path.join(certs, f))).mode & 0o777).to.equal(0o600);
    const errorLog = await readFile(path.join(pier.settings.home, 'nginx', 'error.log'), 'utf8').catch(() => '');
    expect(errorLog).to.not.include('PRIVATE KEY');

    expect((await pier.cli(['certs:remove', 'shop'])).code).to.equal(0);
    await waitFor(() => handshake('shop.localhost'), (r) => 'error' in r, 'the handshake to fail', 5000);
    // Without a certificate there is nowhere to redirect to: plain HTTP is served again.
    expect((await waitFor(() => request('shop.localhost'), (r) => r.status === 200, 'plain HTTP', 5000)).status).to.equal(200);
    expect((await httpsGet('blog.localhost')).status).to.equal(200);
  });

  it('refuses a configuration nginx -t rejects, and the one in force keeps serving', async () => {
    await installBreaker(pier, 'broken');
    await state.apps.create('broken');
    await state.routes.set({ app: 'broken', upstreams: [await upstream('broken')] });
    const report = await waitFor(() => pier.cli(['proxy:type']), (r) => r.stdout.includes('Error:'), 'the refusal to be reported', 5000);
    expect(report.stdout).to.include('nginx refused the new configuration').and.include('unknown directive "not_a_directive"').and.include('the previous one keeps serving');
    expect((await request(hostOf('broken'))).status).to.equal(404);
    expect(JSON.parse((await request(hostOf('web'))).body).name).to.equal('fresh');
    // The operation whose change nginx refuses says so: exit 1, nginx's reason, what keeps serving.
    const added = await pier.cli(['domains:add', 'broken', 'broken.example.test']);
    expect(added.code).to.equal(1);
    expect(added.stderr).to.include('nginx refused').and.include('unknown directive "not_a_directive"').and.include('the previous configuration keeps serving');
    expect((await request('broken.example.test')).status).to.equal(404);
    await pier.cli(['plugins:uninstall', 'nginx-breaker']);
    const removed = await pier.cli(['domains:remove', 'broken', 'broken.example.test']);
    expect(removed.code, removed.stderr).to.equal(0);
    expect((await request(hostOf('broken'))).status, 'served once the command returned').to.equal(200);
    expect((await pier.cli(['proxy:type'])).stdout).to.not.include('Error:');
  });

  it('switches planes both ways under load without a failed request', async () => {
    const load = startLoad(pier.settings.httpPort, hostOf('trio'));
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect((await pier.cli(['proxy:type', 'builtin'])).code).to.equal(0);
      await new Promise((r) => setTimeout(r, 300));
      expect((await pier.cli(['proxy:type', 'nginx'])).code).to.equal(0);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await load.stop();
    }
    const { ok, failures, servedBy } = load.result();
    expect(failures, failures.join('; ')).to.deep.equal([]);
    expect(ok).to.be.above(100);
    expect(servedBy).to.include.members(['nginx', 'builtin']);
  });

  it('switches back to the built-in router, HTTPS included', async () => {
    expect((await httpsGet('blog.localhost')).headers.server).to.equal('nginx');
    const switched = await pier.cli(['proxy:type', 'builtin']);
    expect(switched.code).to.equal(0);
    const reply = await request(hostOf('web'));
    expect(reply.status).to.equal(200);
    expect(reply.headers.server).to.equal(undefined);
    const secure = await httpsGet('blog.localhost');
    expect(secure.status).to.equal(200);
    expect(secure.headers.server).to.equal(undefined);
    expect(secure.subject).to.equal('blog.localhost');
  });

  it('proxy:set --global type switches the plane as proxy:type does, proxy:report shows it, and an app cannot set it', async () => {
    const toNginx = await pier.cli(['proxy:set', '--global', 'type', 'nginx']);
    expect(toNginx.stderr).to.equal('');
    expect(toNginx.code).to.equal(0);
    expect(toNginx.stdout).to.equal('-----> Switching the data plane to nginx\n       nginx serves HTTP now\n');
    expect((await request(hostOf('web'))).headers.server).to.equal('nginx');
    expect((await pier.cli(['proxy:report', '--global'])).stdout).to.match(/\n {7}type: +nginx +\(global\)\n$/);
    const forApp = JSON.parse((await pier.cli(['proxy:report', 'web', '--json'])).stdout) as { settings: { key: string; value: string; source: string }[] };
    expect(forApp.settings.find((s) => s.key === 'type')).to.include({ value: 'nginx', source: 'global' });

    const perApp = await pier.cli(['proxy:set', 'web', 'type', 'builtin']);
    expect(perApp.code).to.equal(1);
    expect(perApp.stderr).to.include(' !     type is a global setting, the data plane serving every app: pier proxy:set --global type builtin|nginx');
    const api = await fetch(`${pier.apiUrl}/api/apps/web/proxy`, { method: 'PUT', headers: { authorization: `Bearer ${pier.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ key: 'type', value: 'builtin' }) });
    expect(api.status).to.equal(400);
    expect(((await api.json()) as { error: string }).error).to.include('type is a global setting');
    const unknown = await pier.cli(['proxy:set', '--global', 'type', 'apache']);
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.include('the proxy type is one of: builtin, nginx');
    expect((await pier.cli(['proxy:report', '--global'])).stdout).to.match(/type: +nginx +\(global\)/);

    const toBuiltin = await pier.cli(['proxy:set', '--global', 'type', 'builtin']);
    expect(toBuiltin.code, toBuiltin.stderr).to.equal(0);
    expect(toBuiltin.stdout).to.equal('-----> Switching the data plane to builtin\n       builtin serves HTTP now\n');
    expect((await request(hostOf('web'))).headers.server).to.equal(undefined);
    expect((await pier.cli(['proxy:report', '--global'])).stdout).to.match(/type: +builtin +\(default\)/);

    // The errors of proxy:type nginx, here too.
    expect((await pier.cli(['plugins:disable', 'nginx-proxy'])).code).to.equal(0);
    const refused = await pier.cli(['proxy:set', '--global', 'type', 'nginx']);
    expect(refused.code).to.equal(1);
    expect(refused.stdout).to.equal('-----> Switching the data plane to nginx\n');
    expect(refused.stderr).to.include('the nginx-proxy plugin is disabled').and.include('The built-in router keeps serving');
    expect((await pier.cli(['plugins:enable', 'nginx-proxy'])).code).to.equal(0);
    expect((await request(hostOf('web'))).status).to.equal(200);
  });
});

describe('deploying through the nginx data plane (real containers)', function () {
  this.timeout(600_000);
  const app = 'hello-nginx';
  let pier: TestPier;
  let repo: string;
  // A Dockerfile app FROM the stack image: its build needs no registry.
  usePier('dockerfile-app', (p, r) => ([pier, repo] = [p, r]));

  it('serves a pushed app at its container IP, and redeploys under load with no failed request', async () => {
    expect((await pier.cli(['proxy:type', 'nginx'])).code).to.equal(0);
    const first = await pier.push(repo, app);
    expect(first.code, first.stderr).to.equal(0);
    // The push returns at the route switch; nginx serves it once its reload lands.
    const page = await waitFor(() => get(pier.settings.httpPort, hostOf(app), { agent: false }), (r) => r.status === 200, 'nginx to serve the first release', 5000);
    expect(page.headers.server).to.equal('nginx');
    const config = await pier.cli(['nginx-proxy:config']);
    expect(config.stdout).to.match(/server \d+\.\d+\.\d+\.\d+:\d+ max_fails/);

    const server = path.join(repo, 'server.py');
    await writeFile(server, (await readFile(server, 'utf8')).replace('from a Dockerfile app', 'from release two'));
    await commitAll(repo, 'release two');
    // The old instance stops only once nginx serves the new route; the load runs until then.
    const pushed = await underLoadUntilOneInstance(pier, app, () => pier.push(repo, app));
    expect(pushed.code, pushed.stderr).to.equal(0);
    expect((await get(pier.settings.httpPort, hostOf(app), { agent: false })).body).to.include('from release two');
  });

  it('a deploy whose configuration nginx refuses fails with nginx\'s reason, and the previous release keeps serving', async () => {
    await installBreaker(pier, app);
    const server = path.join(repo, 'server.py');
    await writeFile(server, (await readFile(server, 'utf8')).replace('from release two', 'from release three'));
    await commitAll(repo, 'release three');
    const refused = await pier.push(repo, app);
    expect(refused.code).to.not.equal(0);
    expect(refused.stderr).to.include('nginx refused the configuration with the new instances').and.include('unknown directive "not_a_directive"');
    expect(refused.stderr).to.include('the previous release keeps serving');
    expect((await get(pier.settings.httpPort, hostOf(app), { agent: false })).body).to.include('from release two');
    expect(await webInstances(pier, app), 'the new instance is gone, the old one runs').to.equal(1);

    expect((await pier.cli(['plugins:uninstall', 'nginx-breaker'])).code).to.equal(0);
    const again = await pier.push(repo, app);
    expect(again.code, again.stderr).to.equal(0);
    expect((await get(pier.settings.httpPort, hostOf(app), { agent: false })).body, 'served once the push returned').to.include('from release three');
  });

  it('scales web down under load with no failed request: an instance stops once nginx no longer sends it any', async () => {
    const up = await pier.cli(['ps:scale', app, 'web=2']);
    expect(up.code, up.stderr).to.equal(0);
    const down = await underLoadUntilOneInstance(pier, app, () => pier.cli(['ps:scale', app, 'web=1']));
    expect(down.code, down.stderr).to.equal(0);
  });
});

describe('the nginx data plane across a daemon crash', function () {
  this.timeout(120_000);
  let pier: TestPier;

  before(async () => {
    pier = await TestPier.start({ child: true });
  });

  after(async () => {
    await pier?.close();
  });

  it('a daemon started after a crash stops the nginx left behind and serves with a fresh one', async () => {
    expect((await pier.cli(['proxy:type', 'nginx'])).code).to.equal(0);
    const pidFile = path.join(pier.settings.home, 'nginx', 'nginx.pid');
    const orphan = Number((await readFile(pidFile, 'utf8')).trim());
    await pier.crash();
    // Killed, the daemon could not stop its nginx, which still holds the port.
    expect((await get(pier.settings.httpPort, 'nobody.localhost', { agent: false })).headers.server).to.equal('nginx');
    await pier.revive();
    // The revived daemon listens first, then starts its own nginx.
    const masterPid = () => readFile(pidFile, 'utf8').then((t) => Number(t.trim()), () => 0);
    await waitFor(masterPid, (pid) => pid > 0 && pid !== orphan, 'a fresh nginx master', 15_000);
    // Exited: gone, or a zombie (empty command line) where nobody reaps orphans.
    expect(['', 'gone']).to.include(await readFile(`/proc/${orphan}/cmdline`, 'utf8').catch(() => 'gone'));
    expect((await pier.cli(['proxy:type'])).stdout).to.include('Serving:  nginx');
  });
});

/** An operator's plugin that rewrites the blocks of one app into something nginx does not accept (plugin nginx-breaker). */
async function installBreaker(pier: TestPier, app: string): Promise<void> {
  const dir = path.join(await pier.tempDir(), 'nginx-breaker');
  await mkdir(dir);
  await writeFile(path.join(dir, 'plugin.json'), JSON.stringify({ name: 'nginx-breaker', version: '1.0.0', description: 'breaks one app', pierApi: '^1.0.0' }));
  await writeFile(
    path.join(dir, 'index.mjs'),
    `export default { events: { 'proxy-config-render': async ({ app, config }) => ({ config: app === '${app}' ? config + '\\nnot_a_directive on;\\n' : config }) } };\n`,
  );
  const installed = await pier.cli(['plugins:install', dir]);
  expect(installed.code, installed.stderr).to.equal(0);
}

/** Runs `change` under load until one web instance is left; no request may fail meanwhile. Resolves with what `change` gave. */
async function underLoadUntilOneInstance<T>(pier: TestPier, app: string, change: () => Promise<T>): Promise<T> {
  const load = startLoad(pier.settings.httpPort, hostOf(app));
  let outcome: T;
  try {
    outcome = await change();
    await waitFor(() => webInstances(pier, app), (n) => n === 1, 'one web instance left', 60_000);
  } finally {
    await load.stop();
  }
  const { ok, failures } = load.result();
  expect(failures, failures.join('; ')).to.deep.equal([]);
  expect(ok).to.be.above(20);
  return outcome;
}

async function webInstances(pier: TestPier, app: string): Promise<number> {
  const label = [`pier.instance=${pier.settings.instance}`, `pier.app=${app}`, 'pier.process=web'];
  return (await new Docker().listContainers({ all: true, filters: { label } })).length;
}

/**
 * Requests in a loop until stopped (bounded: at most 60 s), half on fresh connections and half on kept-alive
 * ones. A kept-alive connection the server closed as the request went out is retried once, as browsers do
 * (RFC 9112 §9.3.1): that is the keep-alive race, not a dropped request.
 */
function startLoad(port: number, host: string) {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const servedBy = new Set<string>();
  const deadline = Date.now() + 60_000;
  const once = (agent: http.Agent | false) =>
    new Promise<void>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) {
            ok++;
            servedBy.add(res.headers.server === 'nginx' ? 'nginx' : 'builtin');
          } else failures.push(`status ${res.statusCode}`);
          resolve();
        });
      });
      req.setTimeout(5000, () => req.destroy(new Error('timed out')));
      req.on('error', (err) => (req.reusedSocket ? reject(err) : (failures.push(err.message), resolve())));
    });
  const loop = async (agent: http.Agent | false) => {
    while (running && Date.now() < deadline) await once(agent).catch(() => once(agent).catch((err: Error) => void failures.push(`retried: ${err.message}`)));
  };
  const agents = [1, 2, 3, 4].map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  const loops = [...agents.map((a) => loop(a)), loop(false), loop(false), loop(false), loop(false)];
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      for (const a of agents) a.destroy();
    },
    result: () => ({ ok, failures, servedBy: [...servedBy] }),
  };
}
