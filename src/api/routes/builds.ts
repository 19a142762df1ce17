import type http from 'node:http';
import { z } from 'zod';
import { RESULT_MARKER } from '../../git/push-protocol.js';
import type { BuildOrigin } from '../../state/build-store.js';
import type { State } from '../../state/index.js';
import { builderSettingSchema, imageReferenceSchema } from '../../validation.js';
import { HttpError, parseWith, readJson, sendJson } from '../http-utils.js';
import { existingApp, type ApiDeps, type Ctx, type Route } from '../route-kit.js';

/** Replays a build log and follows it until the build ends; the last line carries the result. */
export async function streamBuildLog(state: State, res: http.ServerResponse, buildId: string): Promise<void> {
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
}

/** builds:*, builder:*, git:from-archive and git:from-image */
export function buildRoutes({ state, apps, builds, sources }: ApiDeps): Route[] {
  const buildOf = async (app: string, id: string | undefined) => {
    const build = id ? await state.builds.get(id) : (await state.builds.list(app, 1))[0];
    if (!build || build.app !== app) {
      throw new HttpError(404, id ? `No build ${id} for ${app}. List them with: pier builds ${app}` : `${app} has no builds yet. Deploy with git push.`);
    }
    return build;
  };

  /** Queues a build of a source that did not come by git push, and streams its log like a push. */
  const deployFrom = async (ctx: Ctx, source: (app: string) => Promise<{ sourceTar: string; commit: string; origin: BuildOrigin }>) => {
    const app = await existingApp(ctx, apps);
    const { sourceTar, commit, origin } = await source(app);
    const buildId = await builds.enqueue({ app, commit, origin, sourceTar, createdBy: ctx.who });
    await streamBuildLog(state, ctx.res, buildId);
  };

  return [
    ['GET', /^\/api\/apps\/([^/]+)\/builds$/, async (ctx) => sendJson(ctx.res, 200, await state.builds.list(await existingApp(ctx, apps)))],
    [
      'GET',
      /^\/api\/apps\/([^/]+)\/builds\/(latest|[a-z0-9]+)\/output$/,
      async (ctx) => {
        const build = await buildOf(await existingApp(ctx, apps), ctx.params[1] === 'latest' ? undefined : ctx.params[1]);
        await streamBuildLog(state, ctx.res, build.id);
      },
    ],
    [
      'POST',
      /^\/api\/apps\/([^/]+)\/builds\/cancel$/,
      async (ctx) => sendJson(ctx.res, 200, await builds.cancel(await existingApp(ctx, apps), ctx.who)),
    ],
    ['GET', /^\/api\/apps\/([^/]+)\/builder$/, async (ctx) => sendJson(ctx.res, 200, await state.builders.get(await existingApp(ctx, apps)))],
    [
      'PATCH',
      /^\/api\/apps\/([^/]+)\/builder$/,
      async (ctx) => {
        const name = await existingApp(ctx, apps);
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
          const body = json ? await sources.download(parseWith(z.object({ url: z.string().url() }), await readJson(ctx.req)).url) : ctx.req;
          const { sourceTar, sha } = await sources.fromArchive(app, body);
          return { sourceTar, commit: sha, origin: 'archive' };
        }),
    ],
    [
      'POST',
      /^\/api\/apps\/([^/]+)\/deploy\/image$/,
      async (ctx) =>
        deployFrom(ctx, async (app) => {
          const { image } = parseWith(z.object({ image: imageReferenceSchema }), await readJson(ctx.req));
          return { sourceTar: await sources.fromImage(app, image), commit: image, origin: 'image' };
        }),
    ],
  ];
}
