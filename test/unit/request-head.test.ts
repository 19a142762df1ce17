import { expect } from 'chai';
import { MAX_HEAD_BYTES } from '../../src/router/http-head.js';
import { isIdempotent, parseRequestHead, type RequestHead } from '../../src/router/request-head.js';

const parse = (text: string) => parseRequestHead(Buffer.from(text, 'latin1'), 0);

function head(text: string): RequestHead & { end: number } {
  const r = parse(text);
  if (r.kind !== 'complete') throw new Error(`expected a complete head, got ${JSON.stringify(r)}`);
  return { ...r.head, end: r.end };
}

/**
 * Heads two HTTP parsers could frame differently (request smuggling, RFC 9112 §6.3, §11.2) or that
 * break the message syntax: each must be refused with 400, never forwarded.
 */
const smuggling: Array<[string, string]> = [
  ['Content-Length together with Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n'],
  ['Transfer-Encoding before Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n'],
  ['two Content-Length fields with different values', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n'],
  ['two Content-Length fields with the same value', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\n'],
  ['a Content-Length list', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 4\r\n\r\n'],
  ['a signed Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +4\r\n\r\n'],
  ['a negative Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n'],
  ['a hexadecimal Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n'],
  ['a Content-Length with a space inside', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\n'],
  ['an empty Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n'],
  ['a Content-Length beyond 2^53', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n'],
  ['Transfer-Encoding whose final coding is not chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n'],
  ['an unknown transfer coding', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n'],
  ['chunked applied twice in one field', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n'],
  ['chunked applied twice in two fields', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n'],
  ['an empty Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n'],
  ['chunked ending in a non-breaking space (only SP and HTAB are whitespace)', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\xa0\r\n\r\n'],
  ['a coding list whose chunked ends in a non-breaking space', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\xa0\r\n\r\n'],
  ['Transfer-Encoding with a vertical tab', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\x0bchunked\r\n\r\n'],
  ['Transfer-Encoding with a space before the colon', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n'],
  ['Transfer-Encoding in an HTTP/1.0 request', 'POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'],
  ['Transfer-Encoding folded onto a second line (obs-fold)', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n'],
  ['a folded field value', 'GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n\ttwo\r\n\r\n'],
  ['a bare LF ending a field line', 'GET / HTTP/1.1\r\nHost: a\nX-Other: b\r\n\r\n'],
  ['a bare LF ending the request line', 'GET / HTTP/1.1\nHost: a\r\n\r\n'],
  ['a bare CR inside a field value', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n'],
  ['a NUL inside a field value', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n'],
  ['a space before the colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n'],
  ['a field name with a non-token character', 'GET / HTTP/1.1\r\nHost: a\r\nX(A): b\r\n\r\n'],
  ['a field line without a colon', 'GET / HTTP/1.1\r\nHost: a\r\nnonsense\r\n\r\n'],
  ['an HTTP/1.1 request without Host', 'GET / HTTP/1.1\r\n\r\n'],
  ['two Host fields', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
  ['a Host with userinfo', 'GET / HTTP/1.1\r\nHost: user@a\r\n\r\n'],
  ['a Host with a path', 'GET / HTTP/1.1\r\nHost: a/b\r\n\r\n'],
  ['an absolute-form target with userinfo', 'GET http://user@a/ HTTP/1.1\r\nHost: a\r\n\r\n'],
  ['two spaces in the request line', 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n'],
  ['a tab in the request line', 'GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n'],
  ['an unknown HTTP version', 'GET / HTTP/1.2\r\nHost: a\r\n\r\n'],
  ['HTTP/2 prior knowledge', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
  ['an HTTP/0.9 request', 'GET /\r\n\r\n'],
  ['a target that is neither origin- nor absolute-form', 'GET example.com HTTP/1.1\r\nHost: a\r\n\r\n'],
  ['CONNECT (authority-form)', 'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n'],
  ['a method with a non-token character', 'G(T / HTTP/1.1\r\nHost: a\r\n\r\n'],
];

describe('request heads', () => {
  describe('a request-smuggling corpus is refused with 400', () => {
    for (const [what, text] of smuggling) {
      it(what, () => {
        const r = parse(text);
        expect(r.kind, JSON.stringify(text)).to.equal('invalid');
        if (r.kind === 'invalid') expect(r.status).to.equal(400);
      });
    }

    it('a head ended by bare LFs is refused at once instead of waiting for CRLFCRLF', () => {
      expect(parse('GET / HTTP/1.1\nHost: a\n\n')).to.include({ kind: 'invalid', status: 400 });
    });
  });

  describe('framing', () => {
    it('a GET without a body has no framing', () => {
      expect(head('GET / HTTP/1.1\r\nHost: a\r\n\r\n').framing).to.deep.equal({ kind: 'none' });
    });

    it('Content-Length frames the body, and 0 means none', () => {
      expect(head('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n').framing).to.deep.equal({ kind: 'length', length: 12 });
      expect(head('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n').framing).to.deep.equal({ kind: 'none' });
    });

    it('chunked is recognised whatever its case and surrounding whitespace', () => {
      expect(head('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  Chunked \t\r\n\r\n').framing).to.deep.equal({ kind: 'chunked' });
    });

    it('other codings before a final chunked pass, since the body still ends where chunked says', () => {
      expect(head('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n').framing).to.deep.equal({ kind: 'chunked' });
    });

    it('the head ends after its empty line, so body bytes and pipelined requests start there', () => {
      const text = 'GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\n';
      expect(head(text).end).to.equal(text.indexOf('GET /next'));
    });
  });

  describe('incomplete and oversized heads', () => {
    it('a head without its empty line yet is incomplete, and says where to resume the search', () => {
      const r = parse('GET / HTTP/1.1\r\nHost: a\r\n');
      expect(r).to.deep.equal({ kind: 'incomplete', scanFrom: 25 });
    });

    it('a head split right inside CRLFCRLF is found once the rest arrives', () => {
      const buf = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
      expect(parseRequestHead(buf, 0, 26).kind).to.equal('complete');
    });

    it('a head larger than 16 KB is refused with 431, complete or not', () => {
      const big = `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(MAX_HEAD_BYTES)}`;
      expect(parse(big)).to.include({ kind: 'invalid', status: 431 });
      expect(parse(`${big}\r\n\r\n`)).to.include({ kind: 'invalid', status: 431 });
    });

    it('more than 100 field lines are refused with 431', () => {
      const fields = Array.from({ length: 101 }, (_, i) => `X-${i}: v\r\n`).join('');
      expect(parse(`GET / HTTP/1.1\r\nHost: a\r\n${fields}\r\n`)).to.include({ kind: 'invalid', status: 431 });
    });

    it('empty lines before the request line are skipped (RFC 9112 §2.2)', () => {
      expect(head('\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n').method).to.equal('GET');
    });
  });

  describe('what the router needs to know', () => {
    it('field names keep their case for forwarding and are lowercased for lookups; values lose surrounding whitespace', () => {
      expect(head('GET / HTTP/1.1\r\nHost: a\r\nX-Custom-Thing: \t value  \r\n\r\n').fields[1]).to.deep.equal({
        name: 'x-custom-thing',
        rawName: 'X-Custom-Thing',
        value: 'value',
      });
    });

    it('obs-text (bytes above 0x7f) in a value passes unchanged', () => {
      expect(head('GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xe9\r\n\r\n').fields[1]!.value).to.equal('caf\xe9');
    });

    it('an absolute-form target routes by its authority and is forwarded in origin-form', () => {
      const h = head('GET http://Shop.example.com:8080?q=1 HTTP/1.1\r\nHost: other\r\n\r\n');
      expect(h).to.include({ host: 'Shop.example.com:8080', hostFromTarget: true, target: '/?q=1' });
    });

    it('OPTIONS * is accepted', () => {
      expect(head('OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n').target).to.equal('*');
    });

    it('an HTTP/1.0 request without Host is accepted, and closes unless it asks for keep-alive', () => {
      expect(head('GET / HTTP/1.0\r\n\r\n')).to.include({ host: '', close: true, keepAlive10: false });
      expect(head('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n')).to.include({ close: false, keepAlive10: true });
    });

    it('"Connection: close" is seen among other tokens, in any case', () => {
      expect(head('GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Foo, CLOSE\r\n\r\n')).to.include({ close: true });
      expect(head('GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Foo, CLOSE\r\n\r\n').connectionTokens).to.deep.equal(['x-foo', 'close']);
    });

    it('a websocket handshake is a GET with Connection: upgrade and Upgrade: websocket', () => {
      expect(head('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\n\r\n').websocket).to.equal(true);
      expect(head('GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n').websocket).to.equal(false);
      expect(head('GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n').websocket).to.equal(false);
    });

    it('GET, HEAD, OPTIONS, PUT, DELETE and TRACE are idempotent; POST and PATCH are not', () => {
      expect(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'].every(isIdempotent)).to.equal(true);
      expect(['POST', 'PATCH'].some(isIdempotent)).to.equal(false);
    });
  });
});
