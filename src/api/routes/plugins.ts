import type http from 'node:http';
import { z } from 'zod';
import { PluginFailure } from '../../plugins/errors.js';
import { installSourceSchema } from '../../plugins/installer.js';
import { pluginNameSchema } from '../../plugins/manifest.js';
import { commandArgsSchema, commandNameSchema } from '../../plugins/protocol.js';
import { ROUTE_METHODS } from '../../plugins/routes.js';
import { HttpError, parseWith, readJson, sendJson, streamOperation } from '../http-utils.js';
import type { ApiDeps, Ctx, Route } from '../route-kit.js';

const commandRequestSchema = z
  .object({
    args: commandArgsSchema,
    stdin: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'stdin must be base64').optional(),
  })
  .strict();

/** Credentials of the caller stay with Pier: a plugin's route learns who called (ctx.who), never their token. */
const WITHHELD_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

function forwardedHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => typeof e[1] === 'string' && !WITHHELD_HEADERS.includes(e[0])));
}

/** plugins, plugins:*, plugin commands, and plugin HTTP routes (authenticated like every API route, by the dispatcher). */
export function pluginRoutes({ plugins }: ApiDeps): Route[] {
  const existing = async (ctx: Ctx) => {
    const name = parseWith(pluginNameSchema, ctx.params[0]);
    if (!(await plugins.info(name))) throw new HttpError(404, `No plugin named ${name}. List plugins: pier plugins`);
    return name;
  };
  const routeHandler = (method: string) => async (ctx: Ctx) => {
    const name = await existing(ctx);
    const url = new URL(ctx.req.url ?? '/', 'http://localhost');
    const request = { method, path: ctx.params[1] || '/', query: Object.fromEntries(url.searchParams), headers: forwardedHeaders(ctx.req.headers), body: await readJson(ctx.req), who: ctx.who };
    const response = await plugins.route(name, request).catch((err: unknown) => {
      // The plugin, not the request, is at fault: a gateway error, as from any upstream.
      throw err instanceof PluginFailure ? new HttpError(502, err.message) : err;
    });
    ctx.res.writeHead(response.status, { ...response.headers, 'content-length': Buffer.byteLength(response.body) });
    ctx.res.end(response.body);
  };
  return [
    ['GET', /^\/api\/plugins$/, async ({ res }) => sendJson(res, 200, await plugins.list())],
    ['GET', /^\/api\/plugins\/commands$/, async ({ res }) => sendJson(res, 200, await plugins.commands())],
    ['POST', /^\/api\/plugins\/install$/, async ({ req, res }) => sendJson(res, 201, await plugins.install(parseWith(installSourceSchema, await readJson(req))))],
    ['POST', /^\/api\/plugins\/([^/]+)\/enable$/, async (ctx) => sendJson(ctx.res, 200, await plugins.setEnabled(await existing(ctx), true))],
    ['POST', /^\/api\/plugins\/([^/]+)\/disable$/, async (ctx) => sendJson(ctx.res, 200, await plugins.setEnabled(await existing(ctx), false))],
    ['DELETE', /^\/api\/plugins\/([^/]+)$/, async (ctx) => sendJson(ctx.res, 200, await plugins.uninstall(await existing(ctx)))],
    [
      'POST',
      /^\/api\/plugins\/([^/]+)\/commands\/([^/]+)$/,
      async (ctx) => {
        const name = await existing(ctx);
        const command = parseWith(commandNameSchema, ctx.params[1]);
        const { args, stdin } = parseWith(commandRequestSchema, await readJson(ctx.req));
        await streamOperation(ctx.res, async (_progress, send) => ({
          exit: await plugins.runCommand(name, command, { args, stdin: stdin ?? null, who: ctx.who }, (stream, data) => send(typeof data === 'string' ? { [stream]: data } : { [stream]: data.toString('base64'), encoding: 'base64' })),
        }));
      },
    ],
    // The rest of the path, "" for the plugin's root (a missing group would reach the handler as "undefined").
    ...ROUTE_METHODS.map((method): Route => [method, /^\/api\/plugins\/([^/]+)\/routes(\/.*|)$/, routeHandler(method)]),
  ];
}
