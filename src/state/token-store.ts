import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keyspace } from './keys.js';

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Redis keeps only token digests, so a leaked dump does not grant access. */
export class TokenStore {
  constructor(private readonly redis: Redis, private readonly keys: Keyspace) {}

  async create(name: string): Promise<string> {
    const token = randomBytes(24).toString('base64url');
    await this.redis.hset(this.keys.tokens, digest(token), name);
    return token;
  }

  async register(name: string, token: string): Promise<void> {
    await this.redis.hset(this.keys.tokens, digest(token), name);
  }

  /** The token's name, or undefined when it is unknown. */
  async verify(token: string): Promise<string | undefined> {
    if (token.length === 0) return undefined;
    return (await this.redis.hget(this.keys.tokens, digest(token))) ?? undefined;
  }
}
