import type { State } from '../state/index.js';

export interface AppRoute {
  upstreams: string[];
  /** Round-robin cursor. */
  next: number;
}

/** In-memory Host → upstreams table, loaded from Redis and kept live through pub/sub. */
export class RouteTable {
  private readonly routes = new Map<string, AppRoute>();

  constructor(private readonly state: State, private readonly domain: string) {}

  async load(): Promise<void> {
    const apps = await this.state.apps.list();
    await Promise.all(apps.map((a) => this.refresh(a.name)));
  }

  async refresh(app: string): Promise<void> {
    if (!(await this.state.apps.exists(app))) {
      this.routes.delete(app);
      return;
    }
    const route = await this.state.routes.get(app);
    this.routes.set(app, { upstreams: route?.upstreams ?? [], next: 0 });
  }

  /** The app a Host header names, or undefined when no app owns it. */
  appFor(hostHeader: string | undefined): string | undefined {
    const host = stripPort(hostHeader ?? '').toLowerCase();
    const suffix = `.${this.domain}`;
    if (!host.endsWith(suffix)) return undefined;
    const label = host.slice(0, -suffix.length);
    return this.routes.has(label) ? label : undefined;
  }

  /** The next upstream for the app, round-robin; undefined when it has no running web instance. */
  pick(app: string): string | undefined {
    const route = this.routes.get(app);
    if (!route || route.upstreams.length === 0) return undefined;
    const upstream = route.upstreams[route.next % route.upstreams.length];
    route.next = (route.next + 1) % route.upstreams.length;
    return upstream;
  }
}

export function stripPort(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}
