import type { Logger } from '../log.js';
import type { AccessLogBatch } from '../state/event-store.js';
import type { RequestDone } from './client-connection.js';

export interface AccessLogLimits {
  /** A batch goes out at least this often… */
  flushMs: number;
  /** …or as soon as it holds this many lines. */
  batchLines: number;
  /** Lines held while a write is still in flight; beyond this, new lines are dropped (and counted). */
  maxQueued: number;
}

export const DEFAULT_ACCESS_LOG_LIMITS: AccessLogLimits = { flushMs: 200, batchLines: 500, maxQueued: 20_000 };

/** Writes one batch (lines of any apps) in one round trip (state.events.accessLogWriter()'s write); rejects when it could not. */
export type AccessLogSink = (batches: AccessLogBatch[]) => Promise<void>;

/**
 * The line of one request in the app's log: `{"host","method","path","status","bytes","duration_ms",
 * "upstream","request_id"}` (bytes: sent to the client, head included; upstream: null when no
 * instance answered).
 */
export function accessLogLine(d: RequestDone): string {
  // A template, not an object stringified: a quarter cheaper, once per request.
  return `{"host":${quoted(cut(d.host))},"method":${quoted(cut(d.method))},"path":${quoted(cut(d.path))},"status":${d.status},"bytes":${d.bytes},"duration_ms":${d.durationMs},"upstream":${d.upstream === undefined ? 'null' : quoted(d.upstream)},"request_id":${quoted(d.requestId)}}`;
}

/**
 * The longest host, method or path a line keeps, in characters (bytes: heads are latin1); a longer one is
 * cut there and ends in `…`. The nginx plane's template cuts at this length too (renderMain passes it), so
 * its lines come out alike.
 */
export const MAX_LOGGED_FIELD = 1024;

const cut = (s: string): string => (s.length > MAX_LOGGED_FIELD ? `${s.slice(0, MAX_LOGGED_FIELD)}…` : s);

/** What JSON.stringify would escape in a string: quote, backslash, control characters, and (lone) surrogates. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** The JSON string literal of `s`, exactly as JSON.stringify writes it: testing for escapes first costs about 40% less on what a router logs. */
const quoted = (s: string): string => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`);

/**
 * The router's access log, written to each app's log stream without slowing the data plane: a request
 * appends its line to an in-memory batch, one write at a time goes out, and when Redis falls behind,
 * lines are dropped and counted rather than held without limit.
 */
export class AccessLog {
  // Each line goes into its app's buffer as UTF-8 at once: no string of a request outlives it. Lines
  // held as strings for a flush interval outlived the young generation, and garbage collection, then
  // the joining and encoding of them at flush time, cost the log more than building them.
  private pending = new Map<string, Records>();
  private queued = 0;
  private stampMs = -1;
  private stamp = '';
  private inFlight: Promise<void> | undefined;
  private dropped = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly limits: AccessLogLimits;

  constructor(private readonly sink: AccessLogSink, private readonly log: Logger, limits: Partial<AccessLogLimits> = {}) {
    this.limits = { ...DEFAULT_ACCESS_LOG_LIMITS, ...limits };
    this.timer = setInterval(() => this.flush(), this.limits.flushMs).unref();
  }

  /** The router's onRequestDone hook. Requests for hosts no app owns belong to no app's log. */
  readonly record = (done: RequestDone): void => {
    const records = done.app === undefined ? undefined : this.recordsOf(done.app);
    if (!records) return;
    // Requests end many to a millisecond under load: one time string serves them all.
    const now = Date.now();
    if (now !== this.stampMs) this.stamp = `${new Date((this.stampMs = now)).toISOString()} `;
    records.push(`${this.stamp}${accessLogLine(done)}\n`);
    this.added();
  };

  /**
   * A record already as record() writes one, "<ISO time> <line>\n" in UTF-8: the nginx plane's, which nginx
   * builds and stamps itself. Batched, capped and dropped as record()'s lines are.
   */
  readonly recordLine = (app: string, record: Uint8Array): void => {
    const records = this.recordsOf(app);
    if (!records) return;
    records.pushBytes(record);
    this.added();
  };

  /** The app's batch to add a line to; none while Redis is not keeping up (the line is dropped and counted). */
  private recordsOf(app: string): Records | undefined {
    if (this.queued >= this.limits.maxQueued) {
      if (this.dropped++ === 0) this.log.warn({ queued: this.queued }, 'access log: Redis is not keeping up; dropping lines until it does');
      return undefined;
    }
    let records = this.pending.get(app);
    if (!records) this.pending.set(app, (records = new Records()));
    return records;
  }

  private added(): void {
    if (++this.queued >= this.limits.batchLines) this.flush();
  }

  private flush(): void {
    if (this.inFlight || this.queued === 0) return;
    const batches: AccessLogBatch[] = [];
    for (const [app, records] of this.pending) {
      // An app without requests since the last flush gives its buffer up; a busy one keeps its size.
      if (records.empty) this.pending.delete(app);
      else batches.push(records.take(app));
    }
    const lines = this.queued;
    this.queued = 0;
    this.inFlight = this.sink(batches).then(
      () => {
        if (this.dropped > 0) this.log.warn({ dropped: this.dropped }, 'access log: Redis caught up; lines were dropped meanwhile');
        this.dropped = 0;
      },
      (err: unknown) => {
        if (this.dropped === 0) this.log.warn({ err, lines }, 'access log: a batch could not be written; dropping it');
        this.dropped += lines;
      },
    ).finally(() => {
      this.inFlight = undefined;
      if (this.queued >= this.limits.batchLines) this.flush();
    });
  }

  /** Stops the timer and writes what is queued (waiting at most `graceMs` for Redis). */
  async close(graceMs = 2000): Promise<void> {
    clearInterval(this.timer);
    const deadline = Date.now() + graceMs;
    while ((this.inFlight || this.queued > 0) && Date.now() < deadline) {
      this.flush();
      await Promise.race([this.inFlight, new Promise((r) => setTimeout(r, deadline - Date.now()).unref())]);
    }
  }
}

const MIN_BYTES = 16 * 1024;

/** One app's records "<time> <line>\n" as UTF-8, back to back, growing as lines come. */
class Records {
  private bytes = Buffer.allocUnsafe(MIN_BYTES);
  private length = 0;
  private ends: number[] = [];

  get empty(): boolean {
    return this.length === 0;
  }

  push(record: string): void {
    // At most 3 bytes per UTF-16 code unit.
    this.reserve(record.length * 3);
    this.length += this.bytes.write(record, this.length);
    this.ends.push(this.length);
  }

  pushBytes(record: Uint8Array): void {
    this.reserve(record.length);
    this.bytes.set(record, this.length);
    this.length += record.length;
    this.ends.push(this.length);
  }

  private reserve(room: number): void {
    if (this.length + room <= this.bytes.length) return;
    const bytes = Buffer.allocUnsafe(Math.max(2 * this.bytes.length, this.length + room));
    this.bytes.copy(bytes, 0, 0, this.length);
    this.bytes = bytes;
  }

  /**
   * The records so far, handed over. The next ones go to a buffer sized for a batch like this one and
   * a quarter more: a busy app's buffer seldom grows again, and shrinks back after a burst.
   */
  take(app: string): AccessLogBatch {
    const batch = { app, bytes: this.bytes.subarray(0, this.length), ends: this.ends };
    this.bytes = Buffer.allocUnsafe(Math.max(MIN_BYTES, Math.ceil(this.length * 1.25)));
    this.length = 0;
    this.ends = [];
    return batch;
  }
}
