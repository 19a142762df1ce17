import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import { AccessLog, accessLogLine } from '../../src/router/access-log.js';
import type { RequestDone } from '../../src/router/client-connection.js';
import type { AccessLogBatch } from '../../src/state/event-store.js';

const request = (i: number, app = 'shop'): RequestDone => ({
  app,
  host: `${app}.example.com`,
  method: 'GET',
  path: `/items/${i}?q="x"`,
  status: 200,
  bytes: 120,
  durationMs: 3,
  upstream: '172.18.0.5:5000',
  requestId: `req-${i}`,
});

interface Entry {
  app: string;
  time: string;
  line: string;
}

/** The lines of one write, as `pier logs` reads them back: "<time> <line>" records of each app. */
const entries = (batches: AccessLogBatch[]): Entry[] =>
  batches.flatMap(({ app, bytes, ends }) =>
    ends.map((end, i) => {
      const record = bytes.toString('utf8', i === 0 ? 0 : ends[i - 1], end);
      expect(record.endsWith('\n')).to.equal(true);
      const space = record.indexOf(' ');
      return { app, time: record.slice(0, space), line: record.slice(space + 1, -1) };
    }),
  );

/** A logger whose lines the test reads. */
function capturedLogger() {
  const lines: Array<{ msg: string; dropped?: number }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  return { log: pino({ level: 'warn' }, sink), lines };
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('router access log', () => {
  it('a line is one JSON object with the documented fields, the path escaped, a missing upstream null', () => {
    expect(JSON.parse(accessLogLine(request(1)))).to.deep.equal({
      host: 'shop.example.com',
      method: 'GET',
      path: '/items/1?q="x"',
      status: 200,
      bytes: 120,
      duration_ms: 3,
      upstream: '172.18.0.5:5000',
      request_id: 'req-1',
    });
    expect(JSON.parse(accessLogLine({ ...request(2), status: 502, upstream: undefined })).upstream).to.equal(null);
  });

  it('a line is exactly what JSON.stringify writes of the request, whatever its strings hold', () => {
    const awkward = ['plain', 'q="x"', 'back\\slash', 'tab\there', 'nul\u0000bell\u0007us\u001f', 'del\u007f', 'latin1 \u00e9\u00ff', 'lone \ud800 surrogate', 'pair \ud83d\ude00', ''];
    for (const s of awkward) {
      const d: RequestDone = { ...request(1), host: s, method: s, path: s, upstream: s, requestId: s };
      const expected = JSON.stringify({ host: s, method: s, path: s, status: 200, bytes: 120, duration_ms: 3, upstream: s, request_id: s });
      expect(accessLogLine(d), s).to.equal(expected);
    }
  });

  it('each app\'s lines go to its own batch, in order, non-ASCII paths included', async () => {
    const batches: Entry[][] = [];
    const access = new AccessLog(async (written) => void batches.push(entries(written)), capturedLogger().log, { flushMs: 10_000 });
    access.record({ ...request(1), path: '/caf\u00e9' });
    access.record(request(2, 'blog'));
    access.record({ ...request(3), path: '/\u00fcber' });
    await access.close();
    expect(batches.flat().map((e) => [e.app, JSON.parse(e.line).path])).to.deep.equal([
      ['shop', '/caf\u00e9'],
      ['shop', '/\u00fcber'],
      ['blog', '/items/2?q="x"'],
    ]);
  });

  it('requests are written in batches, each batch once it is full or after the flush interval', async () => {
    const batches: Entry[][] = [];
    const access = new AccessLog(async (written) => void batches.push(entries(written)), capturedLogger().log, { flushMs: 50, batchLines: 3 });
    for (let i = 0; i < 4; i++) access.record(request(i));
    expect(batches.map((b) => b.length)).to.deep.equal([3]);
    await tick(120);
    expect(batches.map((b) => b.length)).to.deep.equal([3, 1]);
    expect(batches[0]![0]!.app).to.equal('shop');
    expect(batches[0]![0]!.time).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(JSON.parse(batches[1]![0]!.line).request_id).to.equal('req-3');
    await access.close();
  });

  it('requests for hosts no app owns are left out', async () => {
    const batches: Entry[][] = [];
    const access = new AccessLog(async (written) => void batches.push(entries(written)), capturedLogger().log, { flushMs: 10_000 });
    access.record({ ...request(1), app: undefined });
    access.record(request(2));
    await access.close();
    expect(batches.flat().map((e) => JSON.parse(e.line).request_id)).to.deep.equal(['req-2']);
  });

  it('while a write is slow, one batch is in flight, lines beyond the cap are dropped, and the drop is logged once, then counted', async () => {
    let release: () => void = () => undefined;
    const batches: Entry[][] = [];
    const { log, lines } = capturedLogger();
    const access = new AccessLog(
      (written) => {
        batches.push(entries(written));
        return new Promise<void>((r) => (release = r));
      },
      log,
      { flushMs: 10_000, batchLines: 2, maxQueued: 5 },
    );
    for (let i = 0; i < 100; i++) access.record(request(i));
    expect(batches.map((b) => b.length)).to.deep.equal([2]);
    expect(lines.map((l) => l.msg)).to.deep.equal(['access log: Redis is not keeping up; dropping lines until it does']);
    release();
    await tick(10);
    // The 5 queued lines went out as the next batch; the slow write's end reports the 93 dropped.
    expect(batches.map((b) => b.length)).to.deep.equal([2, 5]);
    expect(lines[1]).to.include({ msg: 'access log: Redis caught up; lines were dropped meanwhile', dropped: 93 });
    release();
    await access.close();
  });

  it('a failed write drops its batch and the log keeps going', async () => {
    let fail = true;
    const written: Entry[] = [];
    const { log, lines } = capturedLogger();
    const access = new AccessLog(
      async (batches) => {
        if (fail) throw new Error('Connection is closed.');
        written.push(...entries(batches));
      },
      log,
      { flushMs: 10_000, batchLines: 2 },
    );
    access.record(request(1));
    access.record(request(2));
    await tick(10);
    fail = false;
    access.record(request(3));
    await access.close();
    expect(written.map((e) => JSON.parse(e.line).request_id)).to.deep.equal(['req-3']);
    expect(lines.map((l) => l.msg)).to.deep.equal(['access log: a batch could not be written; dropping it', 'access log: Redis caught up; lines were dropped meanwhile']);
  });
});
