import { expect } from 'chai';
import { LineSplitter, demuxDockerFrames } from '../../src/scheduler/docker-log-frames.js';

const STDOUT = 1;
const STDERR = 2;

/** One frame as Docker writes it: stream byte, three zero bytes, big-endian payload length, payload. */
function frame(stream: number, payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const header = Buffer.alloc(8);
  header.writeUInt8(stream, 0);
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

function linesOf(chunks: string[], flush = false): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter((l) => lines.push(l));
  for (const c of chunks) splitter.push(c);
  if (flush) splitter.flush();
  return lines;
}

describe('Docker log frames', () => {
  describe('demuxDockerFrames', () => {
    it('stdout and stderr frames come out as one text, in the order written, without headers', () => {
      const buffer = Buffer.concat([frame(STDOUT, 'listening on 5000\n'), frame(STDERR, 'warning: deprecated\n'), frame(STDOUT, 'GET / 200\n')]);
      expect(demuxDockerFrames(buffer)).to.equal('listening on 5000\nwarning: deprecated\nGET / 200\n');
    });

    it('an empty payload gives empty text', () => {
      expect(demuxDockerFrames(Buffer.alloc(0))).to.equal('');
      expect(demuxDockerFrames(frame(STDOUT, ''))).to.equal('');
    });

    it('a UTF-8 character split across two frames is decoded whole', () => {
      const snowman = Buffer.from('☃', 'utf8');
      const buffer = Buffer.concat([frame(STDOUT, Buffer.concat([Buffer.from('a'), snowman.subarray(0, 1)])), frame(STDOUT, snowman.subarray(1))]);
      expect(demuxDockerFrames(buffer)).to.equal('a☃');
    });

    it('a frame longer than 255 bytes is read with its full 32-bit length', () => {
      const long = 'x'.repeat(70_000);
      expect(demuxDockerFrames(Buffer.concat([frame(STDOUT, long), frame(STDERR, 'end')]))).to.equal(long + 'end');
    });

    it('a trailing partial header is ignored rather than shown as garbage', () => {
      const buffer = Buffer.concat([frame(STDOUT, 'done\n'), Buffer.from([1, 0, 0])]);
      expect(demuxDockerFrames(buffer)).to.equal('done\n');
    });
  });

  describe('LineSplitter', () => {
    it('whole lines are emitted as they complete', () => {
      expect(linesOf(['one\ntwo\n'])).to.deep.equal(['one', 'two']);
    });

    it('a partial line is held until its newline arrives in a later chunk', () => {
      expect(linesOf(['hel', 'lo\nwor'])).to.deep.equal(['hello']);
      expect(linesOf(['hel', 'lo\nwor', 'ld\n'])).to.deep.equal(['hello', 'world']);
    });

    it('CRLF line endings give lines without a carriage return', () => {
      expect(linesOf(['one\r\ntwo\r\n'])).to.deep.equal(['one', 'two']);
    });

    it('a CRLF split between two chunks still gives a clean line', () => {
      expect(linesOf(['one\r', '\ntwo\n'])).to.deep.equal(['one', 'two']);
    });

    it('empty lines are kept', () => {
      expect(linesOf(['a\n\nb\n'])).to.deep.equal(['a', '', 'b']);
    });

    it('flush emits the last line that had no newline, once', () => {
      const lines: string[] = [];
      const splitter = new LineSplitter((l) => lines.push(l));
      splitter.push('first\nlast');
      splitter.flush();
      splitter.flush();
      expect(lines).to.deep.equal(['first', 'last']);
    });

    it('flush after a complete line emits nothing more', () => {
      expect(linesOf(['done\n'], true)).to.deep.equal(['done']);
    });
  });
});
