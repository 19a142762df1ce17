/**
 * What request and response heads share (RFC 9112 §2, §5): where a head ends, and strict field lines.
 * Pure functions over bytes, so the smuggling rules are unit-tested without sockets.
 */

/** One field line as received: `name` lowercased for lookups, `rawName` as sent for forwarding. */
export interface HeaderField {
  name: string;
  rawName: string;
  value: string;
}

export type HeadSplit =
  | { kind: 'incomplete'; scanFrom: number }
  | { kind: 'invalid'; status: 400 | 431; reason: string }
  | { kind: 'complete'; startLine: string; fields: HeaderField[]; end: number };

export const MAX_HEAD_BYTES = 16 * 1024;
export const MAX_FIELDS = 100;

const CRLFCRLF = Buffer.from('\r\n\r\n');
const LFLF = Buffer.from('\n\n');

/**
 * A token name, a colon with no whitespace before it (§5.1), a value without control characters
 * other than HTAB. A line starting with whitespace (obs-fold, §5.2) or holding a lone CR or LF fails too.
 */
const FIELD_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[\t ]*([^\x00-\x08\x0a-\x1f\x7f]*?)[\t ]*$/;

/**
 * Finds the head starting at `start` and splits it into a start line and field lines. `scanFrom` (from
 * an earlier incomplete answer) skips bytes already searched, so a head trickling in byte by byte
 * costs linear time, not quadratic.
 */
export function splitHead(buf: Buffer, start: number, scanFrom = start): HeadSplit {
  const end = buf.indexOf(CRLFCRLF, Math.max(start, scanFrom - 3));
  if (end === -1) {
    if (buf.length - start > MAX_HEAD_BYTES) return { kind: 'invalid', status: 431, reason: 'head too large' };
    // A head ended by bare LFs would otherwise wait for a CRLFCRLF that never comes.
    if (buf.indexOf(LFLF, Math.max(start, scanFrom - 1)) !== -1) return { kind: 'invalid', status: 400, reason: 'bare LF' };
    return { kind: 'incomplete', scanFrom: buf.length };
  }
  if (end - start > MAX_HEAD_BYTES) return { kind: 'invalid', status: 431, reason: 'head too large' };
  const lines = buf.toString('latin1', start, end).split('\r\n');
  if (lines.length - 1 > MAX_FIELDS) return { kind: 'invalid', status: 431, reason: 'too many header fields' };
  const fields: HeaderField[] = new Array(lines.length - 1);
  for (let i = 1; i < lines.length; i++) {
    const m = FIELD_LINE.exec(lines[i]!);
    if (!m) return { kind: 'invalid', status: 400, reason: 'malformed header field line' };
    fields[i - 1] = { name: m[1]!.toLowerCase(), rawName: m[1]!, value: m[2]! };
  }
  return { kind: 'complete', startLine: lines[0]!, fields, end: end + 4 };
}

/** The comma-separated elements of every field named `name`, trimmed and lowercased, empty ones dropped (§5.6.1 of RFC 9110). */
export function listValues(fields: readonly HeaderField[], name: string): string[] {
  const out: string[] = [];
  for (const f of fields) {
    if (f.name !== name) continue;
    for (const part of f.value.split(',')) {
      const v = part.trim().toLowerCase();
      if (v !== '') out.push(v);
    }
  }
  return out;
}

/** How many fields carry this name. */
export function countFields(fields: readonly HeaderField[], name: string): number {
  let n = 0;
  for (const f of fields) if (f.name === name) n++;
  return n;
}

/** A decimal Content-Length within the range a JavaScript number counts exactly; undefined otherwise. */
export function parseContentLength(value: string): number | undefined {
  if (!/^\d{1,15}$/.test(value)) return undefined;
  return Number(value);
}
