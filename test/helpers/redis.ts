import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** The Redis integration tests and benches use; never an installed daemon's data (keys live under a fresh instance). */
export const testRedisUrl = process.env.PIER_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh instance name (Redis key prefix), so runs never see each other's keys. */
export function uniqueInstance(base: string): string {
  return `${base}${randomBytes(4).toString('hex')}`;
}

/** Connects, failing fast with a clear message instead of retrying forever when Redis is down. */
export async function connectTestRedis(url = testRedisUrl): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 3000,
    retryStrategy: (attempt) => (attempt > 3 ? null : 100),
  });
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => (lastError = err));
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(
      `Redis is not reachable at ${url} (${(lastError ?? (err as Error)).message}). Start one (redis-server --port 6379), ` +
        'or point PIER_TEST_REDIS_URL at it.',
    );
  }
  return redis;
}

/** Deletes every key of the instance (SCAN, not KEYS, so a shared Redis is not blocked). */
export async function deleteInstanceKeys(redis: Redis, instance: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${instance}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}
