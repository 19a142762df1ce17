/**
 * Kept-alive connections to upstreams, one pool per address. A connection goes back to its pool only
 * after a complete response, so a pooled socket never holds half of someone else's exchange.
 */
import net from 'node:net';

/**
 * Every upstream connection reads into this one buffer (reads are handled one at a time). A socket's
 * own reads would each allocate 64 KiB, shrink it and wrap it in a stream chunk: about 1.4 µs of CPU
 * per read, a twentieth of what the router spends on a request.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** Whoever a connection currently serves gets its events; an idle pooled connection has no owner. */
export interface UpstreamOwner {
  onUpstreamConnect(): void;
  /** `chunk` is the shared read buffer's: valid during the call only, so whatever outlives it is a copy. */
  onUpstreamData(chunk: Buffer): void;
  onUpstreamEnd(): void;
  onUpstreamClose(err: Error | undefined): void;
  onUpstreamDrain(): void;
}

export class UpstreamConnection {
  readonly socket: net.Socket;
  owner: UpstreamOwner | undefined;
  connected = false;
  /** It has carried a response before: a failure on it may be the upstream closing an idle connection. */
  reused = false;
  idleSince = 0;
  /** Counted in its pool's `inFlight`: acquired, and its owner not done with it yet. */
  busy = false;
  private error: Error | undefined;

  constructor(readonly pool: UpstreamPool) {
    const socket = net.connect({ host: pool.host, port: pool.port, noDelay: true, onread: { buffer: READ_BUFFER, callback: (n) => this.onRead(n) } });
    this.socket = socket;
    pool.open++;
    socket.on('connect', () => {
      this.connected = true;
      this.owner?.onUpstreamConnect();
    });
    socket.on('end', () => {
      if (this.owner) this.owner.onUpstreamEnd();
      socket.destroy();
    });
    socket.on('drain', () => this.owner?.onUpstreamDrain());
    socket.on('error', (err) => (this.error = err));
    socket.on('close', () => {
      this.pool.open--;
      const owner = this.owner;
      this.owner = undefined;
      if (owner) owner.onUpstreamClose(this.error);
      else this.pool.forget(this);
    });
  }

  /** True: reading goes on (an owner that must wait pauses the socket itself). */
  private onRead(n: number): boolean {
    if (this.owner) this.owner.onUpstreamData(READ_BUFFER.subarray(0, n));
    // Bytes on an idle connection belong to no request: the connection is out of step.
    else this.socket.destroy();
    return true;
  }

  /** Its owner is done with it (whatever follows: release, destroy, or it closed): no longer in flight. */
  detach(): void {
    this.owner = undefined;
    if (this.busy) {
      this.busy = false;
      this.pool.inFlight--;
    }
  }

  /** Hands the connection back once its response is complete; it is closed when the pool is full. */
  release(): void {
    this.owner = undefined;
    this.reused = true;
    if (this.socket.isPaused()) this.socket.resume();
    this.pool.keep(this);
  }

  /** Drops the connection: its state is unknown (an aborted exchange, a tunnel, a framing error). */
  destroy(): void {
    this.owner = undefined;
    this.socket.destroy();
  }
}

export interface PoolLimits {
  /** Idle connections kept per upstream: at least the client concurrency, or sockets churn through TIME_WAIT. */
  maxIdle: number;
  /** Idle connections are closed after this long; below Node's default keepAliveTimeout (5 s) so the upstream rarely closes first. */
  idleTimeoutMs: number;
}

export class UpstreamPool {
  readonly host: string;
  readonly port: number;
  private readonly idle: UpstreamConnection[] = [];
  /** Connections of this pool not closed yet, idle or serving. */
  open = 0;
  /** Connections serving a request (or a websocket) right now, for least-connections balancing. */
  inFlight = 0;

  constructor(readonly address: string, private readonly limits: PoolLimits) {
    const colon = address.lastIndexOf(':');
    this.host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    this.port = Number(address.slice(colon + 1));
  }

  /** The most recently used idle connection (the least likely to have been closed), else a new one. */
  acquire(owner: UpstreamOwner): UpstreamConnection {
    let conn = this.idle.pop();
    while (conn && conn.socket.destroyed) conn = this.idle.pop();
    conn ??= new UpstreamConnection(this);
    conn.owner = owner;
    conn.busy = true;
    this.inFlight++;
    return conn;
  }

  keep(conn: UpstreamConnection): void {
    if (this.idle.length >= this.limits.maxIdle || conn.socket.destroyed) {
      conn.destroy();
      return;
    }
    conn.idleSince = Date.now();
    this.idle.push(conn);
  }

  forget(conn: UpstreamConnection): void {
    const i = this.idle.indexOf(conn);
    if (i !== -1) this.idle.splice(i, 1);
  }

  /** Closes connections idle for longer than the idle timeout; the oldest sit at the bottom of the stack. */
  sweep(now: number): void {
    let stale = 0;
    while (stale < this.idle.length && now - this.idle[stale]!.idleSince > this.limits.idleTimeoutMs) stale++;
    for (const conn of this.idle.splice(0, stale)) conn.destroy();
  }

  close(): void {
    for (const conn of this.idle.splice(0)) conn.destroy();
  }
}

/** One pool per upstream address, created on first use and dropped once none of its connections is open. */
export class UpstreamPools {
  private readonly pools = new Map<string, UpstreamPool>();

  constructor(private readonly limits: PoolLimits) {}

  get(address: string): UpstreamPool {
    let pool = this.pools.get(address);
    if (!pool) {
      pool = new UpstreamPool(address, this.limits);
      this.pools.set(address, pool);
    }
    return pool;
  }

  /** Requests in flight to the address; a bound function, so the router passes it without a closure per call. */
  readonly inFlight = (address: string): number => this.pools.get(address)?.inFlight ?? 0;

  sweep(now: number): void {
    for (const [address, pool] of this.pools) {
      pool.sweep(now);
      if (pool.open === 0) this.pools.delete(address);
    }
  }

  close(): void {
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
  }
}
