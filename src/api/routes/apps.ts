import { z } from 'zod';
import { appNameSchema, configKeySchema, configVarsSchema } from '../../validation.js';
import { parseWith, readJson, sendJson, streamOperation } from '../http-utils.js';
import { appParam, existingApp, type ApiDeps, type Route } from '../route-kit.js';

/** apps:* and config:* */
export function appRoutes({ state, apps }: ApiDeps): Route[] {
  return [
    ['GET', /^\/api\/whoami$/, async ({ res, who }) => sendJson(res, 200, { name: who })],
    ['GET', /^\/api\/apps$/, async ({ res }) => sendJson(res, 200, await state.apps.list())],
    [
      'POST',
      /^\/api\/apps$/,
      async ({ req, res }) => {
        const { name } = parseWith(z.object({ name: appNameSchema }), await readJson(req));
        await apps.create(name);
        sendJson(res, 201, { name, url: await apps.urls.primary(name) });
      },
    ],
    ['GET', /^\/api\/apps\/([^/]+)$/, async (ctx) => sendJson(ctx.res, 200, await apps.info(appParam(ctx)))],
    [
      'DELETE',
      /^\/api\/apps\/([^/]+)$/,
      async (ctx) => {
        const { removeVolumes } = parseWith(z.object({ removeVolumes: z.boolean().optional() }), await readJson(ctx.req));
        sendJson(ctx.res, 200, { destroyed: ctx.params[0], ...(await apps.destroy(appParam(ctx), removeVolumes)) });
      },
    ],
    [
      'POST',
      /^\/api\/apps\/([^/]+)\/rename$/,
      async (ctx) => {
        const from = appParam(ctx);
        const { name } = parseWith(z.object({ name: appNameSchema }), await readJson(ctx.req));
        await streamOperation(ctx.res, (progress) => apps.rename(from, name, progress));
      },
    ],
    ['POST', /^\/api\/cleanup$/, async ({ res }) => sendJson(res, 200, await apps.cleanup())],
    ['GET', /^\/api\/config$/, async ({ res }) => sendJson(res, 200, await state.config.global())],
    [
      'PATCH',
      /^\/api\/config$/,
      async ({ req, res, who }) => {
        const { vars } = parseWith(z.object({ vars: configVarsSchema }), await readJson(req));
        await streamOperation(res, (progress) => apps.setGlobalConfig(vars, who, progress));
      },
    ],
    [
      'DELETE',
      /^\/api\/config$/,
      async ({ req, res, who }) => {
        const { keys } = parseWith(z.object({ keys: z.array(configKeySchema).min(1) }), await readJson(req));
        await streamOperation(res, (progress) => apps.unsetGlobalConfig(keys, who, progress));
      },
    ],
    [
      'GET',
      /^\/api\/apps\/([^/]+)\/config$/,
      async (ctx) => sendJson(ctx.res, 200, await state.config.all(await existingApp(ctx, apps))),
    ],
    [
      'PATCH',
      /^\/api\/apps\/([^/]+)\/config$/,
      async (ctx) => {
        const name = await existingApp(ctx, apps);
        const { vars } = parseWith(z.object({ vars: configVarsSchema }), await readJson(ctx.req));
        await streamOperation(ctx.res, (progress) => apps.setConfig(name, vars, ctx.who, progress));
      },
    ],
    [
      'DELETE',
      /^\/api\/apps\/([^/]+)\/config$/,
      async (ctx) => {
        const name = await existingApp(ctx, apps);
        const { keys } = parseWith(z.object({ keys: z.array(configKeySchema).min(1) }), await readJson(ctx.req));
        await streamOperation(ctx.res, (progress) => apps.unsetConfig(name, keys, ctx.who, progress));
      },
    ],
  ];
}
