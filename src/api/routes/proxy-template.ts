import type { DataPlane } from '../../proxy-plane.js';
import { templateSchema } from '../../proxy-template.js';
import { parseWith, readJson, sendJson } from '../http-utils.js';
import { existingApp, type ApiDeps, type Route } from '../route-kit.js';
import { routesServed } from '../routes-served.js';

export interface TemplateReport {
  app: string;
  /** `app`: the app's own (`proxy:template`); `builtin`: the nginx-proxy plugin's app.conf.hbs. */
  source: 'app' | 'builtin';
  template: string;
  /** Where the built-in template lives; only for `builtin`. */
  file?: string;
}

export interface TemplateChange extends TemplateReport {
  /** The data plane asked for: the template serves once it is nginx. */
  plane: DataPlane;
  /** PUT: the states the template was checked in. */
  checked?: string[];
  /** DELETE: false when the app had no template of its own. */
  removed?: boolean;
}

/** proxy:template and proxy:template:reset: an app's own nginx template, checked before it is stored. */
export function proxyTemplateRoutes({ state, apps, nginxTemplates, log }: ApiDeps): Route[] {
  const path = /^\/api\/apps\/([^/]+)\/proxy\/template$/;
  const report = async (app: string): Promise<TemplateReport> => {
    const own = await state.proxy.template(app);
    return own === undefined ? { app, source: 'builtin', template: await nginxTemplates.builtin(), file: nginxTemplates.builtinFile } : { app, source: 'app', template: own };
  };
  return [
    ['GET', path, async (ctx) => sendJson(ctx.res, 200, await report(await existingApp(ctx, apps)))],
    [
      'PUT',
      path,
      async (ctx) => {
        const app = await existingApp(ctx, apps);
        const { template } = parseWith(templateSchema, await readJson(ctx.req));
        const checked = await nginxTemplates.check(app, template);
        await state.proxy.setTemplate(app, template);
        await routesServed(state, log);
        sendJson(ctx.res, 200, { ...(await report(app)), plane: await state.proxy.plane(), checked } satisfies TemplateChange);
      },
    ],
    [
      'DELETE',
      path,
      async (ctx) => {
        const app = await existingApp(ctx, apps);
        const removed = await state.proxy.resetTemplate(app);
        await routesServed(state, log);
        sendJson(ctx.res, 200, { ...(await report(app)), plane: await state.proxy.plane(), removed } satisfies TemplateChange);
      },
    ],
  ];
}
