import cluster from 'node:cluster';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
import Docker from 'dockerode';
import { AppService } from './api/app-service.js';
import { authenticate, createApiServer } from './api/server.js';
import { createBuildQueue } from './build/build-queue.js';
import { BuildService } from './build/build-service.js';
import { AppImages } from './build/app-images.js';
import { startBuildWorker } from './build/build-worker.js';
import { BuilderSelector } from './build/builder-selector.js';
import { BuildpackBuilder } from './build/buildpack-builder.js';
import { BuildpackFetcher } from './build/buildpack-source.js';
import { DeploySources } from './build/deploy-sources.js';
import { DockerfileBuilder } from './build/dockerfile-builder.js';
import { hostNpmRegistry } from './build/npm-registry.js';
import { GitEndpoint } from './git/git-endpoint.js';
import { ensureHookToken, installHooks } from './git/hook-installer.js';
import { RepoStore } from './git/repos.js';
import { createLogger, type Logger } from './log.js';
import { LogService } from './logs/log-service.js';
import { buildpacksDir } from './paths.js';
import { builtinPluginsDir, PluginHost } from './plugins/host.js';
import { OneOffService } from './release/one-off-service.js';
import { ProcessService } from './release/process-service.js';
import { startReconciler } from './release/reconciler.js';
import { ReleaseService } from './release/release-service.js';
import { ResourceService } from './release/resource-service.js';
import { StorageService } from './release/storage-service.js';
import { AppUrls } from './router/app-urls.js';
import { AppTemplateChecker } from './router/nginx/template-check.js';
import { startRouterRole } from './router/router-role.js';
import { startRouterWorkers } from './router/router-workers.js';
import { watchContainerEvents } from './scheduler/docker-events.js';
import { DockerScheduler, defaultSchedulerTimings } from './scheduler/docker-scheduler.js';
import { DockerServices } from './scheduler/docker-services.js';
import type { Settings } from './settings.js';
import { createState } from './state/index.js';
import { migrate } from './state/migrations.js';
import { assertDurableRedis, connectRedis } from './state/redis.js';

export type Role = 'api' | 'router' | 'worker';

const SHUTDOWN_GRACE_MS = 3000;
/** How often running containers are compared with each app's formation, besides after every container event. */
const RECONCILE_INTERVAL_MS = 5000;
export const ALL_ROLES: Role[] = ['api', 'router', 'worker'];

export interface Daemon {
  close(): Promise<void>;
  log: Logger;
}


async function connectDocker(): Promise<Docker> {
  const docker = new Docker();
  try {
    await docker.ping();
  } catch (err) {
    throw new Error(`Docker is not reachable (${(err as Error).message}). Start it (dockerd, or ./install.sh) and try again.`);
  }
  return docker;
}

function listen(server: http.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export async function startDaemon(settings: Settings, roles: Role[] = ALL_ROLES, log: Logger = createLogger(settings.logLevel)): Promise<Daemon> {
  const redis = connectRedis(settings.redisUrl);
  const closers: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch((err: unknown) => log.warn({ err }, 'error during shutdown'));
  };
  closers.push(() => redis.quit());
  // BullMQ leaves connections it was handed open on close(), so the daemon closes them itself.
  const connection = () => {
    const dup = redis.duplicate();
    closers.push(() => dup.quit());
    return dup;
  };
  try {
    await assertDurableRedis(redis);
    const state = createState(redis, settings.instance);
    await migrate(redis, state.keys);
    // In a cluster worker (see router-workers.ts) the router serves from this process.
    const startRouter = (plugins?: PluginHost) =>
      settings.routerWorkers > 1 && cluster.isPrimary ? startRouterWorkers(settings.routerWorkers, settings.httpPort, log) : startRouterRole({ state, connection, settings, log, plugins });
    // A router needs Redis alone: no Docker, no PIER_HOME, no plugins.
    if (roles.every((r) => r === 'router')) {
      closers.push(await startRouter());
      return { close, log };
    }
    await mkdir(settings.home, { recursive: true, mode: 0o700 });
    const docker = await connectDocker();
    const scheduler = new DockerScheduler(
      docker,
      state.routes,
      { instance: settings.instance, network: settings.instance, ...defaultSchedulerTimings },
      log,
    );
    closers.push(() => scheduler.settle());
    const images = new AppImages(docker, settings.instance);
    const services = new DockerServices(docker, { instance: settings.instance, network: settings.instance, stackImage: settings.stackImage, caBundle: settings.caBundle }, log);
    const plugins = new PluginHost({ state, log, builtinDir: builtinPluginsDir, installDir: path.join(settings.home, 'plugins'), dataDir: path.join(settings.home, 'plugin-data'), services });
    // Registered early, so it closes late: servers and workers that emit events close first.
    closers.push(() => plugins.close());
    const releases = new ReleaseService(state, scheduler, images, log, plugins);
    const processes = new ProcessService(state, scheduler, log);
    const imageRepository = (app: string) => images.repository(app);
    const builder = new BuilderSelector({
      buildpacks: new BuildpackBuilder(docker, {
        instance: settings.instance,
        stackImage: settings.stackImage,
        buildpacksDir,
        caBundle: settings.caBundle,
        workDir: settings.home,
        npmRegistry: hostNpmRegistry,
        imageRepository,
        cacheVolume: (app) => images.cacheVolume(app),
        fetcher: new BuildpackFetcher(settings.buildpackCacheDir),
      }),
      dockerfile: new DockerfileBuilder(docker, { instance: settings.instance, imageRepository }),
    });
    const urls = new AppUrls(state, settings.domain, settings.httpPort);
    const prefix = state.keys.queuePrefix;
    // Every role's plugins may change config, through the one path that releases it.
    const repos = new RepoStore(settings.reposDir, settings.hooksDir);
    const apps = new AppService(state, repos, scheduler, images, releases, urls, plugins);
    await plugins.start(apps);

    if (roles.includes('api')) {
      const hookToken = await ensureHookToken(settings.home);
      await installHooks({ hooksDir: settings.hooksDir, sourcesDir: settings.sourcesDir, home: settings.home, apiUrl: `http://127.0.0.1:${settings.apiPort}` });
      const git = new GitEndpoint({
        repos,
        authenticate: (req) => authenticate(state, req),
        appExists: (app) => state.apps.exists(app),
        createApp: (app) => apps.create(app),
        log,
      });
      const queue = createBuildQueue(connection(), prefix);
      closers.push(() => queue.close());
      const oneOffs = new OneOffService(state, scheduler, log);
      const server = createApiServer({ state, apps, releases, processes, oneOffs, resources: new ResourceService(state, scheduler, processes, releases, log), storage: new StorageService(state, scheduler, processes, log), logs: new LogService(state, scheduler), plugins, sourcesDir: settings.sourcesDir, initialDomain: settings.domain, builds: new BuildService(state, queue), sources: new DeploySources(settings.sourcesDir, settings.caBundle), git, hookToken, log, nginxTemplates: new AppTemplateChecker({ state, settings, log }) });
      await listen(server, settings.apiPort);
      closers.push(
        () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeIdleConnections();
            // Pushes in flight get a moment to relay their build's last lines (e.g. "interrupted") to git.
            setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
          }),
      );
      // Closers run last-first: one-off runs end before the server waits for its connections, theirs included.
      closers.push(() => oneOffs.close());
      // After a daemon or dockerd restart, or a crash: container IPs may have changed, instances may be gone.
      const reconciler = startReconciler(processes, RECONCILE_INTERVAL_MS, log);
      const events = watchContainerEvents(docker, settings.instance, () => reconciler.poke(), () => reconciler.poke(), log);
      closers.push(async () => {
        events.close();
        await reconciler.close();
      });
      log.info({ port: settings.apiPort }, 'API and git endpoint listening');
    }

    if (roles.includes('router')) closers.push(await startRouter(plugins));

    // Registered last so it closes first: interrupted builds are recorded while the API can still tell their pushers.
    if (roles.includes('worker')) {
      const dockerRoot = (await docker.info().then((i: { DockerRootDir?: string }) => i.DockerRootDir, () => undefined)) ?? '/var/lib/docker';
      const worker = startBuildWorker(
        connection(),
        { state, builder, images, releases, log, plugins },
        {
          prefix,
          concurrency: settings.buildConcurrency,
          timeoutSec: settings.buildTimeoutSec,
          appUrl: (app) => urls.primary(app),
          keepReleases: settings.keepReleases,
          minFreeDiskMb: settings.minFreeDiskMb,
          // Docker's data dir may not be visible from here (a remote engine); PIER_HOME always is.
          diskDirs: async () => [settings.home, ...(existsSync(dockerRoot) ? [dockerRoot] : [])],
        },
      );
      closers.push(() => worker.close());
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { close, log };
}
