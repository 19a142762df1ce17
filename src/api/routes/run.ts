import { commandText } from '../../release/one-off-service.js';
import { parseWith, readJson, sendJson } from '../http-utils.js';
import { existingApp, type ApiDeps, type Route } from '../route-kit.js';
import { detachedRunSchema } from '../run-protocol.js';

/** run:detached. `pier run` itself is an upgraded connection: see run-endpoint.ts. */
export function runRoutes({ apps, oneOffs }: ApiDeps): Route[] {
  return [
    [
      'POST',
      /^\/api\/apps\/([^/]+)\/run\/detached$/,
      async (ctx) => {
        const app = await existingApp(ctx, apps);
        const { command, env } = parseWith(detachedRunSchema, await readJson(ctx.req));
        const name = await oneOffs.detach(app, { argv: command, env, who: ctx.who });
        sendJson(ctx.res, 201, { name, command: commandText(command) });
      },
    ],
  ];
}
