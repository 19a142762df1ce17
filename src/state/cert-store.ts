import type { Redis } from 'ioredis';
import type { CertificateFacts, CertSource } from '../certificates.js';
import type { Keyspace } from './keys.js';

/** One app's certificate as stored: the PEM chain and key routers serve, and what `pier certs` shows. */
export interface StoredCertificate {
  certPem: string;
  keyPem: string;
  facts: CertificateFacts & { source: CertSource; addedAt: string };
}

/**
 * Each app's TLS certificate, in one hash per app so a replacement is one atomic write: a router
 * never reads a new chain with an old key. Every change is published on the routes channel, so
 * routers (which run from Redis alone) rebuild that app's TLS context at once. Callers check pairs
 * first (CertificateService); this store takes what it is given.
 */
export class CertStore {
  constructor(private readonly redis: Redis, private readonly keys: Keyspace) {}

  async get(app: string): Promise<StoredCertificate | undefined> {
    const h = await this.redis.hgetall(this.keys.cert(app));
    if (!h.certPem || !h.keyPem || !h.facts) return undefined;
    return { certPem: h.certPem, keyPem: h.keyPem, facts: JSON.parse(h.facts) as StoredCertificate['facts'] };
  }

  async put(app: string, cert: StoredCertificate): Promise<void> {
    const key = this.keys.cert(app);
    await this.redis
      .multi()
      .del(key)
      .hset(key, { certPem: cert.certPem, keyPem: cert.keyPem, facts: JSON.stringify(cert.facts) })
      .publish(this.keys.routesChannel, app)
      .exec();
  }

  /** Returns false when the app had no certificate. */
  async remove(app: string): Promise<boolean> {
    const [[, removed] = []] = (await this.redis.multi().del(this.keys.cert(app)).publish(this.keys.routesChannel, app).exec()) ?? [];
    return removed === 1;
  }
}
