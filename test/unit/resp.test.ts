import { expect } from 'chai';
import { encodeCommands, RespReplies, type Reply } from '../../src/state/resp.js';

/** Every reply `chunks` complete, fed one after another into one reader. */
function replies(chunks: string[]): Reply[] {
  const reader = new RespReplies();
  const out: Reply[] = [];
  for (const chunk of chunks) reader.feed(Buffer.from(chunk, 'latin1'), (r) => out.push(r));
  return out;
}

describe('RESP for the access log writer', () => {
  it('commands are encoded as RESP arrays of bulk strings, buffers as they are and strings as UTF-8', () => {
    const encoded = encodeCommands([
      ['SET', 'k', Buffer.from('v\r\n1')],
      ['XADD', 'caf\u00e9', '*', 'lines', Buffer.from('a\nb'), 'x'],
    ]);
    expect(encoded.toString('utf8')).to.equal(
      '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\nv\r\n1\r\n' + '*6\r\n$4\r\nXADD\r\n$5\r\ncaf\u00e9\r\n$1\r\n*\r\n$5\r\nlines\r\n$3\r\na\nb\r\n$1\r\nx\r\n',
    );
  });

  it('no commands encode to nothing', () => {
    expect(encodeCommands([]).length).to.equal(0);
  });

  it('simple strings, integers, bulk strings and nulls are successes; errors carry their text, in order', () => {
    expect(replies(['+OK\r\n:3\r\n$15\r\n1764590000000-0\r\n$-1\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n'])).to.deep.equal([
      undefined,
      undefined,
      undefined,
      undefined,
      'WRONGTYPE Operation against a key holding the wrong kind of value',
    ]);
  });

  it('a reply split anywhere across chunks is read once, when it is complete', () => {
    const stream = '$15\r\n1764590000000-0\r\n-ERR caf\u00c3\u00a9\r\n$0\r\n\r\n';
    for (let cut = 1; cut < stream.length; cut++) {
      expect(replies([stream.slice(0, cut), stream.slice(cut)]), `cut at ${cut}`).to.deep.equal([undefined, 'ERR caf\u00e9', undefined]);
    }
    expect(replies([...stream])).to.deep.equal([undefined, 'ERR caf\u00e9', undefined]);
  });

  it('a bulk string holding CRLF is one reply', () => {
    expect(replies(['$4\r\n\r\n\r\n\r\n+OK\r\n'])).to.deep.equal([undefined, undefined]);
  });

  it('a reply shape the writer never asks for is refused rather than miscounted', () => {
    expect(() => replies(['*2\r\n$1\r\na\r\n$1\r\nb\r\n'])).to.throw(/never asks for/);
    expect(() => replies(['$x\r\n'])).to.throw(/malformed bulk length/);
    expect(() => replies(['$2\r\nabc\r\n'])).to.throw(/longer than its length/);
  });
});
