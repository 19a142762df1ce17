import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { AppImages } from '../build/app-images.js';
import type { BuildService } from '../build/build-service.js';
import type { RepoStore } from '../git/repos.js';
import { noPlugins, type PluginEmitter } from '../plugins/emitter.js';
import type { ReleaseService } from '../release/release-service.js';
import type { AppUrls } from '../router/app-urls.js';
import { runContext } from '../release/run-context.js';
import type { Scheduler, ProgressFn } from '../scheduler/scheduler.js';
import type { State } from '../state/index.js';
import { HttpError } from './http-utils.js';

/** How long a destroy waits for a router to drop the app's route (none may run: an API-only daemon). */
const FORGET_ROUTE_TIMEOUT_MS = 5_000;

export interface AppInfo {
  name: string;
  createdAt: string;
  url: string;
  release: number;
  image: string | null;
  commit: string | null;
  instances: Array<{ process: string; release: number; address: string }>;
}

/** App lifecycle: the operations behind apps:* and config:* verbs. */
export class AppService {
  constructor(
    private readonly state: State,
    private readonly repos: RepoStore,
    private readonly scheduler: Scheduler,
    private readonly images: AppImages,
    private readonly releases: ReleaseService,
    readonly urls: AppUrls,
    private readonly plugins: PluginEmitter = noPlugins,
  ) {}

  async create(name: string): Promise<void> {
    if (!(await this.state.apps.create(name))) {
      throw new HttpError(409, `App ${name} already exists. Pick another name, or push to it: git push pier main`);
    }
    await this.repos.ensure(name);
    // An app without instances answers 503 rather than 404 from the moment it exists.
    await this.state.routes.set({ app: name, upstreams: [] });
    await this.plugins.emit('app-created', { app: name });
  }

  async require(name: string): Promise<void> {
    if (!(await this.state.apps.exists(name))) {
      throw new HttpError(404, `App ${name} does not exist. List apps with: pier apps:list`);
    }
  }

  async info(name: string): Promise<AppInfo> {
    const app = await this.state.apps.get(name);
    if (!app) throw new HttpError(404, `App ${name} does not exist. List apps with: pier apps:list`);
    const current = await this.releases.current(name);
    const instances = await this.scheduler.running(name);
    return {
      name,
      createdAt: app.createdAt,
      url: await this.urls.primary(name),
      release: app.currentRelease,
      image: current?.image ?? null,
      commit: current?.commit ?? null,
      instances: instances.map((i) => ({ process: i.process, release: i.release, address: i.address })),
    };
  }

  /**
   * Removes the app's containers, images, cache, repository, routes and state. Its storage volumes
   * hold data no deploy can bring back, so they stay unless `removeVolumes` asks otherwise.
   */
  async destroy(name: string, removeVolumes = false): Promise<{ keptVolumes: string[]; removedVolumes: string[] }> {
    await this.require(name);
    const lock = await this.state.locks.acquire(name, 'deploy', 60_000);
    try {
      await this.scheduler.destroy(name);
      // Mounted ones too: a volume's app label is the name the app had when the volume was made.
      const mounted = (await this.state.storage.mounts(name)).map((m) => m.volume);
      const volumes = [...new Set([...mounted, ...(await this.scheduler.volumes.list(name)).map((v) => v.volume)])].sort();
      if (removeVolumes) for (const volume of volumes) await this.scheduler.volumes.remove(volume);
      await this.images.removeAll(name);
      await this.repos.remove(name);
      await this.state.domains.removeAll(name);
      await this.state.apps.destroy(name, await this.state.builds.ids(name));
      await this.state.routes.remove(name);
      // Its host names answer 404 once the command returns, not 503 until a router hears of it. Whatever nginx
      // thinks of the configuration without the app, the app is gone: the outcome changes nothing here.
      await this.state.routes.served(FORGET_ROUTE_TIMEOUT_MS);
      // Under the lock is safe here: the app is gone, so nothing a handler asks for can wait on it.
      await this.plugins.emit('app-destroyed', { app: name });
      return removeVolumes ? { keptVolumes: [], removedVolumes: volumes } : { keptVolumes: volumes, removedVolumes: [] };
    } finally {
      await lock.release();
    }
  }

  /**
   * Renames an app: its state, repository and images move to the new name, then instances under
   * the new name start (and pass their checks) before the old ones stop, so it keeps serving
   * throughout, at its new URL from the switch on.
   */
  async rename(from: string, to: string, progress: ProgressFn): Promise<{ url: string }> {
    await this.require(from);
    if (await this.state.apps.exists(to)) throw new HttpError(409, `App ${to} already exists. Pick another name.`);
    const lock = await this.state.locks.acquire(from, 'deploy', 60_000);
    const newLock = await this.state.locks.acquire(to, 'deploy', 60_000);
    try {
      progress(`Retagging images as ${this.images.repository(to)}`);
      const retagged = await this.images.retag(from, to);
      const rewrite = (json: string) => {
        const release = JSON.parse(json) as { image: string };
        return JSON.stringify({ ...release, image: retagged.get(release.image) ?? release.image });
      };
      if (!(await this.state.apps.rename(from, to, await this.state.builds.ids(from), rewrite))) {
        throw new HttpError(409, `App ${to} already exists. Pick another name.`);
      }
      await this.repos.rename(from, to);
      const current = await this.releases.current(to);
      if (current) {
        progress(`Starting ${to}'s instances`);
        await this.scheduler.deploy(to, current, await runContext(this.state, to, current), progress);
      } else {
        await this.state.routes.set({ app: to, upstreams: [] });
      }
      progress(`Stopping ${from}'s instances`);
      await this.scheduler.stop(from, undefined, (await this.state.processSettings.get(to)).stopTimeoutSec, progress);
      await this.state.routes.remove(from);
      await this.images.untag(from);
      await this.state.domains.move(from, to);
    } finally {
      await newLock.release();
      await lock.release();
    }
    // After the locks: a handler may change the renamed app's config, which deploys it.
    await this.plugins.emit('app-renamed', { from, to }, progress);
    return { url: await this.urls.primary(to) };
  }

  /** Builds the app again from its last pushed commit (ps:rebuild); returns the build id. */
  async rebuild(name: string, who: string, builds: BuildService, sourcesDir: string): Promise<string> {
    await this.require(name);
    const sourceTar = path.join(sourcesDir, `${name}-rebuild-${randomBytes(6).toString('hex')}.tar`);
    const commit = await this.repos.archiveDeployed(name, sourceTar);
    if (!commit) throw new HttpError(409, `${name} has no pushed commit to rebuild. Deploy it with git push first.`);
    return builds.enqueue({ app: name, commit, origin: 'git', sourceTar, createdBy: who });
  }

  /** Removes exited containers, dangling images, and images and build caches of apps that no longer exist. */
  async cleanup() {
    return this.images.cleanup((await this.state.apps.list()).map((a) => a.name));
  }

  /** `description` names the release for what the change means (an add-on's "Attach postgres db"), else the keys. */
  async setConfig(name: string, vars: Record<string, string>, who: string, progress: ProgressFn, description?: string) {
    await this.require(name);
    await this.state.config.set(name, vars);
    const keys = Object.keys(vars);
    const release = await this.releases.releaseConfig(name, description ?? `Set ${keys.join(', ')}`, who, progress);
    await this.plugins.emit('config-changed', { app: name, set: keys, unset: [], by: who }, progress);
    return { keys, release: release?.version ?? null };
  }

  /** config:set --global: every app gets them when its instances next start, so no app is released now. */
  async setGlobalConfig(vars: Record<string, string>, who: string, progress: ProgressFn) {
    await this.state.config.setGlobal(vars);
    const keys = Object.keys(vars);
    await this.plugins.emit('config-changed', { app: null, set: keys, unset: [], by: who }, progress);
    return { keys };
  }

  async unsetGlobalConfig(keys: string[], who: string, progress: ProgressFn) {
    const removed = await this.state.config.unsetGlobal(keys);
    if (removed.length > 0) await this.plugins.emit('config-changed', { app: null, set: [], unset: removed, by: who }, progress);
    return { keys: removed };
  }

  async unsetConfig(name: string, keys: string[], who: string, progress: ProgressFn, description?: string) {
    await this.require(name);
    const removed = await this.state.config.unset(name, keys);
    if (removed.length === 0) return { keys: [], release: null };
    const release = await this.releases.releaseConfig(name, description ?? `Unset ${removed.join(', ')}`, who, progress);
    await this.plugins.emit('config-changed', { app: name, set: [], unset: removed, by: who }, progress);
    return { keys: removed, release: release?.version ?? null };
  }
}
