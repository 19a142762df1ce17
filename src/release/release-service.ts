import type { Logger } from '../log.js';
import type { Scheduler, ProgressFn } from '../scheduler/scheduler.js';
import type { State } from '../state/index.js';
import type { NewRelease, Release } from '../state/release-store.js';

const DEPLOY_LOCK_WAIT_MS = 10 * 60_000;

/** Turns builds and config changes into numbered releases and hands them to the scheduler. */
export class ReleaseService {
  constructor(private readonly state: State, private readonly scheduler: Scheduler, private readonly log: Logger) {}

  /**
   * Records release vN and deploys it. A deploy that fails leaves the previous release serving
   * and the new one marked failed.
   */
  async release(app: string, input: NewRelease, progress: ProgressFn): Promise<Release> {
    const lock = await this.state.locks.acquire(app, 'deploy', DEPLOY_LOCK_WAIT_MS);
    try {
      const release = await this.state.releases.create(app, input);
      progress(`Releasing v${release.version}: ${release.description}`);
      try {
        await this.scheduler.deploy(app, release, progress);
      } catch (err) {
        await this.state.releases.markFailed(app, release.version);
        throw err;
      }
      await this.state.apps.setCurrentRelease(app, release.version);
      this.log.info({ app, version: release.version }, 'release deployed');
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
    return this.release(
      app,
      { image: current.image, processTypes: current.processTypes, runtime: current.runtime, buildId: current.buildId, commit: current.commit, config, description, createdBy: who },
      progress,
    );
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
}
