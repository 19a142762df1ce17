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

/**
 * Buildpack images run commands through pier-launch (their ENTRYPOINT), which takes one bash line.
 * Image runtimes keep their ENTRYPOINT: no command keeps the image's CMD, a Procfile command replaces it.
 */
export function commandLine(runtime: ReleaseRuntime, command: string): string[] | undefined {
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

export interface InstanceSpec {
  /** Docker object namespace (PIER_INSTANCE). */
  instance: string;
  network: string;
  app: string;
  release: Release;
  process: string;
  /** 1-based: web.1, web.2, … */
  index: number;
  command: string;
  settings: ProcessSettings;
  /** Config every app gets (config:set --global); the app's own values win. */
  globalConfig: Record<string, string>;
  /** Named volumes mounted into every instance (storage:mount). */
  mounts: Array<{ volume: string; path: string }>;
  /** A one-off container (pier run, the release phase) never restarts and is not an instance. */
  oneOff?: { tty: boolean; interactive: boolean };
  name: string;
}

/** The Docker create options of one app container, hardened like every Pier container. */
export function containerSpec(spec: InstanceSpec): Docker.ContainerCreateOptions {
  const runtime = runtimeOf(spec.release);
  const limits = limitsFor(spec.settings, spec.process);
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
      Memory: limits.memory,
      NanoCpus: Math.round(limits.cpus * 1e9),
      Binds: spec.mounts.map((m) => `${m.volume}:${m.path}`),
    }),
  };
}
