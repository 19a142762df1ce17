import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { RequestDone } from '../../src/router/client-connection.js';
import type { RouterSettings } from '../../src/router/router.js';
import { close, get, listen, waitFor } from '../helpers/http.js';
import { TestResources } from '../helpers/test-resources.js';
import { connect, ResponseReader } from '../helpers/raw-http.js';
import { testRedisUrl, uniqueInstance } from '../helpers/redis.js';
import { builtinOnly, startRouter, type RunningRouter } from '../helpers/router.js';
import { recordingUpstream as recordUpstream, type RecordingUpstream } from '../helpers/upstreams.js';

const hostOf = (app: string) => `${app}.localhost`;
/** The path deploys probe to see a route has arrived; upstreams that answer nothing else answer it. */
const PROBE = '/probe';
const BIG = 2 * 1024 * 1024;
/** A body whose every byte depends on its offset, so a cut, a shift or an interleaving shows. */
const bigBody = Buffer.from(Array.from({ length: BIG }, (_, i) => (i * 7 + (i >> 10)) & 0xff));

describe('router data plane protocol (real Redis, loopback HTTP)', function () {
  this.timeout(60_000);

  let router: RunningRouter;
  const held = new TestResources();
  const { servers, sockets, routers: extraRouters } = held;
  const done: RequestDone[] = [];

  /** Starts a Node upstream; every request is recorded and answered by `handler`. */
  async function upstream(handler: http.RequestListener): Promise<{ address: string; server: http.Server; requests: http.IncomingMessage[] }> {
    const requests: http.IncomingMessage[] = [];
    const server = http.createServer((req, res) => {
      requests.push(req);
      handler(req, res);
    });
    servers.push(server);
    return { address: `127.0.0.1:${await listen(server)}`, server, requests };
  }

  /** Answers `answer` to every request, or only to the deploy probe when `answer` is undefined. */
  const recordingUpstream = (answer?: string): Promise<RecordingUpstream> => recordUpstream({ servers, sockets }, PROBE, answer);

  /** Creates the app with these upstreams and waits until the router serves them. */
  async function deploy(app: string, upstreams: string[], on: RunningRouter = router): Promise<void> {
    await on.state.apps.create(app);
    await on.state.routes.set({ app, upstreams });
    await on.ready(app, upstreams);
  }

  async function rawClient(port = router.port): Promise<ResponseReader> {
    const socket = await connect(port);
    sockets.push(socket);
    return new ResponseReader(socket);
  }

  async function startExtraRouter(settings: RouterSettings): Promise<RunningRouter> {
    const extra = await startRouter(testRedisUrl, uniqueInstance('rp'), 'localhost', settings);
    extraRouters.push(extra);
    return extra;
  }

  before(async () => {
    router = await startRouter(testRedisUrl, uniqueInstance('rp'), 'localhost', { onRequestDone: (d) => done.push(d) });
  });

  afterEach(() => held.release());

  after(async () => {
    if (router) await router.stop();
  });

  describe('request smuggling', () => {
    const corpus: Array<[string, string]> = [
      ['Content-Length and Transfer-Encoding together', 'POST / HTTP/1.1\r\nHost: H\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: H\r\n\r\n'],
      ['conflicting Content-Length', 'POST / HTTP/1.1\r\nHost: H\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: H\r\n\r\n'],
      ['repeated identical Content-Length', 'POST / HTTP/1.1\r\nHost: H\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc'],
      ['an obfuscated Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'],
      ['Transfer-Encoding with a space before the colon', 'POST / HTTP/1.1\r\nHost: H\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n'],
      ['a bad chunk size', 'POST / HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n'],
      ['a chunk size with a 0x prefix', 'POST / HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n'],
      ['a chunk longer than its size', 'POST / HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n'],
      ['a bare LF in the head', 'GET / HTTP/1.1\r\nHost: H\nX-Smuggle: 1\r\n\r\n'],
      ['a head ended by bare LFs', 'GET / HTTP/1.1\nHost: H\n\n'],
      ['an obs-folded header', 'GET / HTTP/1.1\r\nHost: H\r\nX-Folded: a\r\n b\r\n\r\n'],
    ];

    for (const [what, template] of corpus) {
      it(`${what} gets 400 with Connection: close, and not a byte reaches the app`, async () => {
        const app = 'smuggle';
        const target = await recordingUpstream('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        await deploy(app, [target.address]);
        const before = target.received().length;
        const client = await rawClient();
        client.socket.write(template.replaceAll('H', hostOf(app)));
        const reply = await client.next();
        expect(reply.status).to.equal(400);
        expect(reply.headers.connection).to.equal('close');
        expect(reply.body.toString()).to.include('400 Bad Request');
        expect(await client.closedWithin(2000), 'router closed the connection').to.equal(true);
        expect(target.received().slice(before)).to.equal('');
        await router.state.apps.destroy(app, []);
      });
    }
  });

  describe('pipelining and Host changes', () => {
    async function bigUpstream(): Promise<string> {
      const up = await upstream((req, res) => {
        if (req.url === '/big' || req.url === '/big-chunked') {
          // Written in pieces over several ticks, so the response is still streaming when the next request arrives.
          res.writeHead(200, req.url === '/big' ? { 'content-length': BIG } : {});
          let at = 0;
          const step = () => {
            if (at >= BIG) return res.end();
            const piece = bigBody.subarray(at, at + 64 * 1024);
            at += piece.length;
            if (res.write(piece)) setImmediate(step);
            else res.once('drain', step);
          };
          step();
          return;
        }
        const text = `${req.headers.host} ${req.url}`;
        res.setHeader('content-length', Buffer.byteLength(text));
        res.end(text);
      });
      return up.address;
    }

    it('pipelined requests, one with another Host, are answered in order after a large response, every byte intact', async () => {
      const address = await bigUpstream();
      await deploy('pipe-a', [address]);
      await deploy('pipe-b', [address]);
      const client = await rawClient();
      client.socket.write(
        `GET /big HTTP/1.1\r\nHost: ${hostOf('pipe-a')}\r\n\r\n` +
          `GET /big-chunked HTTP/1.1\r\nHost: ${hostOf('pipe-a')}\r\n\r\n` +
          `GET /after HTTP/1.1\r\nHost: ${hostOf('pipe-b')}\r\n\r\n` +
          `HEAD /head HTTP/1.1\r\nHost: ${hostOf('pipe-a')}\r\n\r\n` +
          `GET /last HTTP/1.1\r\nHost: ${hostOf('pipe-a')}\r\n\r\n`,
      );
      const first = await client.next({ timeoutMs: 15_000 });
      expect(first.status).to.equal(200);
      expect(first.body.equals(bigBody), 'Content-Length body intact').to.equal(true);
      const second = await client.next({ timeoutMs: 15_000 });
      expect(second.headers['transfer-encoding']).to.equal('chunked');
      expect(second.body.equals(bigBody), 'chunked body intact').to.equal(true);
      expect((await client.next()).body.toString()).to.equal('pipe-b.localhost /after');
      const head = await client.next({ head: true });
      expect(head.headers['content-length']).to.equal(String('pipe-a.localhost /head'.length));
      expect((await client.next()).body.toString()).to.equal('pipe-a.localhost /last');
      expect(client.unread).to.equal('');
    });

    it('2,000 pipelined requests in one write, to an app and to an unknown host, are all answered in order', async () => {
      const up = await upstream((req, res) => res.end(req.url));
      await deploy('flood', [up.address]);
      const client = await rawClient();
      const n = 2000;
      let requests = '';
      for (let i = 0; i < n; i++) requests += `GET /${i} HTTP/1.1\r\nHost: ${i % 2 ? hostOf('flood') : hostOf('nobody')}\r\n\r\n`;
      client.socket.write(requests);
      for (let i = 0; i < n; i++) {
        const reply = await client.next();
        if (i % 2) expect(reply.body.toString()).to.equal(`/${i}`);
        else expect(reply.status).to.equal(404);
      }
    });

    it('a Host change sent while a large response is streaming waits for that response to end', async () => {
      const address = await bigUpstream();
      await deploy('stream-a', [address]);
      await deploy('stream-b', [address]);
      const client = await rawClient();
      client.socket.write(`GET /big HTTP/1.1\r\nHost: ${hostOf('stream-a')}\r\n\r\n`);
      await new Promise<void>((resolve) => client.socket.once('data', () => resolve()));
      client.socket.write(`GET /switched HTTP/1.1\r\nHost: ${hostOf('stream-b')}\r\n\r\n`);
      const big = await client.next({ timeoutMs: 15_000 });
      expect(big.body.equals(bigBody), 'first response intact').to.equal(true);
      expect((await client.next()).body.toString()).to.equal('stream-b.localhost /switched');
    });
  });

  describe('streaming', () => {
    it('a request body arriving in pieces, chunked or with a length, reaches the app whole', async () => {
      const up = await upstream((req, res) => {
        const parts: Buffer[] = [];
        req.on('data', (d: Buffer) => parts.push(d));
        req.on('end', () => res.end(createHash('sha256').update(Buffer.concat(parts)).digest('hex')));
      });
      await deploy('upload', [up.address]);
      const client = await rawClient();
      const payload = randomBytes(300_000);
      client.socket.write(`POST /up HTTP/1.1\r\nHost: ${hostOf('upload')}\r\nTransfer-Encoding: chunked\r\n\r\n`);
      for (let at = 0; at < payload.length; at += 100_000) {
        const piece = payload.subarray(at, at + 100_000);
        client.socket.write(`${piece.length.toString(16)}\r\n`);
        client.socket.write(piece);
        client.socket.write('\r\n');
        await new Promise((r) => setTimeout(r, 20));
      }
      client.socket.write('0\r\n\r\n');
      expect((await client.next()).body.toString()).to.equal(createHash('sha256').update(payload).digest('hex'));
      client.socket.write(`PUT /up HTTP/1.1\r\nHost: ${hostOf('upload')}\r\nContent-Length: ${payload.length}\r\n\r\n`);
      client.socket.write(payload.subarray(0, 1000));
      await new Promise((r) => setTimeout(r, 20));
      client.socket.write(payload.subarray(1000));
      expect((await client.next()).body.toString()).to.equal(createHash('sha256').update(payload).digest('hex'));
    });

    it('Expect: 100-continue gets the app\'s interim 100 before the body is sent', async () => {
      const up = await upstream((req, res) => {
        let n = 0;
        req.on('data', (d: Buffer) => (n += d.length));
        req.on('end', () => res.end(`got ${n}`));
      });
      await deploy('continue', [up.address]);
      const client = await rawClient();
      client.socket.write(`POST / HTTP/1.1\r\nHost: ${hostOf('continue')}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
      expect((await client.next()).status).to.equal(100);
      client.socket.write('hello');
      expect((await client.next()).body.toString()).to.equal('got 5');
    });

    it('Server-Sent Events arrive one by one as the app sends them', async () => {
      let sendNext: ((event: string) => void) | undefined;
      const up = await upstream((req, res) => {
        if (req.url === PROBE) return res.end();
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write('data: first\n\n');
        sendNext = (event) => res.write(`data: ${event}\n\n`);
      });
      await deploy('sse', [up.address]);
      const received: string[] = [];
      let notify: (() => void) | undefined;
      const req = http.get({ host: '127.0.0.1', port: router.port, path: '/events', headers: { host: hostOf('sse') }, agent: false }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          received.push(d);
          notify?.();
        });
      });
      req.on('error', () => undefined);
      try {
        const nextEvent = (count: number) =>
          waitFor(async () => received.join(''), (text) => text.split('\n\n').length > count, `SSE event ${count}`, 3000);
        expect(await nextEvent(1)).to.equal('data: first\n\n');
        for (const event of ['second', 'third']) {
          sendNext!(event);
          expect((await nextEvent(received.join('').split('\n\n').length)).endsWith(`data: ${event}\n\n`)).to.equal(true);
        }
      } finally {
        req.destroy();
      }
    });
  });

  describe('websockets', () => {
    const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
    const serverFrame = (text: string) => Buffer.concat([Buffer.from([0x81, Buffer.byteLength(text)]), Buffer.from(text)]);
    function clientFrame(text: string): Buffer {
      const mask = randomBytes(4);
      const payload = Buffer.from(text).map((b, i) => b ^ mask[i % 4]!);
      return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, payload]);
    }
    function unmask(frame: Buffer): string {
      const len = frame[1]! & 0x7f;
      const mask = frame.subarray(2, 6);
      return Buffer.from(frame.subarray(6, 6 + len).map((b, i) => b ^ mask[i % 4]!)).toString();
    }

    it('a websocket echoes through the router both ways, after a 101 carrying the handshake headers', async () => {
      const up = await upstream((_req, res) => res.end('not a websocket'));
      up.server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
        sockets.push(socket);
        const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${GUID}`).digest('base64');
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        socket.write(serverFrame('hello from the app'));
        socket.on('data', (frame: Buffer) => socket.write(serverFrame(`echo: ${unmask(frame)}`)));
      });
      await deploy('ws', [up.address]);
      const probes = up.requests.length;
      const client = await rawClient();
      const key = randomBytes(16).toString('base64');
      client.socket.write(
        `GET /socket HTTP/1.1\r\nHost: ${hostOf('ws')}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`,
      );
      const switched = await client.next();
      expect(switched.status).to.equal(101);
      expect(switched.headers.upgrade).to.equal('websocket');
      expect(switched.headers.connection).to.equal('upgrade');
      expect(switched.headers['sec-websocket-accept']).to.equal(createHash('sha1').update(`${key}${GUID}`).digest('base64'));
      const frames = () => client.unread;
      await waitFor(async () => frames(), (f) => f.includes('hello from the app'), 'the app\'s first frame');
      client.socket.write(clientFrame('ping 1'));
      await waitFor(async () => frames(), (f) => f.includes('echo: ping 1'), 'the echo of the first frame');
      client.socket.write(clientFrame('ping 2'));
      await waitFor(async () => frames(), (f) => f.includes('echo: ping 2'), 'the echo of the second frame');
      expect(up.requests, 'requests the app handled as plain HTTP').to.have.length(probes);
    });
  });

  describe('forwarded headers and request ids', () => {
    async function echoHeaders(): Promise<string> {
      const up = await upstream((req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(req.headers));
      });
      return up.address;
    }

    const seen = async (port: number, app: string, headers: http.OutgoingHttpHeaders = {}) =>
      JSON.parse((await get(port, hostOf(app), { agent: false, headers })).body) as Record<string, string>;

    it('the app sees the client address, scheme, host, port, a fresh request id, the start time and Via', async () => {
      await deploy('fwd', [await echoHeaders()]);
      const before = Date.now();
      const h = await seen(router.port, 'fwd');
      expect(h['x-forwarded-for']).to.equal('127.0.0.1');
      expect(h['x-forwarded-proto']).to.equal('http');
      expect(h['x-forwarded-host']).to.equal('fwd.localhost');
      expect(h['x-forwarded-port']).to.equal(String(router.port));
      expect(h['x-request-id']).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(Number(/^t=(\d+)$/.exec(h['x-request-start']!)?.[1])).to.be.within(before - 1000, Date.now());
      expect(h.via).to.equal('1.1 pier');
      expect(h.connection).to.equal('keep-alive');
      expect((await seen(router.port, 'fwd'))['x-request-id']).to.not.equal(h['x-request-id']);
    });

    it('a client\'s X-Request-Id is kept; its X-Forwarded-* are replaced when it is not a trusted proxy', async () => {
      await deploy('untrusted', [await echoHeaders()]);
      const h = await seen(router.port, 'untrusted', {
        'x-request-id': 'req-42',
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'bank.example',
        'x-forwarded-port': '443',
      });
      expect(h).to.include({
        'x-request-id': 'req-42',
        'x-forwarded-for': '127.0.0.1',
        'x-forwarded-proto': 'http',
        'x-forwarded-host': 'untrusted.localhost',
        'x-forwarded-port': String(router.port),
      });
    });

    it('from a trusted proxy, X-Forwarded-For is appended to and the other X-Forwarded-* are kept', async () => {
      const trusting = await startExtraRouter({ trustedProxies: ['127.0.0.0/8'] });
      await deploy('trusted', [await echoHeaders()], trusting);
      const h = await seen(trusting.port, 'trusted', { 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example', 'x-forwarded-port': '443' });
      expect(h).to.include({
        'x-forwarded-for': '198.51.100.7, 127.0.0.1',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'shop.example',
        'x-forwarded-port': '443',
      });
    });
  });

  describe('failover', () => {
    it('an instance killed mid-load fails no idempotent request, and is back in rotation once it answers again', async () => {
      const healthy = await upstream((_req, res) => res.end('healthy'));
      let victimSockets: net.Socket[] = [];
      const handler: http.RequestListener = (_req, res) => res.end('victim');
      const victim = http.createServer(handler);
      victim.on('connection', (s) => victimSockets.push(s));
      servers.push(victim);
      const victimPort = await listen(victim);
      await deploy('failover', [healthy.address, `127.0.0.1:${victimPort}`]);

      const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
      const results: Array<{ status: number; body: string } | Error> = [];
      let stop = false;
      const loop = async () => {
        while (!stop) {
          results.push(await get(router.port, hostOf('failover'), { agent, path: '/' }).catch((e: Error) => e));
        }
      };
      try {
        const loops = Array.from({ length: 8 }, loop);
        await new Promise((r) => setTimeout(r, 500));
        // Killed: in-flight connections reset, the port refuses from now on.
        victim.close();
        for (const s of victimSockets) s.resetAndDestroy();
        victimSockets = [];
        await new Promise((r) => setTimeout(r, 1000));
        stop = true;
        await Promise.all(loops);
      } finally {
        agent.destroy();
      }
      const failed = results.filter((r) => r instanceof Error || r.status !== 200);
      expect(results.length, 'requests made').to.be.greaterThan(100);
      expect(failed, 'failed requests').to.deep.equal([]);

      const revived = http.createServer(handler);
      servers.push(revived);
      await new Promise<void>((resolve) => revived.listen(victimPort, '127.0.0.1', () => resolve()));
      await waitFor(() => get(router.port, hostOf('failover'), { agent: false }), (r) => r.body === 'victim', 'the revived instance to answer', 15_000);
    });

    it('a request refused by one instance is retried on another, POST included, since nothing was sent', async () => {
      const dead = await upstream(() => undefined);
      const deadAddress = dead.address;
      await close(dead.server);
      const alive = await upstream((req, res) => res.end(`${req.method} ok`));
      await deploy('retry', [deadAddress, alive.address]);
      for (let i = 0; i < 4; i++) {
        const reply = await new Promise<string>((resolve, reject) => {
          const req = http.request({ host: '127.0.0.1', port: router.port, method: 'POST', headers: { host: hostOf('retry'), 'content-length': 2 }, agent: false }, (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d));
            res.on('end', () => resolve(body));
          });
          req.on('error', reject);
          req.end('{}');
        });
        expect(reply).to.equal('POST ok');
      }
    });
  });

  describe('connections and framing', () => {
    it('idle client connections do not hold app connections: 20 clients one after the other share one pooled connection', async () => {
      let connections = 0;
      const up = await upstream((_req, res) => res.end('pooled'));
      up.server.on('connection', () => connections++);
      await deploy('shared', [up.address]);
      const before = connections;
      const clients: ResponseReader[] = [];
      for (let i = 0; i < 20; i++) {
        const client = await rawClient();
        clients.push(client);
        client.socket.write(`GET / HTTP/1.1\r\nHost: ${hostOf('shared')}\r\n\r\n`);
        expect((await client.next()).body.toString()).to.equal('pooled');
      }
      expect(clients.every((c) => !c.isClosed), 'client connections kept alive').to.equal(true);
      expect(connections - before).to.be.at.most(1);
    });

    builtinOnly('nginx re-frames it as chunked and keeps the client connection')('a response framed by the upstream closing reaches the client whole, and that connection closes after it', async () => {
      const server = net.createServer((socket) => {
        sockets.push(socket);
        socket.on('error', () => undefined);
        socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close'));
      });
      servers.push(server);
      await deploy('eof', [`127.0.0.1:${await listen(server)}`]);
      const client = await rawClient();
      client.socket.write(`GET / HTTP/1.1\r\nHost: ${hostOf('eof')}\r\n\r\n`);
      const reply = await client.next();
      expect(reply.headers.connection).to.equal('close');
      expect(await client.closedWithin(2000)).to.equal(true);
      expect(reply.body.toString()).to.equal('until close');
    });

    builtinOnly('nginx before 1.23 does not refuse it')('an upstream response with conflicting Content-Length gives the 502 page', async () => {
      const liar = await recordingUpstream('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 20\r\n\r\nok');
      await router.state.apps.create('liar');
      await router.state.routes.set({ app: 'liar', upstreams: [liar.address] });
      const reply = await waitFor(() => get(router.port, hostOf('liar'), { agent: false }), (r) => r.status !== 404, 'the route of liar');
      expect(reply.status).to.equal(502);
      expect(reply.body).to.include('The app did not answer correctly.');
    });

    it('a client that half-closes after its request still gets the response', async () => {
      const up = await upstream((_req, res) => res.end('after FIN'));
      await deploy('halfclose', [up.address]);
      const client = await rawClient();
      client.socket.end(`GET / HTTP/1.1\r\nHost: ${hostOf('halfclose')}\r\n\r\n`);
      expect((await client.next()).body.toString()).to.equal('after FIN');
      expect(await client.closedWithin(2000)).to.equal(true);
    });

    // Forwarded as HTTP/1.0, so the app frames its answer as an HTTP/1.0 client can read it (never chunked).
    builtinOnly('nginx speaks HTTP/1.1 to apps, whatever the client speaks')('an HTTP/1.0 client gets its response and a closed connection, or keep-alive when it asks and the app sends a length', async () => {
      const up = await upstream((req, res) => {
        const text = `seen as ${req.httpVersion}`;
        res.setHeader('content-length', text.length);
        res.end(text);
      });
      await deploy('old-client', [up.address]);
      const client = await rawClient();
      client.socket.write(`GET / HTTP/1.0\r\nHost: ${hostOf('old-client')}\r\nConnection: keep-alive\r\n\r\n`);
      const kept = await client.next();
      expect(kept.body.toString()).to.equal('seen as 1.0');
      expect(kept.headers.connection).to.equal('keep-alive');
      client.socket.write(`GET / HTTP/1.0\r\nHost: ${hostOf('old-client')}\r\n\r\n`);
      expect((await client.next()).headers.connection).to.equal('close');
      expect(await client.closedWithin(2000)).to.equal(true);
    });

    it('a request head over 16 KB gets 431 and a closed connection', async () => {
      const client = await rawClient();
      client.socket.write(`GET / HTTP/1.1\r\nHost: a.localhost\r\nCookie: ${'c'.repeat(17 * 1024)}\r\n\r\n`);
      const reply = await client.next();
      expect(reply.status).to.equal(431);
      expect(await client.closedWithin(2000)).to.equal(true);
    });
  });

  describe('timeouts', () => {
    it('an app that does not answer in time gets the 504 page', async () => {
      const silent = await recordingUpstream();
      await router.state.apps.create('slow');
      await router.state.proxy.set('slow', 'response-timeout', '300ms');
      await router.state.routes.set({ app: 'slow', upstreams: [silent.address] });
      const reply = await waitFor(() => get(router.port, hostOf('slow'), { agent: false }), (r) => r.status !== 404, 'the route of slow');
      expect(reply.status).to.equal(504);
      expect(reply.headers['cache-control']).to.equal('no-store');
      expect(reply.body).to.include('The app did not answer in time.');
    });

    builtinOnly('timeouts passed in-process; nginx has client_header_timeout 10s')('a client that never finishes its head is disconnected (slowloris)', async () => {
      const quick = await startExtraRouter({ timeouts: { headerMs: 300 } });
      const client = await rawClient(quick.port);
      client.socket.write('GET / HTTP/1.1\r\nHost: a');
      expect(await client.closedWithin(3000)).to.equal(true);
    });

    builtinOnly('timeouts passed in-process; nginx has client_body_timeout 30s')('a request body that stalls lets go of the app connection', async () => {
      const quick = await startExtraRouter({ timeouts: { bodyIdleMs: 300 } });
      let upstreamClosed = false;
      const server = net.createServer((socket) => {
        sockets.push(socket);
        socket.on('error', () => undefined);
        socket.on('data', (d: Buffer) => {
          if (d.toString('latin1').startsWith(`GET ${PROBE} `)) socket.write('HTTP/1.1 204 No Content\r\n\r\n');
          else socket.on('close', () => (upstreamClosed = true));
        });
      });
      servers.push(server);
      await deploy('stall', [`127.0.0.1:${await listen(server)}`], quick);
      const client = await rawClient(quick.port);
      client.socket.write(`POST / HTTP/1.1\r\nHost: ${hostOf('stall')}\r\nContent-Length: 100\r\n\r\nonly this`);
      expect(await client.closedWithin(3000), 'client disconnected').to.equal(true);
      await waitFor(async () => upstreamClosed, (c) => c, 'the upstream connection to close');
    });
  });

  describe('hooks', () => {
    builtinOnly('the onRequestDone hook is in-process; nginx\'s lines reach pier logs (nginx-plane.test.ts)')('every request is reported once it is over: app, status, bytes, upstream and request id', async () => {
      const up = await upstream((_req, res) => res.end('counted'));
      await deploy('logged', [up.address]);
      done.length = 0;
      await get(router.port, hostOf('logged'), { agent: false, path: '/p?q=1', headers: { 'x-request-id': 'trace-1' } });
      await get(router.port, hostOf('nobody-here'), { agent: false });
      await waitFor(async () => done.length, (n) => n >= 2, 'two reports');
      const [ok, missing] = done;
      expect(ok).to.include({ app: 'logged', host: 'logged.localhost', method: 'GET', path: '/p?q=1', status: 200, upstream: up.address, requestId: 'trace-1' });
      expect(ok!.bytes).to.be.greaterThan('counted'.length);
      expect(ok!.durationMs).to.be.at.least(0);
      expect(missing).to.include({ app: undefined, status: 404, upstream: undefined });
    });

    builtinOnly('the policy hook is in-process; maintenance mode on nginx is in nginx-plane.test.ts')('a per-app policy can answer instead of the app (maintenance mode)', async () => {
      const up = await upstream((_req, res) => res.end('app'));
      const guarded = await startExtraRouter({
        policy: (app) => (app === 'closed' ? { status: 503, headers: { 'retry-after': '120' }, body: 'down for maintenance' } : undefined),
      });
      await guarded.state.apps.create('closed');
      await guarded.state.routes.set({ app: 'closed', upstreams: [up.address] });
      const reply = await waitFor(() => get(guarded.port, hostOf('closed'), { agent: false }), (r) => r.status !== 404, 'the route of closed');
      expect(reply.status).to.equal(503);
      expect(reply.headers['retry-after']).to.equal('120');
      expect(reply.body).to.equal('down for maintenance');
      expect(up.requests).to.have.length(0);
    });
  });
});
