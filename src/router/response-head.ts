/** Response heads from upstreams and how their bodies are framed (RFC 9112 §6.3). */
import { countFields, listValues, parseContentLength, splitHead, trimOws, type HeaderField } from './http-head.js';

export type ResponseFraming =
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' }
  /** Until the upstream closes: the connection cannot be reused, and the client's closes after it. */
  | { kind: 'close' };

export interface ResponseHead {
  /** The upstream's HTTP version, as Via names it. */
  version: '1.0' | '1.1';
  status: number;
  reason: string;
  fields: HeaderField[];
  framing: ResponseFraming;
  /** The upstream connection may carry another request after this response. */
  reusable: boolean;
  connectionTokens: string[];
}

export type ResponseParse =
  | { kind: 'incomplete'; scanFrom: number }
  | { kind: 'invalid'; reason: string }
  | { kind: 'complete'; head: ResponseHead; end: number };

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?$/;

/** Parses the response head at `start`; `method` is the request's (HEAD responses have no body). */
export function parseResponseHead(buf: Buffer, start: number, method: string, scanFrom = start): ResponseParse {
  const split = splitHead(buf, start, scanFrom);
  if (split.kind === 'incomplete') return split;
  if (split.kind === 'invalid') return { kind: 'invalid', reason: split.reason };
  const line = STATUS_LINE.exec(split.startLine);
  if (!line) return { kind: 'invalid', reason: 'malformed status line' };
  const status = Number(line[2]);
  const fields = split.fields;
  const framing = responseFraming(fields, status, method);
  if (framing === undefined) return { kind: 'invalid', reason: 'conflicting or invalid Content-Length' };
  const connectionTokens = listValues(fields, 'connection');
  const keepAlive = line[1] === '1' ? !connectionTokens.includes('close') : connectionTokens.includes('keep-alive');
  return {
    kind: 'complete',
    end: split.end,
    head: { version: line[1] === '1' ? '1.1' : '1.0', status, reason: line[3] ?? '', fields, framing, reusable: keepAlive && framing.kind !== 'close', connectionTokens },
  };
}

function responseFraming(fields: HeaderField[], status: number, method: string): ResponseFraming | undefined {
  if (method === 'HEAD' || status < 200 || status === 204 || status === 304) return { kind: 'none' };
  if (countFields(fields, 'transfer-encoding') > 0) {
    return listValues(fields, 'transfer-encoding').at(-1) === 'chunked' ? { kind: 'chunked' } : { kind: 'close' };
  }
  let length: number | undefined;
  for (const f of fields) {
    if (f.name !== 'content-length') continue;
    // Repeated identical values are one length (RFC 9112 §6.3 rule 5); anything else is unframeable.
    for (const part of f.value.split(',')) {
      const n = parseContentLength(trimOws(part));
      if (n === undefined || (length !== undefined && n !== length)) return undefined;
      length = n;
    }
  }
  if (length === undefined) return { kind: 'close' };
  return length === 0 ? { kind: 'none' } : { kind: 'length', length };
}
