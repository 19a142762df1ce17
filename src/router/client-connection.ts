/**
 * One client connection through the router's data plane. Requests are served one at a time: read the
 * head, pick an upstream for that request's Host, write head and body start in one write, stream the
 * body up and the response down, return the upstream connection to its pool, then take the next
 * (pipelined) request. Bytes that arrive early wait in `pending`, so a Host change or a pipelined
 * request never cuts into a response that is still streaming.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type net from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../log.js';
import { ChunkedBody, LengthBody, NO_BODY, UntilCloseBody, type BodyTracker } from './body-framing.js';
import { clientRequestId, clientResponseHead, upstreamRequestHead } from './forwarded-heads.js';
import type { ProxySettings } from '../proxy-settings.js';
import { pageStatus, type PageName, type Pages } from './pages.js';
import { isIdempotent, parseRequestHead, type RequestFraming, type RequestHead } from './request-head.js';
import { parseResponseHead, type ResponseFraming, type ResponseHead } from './response-head.js';
import type { RouteTable } from './route-table.js';
import { httpsLocation } from './tls-certificates.js';
import type { TrustedProxies } from './trusted-proxies.js';
import type { UpstreamHealth } from './upstream-health.js';
import { holdWrites } from './turn-writes.js';
import type { UpstreamConnection, UpstreamOwner, UpstreamPools } from './upstream-pool.js';

/** The router's own timeouts; those an app may set (connect, response, idle) are its ProxySettings. */
export interface Timeouts {
  /** A request head must be complete this long after its first byte, so slow clients (slowloris) cannot hold the router. */
  headerMs: number;
  /** A request body that sends nothing for this long is abandoned, and its upstream connection with it. */
  bodyIdleMs: number;
  /** A client that reads nothing of a response for this long lets go of its upstream connection. */
  writeStallMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = {
  headerMs: 10_000,
  bodyIdleMs: 30_000,
  writeStallMs: 60_000,
};

/** What an access log needs of every request, told once it is over (whatever its outcome). */
export interface RequestDone {
  /** Undefined when no app owns the host (or the request could not be read). */
  app: string | undefined;
  host: string;
  method: string;
  path: string;
  /** The status the client got; 499 when the client left before a response. */
  status: number;
  /** Response bytes sent to the client, head included. */
  bytes: number;
  durationMs: number;
  /** The instance that answered (the last one tried), if any. */
  upstream: string | undefined;
  requestId: string;
}

/** A response the router sends itself instead of proxying (maintenance mode, limits, …). */
export interface LocalResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface RouterHooks {
  onRequestDone?: (done: RequestDone) => void;
  /** Per-app policy, asked before a request is proxied; a response it returns is sent instead. */
  policy?: (app: string, request: RequestHead, clientIp: string) => LocalResponse | undefined;
}

export interface ProxyContext {
  table: RouteTable;
  pools: UpstreamPools;
  health: UpstreamHealth;
  trusted: TrustedProxies;
  timeouts: Timeouts;
  hooks: RouterHooks;
  pages: Pages;
  log: Logger;
  connections: Set<ClientConnection>;
  /** Set when the router serves HTTPS too. */
  https?: HttpsPolicy;
}

export interface HttpsPolicy {
  /** The public HTTPS port: https-only redirects point there. */
  port: number;
  /** Whether HTTPS to this host of the app would be served (it has a certificate naming the host). */
  covers(app: string, hostHeader: string): boolean;
}

/** Pipelined bytes held while a response streams; past this the client is paused (back-pressure). */
const MAX_PENDING = 64 * 1024;
/** How long a client may keep its side open after the router has closed its own. */
const CLOSE_LINGER_MS = 5000;
/** Upstreams tried for one request before a 502. */
const MAX_ATTEMPTS = 3;

const enum Phase {
  Head,
  Proxying,
  Tunnel,
  Closed,
}

const enum Deadline {
  None,
  Idle,
  Header,
  Connect,
  BodyIdle,
  Response,
  WriteStall,
  Linger,
}

function requestBody(framing: RequestFraming): BodyTracker {
  if (framing.kind === 'length') return new LengthBody(framing.length);
  return framing.kind === 'chunked' ? new ChunkedBody() : NO_BODY;
}

function responseBody(framing: ResponseFraming): BodyTracker {
  switch (framing.kind) {
    case 'length':
      return new LengthBody(framing.length);
    case 'chunked':
      return new ChunkedBody();
    case 'close':
      return new UntilCloseBody();
    default:
      return NO_BODY;
  }
}

const concat = (a: Buffer | undefined, b: Buffer) => (a === undefined ? b : Buffer.concat([a, b]));

/** `::ffff:10.0.0.1` (an IPv4 peer of a dual-stack listener) as apps expect it: `10.0.0.1`. */
const plainIp = (address: string | undefined) => (address?.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : (address ?? ''));

export class ClientConnection implements UpstreamOwner {
  /** When `onDeadline` is due (ms since the epoch); the router sweeps connections for it. */
  deadline = Infinity;
  private deadlineKind = Deadline.None;
  private phase = Phase.Head;
  /** Received and not consumed yet: the start of the next request. */
  private pending: Buffer | undefined;
  private scanFrom = 0;
  private closeAfter = false;
  private clientEnded = false;
  private readonly clientIp: string;
  private readonly trusted: boolean;
  private readonly localPort: number;
  /** Arrived over TLS: X-Forwarded-Proto https, HSTS, no https-only redirect. */
  private readonly secure: boolean;
  private readonly skipTriedOrDown = (u: string) => this.tried.includes(u) || this.ctx.health.isDown(u, Date.now());
  private readonly skipTried = (u: string) => this.tried.includes(u);

  // The exchange in progress.
  private req: RequestHead | undefined;
  private app: string | undefined;
  /** The settings of the request's app (the global ones until it is known); idle-timeout outlives the request. */
  private settings: ProxySettings;
  private requestId = '';
  private startMs = 0;
  private reqBody: BodyTracker = NO_BODY;
  /** The request body when chunked: its size is only known as it arrives, and max-body-size applies as it does. */
  private reqChunked: ChunkedBody | undefined;
  /** The body bytes that came with the head: written with it, and again on a retry when they are the whole body. */
  private replay: Buffer | undefined;
  private replayable = false;
  private up: UpstreamConnection | undefined;
  private upstream = '';
  private tried: string[] = [];
  private attempts = 0;
  private resHead: ResponseHead | undefined;
  private resBuf: Buffer | undefined;
  private resScan = 0;
  private resBody: BodyTracker = NO_BODY;
  private upstreamReusable = false;
  /** Some of the response (an interim 1xx included) reached the client: a failure can no longer become an error page. */
  private sent = false;
  private status = 0;
  private bytes = 0;

  constructor(private readonly socket: net.Socket, private readonly ctx: ProxyContext) {
    socket.setNoDelay(true);
    this.clientIp = plainIp(socket.remoteAddress);
    this.trusted = ctx.trusted.trusts(socket.remoteAddress);
    this.localPort = socket.localPort ?? 0;
    this.secure = (socket as Partial<TLSSocket>).encrypted === true;
    socket.on('data', (chunk: Buffer) => {
      try {
        this.onData(chunk);
      } catch (err) {
        this.crashed(err);
      }
    });
    socket.on('end', () => this.onEnd());
    socket.on('drain', () => this.onClientDrain());
    socket.on('error', () => undefined); // 'close' follows, and handles it
    socket.on('close', () => this.onClose());
    this.settings = ctx.table.settings(undefined);
    this.setDeadline(Deadline.Idle, Date.now() + this.settings.idleTimeoutMs);
    ctx.connections.add(this);
  }

  /** A bug must cost one connection, never the router that serves every app. */
  private crashed(err: unknown): void {
    this.ctx.log.error({ err, app: this.app, upstream: this.upstream }, 'router connection failed; closing it');
    this.socket.destroy();
  }

  onUpstreamData(chunk: Buffer): void {
    try {
      this.upstreamData(chunk);
    } catch (err) {
      this.crashed(err);
    }
  }

  /** The router is closing: an idle connection goes now, a busy one after its response. */
  shutdown(): void {
    if (this.phase === Phase.Proxying) this.closeAfter = true;
    else this.socket.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }

  onDeadline(now: number): void {
    const kind = this.deadlineKind;
    this.setDeadline(Deadline.None, Infinity);
    switch (kind) {
      case Deadline.Connect:
        this.upstreamFailed(this.detachUpstream(), now);
        return;
      case Deadline.Response:
        this.detachUpstream().destroy();
        if (this.sent) this.socket.destroy();
        else this.answerThenServe(504);
        return;
      case Deadline.BodyIdle:
      case Deadline.WriteStall:
        if (this.up) this.detachUpstream().destroy();
        this.socket.destroy();
        return;
      case Deadline.Idle:
      case Deadline.Header:
      case Deadline.Linger:
        this.socket.destroy();
        return;
    }
  }

  private setDeadline(kind: Deadline, at: number): void {
    this.deadlineKind = kind;
    this.deadline = at;
  }

  /** The deadline that governs an exchange in flight, from what it is waiting for. */
  private armProxyDeadline(now: number): void {
    if (this.up && !this.up.connected) this.setDeadline(Deadline.Connect, now + this.settings.connectTimeoutMs);
    else if (!this.reqBody.done) this.setDeadline(Deadline.BodyIdle, now + this.ctx.timeouts.bodyIdleMs);
    else if (!this.resHead) this.setDeadline(Deadline.Response, now + this.settings.responseTimeoutMs);
    else this.setDeadline(Deadline.None, Infinity);
  }

  private onData(chunk: Buffer): void {
    switch (this.phase) {
      case Phase.Head:
        this.hold(chunk);
        this.serve();
        return;
      case Phase.Proxying:
        if (!this.reqBody.done) this.forwardBody(chunk);
        else this.hold(chunk);
        return;
      case Phase.Tunnel:
        if (this.up && !this.up.socket.write(chunk)) this.socket.pause();
        return;
    }
  }

  /** Keeps bytes for later requests; a client sending far ahead of its answers is paused. */
  private hold(chunk: Buffer): void {
    this.pending = concat(this.pending, chunk);
    if (this.pending.length > MAX_PENDING) this.socket.pause();
  }

  /**
   * Serves the requests waiting in `pending`, as long as each is answered at once (error pages) and
   * the client reads its answers: a pipelined flood waits for 'drain' instead of filling memory.
   */
  private serve(): void {
    while (this.phase === Phase.Head && this.pending !== undefined && !this.socket.writableNeedDrain) {
      const parsed = parseRequestHead(this.pending, 0, this.scanFrom);
      if (parsed.kind === 'incomplete') {
        this.scanFrom = parsed.scanFrom;
        if (this.clientEnded) this.close();
        else if (this.deadlineKind !== Deadline.Header) this.setDeadline(Deadline.Header, Date.now() + this.ctx.timeouts.headerMs);
        return;
      }
      if (parsed.kind === 'invalid') {
        this.reject(parsed.status, parsed.reason);
        return;
      }
      const rest = parsed.end < this.pending.length ? this.pending.subarray(parsed.end) : undefined;
      this.pending = undefined;
      this.scanFrom = 0;
      this.begin(parsed.head, parsed.end, rest);
    }
  }

  /** Starts the record of an exchange: a request, or bytes that could not be read as one. */
  private reset(head: RequestHead | undefined, now: number): void {
    this.req = head;
    this.startMs = now;
    this.requestId = (head && clientRequestId(head)) ?? randomUUID();
    this.app = undefined;
    this.settings = this.ctx.table.settings(undefined);
    this.upstream = '';
    this.tried = [];
    this.attempts = 0;
    this.sent = false;
    this.status = 0;
    this.bytes = 0;
  }

  private begin(head: RequestHead, headBytes: number, rest: Buffer | undefined): void {
    const now = Date.now();
    this.reset(head, now);
    if (head.close) this.closeAfter = true;
    this.reqBody = requestBody(head.framing);
    this.reqChunked = this.reqBody instanceof ChunkedBody ? this.reqBody : undefined;
    this.replay = undefined;
    if (rest) {
      const end = this.reqBody.feed(rest, 0);
      if (end === -1) return this.reject(400, 'malformed chunked body');
      if (end > 0) this.replay = end === rest.length ? rest : rest.subarray(0, end);
      if (end < rest.length) this.pending = rest.subarray(end);
    }
    this.replayable = this.reqBody.done;
    this.phase = Phase.Proxying;
    const app = this.ctx.table.appFor(head.host);
    const route = app === undefined ? undefined : this.ctx.table.route(app);
    this.app = app;
    if (route) this.settings = route.settings;
    if (headBytes > this.settings.maxHeaderBytes) return this.reject(431, 'head larger than max-header-size');
    if (!app) return this.answer(404);
    if (route?.maintenance) return this.answer('maintenance', route.maintenance.retryAfterSec);
    if (this.bodyTooLarge(head.framing)) return this.answer(413);
    if (!this.secure && this.redirectsToHttps(app, head)) return;
    const local = this.askPolicy(app, head);
    if (local) return this.sendLocal(local);
    this.connect(now);
  }

  /** https-only: a plain HTTP request to a host HTTPS would serve is sent there (308 keeps the method and body). */
  private redirectsToHttps(app: string, head: RequestHead): boolean {
    const https = this.ctx.https;
    if (!https || !this.settings.httpsOnly || !https.covers(app, head.host)) return false;
    this.sendLocal({ status: 308, headers: { location: httpsLocation(head.host, head.target, https.port) } });
    return true;
  }

  /** Strict-Transport-Security of any response (proxied or the router's own), when the app asks for it: over HTTPS only (RFC 6797 §7.2). */
  private hsts(): string | undefined {
    return this.secure && this.settings.hsts ? `max-age=${this.settings.hstsMaxAgeSec}` : undefined;
  }

  /** Known at once from a Content-Length, or once a chunked body has passed the limit. */
  private bodyTooLarge(framing: RequestFraming): boolean {
    const max = this.settings.maxBodyBytes;
    return framing.kind === 'length' ? framing.length > max : this.reqChunked !== undefined && this.reqChunked.dataBytes > max;
  }

  /** A failing policy is logged and skipped: it must not take the app down with it. */
  private askPolicy(app: string, head: RequestHead): LocalResponse | undefined {
    try {
      return this.ctx.hooks.policy?.(app, head, this.clientIp);
    } catch (err) {
      this.ctx.log.warn({ err, app }, 'router policy failed; the request is proxied');
      return undefined;
    }
  }

  private connect(now: number): void {
    const app = this.app!;
    const table = this.ctx.table;
    const upstream =
      this.settings.loadBalancing === 'round-robin'
        ? (table.pick(app, this.skipTriedOrDown) ?? table.pick(app, this.skipTried))
        : (table.pickLeastLoaded(app, this.ctx.pools.inFlight, this.skipTriedOrDown) ?? table.pickLeastLoaded(app, this.ctx.pools.inFlight, this.skipTried));
    if (upstream === undefined) return this.answer(this.attempts === 0 ? 503 : 502);
    this.attempts++;
    this.upstream = upstream;
    this.tried.push(upstream);
    this.resHead = undefined;
    this.resBuf = undefined;
    this.resScan = 0;
    const conn = this.ctx.pools.get(upstream).acquire(this);
    this.up = conn;
    const head = upstreamRequestHead(this.req!, {
      clientIp: this.clientIp,
      trusted: this.trusted,
      localPort: this.localPort,
      secure: this.secure,
      requestId: this.requestId,
      startMs: this.startMs,
    });
    // Head and body start go out in one segment: written apart, Nagle and delayed ACKs could hold the second.
    const s = conn.socket;
    holdWrites(s);
    s.write(head, 'latin1');
    if (this.replay) {
      s.write(this.replay);
      if (!this.replayable) this.replay = undefined;
    }
    this.armProxyDeadline(now);
  }

  private forwardBody(chunk: Buffer): void {
    const up = this.up;
    if (!up) return;
    const end = this.reqBody.feed(chunk, 0);
    if (end === -1) return this.cutRequest(() => this.reject(400, 'malformed chunked body'));
    if (end < chunk.length) this.pending = concat(this.pending, chunk.subarray(end));
    if (this.reqChunked !== undefined && this.bodyTooLarge(this.req!.framing)) return this.cutRequest(() => this.answerThenServe(413));
    if (end > 0) {
      holdWrites(up.socket);
      if (!up.socket.write(end === chunk.length ? chunk : chunk.subarray(0, end))) this.socket.pause();
    }
    if (this.deadlineKind === Deadline.BodyIdle || this.reqBody.done) this.armProxyDeadline(Date.now());
  }

  /** The upstream has part of a request it must never see completed; the client learns why, if it can still be told. */
  private cutRequest(answer: () => void): void {
    this.detachUpstream().destroy();
    if (this.sent) this.socket.destroy();
    else answer();
  }

  onUpstreamConnect(): void {
    this.armProxyDeadline(Date.now());
  }

  private upstreamData(chunk: Buffer): void {
    if (this.phase === Phase.Tunnel) {
      this.bytes += chunk.length;
      if (!this.socket.write(Buffer.from(chunk))) this.up!.socket.pause();
    } else if (this.resHead === undefined) {
      this.readResponseHead(chunk);
    } else {
      this.forwardResponse(chunk);
    }
  }

  /** `chunk` is only lent (see onUpstreamData): what is kept or written of it is copied. */
  private readResponseHead(chunk: Buffer): void {
    const buf = concat(this.resBuf, chunk);
    let start = 0;
    for (;;) {
      const parsed = parseResponseHead(buf, start, this.req!.method, this.resScan);
      if (parsed.kind === 'incomplete') {
        this.resBuf = Buffer.from(start === 0 ? buf : buf.subarray(start));
        this.resScan = parsed.scanFrom - start;
        return;
      }
      this.resBuf = undefined;
      this.resScan = 0;
      if (parsed.kind === 'invalid') return this.badGateway(parsed.reason);
      const head = parsed.head;
      if (head.status < 200 && head.status !== 101) {
        // Interim responses (100 Continue, 103 Early Hints) go on to the client; the final one follows.
        this.write(clientResponseHead(head, { close: false, keepAlive10: false }));
        start = parsed.end;
        this.resScan = start;
        continue;
      }
      if (head.status === 101) {
        if (!this.req!.websocket) return this.badGateway('101 to a request that asked for no upgrade');
        return this.startTunnel(head, buf, parsed.end);
      }
      this.resHead = head;
      this.status = head.status;
      this.resBody = responseBody(head.framing);
      this.upstreamReusable = head.reusable;
      if (head.framing.kind === 'close') this.closeAfter = true;
      const end = this.resBody.feed(buf, parsed.end);
      if (end === -1) return this.badGateway('malformed chunked response');
      const text = clientResponseHead(head, { close: this.closeAfter, keepAlive10: this.req!.keepAlive10, hsts: this.hsts() });
      const s = this.socket;
      if (end > parsed.end) {
        // The head and the body bytes that came with it, in one buffer: copied out of the lent chunk anyway.
        const out = Buffer.allocUnsafe(text.length + end - parsed.end);
        out.write(text, 0, 'latin1');
        buf.copy(out, text.length, parsed.end, end);
        this.write(out);
      } else {
        this.write(text);
      }
      if (this.resBody.done) this.responseComplete(end < buf.length);
      else if (s.writableNeedDrain) this.stall();
      else this.armProxyDeadline(Date.now());
      return;
    }
  }

  private forwardResponse(chunk: Buffer): void {
    const end = this.resBody.feed(chunk, 0);
    if (end === -1) {
      this.ctx.log.debug({ upstream: this.upstream }, 'malformed chunked response; the client connection is cut');
      this.detachUpstream().destroy();
      this.socket.destroy();
      return;
    }
    if (end > 0) {
      this.bytes += end;
      holdWrites(this.socket);
      if (!this.socket.write(Buffer.from(end === chunk.length ? chunk : chunk.subarray(0, end)))) this.stall();
    }
    if (this.resBody.done) this.responseComplete(end < chunk.length);
  }

  /** The client reads slower than the upstream sends: hold the upstream until it catches up, within a deadline. */
  private stall(): void {
    this.up?.socket.pause();
    this.setDeadline(Deadline.WriteStall, Date.now() + this.ctx.timeouts.writeStallMs);
  }

  private onClientDrain(): void {
    if (this.up?.socket.isPaused()) this.up.socket.resume();
    if (this.deadlineKind === Deadline.WriteStall) this.armProxyDeadline(Date.now());
    if (this.phase === Phase.Head) {
      this.serve();
      if (this.phase === Phase.Head && (this.pending?.length ?? 0) <= MAX_PENDING && this.socket.isPaused()) this.socket.resume();
    }
  }

  onUpstreamDrain(): void {
    if (this.socket.isPaused() && (this.phase === Phase.Tunnel || !this.reqBody.done)) this.socket.resume();
  }

  /** The response is complete; `trailing` means the upstream sent bytes past its end, so its connection is out of step. */
  private responseComplete(trailing: boolean): void {
    const up = this.detachUpstream();
    this.ctx.health.markAnswered(this.upstream);
    if (!this.reqBody.done) {
      // The upstream answered before reading the whole body; the rest of it would be taken for a request.
      this.closeAfter = true;
      up.destroy();
    } else if (this.upstreamReusable && !trailing) {
      up.release();
    } else {
      up.destroy();
    }
    this.finish(this.status);
    this.serve();
  }

  onUpstreamEnd(): void {
    if (this.phase === Phase.Tunnel) this.socket.end();
    else if (this.resHead && this.resBody instanceof UntilCloseBody) this.responseComplete(false);
  }

  onUpstreamClose(err: Error | undefined): void {
    const conn = this.detachUpstream();
    if (this.phase === Phase.Tunnel) {
      if (err) this.socket.destroy();
      else this.socket.end();
    } else if (this.phase === Phase.Proxying) {
      this.ctx.log.debug({ err: err?.message, upstream: this.upstream, app: this.app }, 'upstream connection closed before the response ended');
      this.upstreamFailed(conn, Date.now());
    }
  }

  /**
   * The upstream refused, reset or closed before the response was complete. Before any byte reached
   * the client, the request goes to another instance if that is safe (nothing was sent, or the
   * method is idempotent, and its whole body is at hand); otherwise the client gets a 502.
   */
  private upstreamFailed(conn: UpstreamConnection, now: number): void {
    conn.destroy();
    if (this.sent) {
      this.socket.destroy();
      return;
    }
    // A pooled connection the upstream closed as it was reused says nothing about the upstream's health.
    if (conn.reused) {
      // Another try on the same instance, not counted: each such failure uses up one pooled connection.
      this.tried.pop();
      this.attempts--;
    } else {
      this.ctx.health.markFailed(this.upstream, now);
    }
    const safe = this.replayable && (!conn.connected || isIdempotent(this.req!.method));
    if (safe && this.attempts < MAX_ATTEMPTS) this.connect(now);
    else this.answer(502);
    this.serve();
  }

  private badGateway(reason: string): void {
    this.ctx.log.debug({ upstream: this.upstream, app: this.app, reason }, 'invalid response from upstream');
    this.detachUpstream().destroy();
    if (this.sent) this.socket.destroy();
    else this.answerThenServe(502);
  }

  private startTunnel(head: ResponseHead, buf: Buffer, end: number): void {
    this.status = 101;
    this.phase = Phase.Tunnel;
    this.setDeadline(Deadline.None, Infinity);
    const s = this.socket;
    s.cork();
    this.write(clientResponseHead(head, { close: false, keepAlive10: false }));
    if (end < buf.length) s.write(Buffer.from(buf.subarray(end)));
    s.uncork();
    if (this.pending) {
      this.up!.socket.write(this.pending);
      this.pending = undefined;
    }
    if (s.isPaused()) s.resume();
  }

  private detachUpstream(): UpstreamConnection {
    const up = this.up!;
    this.up = undefined;
    up.detach();
    return up;
  }

  /** Heads are latin1 strings (what was received is what is sent); pages are UTF-8 buffers. Writes that follow in this turn go out with it. */
  private write(data: string | Buffer): void {
    this.sent = true;
    holdWrites(this.socket);
    this.bytes += data.length;
    if (typeof data === 'string') this.socket.write(data, 'latin1');
    else this.socket.write(data);
  }

  private answer(name: PageName, retryAfterSec?: number): void {
    const req = this.req!;
    if (!this.reqBody.done) this.closeAfter = true;
    this.status = pageStatus(name);
    this.write(this.page(name, { close: this.closeAfter, head: req.method === 'HEAD' }, retryAfterSec));
    this.finish(this.status);
  }

  private page(name: PageName, opts: { close: boolean; head: boolean }, retryAfterSec?: number): Buffer {
    const host = this.req?.host ?? '';
    return this.ctx.pages.response(name, { host, app: this.app, requestId: this.requestId, settings: this.settings, retryAfterSec }, { ...opts, hsts: this.hsts() });
  }

  /** An error page from an event handler, then the requests that were waiting behind it. */
  private answerThenServe(name: PageName): void {
    this.answer(name);
    this.serve();
  }

  private sendLocal(local: LocalResponse): void {
    if (!this.reqBody.done) this.closeAfter = true;
    const body = local.body ?? '';
    let head = `HTTP/1.1 ${local.status} ${STATUS_CODES[local.status] ?? ''}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
    for (const [name, value] of Object.entries(local.headers ?? {})) head += `${name}: ${value}\r\n`;
    const hsts = this.hsts();
    if (hsts !== undefined) head += `strict-transport-security: ${hsts}\r\n`;
    head += this.closeAfter ? 'connection: close\r\n\r\n' : '\r\n';
    this.status = local.status;
    this.write(head);
    if (this.req!.method !== 'HEAD') {
      this.bytes += Buffer.byteLength(body);
      this.socket.write(body);
    }
    this.finish(local.status);
  }

  /** 400 or 431: the connection cannot be read any further, so it ends here. */
  private reject(status: 400 | 431, reason: string): void {
    this.ctx.log.debug({ reason, client: this.clientIp }, 'request refused');
    if (!this.req) this.reset(undefined, Date.now());
    this.closeAfter = true;
    this.status = status;
    this.write(this.page(status, { close: true, head: false }));
    this.finish(status);
  }

  /** The exchange is over: report it, then wait for the next request or close. */
  private finish(status: number): void {
    this.report(status);
    this.resHead = undefined;
    this.resBody = NO_BODY;
    this.replay = undefined;
    if (this.closeAfter || (this.clientEnded && this.pending === undefined)) {
      this.close();
      return;
    }
    this.phase = Phase.Head;
    this.setDeadline(this.pending ? Deadline.Header : Deadline.Idle, Date.now() + (this.pending ? this.ctx.timeouts.headerMs : this.settings.idleTimeoutMs));
    if (this.socket.isPaused()) this.socket.resume();
  }

  private report(status: number): void {
    const req = this.req;
    this.req = undefined;
    const hook = this.ctx.hooks.onRequestDone;
    if (!hook) return;
    try {
      hook({
        app: this.app,
        host: req?.host ?? '',
        method: req?.method ?? '',
        path: req?.target ?? '',
        status,
        bytes: this.bytes,
        durationMs: Date.now() - this.startMs,
        upstream: this.upstream || undefined,
        requestId: this.requestId,
      });
    } catch (err) {
      this.ctx.log.warn({ err }, 'onRequestDone hook failed');
    }
  }

  /** Ends the router's side; a client that never closes its own is dropped after a while. */
  private close(): void {
    this.phase = Phase.Closed;
    this.setDeadline(Deadline.Linger, Date.now() + CLOSE_LINGER_MS);
    this.socket.end();
  }

  private onEnd(): void {
    this.clientEnded = true;
    if (this.phase === Phase.Tunnel) {
      this.up?.socket.end();
    } else if (this.phase === Phase.Head) {
      if (this.pending === undefined) this.close();
      else this.serve();
    } else if (this.phase === Phase.Proxying && !this.reqBody.done) {
      this.socket.destroy();
    }
  }

  private onClose(): void {
    this.phase = Phase.Closed;
    this.setDeadline(Deadline.None, Infinity);
    this.ctx.connections.delete(this);
    if (this.up) this.detachUpstream().destroy();
    if (this.req) this.report(this.status || 499);
  }
}
