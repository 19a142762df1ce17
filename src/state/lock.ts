import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keyspace } from './keys.js';

const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;
const EXTEND = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;

export interface Lock {
  release(): Promise<void>;
}

/**
 * A per-app mutex in Redis, shared by every daemon process on the host. The lease is renewed
 * while held, so a crashed holder frees it after `leaseMs`.
 */
export class AppLocks {
  constructor(private readonly redis: Redis, private readonly keys: Keyspace, private readonly leaseMs = 30_000) {}

  async tryAcquire(app: string, kind: string): Promise<Lock | undefined> {
    const key = this.keys.lock(app, kind);
    const owner = randomBytes(12).toString('hex');
    const ok = await this.redis.set(key, owner, 'PX', this.leaseMs, 'NX');
    if (ok !== 'OK') return undefined;
    const timer = setInterval(() => {
      this.redis.eval(EXTEND, 1, key, owner, String(this.leaseMs)).catch(() => undefined);
    }, this.leaseMs / 3);
    timer.unref();
    return {
      release: async () => {
        clearInterval(timer);
        await this.redis.eval(RELEASE, 1, key, owner);
      },
    };
  }

  /** Waits up to `timeoutMs` for the lock. */
  async acquire(app: string, kind: string, timeoutMs: number): Promise<Lock> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lock = await this.tryAcquire(app, kind);
      if (lock) return lock;
      if (Date.now() >= deadline) {
        throw new Error(`${app} is busy with another ${kind}; try again when it has finished`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
