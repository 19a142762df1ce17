/**
 * The heads the router writes: the request as the upstream sees it (hop-by-hop fields removed,
 * forwarded headers, request id, Via) and the response as the client sees it (RFC 9110 §7.6).
 */
import type { HeaderField } from './http-head.js';
import type { RequestHead } from './request-head.js';
import type { ResponseHead } from './response-head.js';

export interface ForwardContext {
  clientIp: string;
  /** The peer is a trusted proxy: its X-Forwarded-* and X-Request-Start describe the real client. */
  trusted: boolean;
  /** The router's port the client connected to. */
  localPort: number;
  /** The client connected over TLS. */
  secure: boolean;
  requestId: string;
  /** When the router received the request, ms since the epoch. */
  startMs: number;
}

const VIA = 'pier';
/** Request ids are logged and echoed by apps: printable ASCII only, and not a wall of text. */
const REQUEST_ID = /^[\x21-\x7e]{1,200}$/;

/** The client's X-Request-Id when it is usable, so one id follows a request through several proxies. */
export function clientRequestId(req: RequestHead): string | undefined {
  for (const f of req.fields) if (f.name === 'x-request-id' && REQUEST_ID.test(f.value)) return f.value;
  return undefined;
}

/**
 * Fields a client could name in Connection to make the router drop them: removing these would
 * change how the request is routed or framed, so they stay.
 */
const PROTECTED = new Set(['host', 'content-length', 'transfer-encoding']);

const named = (tokens: readonly string[], name: string) => tokens.length > 0 && tokens.includes(name) && !PROTECTED.has(name);

export function upstreamRequestHead(req: RequestHead, ctx: ForwardContext): string {
  let head = `${req.method} ${req.target} HTTP/${req.version}\r\n`;
  let forwardedFor = '';
  let proto = '';
  let forwardedHost = '';
  let port = '';
  let requestStart = '';
  let via = '';
  for (const f of req.fields) {
    switch (f.name) {
      case 'connection':
      case 'keep-alive':
      case 'proxy-connection':
      case 'te':
      case 'http2-settings':
      case 'x-request-id':
        continue;
      case 'upgrade':
        // Connection names it too, yet for a websocket handshake the upstream must see it.
        if (req.websocket) head += `${f.rawName}: ${f.value}\r\n`;
        continue;
      case 'host':
        if (req.hostFromTarget) continue;
        break;
      case 'x-forwarded-for':
        if (ctx.trusted) forwardedFor = forwardedFor === '' ? f.value : `${forwardedFor}, ${f.value}`;
        continue;
      case 'x-forwarded-proto':
        if (ctx.trusted && proto === '') proto = f.value;
        continue;
      case 'x-forwarded-host':
        if (ctx.trusted && forwardedHost === '') forwardedHost = f.value;
        continue;
      case 'x-forwarded-port':
        if (ctx.trusted && port === '') port = f.value;
        continue;
      case 'x-request-start':
        if (ctx.trusted && requestStart === '') requestStart = f.value;
        continue;
      case 'forwarded':
        if (ctx.trusted) break;
        continue;
      case 'via':
        via = via === '' ? f.value : `${via}, ${f.value}`;
        continue;
    }
    if (named(req.connectionTokens, f.name)) continue;
    head += `${f.rawName}: ${f.value}\r\n`;
  }
  if (req.hostFromTarget) head += `Host: ${req.host}\r\n`;
  const ownVia = `${req.version} ${VIA}`;
  return (
    head +
    `X-Forwarded-For: ${forwardedFor === '' ? ctx.clientIp : `${forwardedFor}, ${ctx.clientIp}`}\r\n` +
    `X-Forwarded-Proto: ${proto || (ctx.secure ? 'https' : 'http')}\r\n` +
    `X-Forwarded-Host: ${forwardedHost || req.host}\r\n` +
    `X-Forwarded-Port: ${port || ctx.localPort}\r\n` +
    `X-Request-Id: ${ctx.requestId}\r\n` +
    `X-Request-Start: ${requestStart || `t=${ctx.startMs}`}\r\n` +
    `Via: ${via === '' ? ownVia : `${via}, ${ownVia}`}\r\n` +
    // The client's Connection is hop-by-hop: upstream connections stay pooled whatever it says.
    (req.websocket ? 'Connection: upgrade\r\n\r\n' : 'Connection: keep-alive\r\n\r\n')
  );
}

export interface ClientResponseOptions {
  /** The router closes the client connection after this response. */
  close: boolean;
  /** An HTTP/1.0 client asked for keep-alive, and gets it. */
  keepAlive10: boolean;
  /** Strict-Transport-Security the router sends (over HTTPS only), in place of the app's own. */
  hsts?: string;
}

/** The upstream's head as the client gets it: the upstream's keep-alive terms are its own. */
export function clientResponseHead(res: ResponseHead, opts: ClientResponseOptions): string {
  const upgrade = res.status === 101;
  let head = `HTTP/1.1 ${res.status} ${res.reason}\r\n`;
  let via = '';
  for (const f of res.fields) {
    if (f.name === 'via') {
      via += `${f.value}, `;
      continue;
    }
    if (dropFromResponse(f, res, upgrade) || (opts.hsts !== undefined && f.name === 'strict-transport-security')) continue;
    head += `${f.rawName}: ${f.value}\r\n`;
  }
  if (opts.hsts !== undefined) head += `strict-transport-security: ${opts.hsts}\r\n`;
  // RFC 9110 §7.6.3: each proxy appends itself, with the protocol it received the message in.
  head += `via: ${via}${res.version} ${VIA}\r\n`;
  if (upgrade) return `${head}connection: upgrade\r\n\r\n`;
  if (opts.close) return `${head}connection: close\r\n\r\n`;
  return opts.keepAlive10 ? `${head}connection: keep-alive\r\n\r\n` : `${head}\r\n`;
}

function dropFromResponse(f: HeaderField, res: ResponseHead, upgrade: boolean): boolean {
  switch (f.name) {
    case 'connection':
    case 'keep-alive':
    case 'proxy-connection':
      return true;
    case 'upgrade':
      return !upgrade && named(res.connectionTokens, f.name);
    case 'content-length':
      // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3); passing both on invites smuggling.
      return res.framing.kind === 'chunked';
    default:
      return named(res.connectionTokens, f.name);
  }
}
