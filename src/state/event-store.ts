import type { Redis } from 'ioredis';
import type { Keyspace } from './keys.js';

/** One line of an app's own log stream: Pier's deploy events (and later the router's access log). */
export interface AppEvent {
  /** ISO time. */
  time: string;
  /** Who wrote it: "pier" for deploy events, "router" for access logs. */
  source: string;
  line: string;
}

const RETAINED_EVENTS = 10_000;

/** A capped Redis stream per app, merged into `pier logs` beside the instances' output. */
export class EventStore {
  constructor(private readonly redis: Redis, private readonly keys: Keyspace) {}

  async append(app: string, source: string, line: string): Promise<void> {
    await this.redis.xadd(this.keys.events(app), 'MAXLEN', '~', RETAINED_EVENTS, '*', 'time', new Date().toISOString(), 'source', source, 'line', line);
  }

  /** The last `count` events, oldest first, with the stream id to follow from. */
  async tail(app: string, count: number): Promise<{ events: AppEvent[]; last: string }> {
    const entries = await this.redis.xrevrange(this.keys.events(app), '+', '-', 'COUNT', count);
    // Newest first, as XREVRANGE answers: read the id before reversing in place.
    const last = entries[0]?.[0] ?? '0';
    return { events: entries.reverse().map(([, fields]) => toEvent(fields)), last };
  }

  /** A connection of its own for next() to block on, named (`<instance>:events-reader`) so a leaked one shows in CLIENT LIST. */
  reader(): Redis {
    return this.redis.duplicate({ connectionName: `${this.keys.prefix}events-reader` });
  }

  /** Events after `last`, blocking up to `blockMs` on `reader` (a connection this call may block). */
  async next(reader: Redis, app: string, last: string, blockMs: number): Promise<{ events: AppEvent[]; last: string }> {
    const result = await reader.xread('BLOCK', blockMs, 'STREAMS', this.keys.events(app), last);
    if (!result) return { events: [], last };
    const entries = result[0]![1];
    return { events: entries.map(([, fields]) => toEvent(fields)), last: entries[entries.length - 1]![0] };
  }
}

function toEvent(fields: string[]): AppEvent {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  return { time: f.time ?? '', source: f.source ?? 'pier', line: f.line ?? '' };
}
