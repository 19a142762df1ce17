import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import type { Logger } from '../log.js';
import type { Release, ReleaseRuntime } from '../state/release-store.js';
import type { RouteStore } from '../state/route-store.js';
import { demuxDockerFrames } from './docker-log-frames.js';
import { containerAddress, ensureNetwork } from './docker-network.js';
import { hardenedHostConfig } from './docker-security.js';
import { waitUntilAnswering } from './health-check.js';
import type { Instance, ProgressFn, Scheduler } from './scheduler.js';

export const DEFAULT_PORT = 5000;

/** What releases recorded before runtimes existed ran with: a buildpack image. */
const BUILDPACK_RUNTIME: ReleaseRuntime = { kind: 'buildpack', port: DEFAULT_PORT, user: '1000:1000' };

export function runtimeOf(release: Release): ReleaseRuntime {
  return release.runtime ?? BUILDPACK_RUNTIME;
}

export interface DockerSchedulerOptions {
  instance: string;
  network: string;
  /** How long a new instance gets to answer before the deploy is aborted. */
  startTimeoutMs: number;
  /** Time between the traffic switch and stopping old instances, for requests already in flight. */
  drainMs: number;
  /** SIGTERM-to-SIGKILL grace when stopping an instance. */
  stopTimeoutSec: number;
}

export const defaultSchedulerTimings = { startTimeoutMs: 60_000, drainMs: 2_000, stopTimeoutSec: 30 };

export class DeployError extends Error {}

export class DockerScheduler implements Scheduler {
  private readonly retiring = new Set<Promise<void>>();

  constructor(
    private readonly docker: Docker,
    private readonly routes: RouteStore,
    private readonly opts: DockerSchedulerOptions,
    private readonly log: Logger,
  ) {}

  labels(app: string): Record<string, string> {
    return { 'pier.instance': this.opts.instance, 'pier.app': app };
  }

  async deploy(app: string, release: Release, progress: ProgressFn): Promise<Instance[]> {
    await ensureNetwork(this.docker, this.opts.network, this.opts.instance);
    const webCommand = release.processTypes.web;
    const port = runtimeOf(release).port;
    if (webCommand === undefined || (webCommand === '' && runtimeOf(release).kind !== 'image')) {
      throw new DeployError('No web process: add a Procfile with "web: <command>" or a "start" script in package.json.');
    }
    const old = await this.listContainers(app, 'web');
    progress(`Starting web.1 (release v${release.version})`);
    const started = await this.startInstance(app, release, 'web', 1, webCommand);
    const result = await waitUntilAnswering(started.address, {
      timeoutMs: this.opts.startTimeoutMs,
      intervalMs: 100,
      // A crash-looping instance may look "running" between restarts; any restart means it died.
      alive: async () => {
        const { State, RestartCount } = await started.container.inspect();
        return State.Running && !State.Restarting && RestartCount === 0;
      },
    });
    if (result !== 'ok') {
      const tail = await this.tailLogs(started.container, 20);
      await started.container.remove({ force: true }).catch(() => undefined);
      const why =
        result === 'exited'
          ? 'web.1 exited before it answered on its port'
          : `web.1 did not answer on port ${port} within ${this.opts.startTimeoutMs / 1000}s`;
      throw new DeployError(`${why}; the previous release keeps serving. Last log lines:\n${tail}`);
    }
    progress(`web.1 answers at ${started.address}; switching traffic`);
    await this.routes.set({ app, upstreams: [started.address] });
    if (old.length > 0) {
      progress(`${old.length} old instance(s) drain for ${this.opts.drainMs / 1000}s, then stop`);
      this.retireLater(old.map((c) => c.Id));
    }
    return [started.instance];
  }

  /**
   * Old instances finish their in-flight requests and stop after the deploy has returned, so a
   * push ends as soon as the new release serves. `settle()` waits for them (daemon shutdown).
   */
  private retireLater(ids: string[]): void {
    const job = (async () => {
      await new Promise((r) => setTimeout(r, this.opts.drainMs));
      await Promise.all(ids.map((id) => this.retire(id)));
    })().catch((err: unknown) => this.log.warn({ err }, 'retiring old instances failed'));
    this.retiring.add(job);
    void job.finally(() => this.retiring.delete(job));
  }

  async settle(): Promise<void> {
    await Promise.all([...this.retiring]);
  }

  /** Stops web instances of releases older than `current` that a crash left behind. */
  async retireStale(app: string, current: number): Promise<void> {
    const stale = (await this.listContainers(app, 'web')).filter((c) => Number(c.Labels['pier.release'] ?? 0) < current);
    await Promise.all(stale.map((c) => this.retire(c.Id)));
  }

  async running(app: string): Promise<Instance[]> {
    const containers = await this.listContainers(app, 'web');
    const instances: Instance[] = [];
    for (const c of containers) {
      if (c.State !== 'running') continue;
      const info = await this.docker.getContainer(c.Id).inspect();
      const address = containerAddress(info, this.opts.network);
      if (!address) continue;
      instances.push({
        id: c.Id,
        app,
        process: c.Labels['pier.process'] ?? 'web',
        release: Number(c.Labels['pier.release'] ?? 0),
        address: `${address}:${c.Labels['pier.port'] ?? DEFAULT_PORT}`,
      });
    }
    return instances;
  }

  async destroy(app: string): Promise<void> {
    await this.routes.remove(app);
    const containers = await this.listContainers(app);
    await Promise.all(containers.map((c) => this.docker.getContainer(c.Id).remove({ force: true })));
  }

  private async listContainers(app: string, process?: string): Promise<Docker.ContainerInfo[]> {
    const label = Object.entries(this.labels(app)).map(([k, v]) => `${k}=${v}`);
    if (process) label.push(`pier.process=${process}`);
    return this.docker.listContainers({ all: true, filters: { label } });
  }

  private async startInstance(app: string, release: Release, process: string, index: number, command: string) {
    const suffix = randomBytes(3).toString('hex');
    const runtime = runtimeOf(release);
    const container = await this.docker.createContainer({
      name: `${this.opts.instance}-${app}-${process}-${index}-v${release.version}-${suffix}`,
      Image: release.image,
      Cmd: commandLine(runtime, command),
      User: runtime.user,
      Env: [
        ...Object.entries(release.config).map(([k, v]) => `${k}=${v}`),
        `PORT=${runtime.port}`,
        `DYNO=${process}.${index}`,
      ],
      Labels: {
        ...this.labels(app),
        'pier.role': 'app',
        'pier.process': process,
        'pier.release': String(release.version),
        'pier.port': String(runtime.port),
      },
      HostConfig: hardenedHostConfig({
        // An init as PID 1 passes SIGTERM on to the app, which as PID 1 itself would ignore it and wait out the stop timeout.
        Init: true,
        NetworkMode: this.opts.network,
        RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 10 },
      }),
    });
    await container.start();
    const info = await container.inspect();
    const ip = containerAddress(info, this.opts.network);
    if (!ip) {
      await container.remove({ force: true }).catch(() => undefined);
      throw new DeployError(`${process}.${index} got no address on network ${this.opts.network}`);
    }
    const address = `${ip}:${runtime.port}`;
    const instance: Instance = { id: container.id, app, process, release: release.version, address };
    return { container, address, instance };
  }

  private async retire(id: string): Promise<void> {
    const container = this.docker.getContainer(id);
    try {
      await container.stop({ t: this.opts.stopTimeoutSec });
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

/**
 * Buildpack images run commands through pier-launch (their ENTRYPOINT), which takes one bash line.
 * Image runtimes keep their ENTRYPOINT: no command keeps the image's CMD, a Procfile command replaces it.
 */
function commandLine(runtime: ReleaseRuntime, command: string): string[] | undefined {
  if (runtime.kind === 'buildpack') return [command];
  return command === '' ? undefined : ['/bin/sh', '-c', command];
}
