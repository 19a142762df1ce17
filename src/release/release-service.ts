import { releaseCommand } from '../app-json.js';
import type { Logger } from '../log.js';
import { noPlugins, type PluginEmitter } from '../plugins/emitter.js';
import type { ProgressFn, Scheduler } from '../scheduler/scheduler.js';
import type { State } from '../state/index.js';
import type { NewRelease, Release } from '../state/release-store.js';
import { runContext } from './run-context.js';
import { UserError } from '../errors.js';

const DEPLOY_LOCK_WAIT_MS = 10 * 60_000;
/** How long a release command or deploy script may run. */
const SCRIPT_TIMEOUT_MS = 30 * 60_000;

/** A deploy step that failed for a reason the user can act on; the message says what happened. */
export class ReleaseError extends UserError {}

/** Tells whether an image is still on the machine (images of old releases are pruned). */
export interface ImageCatalog {
  exists(image: string): Promise<boolean>;
}

/** Turns builds, config changes and rollbacks into numbered releases and hands them to the scheduler. */
export class ReleaseService {
  constructor(
    private readonly state: State,
    private readonly scheduler: Scheduler,
    private readonly images: ImageCatalog,
    private readonly log: Logger,
    private readonly plugins: PluginEmitter = noPlugins,
  ) {}

  /**
   * Deploys a new release between the plugins' pre-release (which may veto it: then no release
   * is recorded) and post-deploy events. Both run outside the deploy lock, as a handler may
   * change the app's config, which makes a release of its own.
   */
  async release(app: string, input: NewRelease, progress: ProgressFn): Promise<Release> {
    const { image, description, createdBy, processTypes } = input;
    await this.plugins.emit('pre-release', { app, image, description, createdBy, processTypes }, progress);
    const release = await this.deploy(app, input, progress);
    await this.plugins.emit('post-deploy', { app, version: release.version, image, description, createdBy }, progress);
    return release;
  }

  /**
   * Records release vN and deploys it: release phase, rollout, then the postdeploy script. A
   * deploy that fails leaves the previous release serving and the new one marked failed.
   */
  private async deploy(app: string, input: NewRelease, progress: ProgressFn): Promise<Release> {
    const lock = await this.state.locks.acquire(app, 'deploy', DEPLOY_LOCK_WAIT_MS);
    try {
      const release = await this.state.releases.create(app, input);
      progress(`Releasing v${release.version}: ${release.description}`);
      await this.event(app, `Releasing v${release.version} (${release.description}) by ${release.createdBy}`);
      // Deploying a stopped app starts it again, as on Dokku.
      await this.state.processSettings.update(app, (s) => ({ ...s, stopped: [] }));
      const ctx = await runContext(this.state, app, release);
      try {
        const command = releaseCommand(release.processTypes, release.appJson);
        if (command) await this.runScript(app, release, 'release command', command, progress, true);
        await this.scheduler.deploy(app, release, ctx, progress);
      } catch (err) {
        await this.state.releases.markFailed(app, release.version);
        await this.event(app, `Deploy of v${release.version} failed: ${(err as Error).message.split('\n')[0]}`);
        throw err;
      }
      await this.state.apps.setCurrentRelease(app, release.version);
      await this.event(app, `v${release.version} is serving`);
      this.log.info({ app, version: release.version }, 'release deployed');
      const postdeploy = release.appJson?.scripts.dokku?.postdeploy;
      if (postdeploy) await this.runScript(app, release, 'postdeploy script', postdeploy, progress, false);
      return release;
    } finally {
      await lock.release();
    }
  }

  /** A config change re-releases the current image with the new config, restarting the app. */
  async releaseConfig(app: string, description: string, who: string, progress: ProgressFn): Promise<Release | undefined> {
    const current = await this.current(app);
    if (!current) return undefined;
    const config = await this.state.config.all(app);
    return this.release(app, { ...carried(current), config, description, createdBy: who }, progress);
  }

  /**
   * Deploys an earlier release's image, config and process types as a new release, without a
   * build. The app's config becomes that release's config again.
   */
  async rollback(app: string, version: number | undefined, who: string, progress: ProgressFn): Promise<Release> {
    const current = await this.current(app);
    if (!current) throw new ReleaseError(`${app} has no release to roll back from yet. Deploy it first: git push`);
    const all = await this.state.releases.list(app);
    const target = version === undefined ? all.find((r) => r.version < current.version && !r.failed) : all.find((r) => r.version === version);
    if (!target) {
      throw new ReleaseError(
        version === undefined
          ? `${app} has no earlier release to roll back to (it is at v${current.version}). See: pier releases ${app}`
          : `${app} has no release v${version}; its releases are v1 to v${all[0]?.version ?? current.version}. See: pier releases ${app}`,
      );
    }
    if (target.version === current.version) throw new ReleaseError(`${app} is already running v${target.version}.`);
    if (!(await this.images.exists(target.image))) {
      const restorable: number[] = [];
      for (const r of all) if (r.version !== current.version && (await this.images.exists(r.image))) restorable.push(r.version);
      const oldest = Math.min(...restorable);
      throw new ReleaseError(
        `The image of v${target.version} was pruned (Pier keeps the images of the last PIER_KEEP_RELEASES releases). ` +
          (restorable.length > 0 ? `The oldest release you can roll back to is v${oldest}.` : 'No earlier release can be restored; deploy again with git push.'),
      );
    }
    const before = await this.state.config.all(app);
    await this.state.config.replace(app, target.config);
    const release = await this.release(app, { ...carried(target), config: target.config, description: `Rollback to v${target.version}`, createdBy: who }, progress);
    const change = configChange(before, target.config);
    if (change.set.length + change.unset.length > 0) await this.plugins.emit('config-changed', { app, ...change, by: who }, progress);
    return release;
  }

  /** Resolves once the instances that earlier deploys replaced have stopped. */
  settled(): Promise<void> {
    return this.scheduler.settle();
  }

  async current(app: string): Promise<Release | undefined> {
    const record = await this.state.apps.get(app);
    if (!record || record.currentRelease === 0) return undefined;
    return this.state.releases.get(app, record.currentRelease);
  }

  private async runScript(app: string, release: Release, what: string, command: string, progress: ProgressFn, required: boolean): Promise<void> {
    progress(`Running the ${what}: ${command}`);
    const ctx = await runContext(this.state, app, release);
    const code = await this.scheduler.runOnce(app, release, ctx, command, (line) => progress(`  ${line}`), SCRIPT_TIMEOUT_MS);
    if (code === 0) return;
    const message = `The ${what} failed (exit ${code}${code === 124 ? ', timed out' : ''})`;
    if (required) throw new ReleaseError(`${message}; no instance of v${release.version} was started, the previous release keeps serving.`);
    progress(`${message}; v${release.version} is serving anyway.`);
    await this.event(app, message);
  }

  private async event(app: string, line: string): Promise<void> {
    await this.state.events.append(app, 'pier', line).catch((err: unknown) => this.log.warn({ err, app }, 'could not record an app event'));
  }
}

/** What a new release takes over from the one it is made from. */
/** The keys a config replacement set (new or different values) and unset, as config-changed tells them. */
export function configChange(before: Record<string, string>, after: Record<string, string>): { set: string[]; unset: string[] } {
  return {
    set: Object.keys(after).filter((k) => before[k] !== after[k]).sort(),
    unset: Object.keys(before).filter((k) => !Object.hasOwn(after, k)).sort(),
  };
}

function carried(r: Release): Omit<NewRelease, 'config' | 'description' | 'createdBy'> {
  return { image: r.image, processTypes: r.processTypes, runtime: r.runtime, appJson: r.appJson, buildId: r.buildId, commit: r.commit };
}
