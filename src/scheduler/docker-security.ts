import type Docker from 'dockerode';

/** Processes (and threads) a container may run: a fork bomb stops there. */
export const PIDS_LIMIT = 1024;

/** Every container Pier creates, build steps included, runs unprivileged with this host config. */
export function hardenedHostConfig(extra: Docker.HostConfig = {}): Docker.HostConfig {
  return {
    Privileged: false,
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges'],
    PidsLimit: PIDS_LIMIT,
    LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
    ...extra,
  };
}
