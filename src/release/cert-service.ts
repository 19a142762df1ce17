import { inspectCertificate, type CertSource } from '../certificates.js';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import type { StoredCertificate } from '../state/cert-store.js';
import type { State } from '../state/index.js';

export type CertificateInfo = StoredCertificate['facts'] & { app: string };

/**
 * certs:* — each app's TLS certificate, the one interface that writes them: `pier certs:add` calls
 * it, and so would an ACME plugin (`source: 'acme'`) that renews its own before they expire. A pair
 * is checked whole before anything is written (inspectCertificate), then stored in one atomic
 * write, so a refused pair leaves the app's certificate as it was. Routers serve a change at once.
 */
export class CertificateService {
  constructor(private readonly state: State, private readonly log: Logger) {}

  /** Installs or replaces the app's certificate; a CertificateError (a UserError) names what is wrong with a refused pair. */
  async put(app: string, pair: { certPem: string; keyPem: string; source: CertSource }, now = new Date()): Promise<CertificateInfo> {
    if (!(await this.state.apps.exists(app))) throw new UserError(`No app named ${app}. See them with: pier apps`);
    const checked = inspectCertificate(pair.certPem, pair.keyPem, now);
    const facts = { ...checked.facts, source: pair.source, addedAt: now.toISOString() };
    await this.state.certs.put(app, { certPem: checked.certPem, keyPem: checked.keyPem, facts });
    this.log.info({ app, names: facts.names, notAfter: facts.notAfter, fingerprint: facts.fingerprint, source: facts.source }, 'certificate installed');
    return { app, ...facts };
  }

  /** Returns false when the app had none. */
  async remove(app: string): Promise<boolean> {
    const removed = await this.state.certs.remove(app);
    if (removed) this.log.info({ app }, 'certificate removed');
    return removed;
  }

  /** The facts of the app's certificate, never its key. */
  async get(app: string): Promise<CertificateInfo | undefined> {
    const stored = await this.state.certs.get(app);
    return stored && { app, ...stored.facts };
  }

  /** Every app's certificate, by app name: what a renewer walks to find those expiring soon. */
  async list(): Promise<CertificateInfo[]> {
    const apps = await this.state.apps.list();
    const infos = await Promise.all(apps.map((a) => this.get(a.name)));
    return infos.filter((i): i is CertificateInfo => i !== undefined);
  }
}
