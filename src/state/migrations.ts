import type { Redis } from 'ioredis';
import type { Keyspace } from './keys.js';

/**
 * Ordered state migrations. Each runs once, in order, when `pier setup` or the daemon starts;
 * the schema version in Redis says which have run. Append new ones; never edit old ones.
 */
const migrations: Array<(redis: Redis, keys: Keyspace) => Promise<void>> = [
  // v1: the initial layout; nothing to convert.
  async () => undefined,
];

export const SCHEMA_VERSION = migrations.length;

export async function migrate(redis: Redis, keys: Keyspace): Promise<number> {
  const current = Number((await redis.get(keys.schemaVersion)) ?? 0);
  if (current > SCHEMA_VERSION) {
    throw new Error(
      `Redis holds Pier state schema v${current}, newer than this Pier (v${SCHEMA_VERSION}). Install the newer Pier again.`,
    );
  }
  for (let v = current; v < SCHEMA_VERSION; v++) {
    await migrations[v]!(redis, keys);
    await redis.set(keys.schemaVersion, String(v + 1));
  }
  return SCHEMA_VERSION;
}
