import { expect } from 'chai';
import type { Redis } from 'ioredis';
import type { BuildRecord } from '../../src/state/build-store.js';
import { createState, type State } from '../../src/state/index.js';
import { connectTestRedis, deleteInstanceKeys, uniqueInstance } from '../helpers/redis.js';

describe('the build history in Redis', function () {
  let redis: Redis;
  let state: State;
  let instance: string;

  before(async () => {
    redis = await connectTestRedis();
    instance = uniqueInstance('bs');
    state = createState(redis, instance);
  });

  after(async () => {
    await deleteInstanceKeys(redis, instance);
    redis.disconnect();
  });

  const record = (id: string): BuildRecord => ({ id, app: 'hist', commit: id.padEnd(40, '0'), status: 'queued', createdBy: 'test', createdAt: new Date().toISOString() });

  it('forgets finished builds beyond the newest N, records and logs, but never one still queued or running', async () => {
    for (const id of ['b1', 'b2', 'b3', 'b4', 'b5']) {
      await state.builds.create(record(id));
      await state.builds.appendLog(id, `-----> building ${id}`);
      if (id !== 'b2') await state.builds.finish(id, 'succeeded');
    }

    expect(await state.builds.trim('hist', 2)).to.equal(2);

    expect((await state.builds.list('hist')).map((b) => b.id), 'the newest two, then the one still running').to.deep.equal(['b5', 'b4', 'b2']);
    expect(await state.builds.get('b1')).to.equal(undefined);
    expect(await redis.exists(state.keys.buildLog('b1'), state.keys.buildLog('b3'))).to.equal(0);
    expect(await redis.exists(state.keys.buildLog('b2'), state.keys.buildLog('b4'))).to.equal(2);
    expect(await state.builds.trim('hist', 2), 'nothing more to forget').to.equal(0);
  });
});
