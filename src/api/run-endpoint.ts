import http from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import { pluginNameSchema } from '../plugins/manifest.js';
import { commandNameSchema } from '../plugins/protocol.js';
import type { AttachedSession } from '../scheduler/scheduler.js';
import { appNameSchema } from '../validation.js';
import { UNAUTHENTICATED } from './auth.js';
import { HttpError, parseWith } from './http-utils.js';
import type { ApiDeps } from './route-kit.js';
import {
  encodeFrame,
  frameEncoder,
  RUN_UPGRADE,
  RunFrameDecoder,
  RunProtocolError,
  runRequestSchema,
  streamCommandRequestSchema,
  type DataType,
  type Terminal,
} from './run-protocol.js';

const RUN_PATH = /^\/api\/apps\/([^/]+)\/run$/;
const PLUGIN_COMMAND_PATH = /^\/api\/plugins\/([^/]+)\/commands\/([^/]+)$/;
const MAX_BODY = 1024 * 1024;
/** The request body follows its headers at once; a client that stalls in between is let go. */
const BODY_TIMEOUT_MS = 10_000;
/** How long a run that ends in an error waits for its client to take what is buffered, before the connection is cut. */
const ERROR_FLUSH_MS = 1000;

type UpgradeHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

/** What an upgraded connection relays: the attached session, its terminal, and why it may end early. */
interface Attached {
  session: AttachedSession;
  terminal: Terminal;
  shuttingDown: () => boolean;
  /** The error frame's text when the session fails. */
  lost: (err: Error) => string;
}

/**
 * The API server's `upgrade` handler, with `Upgrade: pier-run`, relaying a command's stdin, stdout
 * and stderr (see run-protocol.ts): `pier run` (`POST /api/apps/:app/run`) and plugins' stream
 * commands (`POST /api/plugins/:plugin/commands/:command`, postgres:connect and the like).
 */
export function createRunEndpoint(deps: ApiDeps, authenticate: (req: http.IncomingMessage) => Promise<string | undefined>): UpgradeHandler {
  const oneOff = async (app: string, body: unknown, who: string): Promise<Attached> => {
    const request = parseWith(runRequestSchema, body);
    await deps.apps.require(app);
    const session = await deps.oneOffs.attach(app, { argv: request.command, tty: request.tty, env: request.env, who });
    return { session, terminal: request, shuttingDown: () => deps.oneOffs.closing, lost: (err) => `The one-off container was lost: ${err.message}` };
  };
  const pluginCommand = async (plugin: string, command: string, body: unknown, who: string): Promise<Attached> => {
    const request = parseWith(streamCommandRequestSchema, body);
    const session = await deps.plugins.streamCommand(plugin, command, { args: request.args, tty: request.tty, who });
    return { session, terminal: request, shuttingDown: () => deps.plugins.closing, lost: (err) => err.message };
  };

  const upgrade = async (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const who = await authenticate(req);
    if (!who) throw new HttpError(401, UNAUTHENTICATED);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const run = RUN_PATH.exec(url.pathname);
    const plugin = PLUGIN_COMMAND_PATH.exec(url.pathname);
    if (!(run || plugin) || req.method !== 'POST' || req.headers.upgrade?.toLowerCase() !== RUN_UPGRADE) {
      throw new HttpError(404, `No such endpoint: ${req.method} ${url.pathname} with Upgrade: ${req.headers.upgrade}`);
    }
    const { body, rest } = await readBody(req, socket, head);
    const attached = run
      ? await oneOff(parseWith(appNameSchema, decodeURIComponent(run[1]!)), body, who)
      : await pluginCommand(parseWith(pluginNameSchema, decodeURIComponent(plugin![1]!)), parseWith(commandNameSchema, decodeURIComponent(plugin![2]!)), body, who);
    if (socket.destroyed) return void attached.session.kill();
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${RUN_UPGRADE}\r\n\r\n`);
    await new Relay(attached, socket).run(rest);
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
  private readonly session: AttachedSession;

  constructor(
    private readonly attached: Attached,
    private readonly socket: Duplex,
  ) {
    this.session = attached.session;
  }

  async run(early: Buffer): Promise<void> {
    const { session, socket } = this;
    const { terminal } = this.attached;
    session.stdin?.on('error', () => undefined);
    if (terminal.tty && terminal.cols && terminal.rows) void session.resize(terminal.cols, terminal.rows);
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
      if (this.attached.shuttingDown()) return this.fail('The Pier daemon is shutting down; the command was stopped. Run it again in a moment.');
      // Docker closes the output once it has all been read; a client that left needs none.
      await Promise.race([output, closed]);
      this.finish(encodeFrame({ type: 'exit', code }));
    } catch (err) {
      this.fail(this.attached.lost(err as Error));
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
