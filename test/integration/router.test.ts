import { expect } from 'chai';
import http from 'node:http';
import net from 'node:net';
import { createState } from '../../src/state/index.js';
import { closedPort, get, listen, waitFor, type Reply } from '../helpers/http.js';
import { TestResources } from '../helpers/test-resources.js';
import { testRedisUrl, uniqueInstance } from '../helpers/redis.js';
import { startRouter, type RunningRouter } from '../helpers/router.js';

interface Upstream {
  address: string;
  /** TCP connections the upstream has accepted so far. */
  connections: () => number;
  /** Requests seen, oldest first. */
  requests: http.IncomingMessage[];
}

const hostOf = (app: string) => `${app}.localhost`;

describe('router (real Redis, real HTTP)', function () {
  this.timeout(30_000);

  const instance = uniqueInstance('rt');
  let router: RunningRouter;
  const held = new TestResources();
  const { servers, sockets, agents, routers: extraRouters } = held;

  /** A Node upstream answering every request with `status` and `body`. */
  async function upstream(body: string, status = 200): Promise<Upstream> {
    let connections = 0;
    const requests: http.IncomingMessage[] = [];
    const server = http.createServer((req, res) => {
      requests.push(req);
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(body);
    });
    server.on('connection', () => connections++);
    servers.push(server);
    const port = await listen(server);
    return { address: `127.0.0.1:${port}`, connections: () => connections, requests };
  }

  /** A TCP server that accepts and then kills each connection, at once or after the request arrives. */
  async function resettingUpstream(when: 'on-connect' | 'after-request'): Promise<string> {
    const server = net.createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => undefined);
      if (when === 'on-connect') socket.destroy();
      else socket.once('data', () => socket.resetAndDestroy());
    });
    servers.push(server);
    return `127.0.0.1:${await listen(server)}`;
  }

  function keepAliveAgent(): http.Agent {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    return agent;
  }

  // A fresh connection unless the test brings its agent: nginx closes idle kept-alive connections on each reload.
  const request = (app: string, opts: Parameters<typeof get>[2] = {}): Promise<Reply> => get(router.port, hostOf(app), { agent: false, ...opts });

  /** Creates the app with these upstreams and waits until the router serves them. */
  async function deploy(app: string, upstreams: string[]): Promise<void> {
    await router.state.apps.create(app);
    await router.state.routes.set({ app, upstreams });
    await router.ready(app, upstreams);
  }

  function expectErrorPage(reply: Reply, status: number, text: string): void {
    expect(reply.status).to.equal(status);
    expect(reply.headers['content-type']).to.equal('text/html; charset=utf-8');
    expect(reply.headers['cache-control']).to.equal('no-store');
    expect(reply.body).to.include(`<h1>${status} `).and.include(text);
  }

  before(async () => {
    router = await startRouter(testRedisUrl, instance);
  });

  afterEach(() => held.release());

  after(async () => {
    if (router) await router.stop();
  });

  describe('routing', () => {
    it('a request with the app\'s Host reaches the upstream and returns its body and status', async () => {
      const up = await upstream('hello from web', 201);
      await deploy('web', [up.address]);
      const reply = await request('web', { path: '/path?q=1' });
      expect(reply.status).to.equal(201);
      expect(reply.body).to.equal('hello from web');
      const seen = up.requests.at(-1)!;
      expect(seen.url).to.equal('/path?q=1');
      expect(seen.headers.host).to.equal('web.localhost');
      expect(seen.headers['x-forwarded-for']).to.equal('127.0.0.1');
    });

    it('the Host header matches regardless of case and port', async () => {
      const up = await upstream('case');
      await deploy('casey', [up.address]);
      expect((await get(router.port, 'CASEY.LocalHost:8080')).body).to.equal('case');
    });

    it('an app\'s own error status reaches the client unchanged, not replaced by a router page', async () => {
      const up = await upstream('app says no', 500);
      await deploy('failing', [up.address]);
      const reply = await request('failing');
      expect(reply.status).to.equal(500);
      expect(reply.body).to.equal('app says no');
    });

    it('an unknown host gets the 404 page, never cached, naming the host', async () => {
      const reply = await request('nobody');
      expectErrorPage(reply, 404, 'No app is configured for this host.');
      expect(reply.body).to.include('nobody.localhost').and.include('pier domains:add');
    });

    it('a host outside the router\'s domain gets the 404 page', async () => {
      expectErrorPage(await get(router.port, 'www.example.com'), 404, 'www.example.com');
    });

    it('an app with no upstreams gets the 503 page', async () => {
      await deploy('idle', []);
      const reply = await request('idle');
      expectErrorPage(reply, 503, 'This app has no running web process right now.');
      expect(reply.body).to.include('idle.localhost');
    });

    it('an app with two upstreams has its requests spread over both', async () => {
      const one = await upstream('one');
      const two = await upstream('two');
      await deploy('pair', [one.address, two.address]);
      const bodies = [];
      for (let i = 0; i < 10; i++) bodies.push((await request('pair')).body);
      expect(bodies.filter((b) => b === 'one')).to.have.length(5);
      expect(bodies.filter((b) => b === 'two')).to.have.length(5);
    });

    it('an app that existed before the router started is served from the first request', async () => {
      const up = await upstream('loaded at start');
      const other = uniqueInstance('rt');
      const state = createState(router.state.redis, other);
      await state.apps.create('early');
      await state.routes.set({ app: 'early', upstreams: [up.address] });
      const second = await startRouter(testRedisUrl, other);
      extraRouters.push(second);
      const reply = await get(second.port, hostOf('early'));
      expect(reply.status).to.equal(200);
      expect(reply.body).to.equal('loaded at start');
    });
  });

  describe('live route changes', () => {
    it('a route change takes effect without restarting the router, and removing the app gives 404', async () => {
      const first = await upstream('first');
      const second = await upstream('second');
      await deploy('moving', [first.address]);
      expect((await request('moving')).body).to.equal('first');

      await router.state.routes.set({ app: 'moving', upstreams: [second.address] });
      await waitFor(() => request('moving'), (r) => r.body === 'second', 'the route to move to the second upstream');

      await router.state.routes.set({ app: 'moving', upstreams: [] });
      expectErrorPage(await waitFor(() => request('moving'), (r) => r.status === 503, 'the route to lose its upstreams'), 503, 'no running web process');

      await router.state.apps.destroy('moving', []);
      await router.state.routes.remove('moving');
      const gone = await waitFor(() => request('moving'), (r) => r.status === 404, 'the removed app to answer 404');
      expectErrorPage(gone, 404, 'moving.localhost');
    });
  });

  describe('upstream connections', () => {
    it('1,000 sequential keep-alive requests open at most a handful of upstream connections', async () => {
      const up = await upstream('pooled');
      await deploy('pooled', [up.address]);
      const before = up.connections();
      const agent = keepAliveAgent();
      const deadline = Date.now() + 20_000;
      let ok = 0;
      for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
        const reply = await request('pooled', { agent });
        if (reply.status === 200 && reply.body === 'pooled') ok++;
      }
      expect(ok, 'requests answered within 20 s').to.equal(1000);
      expect(up.connections() - before).to.be.at.most(4);
    });

    it('a client\'s "Connection: close" does not close the pooled upstream connection', async () => {
      const up = await upstream('still pooled');
      await deploy('closer', [up.address]);
      const before = up.connections();
      const deadline = Date.now() + 10_000;
      let ok = 0;
      for (let i = 0; i < 100 && Date.now() < deadline; i++) {
        const reply = await request('closer', { agent: false, headers: { connection: 'close' } });
        if (reply.status === 200 && reply.body === 'still pooled') ok++;
      }
      expect(ok, 'requests answered within 10 s').to.equal(100);
      expect(up.connections() - before).to.be.at.most(4);
      expect(up.requests.at(-1)!.headers.connection).to.equal('keep-alive');
    });

    // The upstream's hop-by-hop "connection: keep-alive" must not leak onto the client's response (RFC 9112 §9.6).
    it('a client\'s "Connection: close" is honoured: the router closes that client connection after the response', async () => {
      const up = await upstream('bye');
      await deploy('honour', [up.address]);
      const socket = net.connect(router.port, '127.0.0.1');
      sockets.push(socket);
      let raw = '';
      socket.on('data', (d: Buffer) => (raw += d.toString('utf8')));
      const closed = new Promise<boolean>((resolve) => {
        socket.on('close', () => resolve(true));
        setTimeout(() => resolve(false), 2000).unref();
      });
      socket.write('GET / HTTP/1.1\r\nHost: honour.localhost\r\nConnection: close\r\n\r\n');
      expect(await closed, 'router closed the connection within 2 s').to.equal(true);
      // Field names are case-insensitive: nginx writes Connection, the built-in router connection.
      expect(raw).to.match(/^HTTP\/1\.1 200 /).and.match(/\r\nconnection: close\r\n/i).and.include('bye');
    });
  });

  describe('broken upstreams', () => {
    it('an upstream that refuses connections gives the 502 page', async () => {
      await deploy('refused', [`127.0.0.1:${await closedPort()}`]);
      const reply = await request('refused');
      expectErrorPage(reply, 502, 'The app did not answer correctly.');
      expect(reply.body).to.include('refused.localhost').and.include('pier logs');
    });

    it('an upstream that drops each connection as it opens gives the 502 page', async () => {
      await deploy('dropper', [await resettingUpstream('on-connect')]);
      expectErrorPage(await request('dropper'), 502, 'The app did not answer correctly.');
    });

    it('an upstream that resets the connection after reading the request gives the 502 page', async () => {
      await deploy('resetter', [await resettingUpstream('after-request')]);
      expectErrorPage(await request('resetter'), 502, 'The app did not answer correctly.');
    });

    it('after refused and reset upstreams the router still serves a healthy app, over the same client connection', async () => {
      await deploy('broken-a', [`127.0.0.1:${await closedPort()}`]);
      await deploy('broken-b', [await resettingUpstream('after-request')]);
      const healthy = await upstream('healthy');
      await deploy('healthy', [healthy.address]);
      const agent = keepAliveAgent();
      for (let i = 0; i < 5; i++) {
        expect((await request('broken-a', { agent })).status).to.equal(502);
        expect((await request('broken-b', { agent })).status).to.equal(502);
        const reply = await request('healthy', { agent });
        expect(reply.status).to.equal(200);
        expect(reply.body).to.equal('healthy');
      }
    });
  });
});
