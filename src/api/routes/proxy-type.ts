import { z } from 'zod';
import { UserError } from '../../errors.js';
import { dataPlaneSchema, type DataPlane, type PlaneStatus } from '../../proxy-plane.js';
import { parseWith, readJson, sendJson } from '../http-utils.js';
import type { ApiDeps, Route } from '../route-kit.js';

/** A switch to nginx validates and starts it; longer than this and the answer says it is still running. */
const SWITCH_WAIT_MS = 20_000;

export interface PlaneReport {
  type: DataPlane;
  /** What the router role last reported; absent when no router has run since. */
  status?: PlaneStatus;
}

/** proxy:type: which data plane serves HTTP (global). */
export function proxyTypeRoutes({ state }: ApiDeps): Route[] {
  const report = async (): Promise<PlaneReport> => ({ type: await state.proxy.plane(), status: await state.proxy.planeStatus() });
  return [
    ['GET', /^\/api\/proxy\/type$/, async ({ res }) => sendJson(res, 200, await report())],
    [
      'PUT',
      /^\/api\/proxy\/type$/,
      async ({ req, res }) => {
        const { type } = parseWith(z.object({ type: dataPlaneSchema }), await readJson(req));
        await state.proxy.setPlane(type);
        // A router answers the barrier once it has made the switch, or failed it, and reported how it went.
        const status = (await state.routes.served(SWITCH_WAIT_MS)).served === 'unconfirmed' ? undefined : await state.proxy.planeStatus();
        if (status && status.serving !== type) {
          // A refused switch changes nothing: the next router start must not try it again.
          await state.proxy.setPlane(status.serving);
          throw new UserError(`The switch to ${type} failed: ${status.error ?? 'see the daemon log'}. ${status.serving === 'builtin' ? 'The built-in router' : 'nginx'} keeps serving.`);
        }
        sendJson(res, 200, { type, status });
      },
    ],
  ];
}
