import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import { formatBytes, formatRestartPolicy, type ProcessSetting } from '../resource-settings.js';
import { DEFAULT_LIMITS, limitsFor } from '../scheduler/container-spec.js';
import { PIDS_LIMIT } from '../scheduler/docker-security.js';
import type { AppliedSettings, Scheduler } from '../scheduler/scheduler.js';
import type { State } from '../state/index.js';
import { DEFAULT_PROCESS_SETTINGS, type ProcessSettings, type ResourceLimits, type RestartPolicy } from '../state/process-settings-store.js';
import type { ProcessService } from './process-service.js';
import type { ReleaseService } from './release-service.js';
import { runContext } from './run-context.js';

export class ResourceError extends UserError {}

/** The scope of limits that apply to every process type without its own. */
export const EVERY_TYPE = '*';

export interface ProcessLimits {
  /** A process type, or "*". */
  process: string;
  /** Bytes; swap is off, so this is all an instance gets. */
  memory: number;
  /** 0: no cap. */
  cpus: number;
  pids: number;
  /** Where each value comes from: the type's own limit (its name), every type's ("*"), or "default". */
  from: { memory: string; cpus: string };
}

export interface ResourceReport {
  defaults: { memory: number; cpus: number; pids: number };
  /** What resource:limit set, by process type or "*". */
  configured: Record<string, ResourceLimits>;
  /** What a process type without limits of its own gets. */
  every: ProcessLimits;
  /** The types of the current release, and any other with limits of its own. */
  processes: ProcessLimits[];
}

export interface ProcessSettingsReport {
  restartPolicy: string;
  stopTimeoutSec: number;
  /** Which of them are at their default. */
  defaults: Array<'restart-policy' | 'stop-timeout'>;
  stopped: string[];
}

/** A change of settings, and what it did to the instances running at the time (null: none, or not deployed). */
export interface SettingsChange<T> {
  report: T;
  applied: AppliedSettings | null;
}

/** resource:* and ps:set — how each instance runs: memory, CPU, restart policy, stop timeout. */
export class ResourceService {
  constructor(
    private readonly state: State,
    private readonly scheduler: Scheduler,
    private readonly processes: ProcessService,
    private readonly releases: ReleaseService,
    private readonly log: Logger,
  ) {}

  async report(app: string): Promise<ResourceReport> {
    const settings = await this.state.processSettings.get(app);
    const release = await this.releases.current(app);
    const types = new Set(Object.keys(release?.processTypes ?? {}).filter((t) => t !== 'release'));
    for (const t of Object.keys(settings.resources)) if (t !== EVERY_TYPE) types.add(t);
    const from = (type: string, key: keyof ResourceLimits) =>
      settings.resources[type]?.[key] !== undefined ? type : settings.resources[EVERY_TYPE]?.[key] !== undefined ? EVERY_TYPE : 'default';
    const row = (process: string): ProcessLimits => ({
      process,
      ...limitsFor(settings, process),
      pids: PIDS_LIMIT,
      from: { memory: from(process, 'memory'), cpus: from(process, 'cpus') },
    });
    return {
      defaults: { ...DEFAULT_LIMITS, pids: PIDS_LIMIT },
      configured: settings.resources,
      every: row(EVERY_TYPE),
      processes: [...types].sort().map(row),
    };
  }

  /** Sets limits of one process type or of every type; running instances get them in place. */
  async limit(app: string, scope: string, limits: ResourceLimits, who: string): Promise<SettingsChange<ResourceReport>> {
    await this.checkScope(app, scope);
    const host = await this.scheduler.capacity();
    if (limits.cpus !== undefined && limits.cpus > host.cpus) {
      throw new ResourceError(`cpu ${limits.cpus} is more than the ${host.cpus} CPU(s) this host has; use at most ${host.cpus} (e.g. --cpu ${host.cpus}).`);
    }
    if (limits.memory !== undefined && limits.memory > host.memory) {
      throw new ResourceError(`memory ${formatBytes(limits.memory)} is more than the ${formatBytes(host.memory)} this host has; use less (e.g. --memory 512m).`);
    }
    const set = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) as ResourceLimits;
    const what = [set.memory !== undefined ? `memory ${formatBytes(set.memory)}` : '', set.cpus !== undefined ? `cpu ${set.cpus}` : ''].filter(Boolean).join(', ');
    const applied = await this.change(app, `Limits of ${scopeName(scope)} set to ${what} by ${who}`, true, (s) => ({
      ...s,
      resources: { ...s.resources, [scope]: { ...s.resources[scope], ...set } },
    }));
    return { report: await this.report(app), applied };
  }

  /** Back to the defaults (or, for one type, to every type's limits). */
  async clear(app: string, scope: string, who: string): Promise<SettingsChange<ResourceReport>> {
    await this.checkScope(app, scope);
    const applied = await this.change(app, `Limits of ${scopeName(scope)} cleared by ${who}`, true, (s) => {
      const { [scope]: _cleared, ...resources } = s.resources;
      return { ...s, resources };
    });
    return { report: await this.report(app), applied };
  }

  async processReport(app: string): Promise<ProcessSettingsReport> {
    const s = await this.state.processSettings.get(app);
    const d = DEFAULT_PROCESS_SETTINGS;
    return {
      restartPolicy: formatRestartPolicy(s.restartPolicy),
      stopTimeoutSec: s.stopTimeoutSec,
      defaults: [
        ...(JSON.stringify(s.restartPolicy) === JSON.stringify(d.restartPolicy) ? (['restart-policy'] as const) : []),
        ...(s.stopTimeoutSec === d.stopTimeoutSec ? (['stop-timeout'] as const) : []),
      ],
      stopped: s.stopped,
    };
  }

  /**
   * ps:set. A restart policy reaches running instances in place. The stop timeout needs nothing
   * applied: Pier passes it with every stop it makes.
   */
  async setProcess(app: string, setting: ProcessSetting, who: string): Promise<SettingsChange<ProcessSettingsReport>> {
    let applied: AppliedSettings | null;
    if (setting.key === 'restart-policy') {
      const policy: RestartPolicy = setting.value ?? DEFAULT_PROCESS_SETTINGS.restartPolicy;
      applied = await this.change(app, `Restart policy set to ${formatRestartPolicy(policy)} by ${who}`, true, (s) => ({ ...s, restartPolicy: policy }));
    } else {
      const seconds = setting.value ?? DEFAULT_PROCESS_SETTINGS.stopTimeoutSec;
      applied = await this.change(app, `Stop timeout set to ${seconds}s by ${who}`, false, (s) => ({ ...s, stopTimeoutSec: seconds }));
    }
    return { report: await this.processReport(app), applied };
  }

  /** Under the deploy lock, so no instance starts with the settings of before while the running ones get the new ones. */
  private async change(app: string, event: string, apply: boolean, update: (s: ProcessSettings) => ProcessSettings): Promise<AppliedSettings | null> {
    return this.processes.locked(app, async () => {
      await this.state.processSettings.update(app, update);
      await this.state.events.append(app, 'pier', event).catch((err: unknown) => this.log.warn({ err, app }, 'could not record an app event'));
      const release = await this.releases.current(app);
      if (!apply || !release) return null;
      return this.scheduler.applySettings(app, await runContext(this.state, app, release));
    });
  }

  private async checkScope(app: string, scope: string): Promise<void> {
    const types = Object.keys((await this.releases.current(app))?.processTypes ?? {}).filter((t) => t !== 'release');
    if (scope === EVERY_TYPE || (types.length === 0 && scope !== 'release') || types.includes(scope)) return;
    throw new ResourceError(`${app} has no process type ${scope}. Its types are: ${types.join(', ') || '(none)'}. Name one of them, or leave out --process to limit every type.`);
  }
}

function scopeName(scope: string): string {
  return scope === EVERY_TYPE ? 'every process type' : scope;
}
