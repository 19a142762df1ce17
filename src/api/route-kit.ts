import type http from 'node:http';
import type { BuildService } from '../build/build-service.js';
import type { DeploySources } from '../build/deploy-sources.js';
import type { GitEndpoint } from '../git/git-endpoint.js';
import type { Logger } from '../log.js';
import type { LogService } from '../logs/log-service.js';
import type { PluginHost } from '../plugins/host.js';
import type { OneOffService } from '../release/one-off-service.js';
import type { ProcessService } from '../release/process-service.js';
import type { ReleaseService } from '../release/release-service.js';
import type { ResourceService } from '../release/resource-service.js';
import type { AppTemplateChecker } from '../router/nginx/template-check.js';
import type { StorageService } from '../release/storage-service.js';
import type { State } from '../state/index.js';
import { appNameSchema } from '../validation.js';
import type { AppService } from './app-service.js';
import { parseWith } from './http-utils.js';

export interface ApiDeps {
  state: State;
  apps: AppService;
  releases: ReleaseService;
  processes: ProcessService;
  /** pier run and run:detached. */
  oneOffs: OneOffService;
  resources: ResourceService;
  storage: StorageService;
  logs: LogService;
  plugins: PluginHost;
  /** proxy:template: an app's own nginx template, checked with nginx -t before it is stored. */
  nginxTemplates: AppTemplateChecker;
  /** Where sources of builds wait for the worker (PIER_HOME/sources). */
  sourcesDir: string;
  /** PIER_DOMAIN: the global domain until domains:set-global changes it. */
  initialDomain: string;
  builds: BuildService;
  sources: DeploySources;
  git: GitEndpoint;
  hookToken: string;
  log: Logger;
}

export interface Ctx {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  /** The capture groups of the route's pattern, URI-decoded. */
  params: string[];
  /** The name of the token that authenticated the request. */
  who: string;
}

export type Handler = (ctx: Ctx) => Promise<void>;

/** One endpoint: method, path pattern (its groups become ctx.params), handler. */
export type Route = [string, RegExp, Handler];

/** The app named by the first path parameter, validated. */
export function appParam(ctx: Ctx): string {
  return parseWith(appNameSchema, ctx.params[0]);
}

/** The app named by the first path parameter; 404 with what to do when it does not exist. */
export async function existingApp(ctx: Ctx, apps: AppService): Promise<string> {
  const name = appParam(ctx);
  await apps.require(name);
  return name;
}
