/**
 * HTTP/1.1 on a bare socket, for tests that need what node:http hides: pipelining, malformed requests,
 * the exact bytes of a response. Written independently of the router's parsers, so it can judge them.
 */
import net from 'node:net';

export interface RawResponse {
  status: number;
  /** Lowercased names; repeated fields joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

/** Reads responses off a socket, one after the other; each `next()` resolves with the next complete one. */
export class ResponseReader {
  private buf = Buffer.alloc(0);
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => undefined);
  }

  /** Every byte received so far and not yet read as a response. */
  get unread(): string {
    return this.buf.toString('latin1');
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The next response; `head` for responses to HEAD (no body). Fails after `timeoutMs`. */
  async next(opts: { head?: boolean; timeoutMs?: number } = {}): Promise<RawResponse> {
    const deadline = Date.now() + (opts.timeoutMs ?? 5000);
    for (;;) {
      const parsed = this.tryParse(opts.head ?? false);
      if (parsed) return parsed;
      if (this.closed) throw new Error(`connection closed before a whole response; got ${JSON.stringify(this.unread.slice(0, 300))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no whole response within ${opts.timeoutMs ?? 5000} ms; got ${JSON.stringify(this.unread.slice(0, 300))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Resolves true once the peer has closed the connection, false if it has not within `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return this.closed;
  }

  private tryParse(head: boolean): RawResponse | undefined {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end === -1) return undefined;
    const lines = this.buf.toString('latin1', 0, end).split('\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0]!)?.[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    let at = end + 4;
    let body: Buffer;
    const noBody = head || status < 200 || status === 204 || status === 304;
    if (noBody) {
      body = Buffer.alloc(0);
    } else if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = this.buf.indexOf('\r\n', at);
        if (lineEnd === -1) return undefined;
        const size = parseInt(this.buf.toString('latin1', at, lineEnd), 16);
        at = lineEnd + 2;
        if (size === 0) {
          const trailerEnd = this.buf.indexOf('\r\n', at);
          if (trailerEnd === -1) return undefined;
          at = trailerEnd + 2;
          break;
        }
        if (this.buf.length < at + size + 2) return undefined;
        parts.push(this.buf.subarray(at, at + size));
        at += size + 2;
      }
      body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (this.buf.length < at + length) return undefined;
      body = this.buf.subarray(at, at + length);
      at += length;
    } else {
      if (!this.closed) return undefined;
      body = this.buf.subarray(at);
      at = this.buf.length;
    }
    this.buf = this.buf.subarray(at);
    return { status, headers, body: Buffer.from(body) };
  }
}

/** Connects to 127.0.0.1:`port` and resolves once connected. */
export function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}
