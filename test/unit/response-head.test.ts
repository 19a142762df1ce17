import { expect } from 'chai';
import { parseResponseHead, type ResponseHead } from '../../src/router/response-head.js';

function head(text: string, method = 'GET'): ResponseHead {
  const r = parseResponseHead(Buffer.from(text, 'latin1'), 0, method);
  if (r.kind !== 'complete') throw new Error(`expected a complete head, got ${JSON.stringify(r)}`);
  return r.head;
}

const kind = (text: string, method = 'GET') => parseResponseHead(Buffer.from(text, 'latin1'), 0, method).kind;

describe('response heads', () => {
  it('a Content-Length response is framed by it, and its connection is reusable', () => {
    const h = head('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    expect(h).to.include({ status: 200, reason: 'OK', reusable: true });
    expect(h.framing).to.deep.equal({ kind: 'length', length: 2 });
  });

  it('a chunked response is chunked, whatever Content-Length says', () => {
    expect(head('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n').framing).to.deep.equal({ kind: 'chunked' });
  });

  it('a response with neither lasts until the upstream closes, and its connection is not reused', () => {
    const h = head('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n');
    expect(h.framing).to.deep.equal({ kind: 'close' });
    expect(h.reusable).to.equal(false);
  });

  it('a final coding other than chunked is close-delimited', () => {
    expect(head('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n').framing).to.deep.equal({ kind: 'close' });
  });

  it('responses to HEAD, 1xx, 204 and 304 have no body whatever their headers say', () => {
    expect(head('HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n', 'HEAD').framing).to.deep.equal({ kind: 'none' });
    expect(head('HTTP/1.1 100 Continue\r\n\r\n').framing).to.deep.equal({ kind: 'none' });
    expect(head('HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n').framing).to.deep.equal({ kind: 'none' });
    expect(head('HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n').framing).to.deep.equal({ kind: 'none' });
  });

  it('repeated identical Content-Length values are one length; different ones are refused', () => {
    expect(head('HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\n').framing).to.deep.equal({ kind: 'length', length: 3 });
    expect(kind('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n')).to.equal('invalid');
    expect(kind('HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n')).to.equal('invalid');
    expect(kind('HTTP/1.1 200 OK\r\nContent-Length: 3,\xa03\r\n\r\n')).to.equal('invalid');
    expect(kind('HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456\r\n\r\n')).to.equal('invalid');
    expect(head('HTTP/1.1 200 OK\r\nContent-Length: 3 ,\t3\r\n\r\n').framing).to.deep.equal({ kind: 'length', length: 3 });
  });

  it('"Connection: close" or HTTP/1.0 without keep-alive makes the connection single-use', () => {
    expect(head('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n').reusable).to.equal(false);
    expect(head('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').reusable).to.equal(false);
    expect(head('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n').reusable).to.equal(true);
  });

  it('a status line without a reason phrase is accepted', () => {
    expect(head('HTTP/1.1 204\r\n\r\n')).to.include({ status: 204, reason: '' });
  });

  it('malformed status lines and field lines are invalid', () => {
    expect(kind('HTTP/1.1 20 OK\r\n\r\n')).to.equal('invalid');
    expect(kind('HTTP/2 200 OK\r\n\r\n')).to.equal('invalid');
    expect(kind('HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n')).to.equal('invalid');
    expect(kind('HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n')).to.equal('invalid');
  });

  it('an unfinished head is incomplete', () => {
    expect(kind('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n')).to.equal('incomplete');
  });
});
