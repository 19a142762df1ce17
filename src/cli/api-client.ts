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

  /** A Buffer body is sent as it is (an upload); anything else as JSON. */
  private async send(method: string, path: string, body?: unknown): Promise<Response> {
    let res: Response;
    const raw = Buffer.isBuffer(body);
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': raw ? 'application/octet-stream' : 'application/json' }),
        },
        body: body === undefined ? undefined : raw ? new Uint8Array(body as Buffer) : JSON.stringify(body),
      });
    } catch (err) {
      throw unreachable(this.baseUrl, (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message);
    }
    if (!res.ok) throw failed(res.status, await res.text());
    return res;
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await (await this.send(method, path, body)).json()) as T;
  }

  /** Reads a streamed text response line by line as it arrives. */
  async lines(path: string, onLine: (line: string) => void, method = 'GET', body?: unknown): Promise<void> {
    await readLines(await this.send(method, path, body), onLine);
  }

  /**
   * Like lines(), for a GET stream that may stay silent for hours (pier logs -t): fetch would give
   * up on a response body that sends nothing for 5 minutes, node:http waits.
   */
  async follow(path: string, onLine: (line: string) => void): Promise<void> {
    const url = new URL(`${this.baseUrl}${path}`);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const headers = this.token ? { authorization: `Bearer ${this.token}` } : {};
      const req = (url.protocol === 'https:' ? https : http).get(url, { headers }, resolve);
      req.on('error', (err: NodeJS.ErrnoException) => reject(unreachable(this.baseUrl, err.code ?? err.message)));
    });
    if ((res.statusCode ?? 500) >= 400) {
      let text = '';
      res.setEncoding('utf8');
      for await (const chunk of res) text += chunk as string;
      throw failed(res.statusCode ?? 500, text);
    }
    try {
      await readLines(res, onLine);
    } catch {
      throw new ApiError(0, `The Pier API at ${this.baseUrl} cut the stream off (did the daemon stop or restart?). Run the command again to go on.`);
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
    await readLines(await this.send(method, path, body), (line) => {
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

async function readLines(res: Response | http.IncomingMessage, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of res instanceof Response ? (res.body as unknown as AsyncIterable<Uint8Array>) : res) {
    const lines = (pending + decoder.decode(chunk, { stream: true })).split('\n');
    pending = lines.pop() ?? '';
    lines.forEach(onLine);
  }
  if (pending !== '') onLine(pending);
}
