import { certificateUploadSchema, daysLeft } from '../../certificates.js';
import { CertificateService, type CertificateInfo } from '../../release/cert-service.js';
import { HttpError, parseWith, readJson, sendJson } from '../http-utils.js';
import { existingApp, type ApiDeps, type Route } from '../route-kit.js';
import { routesServed } from '../routes-served.js';

const shown = (info: CertificateInfo) => ({ ...info, daysLeft: daysLeft(info.notAfter) });

/** certs:* */
export function certRoutes({ state, apps, log }: ApiDeps): Route[] {
  const certs = new CertificateService(state, log);
  return [
    ['GET', /^\/api\/certs$/, async ({ res }) => sendJson(res, 200, (await certs.list()).map(shown))],
    [
      'GET',
      /^\/api\/apps\/([^/]+)\/certs$/,
      async (ctx) => {
        const app = await existingApp(ctx, apps);
        const info = await certs.get(app);
        sendJson(ctx.res, 200, { app, certificate: info ? shown(info) : null });
      },
    ],
    [
      'PUT',
      /^\/api\/apps\/([^/]+)\/certs$/,
      async (ctx) => {
        const app = await existingApp(ctx, apps);
        const { cert, key, source } = parseWith(certificateUploadSchema, await readJson(ctx.req));
        const info = await certs.put(app, { certPem: cert, keyPem: key, source });
        await routesServed(state, log);
        sendJson(ctx.res, 200, shown(info));
      },
    ],
    [
      'DELETE',
      /^\/api\/apps\/([^/]+)\/certs$/,
      async (ctx) => {
        const app = await existingApp(ctx, apps);
        if (!(await certs.remove(app))) throw new HttpError(404, `${app} has no certificate. Add one with: pier certs:add ${app} CERT_FILE KEY_FILE`);
        await routesServed(state, log);
        sendJson(ctx.res, 200, { app, removed: true });
      },
    ],
  ];
}
