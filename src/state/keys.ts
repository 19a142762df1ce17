/** Every Redis key and channel name Pier uses; nothing outside src/state builds key strings. */
export function keyspace(instance: string) {
  const p = `${instance}:`;
  return {
    prefix: p,
    schemaVersion: `${p}meta:schema`,
    apps: `${p}apps`,
    app: (name: string) => `${p}app:${name}`,
    config: (name: string) => `${p}config:${name}`,
    builder: (name: string) => `${p}builder:${name}`,
    globalConfig: `${p}config-global`,
    formation: (name: string) => `${p}formation:${name}`,
    processSettings: (name: string) => `${p}ps:${name}`,
    events: (name: string) => `${p}events:${name}`,
    accessLog: (name: string) => `${p}access-log:${name}`,
    storage: (name: string) => `${p}storage:${name}`,
    domains: (name: string) => `${p}domains:${name}`,
    domainOwners: `${p}domain-owners`,
    domainGlobal: `${p}domain-global`,
    plugins: `${p}plugins`,
    pluginsGeneration: `${p}plugins:generation`,
    pluginData: (name: string) => `${p}plugin-kv:${name}`,
    tokens: `${p}tokens`,
    releaseSeq: (name: string) => `${p}releases:${name}:seq`,
    releases: (name: string) => `${p}releases:${name}`,
    builds: (name: string) => `${p}builds:${name}`,
    activeBuilds: `${p}builds-active`,
    build: (id: string) => `${p}build:${id}`,
    buildLog: (id: string) => `${p}build:${id}:log`,
    buildCancel: (id: string) => `${p}build:${id}:cancel`,
    route: (name: string) => `${p}route:${name}`,
    proxy: (name: string) => `${p}proxy:${name}`,
    proxyGlobal: `${p}proxy-global`,
    proxyPlaneStatus: `${p}proxy-plane-status`,
    cert: (name: string) => `${p}cert:${name}`,
    maintenance: (name: string) => `${p}maintenance:${name}`,
    routesChannel: `${p}routes`,
    routesApplied: `${p}routes-applied`,
    lock: (name: string, kind: string) => `${p}lock:${kind}:${name}`,
    queuePrefix: `${p}bull`,
  };
}

export type Keyspace = ReturnType<typeof keyspace>;
