/** One line of an app's log: the output of one of its containers, or one of the app's events. */
export interface LogLine {
  /**
   * UTC with nanoseconds, `2026-12-01T07:00:00.123456789Z` (see normalizeTime): every source
   * uses this one shape, so lines of different sources sort as plain strings.
   */
  time: string;
  /** `web.1`, `worker.2`, `run.1` for container output; `pier` (deploy events), `router` for events. */
  source: string;
  line: string;
}

/** Where the output of each container was read up to: container id → time of its last line ("" for none). */
export type LogCursor = Record<string, string>;

const UTC = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/;
const WITH_OFFSET = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?[+-]\d\d:\d\d$/;

/**
 * Docker writes nanoseconds (and may drop trailing zeros), Pier's events milliseconds; both become
 * nine fraction digits. Undefined when `iso` is not an RFC 3339 time.
 */
export function normalizeTime(iso: string): string | undefined {
  const utc = UTC.exec(iso);
  if (utc) return `${utc[1]}.${(utc[2] ?? '').padEnd(9, '0')}Z`;
  // Other offsets are rare enough (no source writes them today) to convert at millisecond precision.
  return WITH_OFFSET.test(iso) ? normalizeTime(new Date(Date.parse(iso)).toISOString()) : undefined;
}

/** What `-p` selects on: the process type of container output (`web` of `web.1`), else the event source itself. */
export function sourceType(source: string): string {
  return source.split('.')[0]!;
}

/**
 * Merges streams that are each in time order into one in time order. On equal times the line of
 * the earlier stream comes first, and lines of one stream keep their order.
 */
export function mergeSorted(streams: LogLine[][]): LogLine[] {
  const next = streams.map(() => 0);
  const merged: LogLine[] = [];
  for (;;) {
    let pick = -1;
    for (let s = 0; s < streams.length; s++) {
      const candidate = streams[s]![next[s]!];
      if (candidate && (pick < 0 || candidate.time < streams[pick]![next[pick]!]!.time)) pick = s;
    }
    if (pick < 0) return merged;
    merged.push(streams[pick]![next[pick]!++]!);
  }
}

/** The last `count` lines over all the streams: each stream may hold up to `count` lines of its own. */
export function latestLines(streams: LogLine[][], count: number): LogLine[] {
  return mergeSorted(streams).slice(-count);
}

/** Heroku's log prefixes: `app[web.1]` for what the app printed, `pier[deploy]` and `pier[router]` for Pier's own lines. */
export function sourceLabel(source: string): string {
  if (source.includes('.')) return `app[${source}]`;
  return `pier[${source === 'pier' ? 'deploy' : source}]`;
}

/** `2026-12-01T07:00:00.123456+00:00 app[web.1]: line`, the format of `heroku logs`. */
export function formatLogLine({ time, source, line }: LogLine): string {
  return `${time.slice(0, 26)}+00:00 ${sourceLabel(source)}: ${line}`;
}
