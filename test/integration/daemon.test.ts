import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { startDaemon } from '../../src/daemon.js';
import { loadSettings } from '../../src/settings.js';
import { freePort } from '../helpers/test-pier.js';
import { uniqueInstance } from '../helpers/redis.js';

/** A throwaway redis-server with the given flags, on its own port. */
async function startRedis(flags: string[]): Promise<{ url: string; stop: () => Promise<void>; dir: string }> {
  const port = await freePort();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pier-redis-'));
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--dir', dir, '--save', '', ...flags], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const redis = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null });
    redis.on('error', () => undefined);
    const up = await redis.ping().then(() => true, () => false);
    redis.disconnect();
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    dir,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe('pier daemon start-up checks', function () {
  this.timeout(30_000);

  const settingsFor = async (url: string) =>
    loadSettings({
      PIER_REDIS_URL: url,
      PIER_HOME: await mkdtemp(path.join(os.tmpdir(), 'pier-home-')),
      PIER_INSTANCE: uniqueInstance('pd'),
      PIER_API_PORT: String(await freePort()),
      PIER_HTTP_PORT: String(await freePort()),
      PIER_HTTPS_PORT: String(await freePort()),
      PIER_LOG_LEVEL: 'silent',
    });

  /** Starts the daemon against a Redis with `flags`; returns the start-up error. */
  const startAgainst = async (flags: string[]): Promise<Error | undefined> => {
    const redis = await startRedis(flags);
    const settings = await settingsFor(redis.url);
    try {
      return await startDaemon(settings).then(() => undefined, (err: Error) => err);
    } finally {
      await redis.stop();
      await rm(settings.home, { recursive: true, force: true });
    }
  };

  it('refuses to start when Redis has no persistence, with the command that fixes it', async () => {
    const error = await startAgainst(['--appendonly', 'no', '--maxmemory-policy', 'noeviction']);
    expect(error?.message).to.contain('Redis has no AOF persistence');
    expect(error?.message).to.contain('CONFIG SET appendonly yes');
  });

  it('refuses to start when Redis may evict keys, naming the policy and the fix', async () => {
    const error = await startAgainst(['--appendonly', 'yes', '--maxmemory-policy', 'allkeys-lru']);
    expect(error?.message).to.contain('maxmemory-policy is "allkeys-lru"');
    expect(error?.message).to.contain('noeviction');
  });
});
