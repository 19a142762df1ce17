import { Redis } from 'ioredis';

export { Redis };

export function connectRedis(url: string): Redis {
  // BullMQ needs maxRetriesPerRequest null on connections it blocks on; using it everywhere keeps one factory.
  return new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
}

/**
 * A daemon that loses queue entries or state on restart breaks "nothing is ever lost",
 * so it refuses Redis setups that can drop writes.
 */
export async function assertDurableRedis(redis: Redis): Promise<void> {
  const [, aof] = (await redis.config('GET', 'appendonly')) as string[];
  const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as string[];
  const problems: string[] = [];
  if (aof !== 'yes') {
    problems.push(
      'Redis has no AOF persistence (appendonly is "' + aof + '"). Fix: set "appendonly yes" in redis.conf, ' +
        'or run: redis-cli CONFIG SET appendonly yes && redis-cli CONFIG REWRITE',
    );
  }
  if (policy !== 'noeviction') {
    problems.push(
      `Redis may evict keys (maxmemory-policy is "${policy}"). Fix: set "maxmemory-policy noeviction" in redis.conf, ` +
        'or run: redis-cli CONFIG SET maxmemory-policy noeviction && redis-cli CONFIG REWRITE',
    );
  }
  if (problems.length > 0) throw new Error(`Pier refuses to start: ${problems.join(' ')}`);
}
