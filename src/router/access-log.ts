import type { Logger } from '../log.js';
import type { AccessLogEntry } from '../state/event-store.js';
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

/** Writes one batch in one round trip (state.events.appendAccessLog); rejects when it could not. */
export type AccessLogSink = (entries: AccessLogEntry[]) => Promise<void>;

/**
 * The line of one request in the app's log: `{"host","method","path","status","bytes","duration_ms",
 * "upstream","request_id"}` (bytes: sent to the client, head included; upstream: null when no
 * instance answered).
 */
export function accessLogLine(d: RequestDone): string {
  // A template over JSON-escaped strings: a quarter cheaper than stringifying an object, once per request.
  const q = JSON.stringify;
  return `{"host":${q(d.host)},"method":${q(d.method)},"path":${q(d.path)},"status":${d.status},"bytes":${d.bytes},"duration_ms":${d.durationMs},"upstream":${d.upstream === undefined ? 'null' : q(d.upstream)},"request_id":${q(d.requestId)}}`;
}

/**
 * The router's access log, written to each app's log stream without slowing the data plane: a request
 * appends its line to an in-memory batch, one write at a time goes out, and when Redis falls behind,
 * lines are dropped and counted rather than held without limit.
 */
export class AccessLog {
  // Parallel arrays, and the line serialised at once: a request's RequestDone dies young. Held for a
  // flush interval, it outlived the young generation and doubled the log's cost in garbage collection.
  private apps: string[] = [];
  private times: number[] = [];
  private lines: string[] = [];
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
    if (done.app === undefined) return;
    if (this.lines.length >= this.limits.maxQueued) {
      if (this.dropped++ === 0) this.log.warn({ queued: this.lines.length }, 'access log: Redis is not keeping up; dropping lines until it does');
      return;
    }
    this.apps.push(done.app);
    this.times.push(Date.now());
    this.lines.push(accessLogLine(done));
    if (this.lines.length >= this.limits.batchLines) this.flush();
  };

  private flush(): void {
    if (this.inFlight || this.lines.length === 0) return;
    const { apps, times, lines } = this;
    this.apps = [];
    this.times = [];
    this.lines = [];
    // Requests end many to a millisecond under load: one time string serves them all.
    let ms = -1;
    let time = '';
    const entries = lines.map((line, i) => {
      if (times[i] !== ms) time = new Date((ms = times[i]!)).toISOString();
      return { app: apps[i]!, time, line };
    });
    this.inFlight = this.sink(entries).then(
      () => {
        if (this.dropped > 0) this.log.warn({ dropped: this.dropped }, 'access log: Redis caught up; lines were dropped meanwhile');
        this.dropped = 0;
      },
      (err: unknown) => {
        if (this.dropped === 0) this.log.warn({ err, lines: entries.length }, 'access log: a batch could not be written; dropping it');
        this.dropped += entries.length;
      },
    ).finally(() => {
      this.inFlight = undefined;
      if (this.lines.length >= this.limits.batchLines) this.flush();
    });
  }

  /** Stops the timer and writes what is queued (waiting at most `graceMs` for Redis). */
  async close(graceMs = 2000): Promise<void> {
    clearInterval(this.timer);
    const deadline = Date.now() + graceMs;
    while ((this.inFlight || this.lines.length > 0) && Date.now() < deadline) {
      this.flush();
      await Promise.race([this.inFlight, new Promise((r) => setTimeout(r, deadline - Date.now()).unref())]);
    }
  }
}
