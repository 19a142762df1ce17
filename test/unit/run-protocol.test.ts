import { expect } from 'chai';
import { encodeFrame, MAX_PAYLOAD, RunFrameDecoder, RunProtocolError, runRequestSchema, detachedRunSchema, type RunFrame } from '../../src/api/run-protocol.js';
import { FrameDecoder, FrameError } from '../../src/frames.js';

const decodeAll = (bytes: Buffer, chunkSize = bytes.length): RunFrame[] => {
  const decoder = new RunFrameDecoder();
  const frames: RunFrame[] = [];
  for (let at = 0; at < bytes.length; at += chunkSize) frames.push(...decoder.push(bytes.subarray(at, at + chunkSize)));
  return frames;
};

const every: RunFrame[] = [
  { type: 'stdin', data: Buffer.from('hi\n') },
  { type: 'stdout', data: Buffer.from('out ☃') },
  { type: 'stderr', data: Buffer.from([0, 255, 10]) },
  { type: 'resize', cols: 132, rows: 43 },
  { type: 'stdin-end' },
  { type: 'exit', code: 3 },
  { type: 'error', message: 'App nope does not exist' },
];

describe('pier run frame protocol', () => {
  it('every kind of frame comes back as it was sent', () => {
    expect(decodeAll(Buffer.concat(every.map(encodeFrame)))).to.deep.equal(every);
  });

  it('frames cut at any byte, even one byte at a time, are reassembled in order', () => {
    const bytes = Buffer.concat(every.map(encodeFrame));
    for (const size of [1, 2, 3, 5, 7, 64]) expect(decodeAll(bytes, size), `chunks of ${size}`).to.deep.equal(every);
  });

  it('a frame is not given out before its last byte has arrived', () => {
    const bytes = encodeFrame({ type: 'stdout', data: Buffer.from('hello') });
    const decoder = new RunFrameDecoder();
    expect(decoder.push(bytes.subarray(0, bytes.length - 1))).to.deep.equal([]);
    expect(decoder.push(bytes.subarray(bytes.length - 1))).to.deep.equal([{ type: 'stdout', data: Buffer.from('hello') }]);
  });

  it('a chunk larger than a frame may carry becomes several frames of its type, and nothing is lost', () => {
    const big = Buffer.alloc(MAX_PAYLOAD * 2 + 10, 'x');
    const frames = decodeAll(encodeFrame({ type: 'stdout', data: big }), 100_000);
    expect(frames.map((f) => f.type)).to.deep.equal(['stdout', 'stdout', 'stdout']);
    expect(Buffer.concat(frames.map((f) => (f as { data: Buffer }).data)).equals(big)).to.equal(true);
  });

  it('empty data is still one frame: an empty write is not an end', () => {
    expect(decodeAll(encodeFrame({ type: 'stdin', data: Buffer.alloc(0) }))).to.deep.equal([{ type: 'stdin', data: Buffer.alloc(0) }]);
  });

  it('exit codes keep their sign, as Docker reports -1 when it cannot tell', () => {
    expect(decodeAll(encodeFrame({ type: 'exit', code: -1 }))).to.deep.equal([{ type: 'exit', code: -1 }]);
  });

  it('an unknown frame type, a resize of the wrong size and an oversized frame are protocol errors', () => {
    expect(() => new RunFrameDecoder().push(Buffer.from([9, 0, 0, 0, 0]))).to.throw(RunProtocolError, 'unknown frame type 9');
    expect(() => new RunFrameDecoder().push(Buffer.from([3, 0, 0, 0, 2, 0, 80]))).to.throw(RunProtocolError, 'a resize frame has 2 bytes instead of 4');
    expect(() => new RunFrameDecoder().push(Buffer.from([1, 0xff, 0xff, 0xff, 0xff]))).to.throw(RunProtocolError, 'over the limit');
  });

  describe('requests', () => {
    it('a run request needs only its command; tty is off and env empty unless given', () => {
      expect(runRequestSchema.parse({ command: ['ls', '-la'] })).to.deep.equal({ command: ['ls', '-la'], tty: false, env: {} });
    });

    it('env keys must be environment variable names', () => {
      expect(runRequestSchema.safeParse({ command: [], env: { 'NOT-A-NAME': '1' } }).success).to.equal(false);
    });

    it('run:detached refuses an empty command, saying why', () => {
      const result = detachedRunSchema.safeParse({ command: [] });
      expect(result.success).to.equal(false);
      expect(result.error!.issues[0]!.message).to.contain('needs a command');
    });
  });
});

describe('FrameDecoder', () => {
  const dockerFrame = (stream: number, text: string) => {
    const header = Buffer.alloc(8);
    header.writeUInt8(stream, 0);
    header.writeUInt32BE(Buffer.byteLength(text), 4);
    return Buffer.concat([header, Buffer.from(text)]);
  };

  it("reads Docker's 8-byte headers: stream type first, length last", () => {
    const frames = new FrameDecoder(8).push(Buffer.concat([dockerFrame(1, 'out'), dockerFrame(2, 'err')]));
    expect(frames.map((f) => [f.type, f.payload.toString()])).to.deep.equal([
      [1, 'out'],
      [2, 'err'],
    ]);
  });

  it('a Docker frame split inside its header waits for the rest', () => {
    const decoder = new FrameDecoder(8);
    const bytes = dockerFrame(1, 'hello');
    expect(decoder.push(bytes.subarray(0, 5))).to.deep.equal([]);
    expect(decoder.push(bytes.subarray(5)).map((f) => f.payload.toString())).to.deep.equal(['hello']);
  });

  it('refuses a declared length over its limit before buffering it', () => {
    expect(() => new FrameDecoder(5, 10).push(Buffer.from([1, 0, 0, 0, 11]))).to.throw(FrameError);
  });
});
