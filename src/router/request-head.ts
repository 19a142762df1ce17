/**
 * Request heads with RFC 9112 framing rules applied strictly: whatever two parsers could read two ways
 * (request smuggling) is refused with 400 before a byte of it is forwarded.
 */
import { countFields, listValues, parseContentLength, splitHead, type HeaderField } from './http-head.js';

export type RequestFraming = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' };

export interface RequestHead {
  method: string;
  /** Origin-form (or `*`): an absolute-form target is reduced to its path, its authority becoming the host. */
  target: string;
  version: '1.0' | '1.1';
  fields: HeaderField[];
  /** The authority the request names (Host header, or an absolute-form target's), port included. */
  host: string;
  /** True when the absolute-form target's authority replaces the Host header. */
  hostFromTarget: boolean;
  framing: RequestFraming;
  /** The client will not send another request on this connection. */
  close: boolean;
  /** An HTTP/1.0 client asked to keep the connection open. */
  keepAlive10: boolean;
  /** Lowercased tokens of the Connection header: these fields are hop-by-hop. */
  connectionTokens: string[];
  /** A websocket handshake: upgraded connections become a tunnel after a 101. */
  websocket: boolean;
}

export type RequestParse =
  | { kind: 'incomplete'; scanFrom: number }
  | { kind: 'invalid'; status: 400 | 431; reason: string }
  | { kind: 'complete'; head: RequestHead; end: number };

const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([^\x00-\x20\x7f]+) HTTP\/1\.([01])$/;
const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)([^#]*)$/i;
/** reg-name or IP literal, optional port; no userinfo, path or whitespace (RFC 9110 §7.2). */
const HOST_VALUE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]*)(?::\d*)?$/;

const invalid = (reason: string): RequestParse => ({ kind: 'invalid', status: 400, reason });

/** Parses the request head at `start` (leading empty lines are skipped, RFC 9112 §2.2). */
export function parseRequestHead(buf: Buffer, start: number, scanFrom = start): RequestParse {
  while (start + 1 < buf.length && buf[start] === 0x0d && buf[start + 1] === 0x0a) start += 2;
  if (buf[start] === 0x0a) return invalid('bare LF');
  const split = splitHead(buf, start, scanFrom);
  if (split.kind !== 'complete') return split;
  const line = REQUEST_LINE.exec(split.startLine);
  if (!line) return invalid('malformed request line');
  const method = line[1]!;
  const version = line[3] === '1' ? '1.1' : '1.0';
  const fields = split.fields;

  let target = line[2]!;
  let hostFromTarget = false;
  const hosts = countFields(fields, 'host');
  if (hosts > 1) return invalid('more than one Host');
  if (hosts === 0 && version === '1.1') return invalid('HTTP/1.1 request without Host');
  let host = fields.find((f) => f.name === 'host')?.value ?? '';
  if (target[0] !== '/') {
    const absolute = ABSOLUTE_FORM.exec(target);
    if (absolute) {
      // RFC 9112 §3.2.2: the target's authority wins over the Host header.
      host = absolute[1]!;
      hostFromTarget = true;
      target = absolute[2] === '' ? '/' : absolute[2]!;
      if (target[0] !== '/' && target[0] !== '?') return invalid('malformed absolute-form target');
      if (target[0] === '?') target = `/${target}`;
    } else if (!(target === '*' && method === 'OPTIONS')) {
      return invalid('request target is not origin-form');
    }
  }
  if (!HOST_VALUE.test(host)) return invalid('malformed Host');

  const framing = requestFraming(fields, version);
  if (typeof framing === 'string') return invalid(framing);

  const connectionTokens = listValues(fields, 'connection');
  const upgrade = listValues(fields, 'upgrade');
  return {
    kind: 'complete',
    end: split.end,
    head: {
      method,
      target,
      version,
      fields,
      host,
      hostFromTarget,
      framing,
      close: connectionTokens.includes('close') || (version === '1.0' && !connectionTokens.includes('keep-alive')),
      keepAlive10: version === '1.0' && connectionTokens.includes('keep-alive'),
      connectionTokens,
      websocket: method === 'GET' && connectionTokens.includes('upgrade') && upgrade.includes('websocket'),
    },
  };
}

/** RFC 9112 §6: the body's framing, or why it is ambiguous. */
function requestFraming(fields: HeaderField[], version: '1.0' | '1.1'): RequestFraming | string {
  const lengths = countFields(fields, 'content-length');
  const encodings = countFields(fields, 'transfer-encoding');
  if (encodings > 0) {
    if (lengths > 0) return 'both Content-Length and Transfer-Encoding';
    if (version === '1.0') return 'Transfer-Encoding in an HTTP/1.0 request';
    const codings = listValues(fields, 'transfer-encoding');
    if (codings.at(-1) !== 'chunked') return 'chunked is not the final transfer coding';
    if (codings.indexOf('chunked') !== codings.length - 1) return 'chunked applied twice';
    return { kind: 'chunked' };
  }
  if (lengths > 1) return 'repeated Content-Length';
  if (lengths === 1) {
    const length = parseContentLength(fields.find((f) => f.name === 'content-length')!.value);
    if (length === undefined) return 'invalid Content-Length';
    return length === 0 ? { kind: 'none' } : { kind: 'length', length };
  }
  return { kind: 'none' };
}

/** RFC 9110 §9.2.2: a request that may be sent twice without changing what it does. */
export function isIdempotent(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || method === 'PUT' || method === 'DELETE' || method === 'TRACE';
}
