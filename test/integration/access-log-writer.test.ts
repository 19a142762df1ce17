import { expect } from 'chai';
import type { Redis } from 'ioredis';
import net from 'node:net';
import { AccessLogWriter } from '../../src/state/access-log-writer.js';
import type { AccessLogBatch } from '../../src/state/event-store.js';
import { createState, type State } from '../../src/state/index.js';
import { close, closedPort, listen } from '../helpers/http.js';
import { connectTestRedis, deleteInstanceKeys, uniqueInstance } from '../helpers/redis.js';

const TIME = '2026-12-01T07:00:00.000Z';

/** One app's batch of `count` access log records, as the router's AccessLog hands it over. */
function batch(app: string, count: number, from = 0): AccessLogBatch {
  const ends: number[] = [];
  let text = '';
  for (let i = from; i < from + count; i++) {
    text += `${TIME} {"path":"/caf\u00e9/${i}","request_id":"r${i}"}\n`;
    ends.push(Buffer.byteLength(text));
  }
  return { app, bytes: Buffer.from(text), ends };
}

const ids = (lines: Array<{ line: string }>) => lines.map((l) => (JSON.parse(l.line) as { request_id: string }).request_id);

/** The ids of the connections named `name` in CLIENT LIST. */
async function clientIds(redis: Redis, name: string): Promise<string[]> {
  const list = (await redis.client('LIST')) as string;
  return list
    .split('\n')
    .filter((l) => l.includes(` name=${name} `))
    .map((l) => /^id=(\d+)/.exec(l)![1]!);
}

describe('the access log writer (its own connection to Redis)', function () {
  this.timeout(20_000);
  let redis: Redis;
  let state: State;
  let writer: AccessLogWriter;
  const writerName = () => `${state.keys.prefix}access-log-writer`;

  beforeEach(async () => {
    redis = await connectTestRedis();
    state = createState(redis, uniqueInstance('alw'));
    writer = state.events.accessLogWriter();
  });

  afterEach(async () => {
    writer.close();
    await deleteInstanceKeys(redis, state.keys.prefix.slice(0, -1));
    await redis.quit();
  });

  it("writes each app's lines, 25 to a stream entry, and pier logs reads them back in order, with their times", async () => {
    await writer.write([batch('shop', 60), batch('blog', 2, 100)]);
    expect(await redis.xlen(state.keys.accessLog('shop'))).to.equal(3);
    const shop = await state.events.tail('shop', 1000);
    expect(ids(shop.streams[1])).to.deep.equal(Array.from({ length: 60 }, (_, i) => `r${i}`));
    expect(shop.streams[1][0]).to.deep.include({ time: TIME, source: 'router' });
    expect(JSON.parse(shop.streams[1][0]!.line).path).to.equal('/caf\u00e9/0');
    expect(ids((await state.events.tail('blog', 10)).streams[1])).to.deep.equal(['r100', 'r101']);
  });

  it('a follower blocked on the stream is woken by a write', async () => {
    const reader = state.events.reader();
    try {
      const start = await state.events.tail('shop', 10);
      const next = state.events.next(reader, 'shop', start.cursor, 5000);
      await writer.write([batch('shop', 3)]);
      expect(ids((await next).events)).to.deep.equal(['r0', 'r1', 'r2']);
    } finally {
      reader.disconnect();
    }
  });

  it('shows in CLIENT LIST under its instance, one connection for many writes', async () => {
    for (let i = 0; i < 5; i++) await writer.write([batch('shop', 30, i * 30)]);
    expect(await clientIds(redis, writerName())).to.have.length(1);
    writer.close();
    await waitForNoClient(redis, writerName());
  });

  it("a write Redis refuses fails with Redis's words, and the next write goes through", async () => {
    await redis.set(state.keys.accessLog('shop'), 'not a stream');
    let failure: Error | undefined;
    await writer.write([batch('shop', 30), batch('blog', 1)]).catch((err: Error) => (failure = err));
    expect(failure?.message).to.match(/^Redis refused an access log write: WRONGTYPE/);
    // Redis ran the other app's XADD: a refused entry costs only itself.
    expect(await redis.xlen(state.keys.accessLog('blog'))).to.equal(1);
    await writer.write([batch('blog', 1, 1)]);
    expect(ids((await state.events.tail('blog', 10)).streams[1])).to.deep.equal(['r0', 'r1']);
  });

  it('a connection Redis closes fails its writes, and the next write opens a new one', async () => {
    await writer.write([batch('shop', 1)]);
    const [id] = await clientIds(redis, writerName());
    await redis.client('KILL', 'ID', id!);
    // The kill may reach the writer before or after this write goes out: either it fails or it lands.
    await writer.write([batch('shop', 1, 1)]).catch((err: Error) => expect(err.message).to.match(/closed|ended|ECONNRESET|EPIPE/));
    await writer.write([batch('shop', 1, 2)]);
    expect(ids((await state.events.tail('shop', 10)).streams[1])).to.include.members(['r0', 'r2']);
    expect(await clientIds(redis, writerName())).to.have.length(1).and.not.include(id);
  });

  it('a Redis that is not there fails the write at once', async () => {
    const port = await closedPort();
    const gone = createState(redis.duplicate({ port, lazyConnect: true }), 'alw-nowhere').events.accessLogWriter();
    const t0 = Date.now();
    try {
      const failure = await gone.write([batch('shop', 1)]).then(() => undefined, (err: Error) => err);
      expect(failure?.message).to.include('ECONNREFUSED');
      expect(Date.now() - t0).to.be.below(1000);
    } finally {
      gone.close();
    }
  });

  it("takes the State's database and password: a refused password fails the write with Redis's words", async () => {
    const other = redis.duplicate({ db: 3 });
    const inDb3 = createState(other, state.keys.prefix.slice(0, -1));
    const db3Writer = inDb3.events.accessLogWriter();
    const badPassword = createState(redis.duplicate({ password: 'not-the-password', lazyConnect: true }), 'alw-auth').events.accessLogWriter();
    try {
      await db3Writer.write([batch('shop', 2)]);
      expect(ids((await inDb3.events.tail('shop', 10)).streams[1])).to.deep.equal(['r0', 'r1']);
      expect(await redis.exists(state.keys.accessLog('shop'))).to.equal(0);
      const failure = await badPassword.write([batch('shop', 1)]).then(() => undefined, (err: Error) => err);
      expect(failure?.message).to.match(/^Redis refused an access log write: (ERR AUTH|WRONGPASS)/);
      expect(failure?.message).not.to.include('not-the-password');
      // Not one refusal for good: the next write opens a new connection and tries the password again.
      const again = await badPassword.write([batch('shop', 1, 1)]).then(() => undefined, (err: Error) => err);
      expect(again?.message).to.equal(failure?.message);
    } finally {
      db3Writer.close();
      badPassword.close();
      await deleteInstanceKeys(other, state.keys.prefix.slice(0, -1));
      await other.quit();
    }
  });

  it('writes a Redis leaves unanswered fail after the reply timeout, and the connection is given up', async () => {
    let connections = 0;
    const silent = net.createServer((socket) => {
      connections++;
      socket.on('data', () => undefined);
    });
    const port = await listen(silent);
    const stuck = new AccessLogWriter({ host: '127.0.0.1', port }, state.keys, { connectMs: 1000, replyMs: 200 });
    try {
      const t0 = Date.now();
      const failure = await stuck.write([batch('shop', 1)]).then(() => undefined, (err: Error) => err);
      expect(failure?.message).to.equal("Redis did not answer the access log's writes within 200 ms");
      expect(Date.now() - t0).to.be.within(150, 2000);
      // The next write does not queue behind the dead connection: it opens another.
      await stuck.write([batch('shop', 1, 1)]).catch(() => undefined);
      expect(connections).to.equal(2);
    } finally {
      stuck.close();
      await close(silent);
    }
  });

  it('a closed writer refuses further writes', async () => {
    writer.close();
    const failure = await writer.write([batch('shop', 1)]).then(() => undefined, (err: Error) => err);
    expect(failure?.message).to.equal('the access log writer is closed');
  });
});

async function waitForNoClient(redis: Redis, name: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while ((await clientIds(redis, name)).length > 0) {
    if (Date.now() > deadline) throw new Error(`${name} is still connected 3 s after close()`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
