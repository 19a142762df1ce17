import { StorageError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ProgressFn, Scheduler } from '../scheduler/scheduler.js';
import type { State } from '../state/index.js';
import type { ProcessService } from './process-service.js';

export interface StorageEntry {
  /** NAME of storage:mount NAME:/path. */
  name: string;
  volume: string;
  path: string;
}

export interface StorageChange extends StorageEntry {
  /** False when it was mounted there already. */
  changed: boolean;
  /** Whether the app was restarted for it: false when nothing changed, or nothing is deployed and running. */
  restarted: boolean;
}

/**
 * storage:* — named volumes mounted into every instance of an app. A mount change re-creates the
 * instances (Docker cannot add a mount to a running container), so a deployed app gets a rolling
 * restart at once, where Dokku asks for a manual one.
 */
export class StorageService {
  constructor(
    private readonly state: State,
    private readonly scheduler: Scheduler,
    private readonly processes: ProcessService,
    private readonly log: Logger,
  ) {}

  async list(app: string): Promise<StorageEntry[]> {
    return (await this.state.storage.mounts(app)).map((m) => ({ name: this.scheduler.volumes.nameOf(m.volume), ...m }));
  }

  async mount(app: string, target: { name: string; path: string }, who: string, progress: ProgressFn): Promise<StorageChange> {
    const taken = (await this.list(app)).find((m) => m.path === target.path);
    if (taken?.name === target.name) return { ...taken, changed: false, restarted: false };
    if (taken) {
      throw new StorageError(`${target.path} in ${app} already holds storage ${taken.name}. Unmount it first: pier storage:unmount ${app} ${taken.name}:${taken.path}`);
    }
    const { volume } = await this.scheduler.volumes.create(app, target.name);
    await this.state.storage.add(app, { volume, path: target.path });
    await this.event(app, `Mounted storage ${target.name} at ${target.path} by ${who}`);
    return { ...target, volume, changed: true, restarted: await this.restart(app, who, progress) };
  }

  /** The volume and its data stay: mounting it again brings them back. */
  async unmount(app: string, target: { name?: string; path: string }, who: string, progress: ProgressFn): Promise<StorageChange> {
    const mounted = (await this.list(app)).find((m) => m.path === target.path);
    if (!mounted) throw new StorageError(`${app} has no storage mounted at ${target.path}. See what is mounted: pier storage:list ${app}`);
    if (target.name && target.name !== mounted.name) {
      throw new StorageError(`${target.path} in ${app} holds storage ${mounted.name}, not ${target.name}. Unmount it with: pier storage:unmount ${app} ${mounted.name}:${mounted.path}`);
    }
    await this.state.storage.remove(app, mounted.path);
    await this.event(app, `Unmounted storage ${mounted.name} from ${mounted.path} by ${who}`);
    return { ...mounted, changed: true, restarted: await this.restart(app, who, progress) };
  }

  private async restart(app: string, who: string, progress: ProgressFn): Promise<boolean> {
    const deployed = ((await this.state.apps.get(app))?.currentRelease ?? 0) > 0;
    if (!deployed || (await this.state.processSettings.get(app)).stopped.includes('*')) return false;
    progress(`Restarting ${app} so its instances get the new mounts`);
    await this.processes.restart(app, undefined, who, progress);
    return true;
  }

  private async event(app: string, line: string): Promise<void> {
    await this.state.events.append(app, 'pier', line).catch((err: unknown) => this.log.warn({ err, app }, 'could not record an app event'));
  }
}
