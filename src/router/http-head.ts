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

/** The parser's hard cap on any head; the max-header-size setting (16 KB by default) is checked below it, per app. */
export const MAX_HEAD_BYTES = 64 * 1024;
export const MAX_FIELDS = 100;

const CRLFCRLF = Buffer.from('\r\n\r\n');
const LFLF = Buffer.from('\n\n');

/** tchar (RFC 9110 §5.6.2): what field names are made of. */
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN[c.charCodeAt(0)] = 1;
/** Field-value bytes: visible characters, obs-text, SP and HTAB; never CR, LF, NUL or other controls. */
const VALUE = new Uint8Array(256);
for (let c = 0; c < 256; c++) VALUE[c] = c === 0x09 || (c >= 0x20 && c !== 0x7f) ? 1 : 0;

const invalidLine = { kind: 'invalid', status: 400, reason: 'malformed header field line' } as const;

/**
 * Finds the head starting at `start` and splits it into a start line and field lines. `scanFrom` (from
 * an earlier incomplete answer) skips bytes already searched, so a head trickling in byte by byte
 * costs linear time, not quadratic.
 *
 * A field line is a token name, a colon with no whitespace before it (§5.1) and a value without
 * control characters other than HTAB; a line starting with whitespace (obs-fold, §5.2) or holding a
 * lone CR or LF is refused.
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
  // Every line of `text`, the last field line included, ends with CRLF.
  const text = buf.toString('latin1', start, end + 2);
  const stop = text.length;
  const first = text.indexOf('\r\n');
  const fields: HeaderField[] = [];
  let i = first + 2;
  while (i < stop) {
    const nameStart = i;
    while (TOKEN[text.charCodeAt(i)] === 1) i++;
    if (i === nameStart || text.charCodeAt(i) !== 0x3a) return invalidLine;
    const rawName = text.slice(nameStart, i);
    i++;
    let c = text.charCodeAt(i);
    while (c === 0x20 || c === 0x09) c = text.charCodeAt(++i);
    const valueStart = i;
    let valueEnd = i;
    while (c !== 0x0d) {
      if (VALUE[c] !== 1) return invalidLine;
      i++;
      if (c !== 0x20 && c !== 0x09) valueEnd = i;
      c = text.charCodeAt(i);
    }
    if (text.charCodeAt(i + 1) !== 0x0a) return invalidLine;
    if (fields.length === MAX_FIELDS) return { kind: 'invalid', status: 431, reason: 'too many header fields' };
    fields.push({ name: rawName.toLowerCase(), rawName, value: text.slice(valueStart, valueEnd) });
    i += 2;
  }
  return { kind: 'complete', startLine: text.slice(0, first), fields, end: end + 4 };
}

/** The comma-separated elements of every field named `name`, trimmed and lowercased, empty ones dropped (§5.6.1 of RFC 9110). */
export function listValues(fields: readonly HeaderField[], name: string): string[] {
  const out: string[] = [];
  for (const f of fields) {
    if (f.name !== name) continue;
    // Most values are one element, already trimmed by splitHead.
    if (!f.value.includes(',')) {
      if (f.value !== '') out.push(f.value.toLowerCase());
      continue;
    }
    for (const part of f.value.split(',')) {
      const v = trimOws(part).toLowerCase();
      if (v !== '') out.push(v);
    }
  }
  return out;
}

/** Without the optional whitespace around a list element (SP and HTAB only: RFC 9110 §5.6.3). */
export function trimOws(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && (s.charCodeAt(start) === 0x20 || s.charCodeAt(start) === 0x09)) start++;
  while (end > start && (s.charCodeAt(end - 1) === 0x20 || s.charCodeAt(end - 1) === 0x09)) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/** How many fields carry this name. */
export function countFields(fields: readonly HeaderField[], name: string): number {
  let n = 0;
  for (const f of fields) if (f.name === name) n++;
  return n;
}

/** A decimal Content-Length within the range a JavaScript number counts exactly; undefined otherwise. */
export function parseContentLength(value: string): number | undefined {
  if (value.length === 0 || value.length > 15) return undefined;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const digit = value.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return undefined;
    n = n * 10 + digit;
  }
  return n;
}
