import { randomBytes, randomInt } from 'node:crypto';
import type Docker from 'dockerode';
import type { HealthCheck } from '../app-json.js';
import type { Logger } from '../log.js';
import type { Release } from '../state/release-store.js';
import { ROUTES_SERVED_TIMEOUT_MS, type RouteStore } from '../state/route-store.js';
import { containerSpec, DEFAULT_PORT, liveUpdate, runtimeOf, type InstanceSpec } from './container-spec.js';
import { demuxDockerFrames } from './docker-log-frames.js';
import { followContainerLogs, recentContainerLogs } from './docker-logs.js';
import { containerAddress, ensureNetwork } from './docker-network.js';
import { runToCompletion, startOneOff } from './docker-one-off.js';
import { DockerVolumes } from './docker-volumes.js';
import { runChecks, waitForPort, type CheckOutcome } from './health-check.js';
import type { AppliedSettings, HostCapacity, Instance, InstanceStatus, OneOffRequest, OneOffSession, ProgressFn, RunContext, Scheduler } from './scheduler.js';
import type { LogCursor, LogLine } from './log-lines.js';
import { UserError } from '../errors.js';

export { DEFAULT_PORT, runtimeOf } from './container-spec.js';

export interface DockerSchedulerOptions {
  instance: string;
  network: string;
  /** How long a new web instance gets to accept connections before the deploy is aborted. */
  startTimeoutMs: number;
  /** Time between the traffic switch and SIGTERM to old instances, for the routers to move and requests in flight to end. */
  drainMs: number;
}

export const defaultSchedulerTimings = { startTimeoutMs: 60_000, drainMs: 2_000 };

/** Backoff of the reconciler's restarts of a crashed instance, once Docker's own restart policy gave up. */
const BACKOFF_MIN_MS = 10_000;
const BACKOFF_MAX_MS = 5 * 60_000;
/** An instance that ran this long counts as healthy again: its backoff resets. */
const STABLE_MS = 60_000;

export class DeployError extends UserError {}

interface Started {
  container: Docker.Container;
  name: string;
  process: string;
  address: string;
  startedAt: number;
}

/** A deploy's route switch, which old web instances outlive until a router serves it. */
interface RouteServed {
  app: string;
  upstreams: string[];
}

/** Bounded: a router that is down, or whose data plane refused the change, must not keep old instances forever. */
const ROUTE_APPLIED_TIMEOUT_MS = 30_000;

const label = (c: Docker.ContainerInfo, key: string) => c.Labels[`pier.${key}`] ?? '';
const instanceName = (c: Docker.ContainerInfo) => `${label(c, 'process')}.${label(c, 'index') || '1'}`;

export class DockerScheduler implements Scheduler {
  private readonly retiring = new Map<string, Promise<void>>();
  private readonly backoff = new Map<string, { failures: number; nextAt: number }>();
  readonly volumes: DockerVolumes;

  constructor(
    private readonly docker: Docker,
    private readonly routes: RouteStore,
    private readonly opts: DockerSchedulerOptions,
    private readonly log: Logger,
  ) {
    this.volumes = new DockerVolumes(docker, opts.instance);
  }

  async deploy(app: string, release: Release, ctx: RunContext, progress: ProgressFn, only?: string[]): Promise<void> {
    await ensureNetwork(this.docker, this.opts.network, this.opts.instance);
    const types = Object.keys(ctx.formation).filter((t) => !only || only.includes(t));
    const before = await this.containers(app);
    const retire = (type: string, drain: boolean, served?: RouteServed) =>
      this.retireLater(before.filter((c) => label(c, 'process') === type).map((c) => c.Id), ctx.settings.stopTimeoutSec, drain, served);

    if (types.includes('web')) {
      const count = ctx.formation.web!;
      const fresh = await this.startChecked(app, release, ctx, 'web', range(1, count), progress);
      const upstreams = fresh.map((s) => s.address);
      await this.switchRoute(app, upstreams, fresh);
      progress(count > 0 ? `Traffic switched to ${fresh.map((s) => s.name).join(', ')}` : 'web scaled to 0: the app answers 503');
      retire('web', true, { app, upstreams });
    }
    // Workers and other types are replaced once the web switch is done, so a failed web check changes nothing.
    for (const type of types.filter((t) => t !== 'web')) {
      await this.startChecked(app, release, ctx, type, range(1, ctx.formation[type]!), progress);
      retire(type, false);
    }
    if (!only) {
      const gone = before.filter((c) => !(label(c, 'process') in ctx.formation)).map((c) => c.Id);
      this.retireLater(gone, ctx.settings.stopTimeoutSec, false);
    }
  }

  /**
   * Points the app's route at the new web instances. A data plane that refuses the configuration (nginx -t)
   * keeps serving the old ones: the route goes back, the new instances go, and the deploy fails as a failed
   * health check does, with nginx's reason.
   */
  private async switchRoute(app: string, upstreams: string[], fresh: Started[]): Promise<void> {
    const previous = await this.routes.get(app);
    await this.routes.set({ app, upstreams });
    const outcome = await this.routes.served(ROUTES_SERVED_TIMEOUT_MS);
    if (outcome.served !== false) return;
    if (previous) await this.routes.set(previous);
    else await this.routes.remove(app);
    await Promise.all(fresh.map((s) => s.container.remove({ force: true }).catch(() => undefined)));
    throw new DeployError(`nginx refused the configuration with the new instances (${outcome.error}); the previous release keeps serving. Fix what nginx names (pier proxy:type shows it), then deploy again.`);
  }

  async scale(app: string, release: Release, ctx: RunContext, progress: ProgressFn): Promise<void> {
    await ensureNetwork(this.docker, this.opts.network, this.opts.instance);
    const current = (await this.containers(app)).filter((c) => Number(label(c, 'release')) === release.version);
    for (const [type, count] of Object.entries(ctx.formation)) {
      const mine = current.filter((c) => label(c, 'process') === type);
      const have = new Set(mine.map((c) => Number(label(c, 'index'))));
      const missing = range(1, count).filter((i) => !have.has(i));
      if (missing.length > 0) await this.startChecked(app, release, ctx, type, missing, progress);
      const extra = mine.filter((c) => Number(label(c, 'index')) > count);
      if (extra.length > 0) {
        progress(`Stopping ${extra.map(instanceName).join(', ')}`);
        const ids = extra.map((c) => c.Id);
        // Out of the route first, so no new request reaches an instance about to stop: it stops once a router serves the route without it.
        const served = type === 'web' ? { app, upstreams: await this.webUpstreams(app, release.version, new Set(ids)) } : undefined;
        this.retireLater(ids, ctx.settings.stopTimeoutSec, type === 'web', served);
      }
      if (type === 'web' && (missing.length > 0 || extra.length > 0)) await this.refreshRoute(app, release.version);
    }
  }

  async stop(app: string, types: string[] | undefined, stopTimeoutSec: number, progress: ProgressFn): Promise<void> {
    const chosen = (await this.containers(app)).filter((c) => !types || types.includes(label(c, 'process')));
    if (chosen.length === 0) return progress('Nothing was running');
    progress(`Stopping ${chosen.map(instanceName).join(', ')}`);
    const release = Number(label(chosen[0]!, 'release'));
    const ids = chosen.map((c) => c.Id);
    const web = chosen.some((c) => label(c, 'process') === 'web');
    this.retireLater(ids, stopTimeoutSec, false, web ? { app, upstreams: await this.webUpstreams(app, release, new Set(ids)) } : undefined);
    if (web) await this.refreshRoute(app, release);
    await Promise.all(chosen.map((c) => this.retiring.get(c.Id)));
  }

  async runOnce(app: string, release: Release, ctx: RunContext, command: string, onLine: (line: string) => void, timeoutMs: number): Promise<number> {
    const options = await this.oneOffOptions(app, release, ctx, command, 1, { tty: false, interactive: false });
    return (await runToCompletion(this.docker, options, onLine, timeoutMs)).exitCode;
  }

  async startOneOff(app: string, release: Release, ctx: RunContext, run: OneOffRequest): Promise<OneOffSession> {
    // Heroku numbers one-off dynos at random (run.4821): two runs at once rarely share a DYNO.
    const index = randomInt(1000, 10_000);
    const options = await this.oneOffOptions(app, release, ctx, run.argv, index, { tty: run.tty, interactive: run.stdin, unlogged: run.unlogged });
    return startOneOff(this.docker, options);
  }

  private async oneOffOptions(app: string, release: Release, ctx: RunContext, command: string | string[], index: number, oneOff: InstanceSpec['oneOff']) {
    await ensureNetwork(this.docker, this.opts.network, this.opts.instance);
    await this.volumes.prepare(app, release, ctx.mounts);
    return containerSpec({
      instance: this.opts.instance,
      network: this.opts.network,
      app,
      release,
      process: 'run',
      index,
      command,
      settings: ctx.settings,
      globalConfig: ctx.globalConfig,
      mounts: ctx.mounts,
      oneOff,
      name: `${this.opts.instance}-${app}-run-${index}-${randomBytes(4).toString('hex')}`,
    });
  }

  async reconcile(app: string, release: Release, ctx: RunContext): Promise<string[]> {
    const done: string[] = [];
    const all = await this.containers(app);
    // Instances of older releases that a crash left behind (a deploy retires its own).
    const stale = all.filter((c) => Number(label(c, 'release')) < release.version);
    if (stale.length > 0) {
      this.retireLater(stale.map((c) => c.Id), ctx.settings.stopTimeoutSec, false);
      done.push(`stopped ${stale.map(instanceName).join(', ')} of older releases`);
    }
    const current = all.filter((c) => Number(label(c, 'release')) === release.version);
    for (const [type, count] of Object.entries(ctx.formation)) {
      for (const index of range(1, count)) {
        const slot = `${app}/${type}.${index}`;
        const c = current.find((x) => label(x, 'process') === type && Number(label(x, 'index')) === index);
        if (c && (c.State === 'running' || c.State === 'restarting')) {
          if (c.State === 'running' && Date.now() - c.Created * 1000 > STABLE_MS) this.backoff.delete(slot);
          continue;
        }
        // With restart policy "no", a crashed instance stays down (its logs stay readable); only a missing one is replaced.
        if (c && ctx.settings.restartPolicy.name === 'no' && c.State === 'exited') continue;
        const wait = this.backoff.get(slot);
        if (wait && Date.now() < wait.nextAt) continue;
        const failures = (wait?.failures ?? 0) + (c ? 1 : 0);
        this.backoff.set(slot, { failures, nextAt: Date.now() + Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.max(0, failures - 1)) });
        if (c) {
          // Docker gave up restarting it (or dockerd restarted): start the same container, keeping its logs.
          await this.docker.getContainer(c.Id).start().catch((err: Error) => this.log.warn({ err, app, instance: `${type}.${index}` }, 'restart failed'));
          done.push(`restarted ${type}.${index} (${c.State}, ${failures} restart(s) by Pier)`);
        } else {
          await this.startInstance(app, release, ctx, type, index).catch((err: Error) => this.log.warn({ err, app }, 'start failed'));
          done.push(`started missing ${type}.${index}`);
        }
      }
      const extra = current.filter((c) => label(c, 'process') === type && Number(label(c, 'index')) > count);
      if (extra.length > 0) {
        this.retireLater(extra.map((c) => c.Id), ctx.settings.stopTimeoutSec, type === 'web');
        done.push(`stopped ${extra.map(instanceName).join(', ')} beyond the formation`);
      }
    }
    const orphans = current.filter((c) => !(label(c, 'process') in ctx.formation));
    if (orphans.length > 0) {
      this.retireLater(orphans.map((c) => c.Id), ctx.settings.stopTimeoutSec, false);
      done.push(`stopped ${orphans.map(instanceName).join(', ')} of types the formation does not run`);
    }
    if (await this.refreshRoute(app, release.version)) done.push('updated the route');
    return done;
  }

  async instances(app: string): Promise<InstanceStatus[]> {
    const out: InstanceStatus[] = [];
    for (const c of await this.containers(app)) {
      const info = await this.docker.getContainer(c.Id).inspect().catch(() => undefined);
      if (!info) continue;
      out.push({
        id: c.Id,
        name: instanceName(c),
        process: label(c, 'process'),
        index: Number(label(c, 'index') || 1),
        release: Number(label(c, 'release')),
        state: this.retiring.has(c.Id) ? 'stopping' : info.State.Restarting ? 'restarting' : info.State.Status,
        startedAt: info.State.StartedAt?.startsWith('0001') ? '' : info.State.StartedAt ?? '',
        restarts: info.RestartCount,
        exitCode: info.State.ExitCode,
      });
    }
    return out.sort((a, b) => a.process.localeCompare(b.process) || a.index - b.index || a.release - b.release);
  }

  async running(app: string): Promise<Instance[]> {
    const instances: Instance[] = [];
    // The container list carries state and addresses: no inspect per instance on every reconcile pass.
    for (const c of await this.containers(app)) {
      if (c.State !== 'running' || label(c, 'process') !== 'web' || this.retiring.has(c.Id)) continue;
      const ip = c.NetworkSettings?.Networks?.[this.opts.network]?.IPAddress;
      if (!ip) continue;
      instances.push({ id: c.Id, app, process: 'web', release: Number(label(c, 'release')), address: `${ip}:${label(c, 'port') || DEFAULT_PORT}` });
    }
    return instances;
  }

  async destroy(app: string): Promise<void> {
    await this.routes.remove(app);
    const containers = await this.listContainers(app);
    await Promise.all(containers.map((c) => this.docker.getContainer(c.Id).remove({ force: true })));
  }

  recentLogs(app: string, opts: { tail: number; process?: string }): Promise<{ lines: LogLine[]; cursor: LogCursor }> {
    return recentContainerLogs(this.docker, { instance: this.opts.instance, app, process: opts.process }, opts.tail);
  }

  followLogs(app: string, cursor: LogCursor, opts: { process?: string; signal: AbortSignal }): AsyncIterable<LogLine> {
    return followContainerLogs(this.docker, { instance: this.opts.instance, app, process: opts.process }, cursor, opts.signal);
  }

  async settle(): Promise<void> {
    await Promise.all([...this.retiring.values()]);
  }

  async applySettings(app: string, ctx: RunContext): Promise<AppliedSettings> {
    const { cpus } = await this.capacity();
    const result: AppliedSettings = { updated: [], failed: [] };
    for (const c of await this.containers(app)) {
      const container = this.docker.getContainer(c.Id);
      try {
        const { HostConfig } = await container.inspect();
        await container.update(liveUpdate(ctx.settings, label(c, 'process'), HostConfig.NanoCpus ?? 0, cpus));
        result.updated.push(instanceName(c));
      } catch (err) {
        // A memory limit below what the instance uses now is one reason; its next start applies the settings.
        result.failed.push({ name: instanceName(c), reason: (err as Error).message.replace(/^\(HTTP code \d+\)[^-]*- /, '').trim() });
      }
    }
    return result;
  }

  async capacity(): Promise<HostCapacity> {
    const info = (await this.docker.info()) as { NCPU: number; MemTotal: number };
    return { cpus: info.NCPU, memory: info.MemTotal };
  }

  /** The addresses of the release's running web instances, less `except`: what its route is once those go. */
  private async webUpstreams(app: string, version: number, except: ReadonlySet<string> = new Set()): Promise<string[]> {
    return (await this.running(app)).filter((i) => i.release === version && !except.has(i.id)).map((i) => i.address).sort();
  }

  /** Points the route at the serving web instances of `version`; true when that changed it. */
  private async refreshRoute(app: string, version: number): Promise<boolean> {
    const upstreams = await this.webUpstreams(app, version);
    const current = (await this.routes.get(app))?.upstreams.slice().sort() ?? [];
    if (JSON.stringify(current) === JSON.stringify(upstreams)) return false;
    await this.routes.set({ app, upstreams });
    return true;
  }

  /**
   * Starts instances and waits for each to pass its checks: for web, its port accepts connections
   * (then app.json's checks); for other types, only app.json's checks. On any failure every
   * instance started here is removed and the error shows the failing one's last log lines.
   */
  private async startChecked(app: string, release: Release, ctx: RunContext, process: string, indexes: number[], progress: ProgressFn): Promise<Started[]> {
    if (indexes.length === 0) return [];
    const names = indexes.map((i) => `${process}.${i}`).join(', ');
    progress(`Starting ${names} (release v${release.version})`);
    const started: Started[] = [];
    try {
      for (const s of await Promise.allSettled(indexes.map((i) => this.startInstance(app, release, ctx, process, i)))) {
        if (s.status === 'fulfilled') started.push(s.value);
        else throw s.reason;
      }
      const checks = release.appJson?.healthchecks[process] ?? [];
      const outcomes = await Promise.all(started.map((s) => this.check(s, process, checks, runtimeOf(release).port)));
      const failed = outcomes.findIndex((o) => !o.ok);
      if (failed >= 0) {
        const outcome = outcomes[failed] as Extract<CheckOutcome, { ok: false }>;
        const tail = await this.tailLogs(started[failed]!.container, 20);
        throw new DeployError(`${started[failed]!.name} ${outcome.reason}; the previous release keeps serving. Last log lines:\n${tail}`);
      }
      progress(`${names} ${process === 'web' ? 'accept connections' : 'started'}${checks.length > 0 ? ` and pass ${checks.length} app.json check(s)` : ''}`);
      return started;
    } catch (err) {
      await Promise.all(started.map((s) => s.container.remove({ force: true }).catch(() => undefined)));
      throw err;
    }
  }

  private async check(s: Started, process: string, checks: HealthCheck[], port: number): Promise<CheckOutcome> {
    // A crash-looping instance may look "running" between restarts; any restart means it died.
    const alive = async () => {
      const { State, RestartCount } = await s.container.inspect();
      return State.Running && !State.Restarting && RestartCount === 0;
    };
    if (process === 'web') {
      const up = await waitForPort(s.address, { timeoutMs: this.opts.startTimeoutMs, alive });
      if (!up.ok) return up;
    }
    return runChecks(s.address.split(':')[0]!, port, checks, alive, s.startedAt);
  }

  private async startInstance(app: string, release: Release, ctx: RunContext, process: string, index: number): Promise<Started> {
    const name = `${process}.${index}`;
    await this.volumes.prepare(app, release, ctx.mounts);
    const container = await this.docker.createContainer(
      containerSpec({
        instance: this.opts.instance,
        network: this.opts.network,
        app,
        release,
        process,
        index,
        command: release.processTypes[process] ?? '',
        settings: ctx.settings,
        globalConfig: ctx.globalConfig,
        mounts: ctx.mounts,
        name: `${this.opts.instance}-${app}-${process}-${index}-v${release.version}-${randomBytes(3).toString('hex')}`,
      }),
    );
    await container.start();
    const startedAt = Date.now();
    const info = await container.inspect();
    const ip = containerAddress(info, this.opts.network);
    // Only web instances are reached over the network; a worker that already exited is the reconciler's to restart.
    if (!ip && process === 'web') {
      const tail = await this.tailLogs(container, 20);
      await container.remove({ force: true }).catch(() => undefined);
      throw new DeployError(
        info.State.Running ? `${name} got no address on network ${this.opts.network}` : `${name} exited at once (exit ${info.State.ExitCode}); the previous release keeps serving. Last log lines:\n${tail}`,
      );
    }
    return { container, name, process, address: ip ? `${ip}:${runtimeOf(release).port}` : '', startedAt };
  }

  /** Containers of the app's processes (not one-off runs nor builds), except those being retired. */
  private async containers(app: string): Promise<Docker.ContainerInfo[]> {
    return (await this.listContainers(app, 'app')).filter((c) => !this.retiring.has(c.Id));
  }

  private async listContainers(app: string, role?: string): Promise<Docker.ContainerInfo[]> {
    const filters = [`pier.instance=${this.opts.instance}`, `pier.app=${app}`, ...(role ? [`pier.role=${role}`] : [])];
    return this.docker.listContainers({ all: true, filters: { label: filters } });
  }

  /**
   * Old instances finish their in-flight requests and stop after the deploy has returned, so a
   * push ends as soon as the new release serves. `settle()` waits for them (daemon shutdown).
   */
  private retireLater(ids: string[], stopTimeoutSec: number, drain: boolean, served?: RouteServed): void {
    // One wait for the route per batch: a data plane that reloads (nginx) must serve the new route before old instances go.
    const routeServed = served && this.routes.waitApplied(served.app, served.upstreams, ROUTE_APPLIED_TIMEOUT_MS).then((ok) => {
      if (!ok) this.log.warn({ app: served.app }, `no router confirmed the new route within ${ROUTE_APPLIED_TIMEOUT_MS / 1000}s; stopping the old instances anyway`);
    });
    for (const id of ids) {
      if (this.retiring.has(id)) continue;
      const job = (async () => {
        await routeServed;
        if (drain) await new Promise((r) => setTimeout(r, this.opts.drainMs));
        await this.retire(id, stopTimeoutSec);
      })()
        .catch((err: unknown) => this.log.warn({ err, id }, 'retiring an old instance failed'))
        .finally(() => this.retiring.delete(id));
      this.retiring.set(id, job);
    }
  }

  /** SIGTERM, then SIGKILL after the stop timeout; then the container is removed. */
  private async retire(id: string, stopTimeoutSec: number): Promise<void> {
    const container = this.docker.getContainer(id);
    try {
      await container.stop({ t: stopTimeoutSec });
    } catch (err) {
      this.log.debug({ err, id }, 'stop of an old instance failed; removing it anyway');
    }
    await container.remove({ force: true }).catch((err: unknown) => this.log.warn({ err, id }, 'could not remove old instance'));
  }

  private async tailLogs(container: Docker.Container, lines: number): Promise<string> {
    try {
      const buf = (await container.logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
      return demuxDockerFrames(buf).trimEnd() || '(no output)';
    } catch {
      return '(logs unavailable)';
    }
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}
