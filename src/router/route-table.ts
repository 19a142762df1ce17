import { DEFAULT_PROXY_SETTINGS, effectiveProxySettings, type ProxySettings, type RawProxySettings } from '../proxy-settings.js';
import type { State } from '../state/index.js';

export interface AppRoute {
  upstreams: string[];
  /** Round-robin cursor. */
  next: number;
  /** `proxy:set` values in force for the app (its own over the global ones over the defaults). */
  settings: ProxySettings;
}

export interface HostMap {
  /** Every app is served at `<app>.<globalDomain>`. */
  globalDomain: string;
  apps: ReadonlySet<string>;
  /** Custom domain (or `*.wildcard`) → app. */
  owners: Readonly<Record<string, string>>;
}

/**
 * The app a host name (lowercase, no port) reaches: a custom domain first, then
 * `<app>.<global domain>`, then the most specific wildcard (`*.example.com` covers any depth).
 */
export function resolveHost(host: string, map: HostMap): string | undefined {
  const exact = map.owners[host];
  if (exact) return exact;
  const suffix = `.${map.globalDomain}`;
  if (host.endsWith(suffix)) {
    const label = host.slice(0, -suffix.length);
    if (map.apps.has(label)) return label;
  }
  const labels = host.split('.');
  for (let i = 1; i < labels.length; i++) {
    const owner = map.owners[`*.${labels.slice(i).join('.')}`];
    if (owner) return owner;
  }
  return undefined;
}

/** In-memory Host → upstreams table, loaded from Redis and kept live through pub/sub. */
export class RouteTable {
  private readonly routes = new Map<string, AppRoute>();
  private hosts: HostMap;
  private globalProxy: RawProxySettings = {};

  constructor(private readonly state: State, private readonly initialDomain: string) {
    this.hosts = { globalDomain: initialDomain, apps: new Set(), owners: {} };
  }

  async load(): Promise<void> {
    this.globalProxy = await this.state.proxy.get(undefined);
    const apps = await this.state.apps.list();
    await Promise.all(apps.map((a) => this.refreshRoute(a.name)));
    await this.refreshHosts();
  }

  /** Re-reads one app's route (and the host names, which any change may touch); "*" re-reads everything. */
  async refresh(app: string): Promise<void> {
    if (app === '*') return this.load();
    await this.refreshRoute(app);
    await this.refreshHosts();
  }

  private async refreshRoute(app: string): Promise<void> {
    if (!(await this.state.apps.exists(app))) {
      this.routes.delete(app);
      return;
    }
    const [route, proxy] = await Promise.all([this.state.routes.get(app), this.state.proxy.get(app)]);
    this.routes.set(app, { upstreams: route?.upstreams ?? [], next: 0, settings: effectiveProxySettings(proxy, this.globalProxy) });
  }

  private async refreshHosts(): Promise<void> {
    const [globalDomain, owners] = await Promise.all([this.state.domains.globalDomain(this.initialDomain), this.state.domains.owners()]);
    this.hosts = { globalDomain, owners, apps: new Set(this.routes.keys()) };
  }

  /** The settings in force for the app; the defaults for an unknown one. */
  settings(app: string | undefined): ProxySettings {
    return (app !== undefined && this.routes.get(app)?.settings) || DEFAULT_PROXY_SETTINGS;
  }

  /** The app a Host header names, or undefined when no app owns it. */
  appFor(hostHeader: string | undefined): string | undefined {
    const app = resolveHost(stripPort(hostHeader ?? '').toLowerCase(), this.hosts);
    return app !== undefined && this.routes.has(app) ? app : undefined;
  }

  /**
   * The next upstream for the app, round-robin, passing over those `skip` rejects (already tried,
   * known to be down); undefined when it has no running web instance, or `skip` rejects them all.
   */
  pick(app: string, skip?: (upstream: string) => boolean): string | undefined {
    const route = this.routes.get(app);
    if (!route) return undefined;
    const n = route.upstreams.length;
    for (let i = 0; i < n; i++) {
      const upstream = route.upstreams[route.next % n]!;
      route.next = (route.next + 1) % n;
      if (!skip || !skip(upstream)) return upstream;
    }
    return undefined;
  }
}

export function stripPort(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}
