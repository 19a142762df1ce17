import net from 'node:net';
import tls from 'node:tls';
import type { RedisOptions } from 'ioredis';
import type { AccessLogBatch } from './event-store.js';
import type { Keyspace } from './keys.js';
import { encodeCommands, RespReplies, type Reply } from './resp.js';

/**
 * An app's access log stream holds batches, up to this many lines per entry ("<time> <line>" each,
 * joined by newlines): one XADD per line cost the router a tenth of its CPU per request.
 */
const ACCESS_LINES_PER_ENTRY = 25;
/** Per app (a stream of its own, so a busy app's traffic never pushes its deploy events out): 2,000 to 50,000 lines. */
const RETAINED_ACCESS_ENTRIES = 2000;

export interface WriterTimeouts {
  /** How long a new connection may take to be accepted before the write that opened it fails. */
  connectMs: number;
  /**
   * How long Redis may leave writes unanswered before their connection is given up: a Redis host gone
   * without a reset would otherwise hold them, and the lines after them dropped, for TCP's many minutes.
   */
  replyMs: number;
}

const DEFAULT_TIMEOUTS: WriterTimeouts = { connectMs: 3000, replyMs: 10_000 };

/** Where the writer connects, taken from the State's own connection (URL, password, database, TLS alike). */
export type WriterConnection = Pick<RedisOptions, 'host' | 'port' | 'path' | 'family' | 'username' | 'password' | 'db' | 'tls'>;

/** A connection and the writes waiting for its replies, oldest first. */
interface Connection {
  socket: net.Socket;
  writes: Write[];
}

interface Write {
  replies: number;
  /** It opened the connection: its first replies are the handshake's. */
  opened: boolean;
  error?: Error;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * The router's access log writer: XADDs encoded by hand into one buffer a flush and pipelined on a
 * connection of its own, replies only counted. Through ioredis the same XADDs (a command object,
 * a promise, two copies of the lines each) cost the router more CPU than building the lines, and
 * wrk, Redis and the router share the cores: that was most of what the access log cost per request.
 *
 * A connection that fails fails the writes on it; the next write opens a new one (the access log
 * drops and counts what it could not write, so there is no retry here).
 */
export class AccessLogWriter {
  private connection: Connection | undefined;
  private closed = false;

  constructor(private readonly target: WriterConnection, private readonly keys: Keyspace, private readonly timeouts = DEFAULT_TIMEOUTS) {}

  /** Appends the batches' lines to their apps' streams; resolves once Redis has answered every entry. */
  write(batches: readonly AccessLogBatch[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the access log writer is closed'));
    const opened = !this.connection;
    const commands: Array<Array<string | Buffer>> = opened ? this.handshake() : [];
    const handshake = commands.length;
    for (const { app, bytes, ends } of batches) {
      const key = this.keys.accessLog(app);
      for (let i = 0, start = 0; i < ends.length; i += ACCESS_LINES_PER_ENTRY) {
        const end = ends[Math.min(i + ACCESS_LINES_PER_ENTRY, ends.length) - 1]!;
        // The entry's lines are the records less the last newline: a slice of the batch, not a copy.
        commands.push(['XADD', key, 'MAXLEN', '~', RETAINED, '*', 'source', 'router', 'lines', bytes.subarray(start, end - 1)]);
        start = end;
      }
    }
    if (commands.length === handshake) return Promise.resolve();
    const connection = this.connection ?? this.open();
    return new Promise((resolve, reject) => {
      connection.writes.push({ replies: commands.length, opened, resolve, reject });
      connection.socket.write(encodeCommands(commands));
    });
  }

  /** Closes the connection; writes still unanswered fail. */
  close(): void {
    this.closed = true;
    this.connection?.socket.destroy();
  }

  /** What a new connection sends first: its replies count towards the first write, so a refused password fails that write with Redis's own words. */
  private handshake(): Array<Array<string | Buffer>> {
    const { username, password, db } = this.target;
    const commands: string[][] = [];
    if (password) commands.push(username ? ['AUTH', username, password] : ['AUTH', password]);
    if (db) commands.push(['SELECT', String(db)]);
    // Named like the events reader, so a leaked connection shows in CLIENT LIST.
    commands.push(['CLIENT', 'SETNAME', `${this.keys.prefix}access-log-writer`]);
    return commands;
  }

  private open(): Connection {
    const { host, port, path, family, tls: tlsOptions } = this.target;
    // ioredis fills host and port in from the URL or its defaults.
    const target = path ? { path } : { host, port: port ?? 6379, family };
    const socket = tlsOptions ? tls.connect({ ...target, ...tlsOptions }) : net.connect(target);
    const connection: Connection = { socket, writes: [] };
    this.connection = connection;
    socket.setNoDelay(true);
    const { connectMs, replyMs } = this.timeouts;
    let connected = false;
    socket.once(tlsOptions ? 'secureConnect' : 'connect', () => {
      connected = true;
      socket.setTimeout(replyMs);
    });
    // Idle is fine while nothing waits for an answer; the connection stays for the next write.
    socket.setTimeout(connectMs, () => {
      if (!connected) socket.destroy(new Error(`Redis did not accept the access log's connection within ${connectMs} ms`));
      else if (connection.writes.length > 0) socket.destroy(new Error(`Redis did not answer the access log's writes within ${replyMs} ms`));
    });
    const replies = new RespReplies();
    socket.on('data', (chunk: Buffer) => {
      try {
        replies.feed(chunk, (reply) => this.answered(connection, reply));
      } catch (err) {
        socket.destroy(err as Error);
      }
    });
    let failure: Error | undefined;
    socket.on('error', (err) => (failure ??= err));
    socket.once('close', () => {
      this.drop(connection);
      failure ??= new Error(this.closed ? 'the access log writer was closed' : 'the connection to Redis closed');
      for (const write of connection.writes.splice(0)) write.reject(failure);
    });
    return connection;
  }

  /** Forgets a connection (closing or closed): the next write opens another at once. */
  private drop(connection: Connection): void {
    if (this.connection === connection) this.connection = undefined;
  }

  private answered(connection: Connection, reply: Reply): void {
    const write = connection.writes[0];
    if (!write) throw new Error('Redis sent a reply to no access log write');
    if (reply !== undefined) write.error ??= new Error(`Redis refused an access log write: ${reply}`);
    if (--write.replies > 0) return;
    connection.writes.shift();
    if (!write.error) return write.resolve();
    // A refused AUTH or SELECT would refuse every later write on this connection: the next one opens another.
    if (write.opened) {
      this.drop(connection);
      connection.socket.destroy();
    }
    write.reject(write.error);
  }
}

const RETAINED = String(RETAINED_ACCESS_ENTRIES);
