import { z } from 'zod';
import { processTypeSchema } from '../../validation.js';
import { parseWith, readJson, sendJson, streamOperation } from '../http-utils.js';
import { existingApp, type ApiDeps, type Route } from '../route-kit.js';
import { streamBuildLog } from './builds.js';

const optionalType = z.object({ type: processTypeSchema.optional() });

/** releases, rollback and ps:* */
export function processRoutes({ state, apps, releases, processes, builds, sourcesDir }: ApiDeps): Route[] {
  return [
    ['GET', /^\/api\/apps\/([^/]+)\/releases$/, async (ctx) => sendJson(ctx.res, 200, (await state.releases.list(await existingApp(ctx, apps))).map(({ config: _secrets, ...r }) => r))],
    [
      'POST',
      /^\/api\/apps\/([^/]+)\/rollback$/,
      async (ctx) => {
        const app = await existingApp(ctx, apps);
        const { version } = parseWith(z.object({ version: z.number().int().min(1).optional() }), await readJson(ctx.req));
        await streamOperation(ctx.res, async (progress) => ({ release: (await releases.rollback(app, version, ctx.who, progress)).version }));
      },
    ],
    ['GET', /^\/api\/apps\/([^/]+)\/ps$/, async (ctx) => sendJson(ctx.res, 200, await processes.report(await existingApp(ctx, apps)))],
    [
      'POST',
      /^\/api\/apps\/([^/]+)\/ps\/scale$/,
      async (ctx) => {
        const app = await existingApp(ctx, apps);
        const { counts } = parseWith(z.object({ counts: z.record(processTypeSchema, z.number().int().min(0)) }), await readJson(ctx.req));
        await streamOperation(ctx.res, async (progress) => ({ formation: await processes.scale(app, counts, ctx.who, progress) }));
      },
    ],
    [
      'POST',
      /^\/api\/apps\/([^/]+)\/ps\/(restart|stop|start)$/,
      async (ctx) => {
        const app = await existingApp(ctx, apps);
        const { type } = parseWith(optionalType, await readJson(ctx.req));
        const action = ctx.params[1] as 'restart' | 'stop' | 'start';
        await streamOperation(ctx.res, (progress) => processes[action](app, type, ctx.who, progress));
      },
    ],
    [
      'POST',
      /^\/api\/apps\/([^/]+)\/ps\/rebuild$/,
      async (ctx) => {
        const buildId = await apps.rebuild(await existingApp(ctx, apps), ctx.who, builds, sourcesDir);
        await streamBuildLog(state, ctx.res, buildId);
      },
    ],
  ];
}
