import type { Redis } from 'ioredis';
import { AppStore } from './app-store.js';
import { BuildStore } from './build-store.js';
import { BuilderStore } from './builder-store.js';
import { CertStore } from './cert-store.js';
import { ConfigStore } from './config-store.js';
import { DomainStore } from './domain-store.js';
import { EventStore } from './event-store.js';
import { FormationStore } from './formation-store.js';
import { ProcessSettingsStore } from './process-settings-store.js';
import { ProxySettingsStore } from './proxy-settings-store.js';
import { keyspace, type Keyspace } from './keys.js';
import { AppLocks } from './lock.js';
import { MaintenanceStore } from './maintenance-store.js';
import { PluginStore } from './plugin-store.js';
import { ReleaseStore } from './release-store.js';
import { RouteStore } from './route-store.js';
import { StorageStore } from './storage-store.js';
import { TokenStore } from './token-store.js';

export interface State {
  redis: Redis;
  keys: Keyspace;
  apps: AppStore;
  config: ConfigStore;
  tokens: TokenStore;
  releases: ReleaseStore;
  builds: BuildStore;
  builders: BuilderStore;
  formations: FormationStore;
  processSettings: ProcessSettingsStore;
  events: EventStore;
  storage: StorageStore;
  domains: DomainStore;
  plugins: PluginStore;
  routes: RouteStore;
  proxy: ProxySettingsStore;
  certs: CertStore;
  maintenance: MaintenanceStore;
  locks: AppLocks;
}

export function createState(redis: Redis, instance: string): State {
  const keys = keyspace(instance);
  return {
    redis,
    keys,
    apps: new AppStore(redis, keys),
    config: new ConfigStore(redis, keys),
    tokens: new TokenStore(redis, keys),
    releases: new ReleaseStore(redis, keys),
    builds: new BuildStore(redis, keys),
    builders: new BuilderStore(redis, keys),
    formations: new FormationStore(redis, keys),
    processSettings: new ProcessSettingsStore(redis, keys),
    events: new EventStore(redis, keys),
    storage: new StorageStore(redis, keys),
    domains: new DomainStore(redis, keys),
    plugins: new PluginStore(redis, keys),
    routes: new RouteStore(redis, keys),
    proxy: new ProxySettingsStore(redis, keys),
    certs: new CertStore(redis, keys),
    maintenance: new MaintenanceStore(redis, keys),
    locks: new AppLocks(redis, keys),
  };
}
