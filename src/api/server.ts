import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { z } from 'zod';
import { UserError } from '../errors.js';
import type { State } from '../state/index.js';
import { appNameSchema } from '../validation.js';
import { tokenFrom, UNAUTHENTICATED } from './auth.js';
import { HttpError, parseWith, readJson, sendJson } from './http-utils.js';
import type { ApiDeps, Route } from './route-kit.js';
import { appRoutes } from './routes/apps.js';
import { buildRoutes, streamBuildLog } from './routes/builds.js';
import { certRoutes } from './routes/certs.js';
import { logRoutes } from './routes/logs.js';
import { domainRoutes } from './routes/domains.js';
import { pluginRoutes } from './routes/plugins.js';
import { processRoutes } from './routes/processes.js';
import { proxyRoutes } from './routes/proxy.js';
import { proxyTypeRoutes } from './routes/proxy-type.js';
import { proxyTemplateRoutes } from './routes/proxy-template.js';
import { resourceRoutes } from './routes/resources.js';
import { runRoutes } from './routes/run.js';
import { storageRoutes } from './routes/storage.js';
import { createRunEndpoint } from './run-endpoint.js';

export type { ApiDeps } from './route-kit.js';

const pushSchema = z.object({
  app: appNameSchema,
  commit: z.string().regex(/^[0-9a-f]{40,64}$/),
  ref: z.string(),
  sourceTar: z.string().min(1),
});

export function createApiServer(deps: ApiDeps): http.Server {
  const { state, log } = deps;
  const routes: Route[] = [...appRoutes(deps), ...buildRoutes(deps), ...processRoutes(deps), ...domainRoutes(deps), ...certRoutes(deps), ...proxyRoutes(deps), ...proxyTypeRoutes(deps), ...proxyTemplateRoutes(deps), ...logRoutes(deps), ...resourceRoutes(deps), ...storageRoutes(deps), ...runRoutes(deps), ...pluginRoutes(deps)];

  /** The pre-receive hook's call: queue a build and stream its log back, ending with the result. */
  const internalPush = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!sameSecret(tokenFrom(req) ?? '', deps.hookToken)) throw new HttpError(401, 'invalid hook token');
    const push = parseWith(pushSchema, await readJson(req));
    const who = deps.git.pusherOf(push.app) ?? 'unknown';
    const buildId = await deps.builds.enqueue({ app: push.app, commit: push.commit, origin: 'git', sourceTar: push.sourceTar, createdBy: who });
    await streamBuildLog(state, res, buildId);
  };

  const dispatch = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
    if (deps.git.matches(req)) return deps.git.handle(req, res);
    if (url.pathname === '/internal/push' && req.method === 'POST') return internalPush(req, res);
    const who = await authenticate(state, req);
    if (!who) throw new HttpError(401, UNAUTHENTICATED);
    for (const [method, pattern, handler] of routes) {
      const match = pattern.exec(url.pathname);
      if (match && req.method === method) return handler({ req, res, params: match.slice(1).map(decodeURIComponent), who });
    }
    throw new HttpError(404, `No such endpoint: ${req.method} ${url.pathname}`);
  };

  const server = http.createServer((req, res) => {
    dispatch(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : err instanceof UserError ? 400 : 500;
      if (status === 500) log.error({ err, path: req.url, method: req.method }, 'API request failed');
      if (res.headersSent) {
        res.end();
        return;
      }
      sendJson(res, status, { error: (err as Error).message });
    });
  });
  // Pushes stream a whole build back; Node's default request timeout would cut long builds.
  server.requestTimeout = 0;
  // pier run's stdin and output travel over an upgraded connection, authenticated like every request.
  server.on('upgrade', createRunEndpoint(deps, (req) => authenticate(state, req)));
  return server;
}

export async function authenticate(state: State, req: http.IncomingMessage): Promise<string | undefined> {
  const token = tokenFrom(req);
  return token ? state.tokens.verify(token) : undefined;
}

function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}
