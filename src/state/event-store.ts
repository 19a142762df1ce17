import type { Redis } from 'ioredis';
import { AccessLogWriter } from './access-log-writer.js';
import type { Keyspace } from './keys.js';

/** One line of an app's own log streams: Pier's deploy events, or the router's access log. */
export interface AppEvent {
  /** ISO time. */
  time: string;
  /** Who wrote it: "pier" for deploy events, "router" for access logs. */
  source: string;
  line: string;
}

/**
 * An app's access log lines as the router batches them: UTF-8 records "<ISO time> <line>\n" back to
 * back in `bytes`, and the byte offset where each record ends (after its newline). Bytes, not strings:
 * they go to Redis as they are, without a line being joined, copied or encoded again.
 */
export interface AccessLogBatch {
  app: string;
  bytes: Buffer;
  ends: readonly number[];
}

/** Where a follower has read an app's two streams up to. */
export interface EventCursor {
  events: string;
  access: string;
}

const RETAINED_EVENTS = 10_000;

/**
 * Two capped Redis streams per app, merged into `pier logs` beside the instances' output: the app's
 * events (deploys, scaling, plugins) and the router's access log.
 */
export class EventStore {
  constructor(private readonly redis: Redis, private readonly keys: Keyspace) {}

  async append(app: string, source: string, line: string): Promise<void> {
    await this.redis.xadd(this.keys.events(app), 'MAXLEN', '~', RETAINED_EVENTS, '*', 'time', new Date().toISOString(), 'source', source, 'line', line);
  }

  /** A writer of the router's access log (lines without a newline inside: JSON lines), on a connection of its own that it closes. */
  accessLogWriter(): AccessLogWriter {
    return new AccessLogWriter(this.redis.options, this.keys);
  }

  /** The last `count` lines of each stream (events, then access log), oldest first, with the cursor to follow from. */
  async tail(app: string, count: number): Promise<{ streams: [AppEvent[], AppEvent[]]; cursor: EventCursor }> {
    const [events, access] = await Promise.all([this.tailOf(this.keys.events(app), count), this.tailOf(this.keys.accessLog(app), count)]);
    return { streams: [events.events, access.events], cursor: { events: events.last, access: access.last } };
  }

  private async tailOf(key: string, count: number): Promise<{ events: AppEvent[]; last: string }> {
    const entries = await this.redis.xrevrange(key, '+', '-', 'COUNT', count);
    // Newest first, as XREVRANGE answers: read the id before reversing in place.
    const last = entries[0]?.[0] ?? '0';
    return { events: entries.reverse().flatMap(([, fields]) => toEvents(fields)).slice(-count), last };
  }

  /** A connection of its own for next() to block on, named (`<instance>:events-reader`) so a leaked one shows in CLIENT LIST. */
  reader(): Redis {
    return this.redis.duplicate({ connectionName: `${this.keys.prefix}events-reader` });
  }

  /** Lines of both streams after `cursor`, blocking up to `blockMs` on `reader` (a connection this call may block). */
  async next(reader: Redis, app: string, cursor: EventCursor, blockMs: number): Promise<{ events: AppEvent[]; cursor: EventCursor }> {
    const eventsKey = this.keys.events(app);
    const result = await reader.xread('BLOCK', blockMs, 'STREAMS', eventsKey, this.keys.accessLog(app), cursor.events, cursor.access);
    if (!result) return { events: [], cursor };
    const next = { ...cursor };
    const events: AppEvent[] = [];
    for (const [key, entries] of result) {
      next[key === eventsKey ? 'events' : 'access'] = entries[entries.length - 1]![0];
      for (const [, fields] of entries) events.push(...toEvents(fields));
    }
    // Lines of both streams, and access log batches of several router processes: ISO times of one format sort as strings.
    return { events: events.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0)), cursor: next };
  }
}

/** An event entry is one line (time, source, line); an access log entry a batch of them (source, lines). */
function toEvents(fields: string[]): AppEvent[] {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  const source = f.source ?? 'pier';
  if (f.lines === undefined) return [{ time: f.time ?? '', source, line: f.line ?? '' }];
  return f.lines.split('\n').map((entry) => {
    const space = entry.indexOf(' ');
    return { time: entry.slice(0, space), source, line: entry.slice(space + 1) };
  });
}
