import type { State } from '../state/index.js';

/** The URLs an app is served at, as users type them: its global-domain name, then its custom domains. */
export class AppUrls {
  constructor(private readonly state: State, private readonly initialDomain: string, private readonly httpPort: number) {}

  private url(host: string): string {
    return `http://${host}${this.httpPort === 80 ? '' : `:${this.httpPort}`}`;
  }

  async primary(app: string): Promise<string> {
    return this.url(`${app}.${await this.state.domains.globalDomain(this.initialDomain)}`);
  }

  /** Wildcard domains are listed as they are (`http://*.example.com`): any subdomain reaches the app. */
  async all(app: string): Promise<string[]> {
    return [await this.primary(app), ...(await this.state.domains.list(app)).map((d) => this.url(d))];
  }
}
