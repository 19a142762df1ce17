import type http from 'node:http';
import type { z } from 'zod';

/** An error with the HTTP status and a message that tells the user what to do. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const MAX_BODY = 1024 * 1024;

export async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, 'Request body too large (limit 1 MiB).');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'Request body is not valid JSON.');
  }
}

/** Validates input at the edge; the first problem becomes a 400 that names it. Schemas may transform (e.g. "512m" → bytes). */
export function parseWith<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    throw new HttpError(400, `${where}${issue.message}`);
  }
  return result.data;
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Streams a long operation as NDJSON: {"progress": line} as it goes, then {"result": …} or
 * {"error": …}. The CLI prints progress lines live. `send` adds messages of other kinds (a plugin
 * command's {"stdout": …}).
 */
export async function streamOperation(
  res: http.ServerResponse,
  run: (progress: (line: string) => void, send: (message: object) => void) => Promise<unknown>,
): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  const write = (obj: unknown) => res.write(`${JSON.stringify(obj)}\n`);
  try {
    const result = await run((line) => write({ progress: line }), write);
    write({ result: result ?? null });
  } catch (err) {
    write({ error: (err as Error).message });
  }
  res.end();
}
