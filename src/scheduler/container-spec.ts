import type Docker from 'dockerode';
import type { ProcessSettings, ResourceLimits, RestartPolicy } from '../state/process-settings-store.js';
import type { Release, ReleaseRuntime } from '../state/release-store.js';
import { hardenedHostConfig } from './docker-security.js';

export const DEFAULT_PORT = 5000;

/** What one app container gets unless `pier resource:limit` says otherwise: no app can take the machine. */
export const DEFAULT_LIMITS: Required<ResourceLimits> = { memory: 1024 * 1024 * 1024, cpus: 0 };

/** What releases recorded before runtimes existed ran with: a buildpack image. */
const BUILDPACK_RUNTIME: ReleaseRuntime = { kind: 'buildpack', port: DEFAULT_PORT, user: '1000:1000' };

export function runtimeOf(release: Release): ReleaseRuntime {
  return release.runtime ?? BUILDPACK_RUNTIME;
}

/** What `pier run APP` starts in an image that may lack bash. */
const IMAGE_SHELL = ['/bin/sh', '-c', 'if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi'];

/**
 * Buildpack images run commands through pier-launch (their ENTRYPOINT), which takes one bash line.
 * Image runtimes keep their ENTRYPOINT: no command keeps the image's CMD, a Procfile command replaces it.
 * An argv (pier run) follows pier-launch's rules in both: none starts a shell, one word is a shell
 * line, more run as given (so `pier run app echo "a b"` keeps "a b" one argument).
 */
export function commandLine(runtime: ReleaseRuntime, command: string | string[]): string[] | undefined {
  if (Array.isArray(command)) {
    if (runtime.kind === 'buildpack' || command.length > 1) return command;
    return command.length === 1 ? ['/bin/sh', '-c', command[0]!] : IMAGE_SHELL;
  }
  if (runtime.kind === 'buildpack') return command === '' ? [] : [command];
  return command === '' ? undefined : ['/bin/sh', '-c', command];
}

/** Limits of a process type: its own, else the app's ("*"), else the defaults. */
export function limitsFor(settings: ProcessSettings, process: string): Required<ResourceLimits> {
  return { ...DEFAULT_LIMITS, ...settings.resources['*'], ...settings.resources[process] };
}

function restartPolicy(policy: RestartPolicy): Docker.HostRestartPolicy {
  return policy.name === 'on-failure' ? { Name: 'on-failure', MaximumRetryCount: policy.maxRetries } : { Name: policy.name };
}

/** Memory and CPU of a process type's containers. */
function resourceConfig(settings: ProcessSettings, process: string): Required<Pick<Docker.HostConfig, 'Memory' | 'MemorySwap' | 'NanoCpus'>> {
  const limits = limitsFor(settings, process);
  // Swap as large as memory means no swap: the limit is all an app gets, and it cannot page the host's disk.
  return { Memory: limits.memory, MemorySwap: limits.memory, NanoCpus: Math.round(limits.cpus * 1e9) };
}

/**
 * What `docker update` changes on an instance of `process` so it runs with the current settings
 * without a restart. Docker reads NanoCpus 0 as "unchanged", so a CPU cap is lifted by capping
 * at every core of the host; instances started later get no cap at all.
 */
export function liveUpdate(settings: ProcessSettings, process: string, currentNanoCpus: number, hostCpus: number) {
  const resources = resourceConfig(settings, process);
  const lift = resources.NanoCpus === 0 && currentNanoCpus > 0;
  return { ...resources, NanoCpus: lift ? hostCpus * 1e9 : resources.NanoCpus, RestartPolicy: restartPolicy(settings.restartPolicy) };
}

export interface InstanceSpec {
  /** Docker object namespace (PIER_INSTANCE). */
  instance: string;
  network: string;
  app: string;
  release: Release;
  process: string;
  /** 1-based: web.1, web.2, … */
  index: number;
  /** A Procfile command line, or the argv of a one-off run. */
  command: string | string[];
  settings: ProcessSettings;
  /** Config every app gets (config:set --global); the app's own values win. */
  globalConfig: Record<string, string>;
  /** Named volumes mounted into every instance (storage:mount). */
  mounts: Array<{ volume: string; path: string }>;
  /**
   * A one-off container (pier run, the release phase) never restarts, is not an instance, and is
   * removed when it exits. `unlogged`: its output is kept elsewhere, so Docker keeps no log of it.
   */
  oneOff?: { tty: boolean; interactive: boolean; unlogged?: boolean };
  name: string;
}

/** The Docker create options of one app container, hardened like every Pier container. */
export function containerSpec(spec: InstanceSpec): Docker.ContainerCreateOptions {
  const runtime = runtimeOf(spec.release);
  const env = { ...spec.globalConfig, ...spec.release.config, PORT: String(runtime.port), DYNO: `${spec.process}.${spec.index}` };
  return {
    name: spec.name,
    Image: spec.release.image,
    Cmd: commandLine(runtime, spec.command),
    User: runtime.user,
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Tty: spec.oneOff?.tty ?? false,
    OpenStdin: spec.oneOff?.interactive ?? false,
    StdinOnce: spec.oneOff?.interactive ?? false,
    AttachStdin: spec.oneOff?.interactive ?? false,
    AttachStdout: spec.oneOff !== undefined,
    AttachStderr: spec.oneOff !== undefined,
    Labels: {
      'pier.instance': spec.instance,
      'pier.app': spec.app,
      'pier.role': spec.oneOff ? 'run' : 'app',
      'pier.process': spec.process,
      'pier.index': String(spec.index),
      'pier.release': String(spec.release.version),
      'pier.port': String(runtime.port),
    },
    StopTimeout: spec.settings.stopTimeoutSec,
    HostConfig: hardenedHostConfig({
      // An init as PID 1 passes SIGTERM on to the app, which as PID 1 itself would ignore it and wait out the stop timeout.
      Init: true,
      NetworkMode: spec.network,
      RestartPolicy: spec.oneOff ? { Name: 'no' } : restartPolicy(spec.settings.restartPolicy),
      AutoRemove: spec.oneOff !== undefined,
      ...(spec.oneOff?.unlogged ? { LogConfig: { Type: 'none', Config: {} } } : {}),
      ...resourceConfig(spec.settings, spec.process),
      // nocopy: Docker would otherwise fill an empty volume from the image, and hand the folder to the image's owner of that path.
      Binds: spec.mounts.map((m) => `${m.volume}:${m.path}:nocopy`),
    }),
  };
}
