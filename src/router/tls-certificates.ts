import tls from 'node:tls';
import { namesCover } from '../certificates.js';
import type { Logger } from '../log.js';
import type { State } from '../state/index.js';
import { stripPort, type RouteTable } from './route-table.js';

/** TLS 1.0 and 1.1 are broken and deprecated (RFC 8996). */
export const MIN_TLS_VERSION = 'TLSv1.2';

interface Served {
  /** The chain the context was built from: an unchanged one is not rebuilt. */
  certPem: string;
  names: readonly string[];
  context: tls.SecureContext;
}

/** Where a plain HTTP request of an https-only app is sent: the same host and target, over HTTPS. */
export function httpsLocation(host: string, target: string, httpsPort: number): string {
  return `https://${stripPort(host)}${httpsPort === 443 ? '' : `:${httpsPort}`}${target === '*' ? '/' : target}`;
}

/**
 * The certificates a router serves, one TLS context per app built from Redis (so a router running
 * alone needs nothing else) and rebuilt when the app's certificate changes. A host gets its app's
 * certificate (the host resolved as the route table resolves it) when that certificate names the host.
 */
export class TlsCertificates {
  private readonly served = new Map<string, Served>();

  constructor(private readonly state: State, private readonly table: RouteTable, private readonly log: Logger) {}

  async load(): Promise<void> {
    const apps = (await this.state.apps.list()).map((a) => a.name);
    for (const app of this.served.keys()) if (!apps.includes(app)) this.served.delete(app);
    await Promise.all(apps.map((app) => this.refreshApp(app)));
  }

  /** Re-reads one app's certificate; "*" re-reads every one (the messages of the routes channel). */
  async refresh(app: string): Promise<void> {
    if (app === '*') return this.load();
    await this.refreshApp(app);
  }

  private async refreshApp(app: string): Promise<void> {
    const stored = await this.state.certs.get(app);
    if (!stored) {
      this.served.delete(app);
      return;
    }
    if (this.served.get(app)?.certPem === stored.certPem) return;
    try {
      const context = tls.createSecureContext({ cert: stored.certPem, key: stored.keyPem, minVersion: MIN_TLS_VERSION });
      this.served.set(app, { certPem: stored.certPem, names: stored.facts.names, context });
    } catch (err) {
      // Stored pairs were checked when added, so this is a damaged record; the key stays out of the log.
      this.served.delete(app);
      this.log.warn({ app, fingerprint: stored.facts.fingerprint, reason: (err as Error).message }, 'certificate cannot be served; HTTPS to the app fails until it is added again');
    }
  }

  private servedFor(app: string, host: string): Served | undefined {
    const served = this.served.get(app);
    return served && namesCover(served.names, host) ? served : undefined;
  }

  /** The TLS context for a client's SNI name, when the app that host reaches has a certificate naming it. */
  contextFor(servername: string): tls.SecureContext | undefined {
    const host = servername.toLowerCase().replace(/\.$/, '');
    const app = this.table.appFor(host);
    return app === undefined ? undefined : this.servedFor(app, host)?.context;
  }

  /** Whether HTTPS to this host of the app would be served: what an https-only redirect needs first. */
  covers(app: string, hostHeader: string): boolean {
    return this.servedFor(app, stripPort(hostHeader).toLowerCase()) !== undefined;
  }
}
