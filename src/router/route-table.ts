import { DEFAULT_PROXY_SETTINGS, effectiveProxySettings, type ProxySettings, type RawProxySettings } from '../proxy-settings.js';
import type { State } from '../state/index.js';

export interface AppRoute {
  upstreams: string[];
  /** Round-robin cursor. */
  next: number;
  /** `proxy:set` values in force for the app (its own over the global ones over the defaults). */
  settings: ProxySettings;
  /** Set while maintenance mode is on: the router answers 503 itself. */
  maintenance: { retryAfterSec: number } | undefined;
}

export interface AppSnapshot {
  app: string;
  hosts: string[];
  upstreams: string[];
  settings: ProxySettings;
  maintenance: { retryAfterSec: number } | undefined;
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
  private globalSettings: ProxySettings = DEFAULT_PROXY_SETTINGS;
  // Refreshes run side by side and their reads may finish out of order: the one that started last has the
  // last word, or a refresh that read an app before its destroy could bring it back after the one that read it gone.
  private refreshes = 0;
  private readonly latestRoute = new Map<string, number>();
  private latestHosts = 0;

  constructor(private readonly state: State, private readonly initialDomain: string) {
    this.hosts = { globalDomain: initialDomain, apps: new Set(), owners: {} };
  }

  async load(): Promise<void> {
    this.globalProxy = await this.state.proxy.get(undefined);
    this.globalSettings = effectiveProxySettings({}, this.globalProxy);
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
    const refresh = ++this.refreshes;
    this.latestRoute.set(app, refresh);
    const superseded = () => this.latestRoute.get(app) !== refresh;
    if (!(await this.state.apps.exists(app))) {
      if (superseded()) return;
      this.routes.delete(app);
      this.latestRoute.delete(app);
      return;
    }
    const [route, proxy, maintenance] = await Promise.all([this.state.routes.get(app), this.state.proxy.get(app), this.state.maintenance.get(app)]);
    if (superseded()) return;
    this.routes.set(app, {
      upstreams: route?.upstreams ?? [],
      next: 0,
      settings: effectiveProxySettings(proxy, this.globalProxy),
      maintenance: maintenance && { retryAfterSec: maintenance.retryAfterSec },
    });
  }

  private async refreshHosts(): Promise<void> {
    const refresh = ++this.refreshes;
    this.latestHosts = refresh;
    const [globalDomain, owners] = await Promise.all([this.state.domains.globalDomain(this.initialDomain), this.state.domains.owners()]);
    if (this.latestHosts !== refresh) return;
    this.hosts = { globalDomain, owners, apps: new Set(this.routes.keys()) };
  }

  /** The settings in force for the app; the global ones for an unknown one. */
  settings(app: string | undefined): ProxySettings {
    return (app !== undefined && this.routes.get(app)?.settings) || this.globalSettings;
  }

  /** Every app with the host names that reach it (its own first, then custom and wildcard domains), for a data plane that renders them. */
  snapshot(): AppSnapshot[] {
    const custom = new Map<string, string[]>();
    for (const [host, app] of Object.entries(this.hosts.owners)) custom.set(app, [...(custom.get(app) ?? []), host]);
    return [...this.routes.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([app, route]) => ({
        app,
        hosts: [`${app}.${this.hosts.globalDomain}`, ...(custom.get(app) ?? []).sort()],
        upstreams: route.upstreams,
        settings: route.settings,
        maintenance: route.maintenance,
      }));
  }

  route(app: string): AppRoute | undefined {
    return this.routes.get(app);
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

  /**
   * The upstream with the fewest requests in flight (`load`), passing over those `skip` rejects; ties
   * go round-robin, so idle instances share the work rather than the first one taking it all.
   */
  pickLeastLoaded(app: string, load: (upstream: string) => number, skip?: (upstream: string) => boolean): string | undefined {
    const route = this.routes.get(app);
    if (!route) return undefined;
    const n = route.upstreams.length;
    let best = -1;
    let bestLoad = Infinity;
    for (let i = 0; i < n; i++) {
      const at = (route.next + i) % n;
      const upstream = route.upstreams[at]!;
      if (skip && skip(upstream)) continue;
      const l = load(upstream);
      if (l < bestLoad) {
        best = at;
        bestLoad = l;
        if (l === 0) break;
      }
    }
    if (best === -1) return undefined;
    route.next = (best + 1) % n;
    return route.upstreams[best];
  }
}

export function stripPort(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}
