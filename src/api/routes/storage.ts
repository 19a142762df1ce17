import { z } from 'zod';
import { storageMountSchema, storageTargetSchema } from '../../resource-settings.js';
import { parseWith, readJson, sendJson, streamOperation } from '../http-utils.js';
import { existingApp, type ApiDeps, type Route } from '../route-kit.js';

/** storage:* */
export function storageRoutes({ apps, storage }: ApiDeps): Route[] {
  const mounts = /^\/api\/apps\/([^/]+)\/storage$/;
  return [
    ['GET', mounts, async (ctx) => sendJson(ctx.res, 200, await storage.list(await existingApp(ctx, apps)))],
    [
      'POST',
      mounts,
      async (ctx) => {
        const app = await existingApp(ctx, apps);
        const { mount } = parseWith(z.object({ mount: storageMountSchema }), await readJson(ctx.req));
        await streamOperation(ctx.res, (progress) => storage.mount(app, mount, ctx.who, progress));
      },
    ],
    [
      'DELETE',
      mounts,
      async (ctx) => {
        const app = await existingApp(ctx, apps);
        const { mount } = parseWith(z.object({ mount: storageTargetSchema }), await readJson(ctx.req));
        await streamOperation(ctx.res, (progress) => storage.unmount(app, mount, ctx.who, progress));
      },
    ],
  ];
}
