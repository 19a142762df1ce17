import { z } from 'zod';
import { EVERY_TYPE } from '../../release/resource-service.js';
import { cpusSchema, memorySchema, processSettingSchema } from '../../resource-settings.js';
import { processTypeSchema } from '../../validation.js';
import { HttpError, parseWith, readJson, sendJson } from '../http-utils.js';
import { existingApp, type ApiDeps, type Route } from '../route-kit.js';

/** Limits are sent as the CLI takes them ("512m", "0.5") and parsed here with the CLI's own schemas. */
const scopeBody = z.object({ process: processTypeSchema.optional() });
const limitBody = scopeBody.extend({ memory: memorySchema.optional(), cpu: cpusSchema.optional() });

/** resource:* and ps:set / ps:report */
export function resourceRoutes({ apps, resources }: ApiDeps): Route[] {
  const limits = /^\/api\/apps\/([^/]+)\/resources$/;
  const settings = /^\/api\/apps\/([^/]+)\/ps\/settings$/;
  return [
    ['GET', limits, async (ctx) => sendJson(ctx.res, 200, await resources.report(await existingApp(ctx, apps)))],
    [
      'PATCH',
      limits,
      async (ctx) => {
        const app = await existingApp(ctx, apps);
        const { process, memory, cpu } = parseWith(limitBody, await readJson(ctx.req));
        if (memory === undefined && cpu === undefined) throw new HttpError(400, 'Give a memory or a cpu limit, or both (e.g. --memory 512m --cpu 1).');
        sendJson(ctx.res, 200, await resources.limit(app, process ?? EVERY_TYPE, { memory, cpus: cpu }, ctx.who));
      },
    ],
    [
      'DELETE',
      limits,
      async (ctx) => {
        const app = await existingApp(ctx, apps);
        const { process } = parseWith(scopeBody, await readJson(ctx.req));
        sendJson(ctx.res, 200, await resources.clear(app, process ?? EVERY_TYPE, ctx.who));
      },
    ],
    ['GET', settings, async (ctx) => sendJson(ctx.res, 200, await resources.processReport(await existingApp(ctx, apps)))],
    [
      'PATCH',
      settings,
      async (ctx) => {
        const app = await existingApp(ctx, apps);
        sendJson(ctx.res, 200, await resources.setProcess(app, parseWith(processSettingSchema, await readJson(ctx.req)), ctx.who));
      },
    ],
  ];
}
