import type { Logger } from '../log.js';
import type { InstanceStatus, ProgressFn, Scheduler } from '../scheduler/scheduler.js';
import type { Formation } from '../state/formation-store.js';
import type { State } from '../state/index.js';
import type { Release } from '../state/release-store.js';
import { ReleaseError } from './release-service.js';
import { runContext } from './run-context.js';

const LOCK_WAIT_MS = 10 * 60_000;
const MAX_INSTANCES = 100;

export interface ProcessReport {
  release: number;
  formation: Formation;
  stopped: string[];
  instances: InstanceStatus[];
}

/** ps:* — the formation of the running release: scaling, restarts, stops, and repairing drift. */
export class ProcessService {
  constructor(private readonly state: State, private readonly scheduler: Scheduler, private readonly log: Logger) {}

  async report(app: string): Promise<ProcessReport> {
    const release = await this.current(app);
    const ctx = release ? await runContext(this.state, app, release) : undefined;
    const settings = await this.state.processSettings.get(app);
    return { release: release?.version ?? 0, formation: ctx?.formation ?? (await this.state.formations.get(app)), stopped: settings.stopped, instances: await this.scheduler.instances(app) };
  }

  /** Sets instance counts; a deployed app starts or stops instances at once, others keep them for their first deploy. */
  async scale(app: string, counts: Formation, who: string, progress: ProgressFn): Promise<Formation> {
    for (const [type, n] of Object.entries(counts)) {
      if (type === 'release') throw new ReleaseError('"release" is the release phase (it runs once per deploy), not a process type to scale.');
      if (n > MAX_INSTANCES) throw new ReleaseError(`${type}=${n} is more than ${MAX_INSTANCES} instances; scale in smaller steps.`);
    }
    const release = await this.current(app);
    if (release) {
      const unknown = Object.keys(counts).filter((t) => !(t in release.processTypes));
      if (unknown.length > 0) {
        const known = Object.keys(release.processTypes).filter((t) => t !== 'release');
        throw new ReleaseError(
          `${app} has no process type ${unknown.join(', ')}. Its types are: ${known.join(', ') || '(none)'}. Add them to the Procfile ("worker: <command>") and deploy.`,
        );
      }
    }
    return this.locked(app, async () => {
      await this.state.formations.set(app, counts);
      await this.event(app, `Scaled to ${Object.entries(counts).map(([t, n]) => `${t}=${n}`).join(' ')} by ${who}`);
      if (release) await this.scheduler.scale(app, release, await runContext(this.state, app, release), progress);
      return (release ? (await runContext(this.state, app, release)).formation : await this.state.formations.get(app));
    });
  }

  /** A rolling restart: new instances of the same release replace the old ones, web without downtime. */
  async restart(app: string, type: string | undefined, who: string, progress: ProgressFn): Promise<void> {
    const release = await this.required(app, type);
    await this.locked(app, async () => {
      await this.event(app, `Restart${type ? ` of ${type}` : ''} by ${who}`);
      await this.scheduler.deploy(app, release, await runContext(this.state, app, release), progress, type ? [type] : undefined);
    });
  }

  async stop(app: string, type: string | undefined, who: string, progress: ProgressFn): Promise<void> {
    await this.required(app, type);
    await this.locked(app, async () => {
      const settings = await this.state.processSettings.update(app, (s) => ({ ...s, stopped: [...new Set([...s.stopped, type ?? '*'])] }));
      await this.event(app, `Stopped ${type ?? 'all processes'} by ${who}`);
      await this.scheduler.stop(app, type ? [type] : undefined, settings.stopTimeoutSec, progress);
    });
  }

  async start(app: string, type: string | undefined, who: string, progress: ProgressFn): Promise<void> {
    const release = await this.required(app, type);
    await this.locked(app, async () => {
      await this.state.processSettings.update(app, (s) => ({ ...s, stopped: type ? s.stopped.filter((t) => t !== type && t !== '*') : [] }));
      await this.event(app, `Started ${type ?? 'all processes'} by ${who}`);
      await this.scheduler.scale(app, release, await runContext(this.state, app, release), progress);
    });
  }

  /** Repairs every deployed app whose deploy lock is free; what was done goes to each app's log. */
  async reconcileAll(): Promise<void> {
    for (const app of await this.state.apps.list()) {
      if (app.currentRelease === 0) continue;
      const lock = await this.state.locks.tryAcquire(app.name, 'deploy');
      if (!lock) continue;
      try {
        const release = await this.state.releases.get(app.name, app.currentRelease);
        if (!release) continue;
        const done = await this.scheduler.reconcile(app.name, release, await runContext(this.state, app.name, release));
        for (const line of done) await this.event(app.name, `Reconciled: ${line}`);
        if (done.length > 0) this.log.info({ app: app.name, done }, 'reconciled');
      } catch (err) {
        this.log.warn({ err, app: app.name }, 'reconcile failed');
      } finally {
        await lock.release();
      }
    }
  }

  private async current(app: string): Promise<Release | undefined> {
    const record = await this.state.apps.get(app);
    return record && record.currentRelease > 0 ? this.state.releases.get(app, record.currentRelease) : undefined;
  }

  private async required(app: string, type: string | undefined): Promise<Release> {
    const release = await this.current(app);
    if (!release) throw new ReleaseError(`${app} is not deployed yet. Deploy it first: git push`);
    if (type && !(type in release.processTypes)) {
      throw new ReleaseError(`${app} has no process type ${type}. Its types are: ${Object.keys(release.processTypes).join(', ')}.`);
    }
    return release;
  }

  /** Runs `work` holding the app's deploy lock: no deploy, scaling or restart runs meanwhile. */
  async locked<T>(app: string, work: () => Promise<T>): Promise<T> {
    const lock = await this.state.locks.acquire(app, 'deploy', LOCK_WAIT_MS);
    try {
      return await work();
    } finally {
      await lock.release();
    }
  }

  private async event(app: string, line: string): Promise<void> {
    await this.state.events.append(app, 'pier', line).catch((err: unknown) => this.log.warn({ err, app }, 'could not record an app event'));
  }
}
