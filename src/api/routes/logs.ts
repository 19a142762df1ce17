import type http from 'node:http';
import { z } from 'zod';
import { formatLogLine } from '../../scheduler/log-lines.js';
import { logLinesSchema, processTypeSchema } from '../../validation.js';
import { parseWith } from '../http-utils.js';
import { existingApp, type ApiDeps, type Route } from '../route-kit.js';

const logsQuery = z.object({
  tail: logLinesSchema.optional(),
  follow: z.enum(['0', '1']).optional(),
  process: processTypeSchema.optional(),
});

/** As many as `heroku logs` shows by default. */
const DEFAULT_TAIL = 100;

/** Resolves when the client has taken what was written, or has gone. */
function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** logs: `GET /api/apps/:app/logs?tail=N&follow=1&process=TYPE`, as text lines (streamed while following). */
export function logRoutes({ apps, logs }: ApiDeps): Route[] {
  return [
    [
      'GET',
      /^\/api\/apps\/([^/]+)\/logs$/,
      async (ctx) => {
        const app = await existingApp(ctx, apps);
        const query = parseWith(logsQuery, Object.fromEntries(new URL(ctx.req.url ?? '/', 'http://localhost').searchParams));
        // The client going away stops every log stream and the blocking event reader behind this response.
        const gone = new AbortController();
        ctx.res.on('close', () => gone.abort());
        ctx.res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
        // A follower of a quiet app gets its answer now, not with the first line.
        ctx.res.flushHeaders();
        try {
          for await (const line of logs.lines(app, { tail: query.tail ?? DEFAULT_TAIL, follow: query.follow === '1', process: query.process, signal: gone.signal })) {
            if (ctx.res.destroyed) break;
            if (!ctx.res.write(`${formatLogLine(line)}\n`)) await drained(ctx.res);
          }
        } finally {
          gone.abort();
          ctx.res.end();
        }
      },
    ],
  ];
}
