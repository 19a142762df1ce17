import { z } from 'zod';
import { maintenanceSchema, proxyKeySchema, proxyReport, proxySettingSchema, type ProxyKey } from '../../proxy-settings.js';
import type { State } from '../../state/index.js';
import { parseWith, readJson, sendJson } from '../http-utils.js';
import { existingApp, type ApiDeps, type Ctx, type Route } from '../route-kit.js';
import { routesServed } from '../routes-served.js';

const unsetSchema = z.object({ key: proxyKeySchema });

export interface ProxyReport {
  /** Undefined for the global settings. */
  app?: string;
  settings: ReturnType<typeof proxyReport>;
}

export interface MaintenanceReport {
  app: string;
  enabled: boolean;
  retryAfter?: number;
  since?: string;
}

async function report(state: State, app: string | undefined): Promise<ProxyReport> {
  const [own, global, plane] = await Promise.all([app === undefined ? {} : state.proxy.get(app), state.proxy.get(undefined), state.proxy.plane()]);
  return { app, settings: proxyReport(own, global, plane) };
}

/** proxy:* (per app, or global when the path names no app) and maintenance:* — what the router does for an app. */
export function proxyRoutes({ state, apps, log }: ApiDeps): Route[] {
  /** The app a route's path names, or undefined for the global settings' paths. */
  const target = async (ctx: Ctx) => (ctx.params.length === 0 ? undefined : existingApp(ctx, apps));
  const paths = [/^\/api\/proxy$/, /^\/api\/apps\/([^/]+)\/proxy$/];
  const maintenance = async (app: string): Promise<MaintenanceReport> => {
    const m = await state.maintenance.get(app);
    return m ? { app, enabled: true, retryAfter: m.retryAfterSec, since: m.since } : { app, enabled: false };
  };
  return [
    ...paths.flatMap((path): Route[] => [
      ['GET', path, async (ctx) => sendJson(ctx.res, 200, await report(state, await target(ctx)))],
      [
        'PUT',
        path,
        async (ctx) => {
          const app = await target(ctx);
          const { key, value } = parseWith(proxySettingSchema, await readJson(ctx.req));
          await state.proxy.set(app, key as ProxyKey, value.trim());
          await routesServed(state, log);
          sendJson(ctx.res, 200, await report(state, app));
        },
      ],
      [
        'DELETE',
        path,
        async (ctx) => {
          const app = await target(ctx);
          const { key } = parseWith(unsetSchema, await readJson(ctx.req));
          await state.proxy.unset(app, key as ProxyKey);
          await routesServed(state, log);
          sendJson(ctx.res, 200, await report(state, app));
        },
      ],
    ]),
    ['GET', /^\/api\/apps\/([^/]+)\/maintenance$/, async (ctx) => sendJson(ctx.res, 200, await maintenance(await existingApp(ctx, apps)))],
    [
      'PUT',
      /^\/api\/apps\/([^/]+)\/maintenance$/,
      async (ctx) => {
        const app = await existingApp(ctx, apps);
        const { retryAfter } = parseWith(maintenanceSchema, await readJson(ctx.req));
        await state.maintenance.on(app, retryAfter);
        await routesServed(state, log);
        sendJson(ctx.res, 200, await maintenance(app));
      },
    ],
    [
      'DELETE',
      /^\/api\/apps\/([^/]+)\/maintenance$/,
      async (ctx) => {
        const app = await existingApp(ctx, apps);
        await state.maintenance.off(app);
        await routesServed(state, log);
        sendJson(ctx.res, 200, await maintenance(app));
      },
    ],
  ];
}
