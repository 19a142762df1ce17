import { expect } from 'chai';
import { clientRequestId, clientResponseHead, upstreamRequestHead, type ForwardContext } from '../../src/router/forwarded-heads.js';
import { parseRequestHead, type RequestHead } from '../../src/router/request-head.js';
import { parseResponseHead, type ResponseHead } from '../../src/router/response-head.js';

function request(text: string): RequestHead {
  const r = parseRequestHead(Buffer.from(text, 'latin1'), 0);
  if (r.kind !== 'complete') throw new Error(`bad test request: ${JSON.stringify(r)}`);
  return r.head;
}

function response(text: string, method = 'GET'): ResponseHead {
  const r = parseResponseHead(Buffer.from(text, 'latin1'), 0, method);
  if (r.kind !== 'complete') throw new Error(`bad test response: ${JSON.stringify(r)}`);
  return r.head;
}

const ctx = (over: Partial<ForwardContext> = {}): ForwardContext => ({
  clientIp: '203.0.113.9',
  trusted: false,
  localPort: 80,
  secure: false,
  requestId: 'generated-id',
  startMs: 1700000000123,
  ...over,
});

/** The forwarded head's fields as [name, value] pairs, in order. */
function fieldsOf(head: string): Array<[string, string]> {
  expect(head.endsWith('\r\n\r\n'), 'head ends with an empty line').to.equal(true);
  return head
    .slice(0, -4)
    .split('\r\n')
    .slice(1)
    .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]);
}

const valueOf = (head: string, name: string) => fieldsOf(head).filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);

describe('forwarded heads', () => {
  describe('the request an upstream sees', () => {
    it('keeps the request line and the client\'s fields, then adds forwarded headers, request id, Via and keep-alive', () => {
      const head = upstreamRequestHead(request('GET /a?b=1 HTTP/1.1\r\nHost: web.localhost\r\nAccept: */*\r\n\r\n'), ctx());
      expect(head.split('\r\n')[0]).to.equal('GET /a?b=1 HTTP/1.1');
      expect(fieldsOf(head)).to.deep.equal([
        ['Host', 'web.localhost'],
        ['Accept', '*/*'],
        ['X-Forwarded-For', '203.0.113.9'],
        ['X-Forwarded-Proto', 'http'],
        ['X-Forwarded-Host', 'web.localhost'],
        ['X-Forwarded-Port', '80'],
        ['X-Request-Id', 'generated-id'],
        ['X-Request-Start', 't=1700000000123'],
        ['Via', '1.1 pier'],
        ['Connection', 'keep-alive'],
      ]);
    });

    it('drops hop-by-hop fields and those the client names in Connection, but never Host or the framing', () => {
      const head = upstreamRequestHead(
        request(
          'POST / HTTP/1.1\r\nHost: a\r\nConnection: close, X-Secret, Host, Content-Length\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n' +
            'Proxy-Connection: keep-alive\r\nX-Secret: s\r\nUpgrade: h2c\r\nContent-Length: 3\r\n\r\n',
        ),
        ctx(),
      );
      const names = fieldsOf(head).map(([n]) => n.toLowerCase());
      expect(names).to.not.include.members(['keep-alive', 'te', 'proxy-connection', 'x-secret', 'upgrade']);
      expect(names).to.include.members(['host', 'content-length']);
      expect(valueOf(head, 'connection')).to.deep.equal(['keep-alive']);
    });

    it('replaces X-Forwarded-* and X-Request-Start from a peer that is not a trusted proxy', () => {
      const head = upstreamRequestHead(
        request(
          'GET / HTTP/1.1\r\nHost: a.localhost\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: bank.example\r\n' +
            'X-Forwarded-Port: 443\r\nX-Request-Start: t=1\r\nForwarded: for=1.2.3.4\r\n\r\n',
        ),
        ctx(),
      );
      expect(valueOf(head, 'x-forwarded-for')).to.deep.equal(['203.0.113.9']);
      expect(valueOf(head, 'x-forwarded-proto')).to.deep.equal(['http']);
      expect(valueOf(head, 'x-forwarded-host')).to.deep.equal(['a.localhost']);
      expect(valueOf(head, 'x-forwarded-port')).to.deep.equal(['80']);
      expect(valueOf(head, 'x-request-start')).to.deep.equal(['t=1700000000123']);
      expect(valueOf(head, 'forwarded')).to.deep.equal([]);
    });

    it('from a trusted proxy, appends the peer to X-Forwarded-For and keeps the rest', () => {
      const head = upstreamRequestHead(
        request(
          'GET / HTTP/1.1\r\nHost: a.localhost\r\nX-Forwarded-For: 1.2.3.4, 5.6.7.8\r\nX-Forwarded-For: 9.9.9.9\r\nX-Forwarded-Proto: https\r\n' +
            'X-Forwarded-Host: shop.example\r\nX-Forwarded-Port: 443\r\nX-Request-Start: t=1\r\n\r\n',
        ),
        ctx({ trusted: true }),
      );
      expect(valueOf(head, 'x-forwarded-for')).to.deep.equal(['1.2.3.4, 5.6.7.8, 9.9.9.9, 203.0.113.9']);
      expect(valueOf(head, 'x-forwarded-proto')).to.deep.equal(['https']);
      expect(valueOf(head, 'x-forwarded-host')).to.deep.equal(['shop.example']);
      expect(valueOf(head, 'x-forwarded-port')).to.deep.equal(['443']);
      expect(valueOf(head, 'x-request-start')).to.deep.equal(['t=1']);
    });

    it('says X-Forwarded-Proto https for a client that came over TLS, unless a trusted proxy said otherwise', () => {
      const req = request('GET / HTTP/1.1\r\nHost: shop.example.com\r\nX-Forwarded-Proto: http\r\n\r\n');
      expect(fieldsOf(upstreamRequestHead(req, ctx({ secure: true, localPort: 443 })))).to.deep.include.members([['X-Forwarded-Proto', 'https'], ['X-Forwarded-Port', '443']]);
      expect(fieldsOf(upstreamRequestHead(req, ctx({ secure: true, trusted: true })))).to.deep.include(['X-Forwarded-Proto', 'http']);
    });

    it('appends itself to an existing Via, with the client\'s HTTP version', () => {
      const head = upstreamRequestHead(request('GET / HTTP/1.0\r\nVia: 1.1 edge\r\n\r\n'), ctx());
      expect(valueOf(head, 'via')).to.deep.equal(['1.1 edge, 1.0 pier']);
      expect(head.split('\r\n')[0]).to.equal('GET / HTTP/1.0');
    });

    it('an absolute-form request reaches the upstream in origin-form with the target\'s host', () => {
      const head = upstreamRequestHead(request('GET http://shop.localhost/x HTTP/1.1\r\nHost: other\r\n\r\n'), ctx());
      expect(head.split('\r\n')[0]).to.equal('GET /x HTTP/1.1');
      expect(valueOf(head, 'host')).to.deep.equal(['shop.localhost']);
    });

    it('a websocket handshake keeps Upgrade and asks the upstream to upgrade', () => {
      const head = upstreamRequestHead(request('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'), ctx());
      expect(valueOf(head, 'upgrade')).to.deep.equal(['websocket']);
      expect(valueOf(head, 'connection')).to.deep.equal(['upgrade']);
    });

    it('a client\'s usable X-Request-Id is kept; one with spaces or of 201 characters is not', () => {
      expect(clientRequestId(request('GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: abc-123\r\n\r\n'))).to.equal('abc-123');
      expect(clientRequestId(request('GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: a b\r\n\r\n'))).to.equal(undefined);
      expect(clientRequestId(request(`GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: ${'x'.repeat(201)}\r\n\r\n`))).to.equal(undefined);
      const head = upstreamRequestHead(request('GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: abc-123\r\n\r\n'), ctx({ requestId: 'abc-123' }));
      expect(valueOf(head, 'x-request-id')).to.deep.equal(['abc-123']);
    });
  });

  describe('the response a client sees', () => {
    it('drops the upstream\'s Connection and Keep-Alive, and what its Connection names', () => {
      const res = response('HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Internal\r\nKeep-Alive: timeout=5\r\nX-Internal: 1\r\nContent-Length: 2\r\n\r\n');
      expect(clientResponseHead(res, { close: false, keepAlive10: false })).to.equal('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nvia: 1.1 pier\r\n\r\n');
    });

    it('says "connection: close" when the router closes after it, and "keep-alive" to an HTTP/1.0 client that asked', () => {
      const res = response('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      expect(clientResponseHead(res, { close: true, keepAlive10: false })).to.equal('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nvia: 1.1 pier\r\nconnection: close\r\n\r\n');
      expect(clientResponseHead(res, { close: false, keepAlive10: true })).to.equal('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nvia: 1.1 pier\r\nconnection: keep-alive\r\n\r\n');
    });

    it('drops Content-Length next to chunked, so no client can frame it two ways', () => {
      const res = response('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n');
      expect(clientResponseHead(res, { close: false, keepAlive10: false })).to.equal('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nvia: 1.1 pier\r\n\r\n');
    });

    it('a 101 keeps Upgrade and says "connection: upgrade"', () => {
      const res = response('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n');
      expect(clientResponseHead(res, { close: false, keepAlive10: false })).to.equal(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: x\r\nvia: 1.1 pier\r\nconnection: upgrade\r\n\r\n',
      );
    });

    it('a 426\'s Upgrade stays, since its Connection does not name it', () => {
      const res = response('HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n');
      expect(clientResponseHead(res, { close: false, keepAlive10: false })).to.include('Upgrade: websocket');
    });

    it("appends itself to the upstream's Via (its fields joined into one), with the upstream's HTTP version", () => {
      const res = response('HTTP/1.0 200 OK\r\nVia: 1.1 cache\r\nVia: 1.1 edge\r\nContent-Length: 0\r\n\r\n');
      expect(clientResponseHead(res, { close: false, keepAlive10: false })).to.equal('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nvia: 1.1 cache, 1.1 edge, 1.0 pier\r\n\r\n');
    });

    it('with HSTS on, carries the router\'s Strict-Transport-Security in place of the app\'s; without, keeps the app\'s', () => {
      const res = response('HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=5\r\nContent-Length: 0\r\n\r\n');
      expect(clientResponseHead(res, { close: false, keepAlive10: false, hsts: 'max-age=600' })).to.equal('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nstrict-transport-security: max-age=600\r\nvia: 1.1 pier\r\n\r\n');
      expect(clientResponseHead(res, { close: false, keepAlive10: false })).to.include('Strict-Transport-Security: max-age=5');
    });
  });
});
