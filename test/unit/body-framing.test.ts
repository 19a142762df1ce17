import { expect } from 'chai';
import { ChunkedBody, LengthBody, UntilCloseBody, type BodyTracker } from '../../src/router/body-framing.js';

/** Feeds `text` to the tracker in pieces of `size` bytes; returns the offset the body ended at, or -1. */
function feedInPieces(tracker: BodyTracker, text: string, size: number): number {
  const all = Buffer.from(text, 'latin1');
  for (let at = 0; at < all.length; at += size) {
    const piece = all.subarray(at, Math.min(all.length, at + size));
    const end = tracker.feed(piece, 0);
    if (end === -1) return -1;
    if (tracker.done) return at + end;
  }
  return tracker.done ? all.length : all.length + 1;
}

const chunked = (text: string, size = 1 << 20) => feedInPieces(new ChunkedBody(), text, size);

describe('body framing', () => {
  describe('Content-Length', () => {
    it('counts down across pieces and ends exactly at the length', () => {
      const body = new LengthBody(5);
      expect(body.feed(Buffer.from('abc'), 0)).to.equal(3);
      expect(body.done).to.equal(false);
      expect(body.feed(Buffer.from('deNEXT'), 0)).to.equal(2);
      expect(body.done).to.equal(true);
    });

    it('starts counting at the given offset', () => {
      expect(new LengthBody(2).feed(Buffer.from('headok'), 4)).to.equal(6);
    });
  });

  describe('until close', () => {
    it('takes every byte and never ends by itself', () => {
      const body = new UntilCloseBody();
      expect(body.feed(Buffer.from('abc'))).to.equal(3);
      expect(body.done).to.equal(false);
    });
  });

  describe('chunked', () => {
    const valid = '5\r\nhello\r\n6;name=value\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n';

    it('ends after the last chunk and trailer section, whole or byte by byte', () => {
      expect(chunked(valid)).to.equal(valid.length);
      expect(chunked(valid, 1)).to.equal(valid.length);
      expect(chunked(valid, 7)).to.equal(valid.length);
    });

    it('leaves bytes after the body (the next request) alone', () => {
      expect(chunked('0\r\n\r\nGET / HTTP/1.1\r\n')).to.equal(5);
    });

    it('accepts upper- and lowercase hex sizes and whitespace before an extension', () => {
      expect(chunked(`A\r\n${'x'.repeat(10)}\r\na \t;ext\r\n${'y'.repeat(10)}\r\n0\r\n\r\n`)).to.be.greaterThan(0);
    });

    it('passes large chunks through without looking at their bytes, even CRLFs inside', () => {
      const data = 'a\r\n0\r\n\r\n'.repeat(1000);
      const text = `${data.length.toString(16)}\r\n${data}\r\n0\r\n\r\n`;
      expect(chunked(text, 4096)).to.equal(text.length);
    });

    const bad: Array<[string, string]> = [
      ['an empty chunk size', '\r\nhello\r\n0\r\n\r\n'],
      ['a chunk size that is not hex', 'g\r\nhello\r\n0\r\n\r\n'],
      ['a signed chunk size', '+5\r\nhello\r\n0\r\n\r\n'],
      ['a 0x prefix', '0x5\r\nhello\r\n0\r\n\r\n'],
      ['a chunk size too large to count exactly', `${'f'.repeat(16)}\r\n`],
      ['whitespace after a size without an extension', '5 \r\nhello\r\n0\r\n\r\n'],
      ['whitespace before a size', ' 5\r\nhello\r\n0\r\n\r\n'],
      ['a bare LF after the size', '5\nhello\r\n0\r\n\r\n'],
      ['a bare CR after the size', '5\rhello\r\n0\r\n\r\n'],
      ['a chunk longer than its size', '5\r\nhello!\r\n0\r\n\r\n'],
      ['a bare LF after chunk data', '5\r\nhello\n0\r\n\r\n'],
      ['a bare LF ending the last chunk', '0\n\r\n'],
      ['a bare LF ending the trailer section', '0\r\n\n'],
      ['a bare LF inside a trailer', '0\r\nX-A: b\nX-C: d\r\n\r\n'],
      ['an obs-folded trailer', '0\r\nX-A: b\r\n c\r\n\r\n'],
      ['a control character in an extension', '5;a=\x01\r\nhello\r\n0\r\n\r\n'],
    ];
    for (const [what, text] of bad) {
      it(`refuses ${what}`, () => {
        expect(chunked(text), JSON.stringify(text)).to.equal(-1);
        expect(chunked(text, 1), `${JSON.stringify(text)} byte by byte`).to.equal(-1);
      });
    }

    it('refuses chunk extensions beyond 16 KB', () => {
      expect(chunked(`1;${'e'.repeat(17 * 1024)}\r\nx\r\n0\r\n\r\n`)).to.equal(-1);
    });

    it('is not done before the final CRLF', () => {
      const body = new ChunkedBody();
      body.feed(Buffer.from('5\r\nhello\r\n0\r\n'), 0);
      expect(body.done).to.equal(false);
      expect(body.feed(Buffer.from('\r\n'), 0)).to.equal(2);
      expect(body.done).to.equal(true);
    });
  });
});
