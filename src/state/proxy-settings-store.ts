import type { Redis } from 'ioredis';
import { PROXY_KEYS, type ProxyKey, type RawProxySettings } from '../proxy-settings.js';
import type { Keyspace } from './keys.js';

/**
 * The raw values of `proxy:set`, per app and global. Every change is published on the routes channel,
 * so each router re-reads the app's route (or every route, for a global change) at once.
 */
export class ProxySettingsStore {
  constructor(private readonly redis: Redis, private readonly keys: Keyspace) {}

  private key(app: string | undefined): string {
    return app === undefined ? this.keys.proxyGlobal : this.keys.proxy(app);
  }

  /** The values set for the app, or globally when `app` is undefined. */
  async get(app: string | undefined): Promise<RawProxySettings> {
    const raw = await this.redis.hgetall(this.key(app));
    return Object.fromEntries(Object.entries(raw).filter(([k]) => k in PROXY_KEYS)) as RawProxySettings;
  }

  async set(app: string | undefined, name: ProxyKey, value: string): Promise<void> {
    await this.redis.multi().hset(this.key(app), name, value).publish(this.keys.routesChannel, app ?? '*').exec();
  }

  /** Back to the global value (for an app) or the default. */
  async unset(app: string | undefined, name: ProxyKey): Promise<void> {
    await this.redis.multi().hdel(this.key(app), name).publish(this.keys.routesChannel, app ?? '*').exec();
  }
}
