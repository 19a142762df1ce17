import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { z } from 'zod';
import type { BuildOrigin } from '../state/build-store.js';
import type { BuildService } from '../build/build-service.js';
import { BuildError } from '../build/builder.js';
import type { DeploySources } from '../build/deploy-sources.js';
import type { GitEndpoint } from '../git/git-endpoint.js';
import { RESULT_MARKER } from '../git/push-protocol.js';
import type { Logger } from '../log.js';
import type { State } from '../state/index.js';
import { appNameSchema, builderSettingSchema, configKeySchema, configVarsSchema, imageReferenceSchema } from '../validation.js';
import type { AppService } from './app-service.js';
import { tokenFrom } from './auth.js';
import { HttpError, parseWith, readJson, sendJson, streamOperation } from './http-utils.js';

export interface ApiDeps {
  state: State;
  apps: AppService;
  builds: BuildService;
  sources: DeploySources;
  git: GitEndpoint;
  hookToken: string;
  log: Logger;
}

interface Ctx {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  params: string[];
  who: string;
}

type Handler = (ctx: Ctx) => Promise<void>;

const pushSchema = z.object({
  app: appNameSchema,
  commit: z.string().regex(/^[0-9a-f]{40,64}$/),
  ref: z.string(),
  sourceTar: z.string().min(1),
});

export function createApiServer(deps: ApiDeps): http.Server {
  const { state, apps, log } = deps;
  const appParam = (ctx: Ctx) => parseWith(appNameSchema, ctx.params[0]);
  const existingApp = async (ctx: Ctx) => {
    const name = appParam(ctx);
    await apps.require(name);
    return name;
  };

  /** Queues a build of a source that did not come by git push, and streams its log like a push. */
  const deployFrom = async (ctx: Ctx, source: (app: string) => Promise<{ sourceTar: string; commit: string; origin: BuildOrigin }>) => {
    const app = await existingApp(ctx);
    const { sourceTar, commit, origin } = await source(app);
    const buildId = await deps.builds.enqueue({ app, commit, origin, sourceTar, createdBy: ctx.who });
    await streamBuildLog(ctx.res, buildId);
  };

  const routes: Array<[string, RegExp, Handler]> = [
    ['GET', /^\/api\/whoami$/, async ({ res, who }) => sendJson(res, 200, { name: who })],
    ['GET', /^\/api\/apps$/, async ({ res }) => sendJson(res, 200, await state.apps.list())],
    [
      'POST',
      /^\/api\/apps$/,
      async ({ req, res }) => {
        const { name } = parseWith(z.object({ name: appNameSchema }), await readJson(req));
        await apps.create(name);
        sendJson(res, 201, { name, url: apps.appUrl(name) });
      },
    ],
    ['GET', /^\/api\/apps\/([^/]+)$/, async (ctx) => sendJson(ctx.res, 200, await apps.info(appParam(ctx)))],
    [
      'DELETE',
      /^\/api\/apps\/([^/]+)$/,
      async (ctx) => {
        await apps.destroy(appParam(ctx));
        sendJson(ctx.res, 200, { destroyed: ctx.params[0] });
      },
    ],
    [
      'GET',
      /^\/api\/apps\/([^/]+)\/builds$/,
      async (ctx) => {
        const name = await existingApp(ctx);
        sendJson(ctx.res, 200, await state.builds.list(name));
      },
    ],
    [
      'GET',
      /^\/api\/apps\/([^/]+)\/builds\/(latest|[a-z0-9]+)\/output$/,
      async (ctx) => {
        const build = await buildOf(await existingApp(ctx), ctx.params[1] === 'latest' ? undefined : ctx.params[1]);
        await streamBuildLog(ctx.res, build.id);
      },
    ],
    [
      'POST',
      /^\/api\/apps\/([^/]+)\/builds\/cancel$/,
      async (ctx) => {
        const name = await existingApp(ctx);
        sendJson(ctx.res, 200, await deps.builds.cancel(name, ctx.who));
      },
    ],
    [
      'GET',
      /^\/api\/apps\/([^/]+)\/builder$/,
      async (ctx) => sendJson(ctx.res, 200, await state.builders.get(await existingApp(ctx))),
    ],
    [
      'PATCH',
      /^\/api\/apps\/([^/]+)\/builder$/,
      async (ctx) => {
        const name = await existingApp(ctx);
        const setting = parseWith(builderSettingSchema, await readJson(ctx.req));
        if (setting.key === 'selected') await state.builders.setSelected(name, setting.value);
        else if (setting.key === 'network') await state.builders.setNetwork(name, setting.value);
        else await state.builders.setBuildArgs(name, setting.value);
        sendJson(ctx.res, 200, await state.builders.get(name));
      },
    ],
    [
      'POST',
      /^\/api\/apps\/([^/]+)\/deploy\/archive$/,
      async (ctx) =>
        deployFrom(ctx, async (app) => {
          const json = (ctx.req.headers['content-type'] ?? '').startsWith('application/json');
          const body = json ? await deps.sources.download(parseWith(z.object({ url: z.string().url() }), await readJson(ctx.req)).url) : ctx.req;
          const { sourceTar, sha } = await deps.sources.fromArchive(app, body);
          return { sourceTar, commit: sha, origin: 'archive' };
        }),
    ],
    [
      'POST',
      /^\/api\/apps\/([^/]+)\/deploy\/image$/,
      async (ctx) =>
        deployFrom(ctx, async (app) => {
          const { image } = parseWith(z.object({ image: imageReferenceSchema }), await readJson(ctx.req));
          return { sourceTar: await deps.sources.fromImage(app, image), commit: image, origin: 'image' };
        }),
    ],
    ['POST', /^\/api\/cleanup$/, async ({ res }) => sendJson(res, 200, await apps.cleanup())],
    [
      'GET',
      /^\/api\/apps\/([^/]+)\/config$/,
      async (ctx) => {
        const name = await existingApp(ctx);
        sendJson(ctx.res, 200, await state.config.all(name));
      },
    ],
    [
      'PATCH',
      /^\/api\/apps\/([^/]+)\/config$/,
      async (ctx) => {
        const name = await existingApp(ctx);
        const { vars } = parseWith(z.object({ vars: configVarsSchema }), await readJson(ctx.req));
        await streamOperation(ctx.res, (progress) => apps.setConfig(name, vars, ctx.who, progress));
      },
    ],
    [
      'DELETE',
      /^\/api\/apps\/([^/]+)\/config$/,
      async (ctx) => {
        const name = await existingApp(ctx);
        const { keys } = parseWith(z.object({ keys: z.array(configKeySchema).min(1) }), await readJson(ctx.req));
        await streamOperation(ctx.res, (progress) => apps.unsetConfig(name, keys, ctx.who, progress));
      },
    ],
  ];

  /** The pre-receive hook's call: queue a build and stream its log back, ending with the result. */
  const internalPush = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!sameSecret(tokenFrom(req) ?? '', deps.hookToken)) throw new HttpError(401, 'invalid hook token');
    const push = parseWith(pushSchema, await readJson(req));
    const who = deps.git.pusherOf(push.app) ?? 'unknown';
    const buildId = await deps.builds.enqueue({ app: push.app, commit: push.commit, origin: 'git', sourceTar: push.sourceTar, createdBy: who });
    await streamBuildLog(res, buildId);
  };

  /** Replays a build log and follows it until the build ends; the last line carries the result. */
  const streamBuildLog = async (res: http.ServerResponse, buildId: string) => {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    const reader = state.redis.duplicate();
    // A client that goes away must not leave a blocked reader behind.
    res.on('close', () => reader.disconnect());
    try {
      for await (const event of state.builds.follow(reader, buildId)) {
        if (res.destroyed) break;
        if (event.type === 'line') res.write(`${event.line}\n`);
        else res.write(`${RESULT_MARKER}${event.status}\n`);
      }
    } finally {
      reader.disconnect();
      res.end();
    }
  };

  const buildOf = async (app: string, id: string | undefined) => {
    const build = id ? await state.builds.get(id) : (await state.builds.list(app, 1))[0];
    if (!build || build.app !== app) {
      throw new HttpError(404, id ? `No build ${id} for ${app}. List them with: pier builds ${app}` : `${app} has no builds yet. Deploy with git push.`);
    }
    return build;
  };

  const dispatch = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/healthz') return sendJson(res, 200, { ok: true });
    if (deps.git.matches(req)) return deps.git.handle(req, res);
    if (url.pathname === '/internal/push' && req.method === 'POST') return internalPush(req, res);
    const who = await authenticate(state, req);
    if (!who) {
      throw new HttpError(401, 'Invalid or missing API token. Set PIER_TOKEN (run "pier token" on the server to print it).');
    }
    for (const [method, pattern, handler] of routes) {
      const match = pattern.exec(url.pathname);
      if (match && req.method === method) return handler({ req, res, params: match.slice(1).map(decodeURIComponent), who });
    }
    throw new HttpError(404, `No such endpoint: ${req.method} ${url.pathname}`);
  };

  const server = http.createServer((req, res) => {
    dispatch(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : err instanceof BuildError ? 400 : 500;
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
