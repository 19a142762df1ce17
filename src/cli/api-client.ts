import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';

/** A thin HTTP client for the Pier API, used by the CLI from the server or a laptop. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export class ApiClient {
  constructor(private readonly baseUrl: string, private readonly token: string | undefined) {}

  /**
   * One request; a Buffer body is sent as it is (an upload), anything else as JSON. Over node:http, not
   * fetch: fetch gives up on a response that sends nothing for 5 minutes, and a build step or
   * `pier logs -t` can be silent for longer.
   */
  private send(method: string, path: string, body?: unknown): Promise<http.IncomingMessage> {
    const url = new URL(`${this.baseUrl}${path}`);
    const raw = Buffer.isBuffer(body);
    const payload = body === undefined ? undefined : raw ? (body as Buffer) : Buffer.from(JSON.stringify(body));
    const headers = {
      ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
      ...(payload === undefined ? {} : { 'content-type': raw ? 'application/octet-stream' : 'application/json', 'content-length': String(payload.length) }),
    };
    return new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = (url.protocol === 'https:' ? https : http).request(url, { method, headers }, resolve);
      req.on('error', (err: NodeJS.ErrnoException) => reject(unreachable(this.baseUrl, err.code ?? err.message)));
      req.end(payload);
    }).then(async (res) => {
      if ((res.statusCode ?? 500) >= 400) throw failed(res.statusCode ?? 500, await readText(res));
      return res;
    });
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return JSON.parse(await readText(await this.send(method, path, body))) as T;
  }

  /** Reads a streamed text response line by line as it arrives, however long it stays silent. */
  async lines(path: string, onLine: (line: string) => void, method = 'GET', body?: unknown): Promise<void> {
    await this.read(await this.send(method, path, body), onLine);
  }

  /** Like lines(), for a GET stream that may stay open for hours (pier logs -t). */
  async follow(path: string, onLine: (line: string) => void): Promise<void> {
    await this.read(await this.send('GET', path), onLine, ' Run the command again to go on.');
  }

  /** A stream that breaks off is the daemon's doing; an error of `onLine`'s own is passed on as it is. */
  private async read(res: http.IncomingMessage, onLine: (line: string) => void, advice = ''): Promise<void> {
    let own: { err: unknown } | undefined;
    const guarded = (line: string) => {
      try {
        onLine(line);
      } catch (err) {
        own ??= { err };
        throw err;
      }
    };
    try {
      await readLines(res, guarded);
    } catch {
      if (own) throw own.err;
      throw new ApiError(0, `The Pier API at ${this.baseUrl} cut the stream off (did the daemon stop or restart?).${advice}`);
    }
  }

  /** POSTs a JSON body asking to switch to `protocol` (pier run); the connection, once switched. */
  async upgrade(path: string, protocol: string, body: unknown): Promise<Duplex> {
    const url = new URL(`${this.baseUrl}${path}`);
    const text = JSON.stringify(body);
    return new Promise<Duplex>((resolve, reject) => {
      const req = (url.protocol === 'https:' ? https : http).request(url, {
        method: 'POST',
        headers: {
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          connection: 'Upgrade',
          upgrade: protocol,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
        },
      });
      req.on('upgrade', (_res, socket, head) => {
        if (head.length > 0) socket.unshift(head);
        resolve(socket);
      });
      req.on('response', (res) => {
        let answer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (answer += chunk));
        res.on('end', () => reject(failed(res.statusCode ?? 500, answer)));
      });
      req.on('error', (err: NodeJS.ErrnoException) => reject(unreachable(this.baseUrl, err.code ?? err.message)));
      req.end(text);
    });
  }

  /** Runs an operation that streams NDJSON progress; prints progress via `onProgress`, returns the result. */
  async operation<T>(method: string, path: string, body: unknown, onProgress: (line: string) => void): Promise<T> {
    let outcome: { result?: T; error?: string } | undefined;
    await this.read(await this.send(method, path, body), (line) => {
      if (line.trim() === '') return;
      const msg = JSON.parse(line) as { progress?: string; result?: T; error?: string };
      if (msg.progress !== undefined) onProgress(msg.progress);
      else outcome = msg;
    });
    if (!outcome) throw new ApiError(0, 'The API closed the connection before the operation finished.');
    if (outcome.error !== undefined) throw new ApiError(500, outcome.error);
    return outcome.result as T;
  }
}

function unreachable(baseUrl: string, cause: string): ApiError {
  return new ApiError(0, `Cannot reach the Pier API at ${baseUrl} (${cause}). Is the daemon running? Set PIER_URL to point elsewhere.`);
}

/** The API's answer to a failed request: its JSON `error`, else the text as it came. */
function failed(status: number, text: string): ApiError {
  let message = text;
  try {
    message = (JSON.parse(text) as { error?: string }).error ?? text;
  } catch {
    // not JSON: keep the text
  }
  return new ApiError(status, status === 401 ? `401 Unauthorized: ${message}` : message);
}

async function readText(res: http.IncomingMessage): Promise<string> {
  let out = '';
  res.setEncoding('utf8');
  for await (const chunk of res) out += chunk as string;
  return out;
}

async function readLines(res: http.IncomingMessage, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of res as AsyncIterable<Buffer>) {
    const lines = (pending + decoder.decode(chunk, { stream: true })).split('\n');
    pending = lines.pop() ?? '';
    lines.forEach(onLine);
  }
  if (pending !== '') onLine(pending);
}
