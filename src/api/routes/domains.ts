import { z } from 'zod';
import { domainSchema } from '../../validation.js';
import { HttpError, parseWith, readJson, sendJson } from '../http-utils.js';
import { existingApp, type ApiDeps, type Route } from '../route-kit.js';
import { routesServed } from '../routes-served.js';

const domainList = z.object({ domains: z.array(domainSchema).min(1, 'name at least one domain') });

/** domains:* and urls */
export function domainRoutes({ state, apps, plugins, initialDomain, log }: ApiDeps): Route[] {
  const report = async (app: string) => ({
    app,
    global: `${app}.${await state.domains.globalDomain(initialDomain)}`,
    domains: await state.domains.list(app),
  });

  /** Runs a change of an app's domains, then tells the plugins what it changed: a change refused half-way (a taken domain) may have added some. */
  const changing = async (app: string, who: string, change: () => Promise<void>) => {
    const before = await state.domains.list(app);
    try {
      await change();
    } finally {
      const after = await state.domains.list(app);
      const added = after.filter((d) => !before.includes(d));
      const removed = before.filter((d) => !after.includes(d));
      if (added.length + removed.length > 0) await plugins.emit('domains-changed', { app, domains: after, added, removed, by: who });
    }
  };

  return [
    ['GET', /^\/api\/domains$/, async ({ res }) => sendJson(res, 200, { global: await state.domains.globalDomain(initialDomain) })],
    [
      'PUT',
      /^\/api\/domains\/global$/,
      async ({ req, res, who }) => {
        const { domain } = parseWith(z.object({ domain: domainSchema.refine((d) => !d.startsWith('*.'), 'the global domain cannot be a wildcard') }), await readJson(req));
        const old = await state.domains.globalDomain(initialDomain);
        await state.domains.setGlobal(domain);
        if (old !== domain) await plugins.emit('domains-changed', { app: null, domains: [domain], added: [domain], removed: [old], by: who });
        await routesServed(state, log);
        sendJson(res, 200, { global: domain });
      },
    ],
    ['GET', /^\/api\/apps\/([^/]+)\/domains$/, async (ctx) => sendJson(ctx.res, 200, await report(await existingApp(ctx, apps)))],
    [
      'POST',
      /^\/api\/apps\/([^/]+)\/domains$/,
      async (ctx) => {
        const app = await existingApp(ctx, apps);
        const { domains } = parseWith(domainList, await readJson(ctx.req));
        const global = await state.domains.globalDomain(initialDomain);
        await changing(app, ctx.who, async () => {
          for (const domain of domains) {
            const other = domain.endsWith(`.${global}`) ? domain.slice(0, -global.length - 1) : undefined;
            if (other && other !== app && (await state.apps.exists(other))) {
              throw new HttpError(409, `${domain} is the address of app ${other}; pick another domain.`);
            }
            const { owner } = await state.domains.add(app, domain);
            if (owner) throw new HttpError(409, `${domain} already belongs to app ${owner}. Remove it there first: pier domains:remove ${owner} ${domain}`);
          }
        });
        await routesServed(state, log);
        sendJson(ctx.res, 200, await report(app));
      },
    ],
    [
      'DELETE',
      /^\/api\/apps\/([^/]+)\/domains$/,
      async (ctx) => {
        const app = await existingApp(ctx, apps);
        const { domains } = parseWith(domainList, await readJson(ctx.req));
        const missing: string[] = [];
        await changing(app, ctx.who, async () => {
          for (const domain of domains) if (!(await state.domains.remove(app, domain))) missing.push(domain);
        });
        if (missing.length > 0) throw new HttpError(404, `${app} has no domain ${missing.join(', ')}. See them with: pier domains ${app}`);
        await routesServed(state, log);
        sendJson(ctx.res, 200, await report(app));
      },
    ],
    ['GET', /^\/api\/apps\/([^/]+)\/urls$/, async (ctx) => sendJson(ctx.res, 200, await apps.urls.all(await existingApp(ctx, apps)))],
  ];
}
