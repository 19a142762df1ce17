import type { Redis } from 'ioredis';
import type { Keyspace } from './keys.js';

export type BuildStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type FinalBuildStatus = Exclude<BuildStatus, 'queued' | 'running'>;

export function isFinal(status: BuildStatus): status is FinalBuildStatus {
  return status !== 'queued' && status !== 'running';
}

/** Where a build's source came from: a git push, an uploaded archive, or a local image. */
export type BuildOrigin = 'git' | 'archive' | 'image';

export interface BuildRecord {
  id: string;
  app: string;
  /** The git commit, the archive's sha256, or the image reference. */
  commit: string;
  /** Absent on builds recorded before other origins existed: git. */
  origin?: BuildOrigin;
  status: BuildStatus;
  createdBy: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  error?: string;
}

export type BuildLogEvent = { type: 'line'; line: string } | { type: 'end'; status: BuildStatus; error?: string };

const LOG_RETENTION_LINES = 20_000;

export class BuildStore {
  constructor(private readonly redis: Redis, private readonly keys: Keyspace) {}

  async create(record: BuildRecord): Promise<void> {
    await this.redis
      .multi()
      .set(this.keys.build(record.id), JSON.stringify(record))
      .lpush(this.keys.builds(record.app), record.id)
      .sadd(this.keys.activeBuilds, record.id)
      .exec();
  }

  /** Builds not finished yet (queued or running), across apps. */
  async activeIds(): Promise<string[]> {
    return this.redis.smembers(this.keys.activeBuilds);
  }

  /** The app's builds, newest first. */
  async list(app: string, limit = 50): Promise<BuildRecord[]> {
    const ids = await this.redis.lrange(this.keys.builds(app), 0, limit - 1);
    const records = await Promise.all(ids.map((id) => this.get(id)));
    return records.filter((r): r is BuildRecord => r !== undefined);
  }

  async get(id: string): Promise<BuildRecord | undefined> {
    const raw = await this.redis.get(this.keys.build(id));
    return raw === null ? undefined : (JSON.parse(raw) as BuildRecord);
  }

  async ids(app: string): Promise<string[]> {
    return this.redis.lrange(this.keys.builds(app), 0, -1);
  }

  async update(id: string, patch: Partial<BuildRecord>): Promise<BuildRecord> {
    const current = await this.get(id);
    if (!current) throw new Error(`build ${id} not found`);
    const next = { ...current, ...patch };
    await this.redis.set(this.keys.build(id), JSON.stringify(next));
    return next;
  }

  /**
   * Forgets the app's finished builds beyond its newest `keep` (records and logs), so Redis does not
   * grow with every deploy; builds still queued or running are never dropped. Returns how many went.
   */
  async trim(app: string, keep: number): Promise<number> {
    const [older, active] = await Promise.all([this.redis.lrange(this.keys.builds(app), keep, -1), this.redis.smembers(this.keys.activeBuilds)]);
    const drop = older.filter((id) => !active.includes(id));
    if (drop.length === 0) return 0;
    const multi = this.redis.multi();
    for (const id of drop) multi.lrem(this.keys.builds(app), 0, id).del(this.keys.build(id), this.keys.buildLog(id), this.keys.buildCancel(id));
    await multi.exec();
    return drop.length;
  }

  /** Asks the worker running the build to stop it; `reason` is what the pusher is told. */
  async requestCancel(id: string, reason: string): Promise<void> {
    await this.redis.set(this.keys.buildCancel(id), reason, 'EX', 3600);
  }

  /** Why the build should stop, if someone asked. */
  async cancelRequest(id: string): Promise<string | undefined> {
    return (await this.redis.get(this.keys.buildCancel(id))) ?? undefined;
  }

  /** The log is a Redis stream: followers replay it from the start and then block for new entries. */
  async appendLog(id: string, line: string): Promise<void> {
    await this.redis.xadd(this.keys.buildLog(id), 'MAXLEN', '~', LOG_RETENTION_LINES, '*', 'line', line);
  }

  async finish(id: string, status: FinalBuildStatus, error?: string): Promise<void> {
    await this.update(id, { status, error, finishedAt: new Date().toISOString() });
    await this.redis
      .multi()
      .xadd(this.keys.buildLog(id), '*', 'end', status, 'error', error ?? '')
      .srem(this.keys.activeBuilds, id)
      .exec();
  }

  /** Replays the log, then follows it until the build ends. `reader` is a connection this call may block. */
  async *follow(reader: Redis, id: string, blockMs = 5000): AsyncGenerator<BuildLogEvent> {
    const key = this.keys.buildLog(id);
    let last = '0';
    for (;;) {
      const result = await reader.xread('COUNT', 500, 'BLOCK', blockMs, 'STREAMS', key, last);
      if (result === null) {
        const record = await this.get(id);
        if (!record) return;
        if (isFinal(record.status)) {
          yield { type: 'end', status: record.status, error: record.error };
          return;
        }
        continue;
      }
      for (const [, entries] of result) {
        for (const [entryId, fields] of entries) {
          last = entryId;
          const f = fieldsToObject(fields);
          if (f.end !== undefined) {
            yield { type: 'end', status: f.end as BuildStatus, error: f.error || undefined };
            return;
          }
          yield { type: 'line', line: f.line ?? '' };
        }
      }
    }
  }
}

function fieldsToObject(fields: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]!] = fields[i + 1]!;
  return out;
}
