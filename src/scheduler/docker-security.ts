import type Docker from 'dockerode';

/** Every container Pier creates, build steps included, runs unprivileged with this host config. */
export function hardenedHostConfig(extra: Docker.HostConfig = {}): Docker.HostConfig {
  return {
    Privileged: false,
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges'],
    PidsLimit: 1024,
    LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
    ...extra,
  };
}
