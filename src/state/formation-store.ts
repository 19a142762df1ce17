import type { Redis } from 'ioredis';
import type { Keyspace } from './keys.js';

/** How many instances of each process type an app runs. Scaling changes this, not the release. */
export type Formation = Record<string, number>;

export class FormationStore {
  constructor(private readonly redis: Redis, private readonly keys: Keyspace) {}

  /** Only the types scaled so far; see desiredFormation for what runs. */
  async get(app: string): Promise<Formation> {
    const h = await this.redis.hgetall(this.keys.formation(app));
    return Object.fromEntries(Object.entries(h).map(([type, n]) => [type, Number(n)]));
  }

  async set(app: string, counts: Formation): Promise<void> {
    if (Object.keys(counts).length === 0) return;
    await this.redis.hset(this.keys.formation(app), Object.fromEntries(Object.entries(counts).map(([t, n]) => [t, String(n)])));
  }
}

/**
 * What a release runs: the scaled counts of its process types, and for types never scaled one
 * web instance (or app.json's formation) and no other process, as on Heroku. `release` is a
 * phase, never a process.
 */
export function desiredFormation(processTypes: Record<string, string>, scaled: Formation, defaults: Formation = {}): Formation {
  const out: Formation = {};
  for (const type of Object.keys(processTypes)) {
    if (type === 'release') continue;
    out[type] = scaled[type] ?? defaults[type] ?? (type === 'web' ? 1 : 0);
  }
  return out;
}
