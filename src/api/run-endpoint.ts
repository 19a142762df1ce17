import http from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import type { OneOffSession } from '../scheduler/scheduler.js';
import { appNameSchema } from '../validation.js';
import { UNAUTHENTICATED } from './auth.js';
import { HttpError, parseWith } from './http-utils.js';
import type { ApiDeps } from './route-kit.js';
import { encodeFrame, frameEncoder, RUN_UPGRADE, RunFrameDecoder, RunProtocolError, runRequestSchema, type DataType, type RunRequest } from './run-protocol.js';

const RUN_PATH = /^\/api\/apps\/([^/]+)\/run$/;
const MAX_BODY = 1024 * 1024;
/** The request body follows its headers at once; a client that stalls in between is let go. */
const BODY_TIMEOUT_MS = 10_000;
/** How long a run that ends in an error waits for its client to take what is buffered, before the connection is cut. */
const ERROR_FLUSH_MS = 1000;

type UpgradeHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * `pier run`: the API server's `upgrade` handler for `POST /api/apps/:app/run` with
 * `Upgrade: pier-run`, relaying the command's stdin, stdout and stderr (see run-protocol.ts).
 */
export function createRunEndpoint(deps: ApiDeps, authenticate: (req: http.IncomingMessage) => Promise<string | undefined>): UpgradeHandler {
  const upgrade = async (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const who = await authenticate(req);
    if (!who) throw new HttpError(401, UNAUTHENTICATED);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = RUN_PATH.exec(url.pathname);
    if (!match || req.method !== 'POST' || req.headers.upgrade?.toLowerCase() !== RUN_UPGRADE) {
      throw new HttpError(404, `No such endpoint: ${req.method} ${url.pathname} with Upgrade: ${req.headers.upgrade}`);
    }
    const app = parseWith(appNameSchema, decodeURIComponent(match[1]!));
    const { body, rest } = await readBody(req, socket, head);
    const request = parseWith(runRequestSchema, body);
    await deps.apps.require(app);
    const session = await deps.oneOffs.attach(app, { argv: request.command, tty: request.tty, env: request.env, who });
    if (socket.destroyed) return void session.kill();
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${RUN_UPGRADE}\r\n\r\n`);
    await new Relay(session, socket, request, () => deps.oneOffs.closing).run(rest);
  };

  return (req, socket, head) => {
    socket.on('error', () => undefined);
    upgrade(req, socket, head).catch((err: unknown) => refuse(socket, err, deps.log));
  };
}

/** Answers a request that was not upgraded with the API's usual JSON error, then closes. */
function refuse(socket: Duplex, err: unknown, log: Logger): void {
  const status = err instanceof HttpError ? err.status : err instanceof UserError ? 400 : 500;
  if (status === 500) log.error({ err }, 'pier run failed');
  if (!socket.writable) return void socket.destroy();
  const body = JSON.stringify({ error: (err as Error).message });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** The JSON body of the upgrade request (it comes before any frame), and the bytes after it. */
async function readBody(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<{ body: unknown; rest: Buffer }> {
  const length = Number(req.headers['content-length'] ?? 0);
  if (req.headers['transfer-encoding'] || !Number.isInteger(length) || length < 0) throw new HttpError(411, 'A run request needs a Content-Length.');
  if (length > MAX_BODY) throw new HttpError(413, 'Request body too large (limit 1 MiB).');
  const data = head.length >= length ? head : await readAtLeast(socket, head, length);
  if (length === 0) return { body: {}, rest: data };
  try {
    return { body: JSON.parse(data.subarray(0, length).toString('utf8')), rest: data.subarray(length) };
  } catch {
    throw new HttpError(400, 'Request body is not valid JSON.');
  }
}

function readAtLeast(socket: Duplex, head: Buffer, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks = [head];
    let size = head.length;
    const done = (err?: Error) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onClose);
      socket.off('close', onClose);
      socket.pause();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= length) done();
    };
    const onClose = () => done(new HttpError(400, 'The connection closed before the request body arrived.'));
    const timer = setTimeout(() => done(new HttpError(408, `The request body did not arrive within ${BODY_TIMEOUT_MS / 1000} s.`)), BODY_TIMEOUT_MS);
    socket.on('data', onData);
    socket.on('end', onClose);
    socket.on('close', onClose);
    socket.resume();
  });
}

/** One upgraded connection: frames from the client feed the command, its output and exit go back. */
class Relay {
  private finished = false;
  private stdinEnded = false;
  private readonly decoder = new RunFrameDecoder();

  constructor(
    private readonly session: OneOffSession,
    private readonly socket: Duplex,
    private readonly request: RunRequest,
    private readonly shuttingDown: () => boolean,
  ) {}

  async run(early: Buffer): Promise<void> {
    const { session, socket, request } = this;
    session.stdin?.on('error', () => undefined);
    if (request.tty && request.cols && request.rows) void session.resize(request.cols, request.rows);
    // The API server keeps sockets half-open; here the client's end only means it has gone (stdin's end is a frame).
    socket.once('end', () => socket.destroy());
    const closed = new Promise<void>((resolve) => socket.once('close', resolve));
    // Nobody is left to read the output or to type: the command goes too.
    void closed.then(() => {
      if (!this.finished) void session.kill();
    });
    socket.on('data', (chunk: Buffer) => this.input(chunk));
    if (early.length > 0) this.input(early);
    socket.resume();
    const output = Promise.all([this.forward(session.stdout, 'stdout'), this.forward(session.stderr, 'stderr')]);
    try {
      const code = await session.wait();
      if (this.shuttingDown()) return this.fail('The Pier daemon is shutting down; the command was stopped. Run it again in a moment.');
      // Docker closes the output once it has all been read; a client that left needs none.
      await Promise.race([output, closed]);
      this.finish(encodeFrame({ type: 'exit', code }));
    } catch (err) {
      this.fail(`The one-off container was lost: ${(err as Error).message}`);
    }
  }

  /** Tells the client why its command ended before exiting, and kills it. */
  private fail(message: string): void {
    this.finish(encodeFrame({ type: 'error', message }));
    void this.session.kill();
    // A client that does not read (its stdout blocked) must not hold the connection, nor the daemon's shutdown.
    setTimeout(() => this.socket.destroy(), ERROR_FLUSH_MS).unref();
  }

  private finish(last: Buffer): void {
    if (this.finished) return;
    this.finished = true;
    this.socket.end(last);
  }

  private forward(from: Readable, type: DataType): Promise<void> {
    const framed = from.pipe(frameEncoder(type));
    framed.pipe(this.socket, { end: false });
    return new Promise((resolve) => framed.once('end', resolve));
  }

  private input(chunk: Buffer): void {
    const stdin = this.session.stdin!;
    try {
      for (const frame of this.decoder.push(chunk)) {
        if (frame.type === 'resize') void this.session.resize(frame.cols, frame.rows);
        else if (frame.type === 'stdin' && !this.stdinEnded) {
          if (stdin.write(frame.data)) continue;
          // The command reads slower than the client types (or pipes): the client waits.
          this.socket.pause();
          stdin.once('drain', () => this.socket.resume());
        } else if (frame.type === 'stdin-end') {
          this.stdinEnded = true;
          stdin.end();
        } else throw new RunProtocolError(`a ${frame.type} frame${frame.type === 'stdin' ? ' after stdin-end' : ''} is not for the server`);
      }
    } catch (err) {
      this.fail(`pier run protocol error: ${(err as Error).message}`);
    }
  }
}
