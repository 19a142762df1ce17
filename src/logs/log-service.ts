import { interleave } from '../async-channel.js';
import { latestLines, normalizeTime, sourceType, type LogLine } from '../scheduler/log-lines.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { AppEvent, EventCursor } from '../state/event-store.js';
import type { State } from '../state/index.js';

export interface LogRequest {
  /** How many of the latest lines come first, over all sources. */
  tail: number;
  /** Then keep streaming new lines until `signal` aborts. */
  follow: boolean;
  /** Only lines of this source type: a process type (`web`, `run`) or an event source (`pier`, `router`). */
  process?: string;
  signal: AbortSignal;
}

/** How long one blocking read of the event stream waits before it checks whether the follower left. */
const EVENT_BLOCK_MS = 5000;

const toLine = (e: AppEvent): LogLine => ({ ...e, time: normalizeTime(e.time) ?? e.time });
const byTime = (a: LogLine, b: LogLine) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0);

/** `pier logs`: the output of an app's containers, the app's own events and its access log as one log. */
export class LogService {
  constructor(private readonly state: State, private readonly scheduler: Scheduler) {}

  /** The latest `tail` lines of every source, in time order; with `follow`, then new lines as they arrive. */
  async *lines(app: string, req: LogRequest): AsyncGenerator<LogLine> {
    const wanted = (l: LogLine) => !req.process || sourceType(l.source) === req.process;
    const [output, events] = await Promise.all([
      this.scheduler.recentLogs(app, { tail: req.tail, process: req.process }),
      this.state.events.tail(app, req.tail),
    ]);
    // Router processes flush their access log batches independently, so its stream is in time order only per process.
    yield* latestLines([output.lines, ...events.streams.map((s) => s.map(toLine).filter(wanted).sort(byTime))], req.tail);
    if (!req.follow || req.signal.aborted) return;
    yield* interleave([
      this.scheduler.followLogs(app, output.cursor, { process: req.process, signal: req.signal }),
      this.followEvents(app, events.cursor, wanted, req.signal),
    ]);
  }

  private async *followEvents(app: string, after: EventCursor, wanted: (l: LogLine) => boolean, signal: AbortSignal): AsyncGenerator<LogLine> {
    const reader = this.state.events.reader();
    // A follower that leaves must not keep a blocked connection: disconnecting ends the pending read.
    const leave = () => reader.disconnect();
    signal.addEventListener('abort', leave, { once: true });
    let last = after;
    try {
      while (!signal.aborted) {
        const next = await this.state.events.next(reader, app, last, EVENT_BLOCK_MS);
        last = next.cursor;
        for (const line of next.events.map(toLine)) if (wanted(line)) yield line;
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    } finally {
      signal.removeEventListener('abort', leave);
      reader.disconnect();
    }
  }
}
