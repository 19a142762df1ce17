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
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new ApiError(0, `Cannot reach the Pier API at ${this.baseUrl} (${cause}). Is the daemon running? Set PIER_URL to point elsewhere.`);
    }
    if (!res.ok) {
      const text = await res.text();
      let message = text;
      try {
        message = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        // not JSON: keep the text
      }
      if (res.status === 401) message = `401 Unauthorized: ${message}`;
      throw new ApiError(res.status, message);
    }
    return res;
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await (await this.send(method, path, body)).json()) as T;
  }

  /** Reads a streamed text response line by line as it arrives. */
  async lines(path: string, onLine: (line: string) => void, method = 'GET', body?: unknown): Promise<void> {
    await readLines(await this.send(method, path, body), onLine);
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

async function readLines(res: Response, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const lines = (pending + decoder.decode(chunk, { stream: true })).split('\n');
    pending = lines.pop() ?? '';
    lines.forEach(onLine);
  }
  if (pending !== '') onLine(pending);
}
