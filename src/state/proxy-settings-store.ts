import type { Redis } from 'ioredis';
import { PROXY_KEYS, type ProxyKey, type RawProxySettings } from '../proxy-settings.js';
import { DATA_PLANES, type DataPlane, type PlaneStatus } from '../proxy-plane.js';
import type { Keyspace } from './keys.js';

/**
 * The raw values of `proxy:set`, per app and global. Every change is published on the routes channel,
 * so each router re-reads the app's route (or every route, for a global change) at once.
 */
/** Not a proxy:set key, so get() never returns it. */
const PLANE_FIELD = 'type';

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

  /** The data plane asked for (`proxy:type`); the built-in router unless set. Stored in the global hash, apart from the proxy:set keys. */
  async plane(): Promise<DataPlane> {
    const raw = await this.redis.hget(this.keys.proxyGlobal, PLANE_FIELD);
    return DATA_PLANES.find((p) => p === raw) ?? 'builtin';
  }

  async setPlane(plane: DataPlane): Promise<void> {
    await this.redis.multi().hset(this.keys.proxyGlobal, PLANE_FIELD, plane).publish(this.keys.routesChannel, '*').exec();
  }

  async planeStatus(): Promise<PlaneStatus | undefined> {
    const raw = await this.redis.get(this.keys.proxyPlaneStatus);
    return raw === null ? undefined : (JSON.parse(raw) as PlaneStatus);
  }

  async setPlaneStatus(status: PlaneStatus): Promise<void> {
    await this.redis.set(this.keys.proxyPlaneStatus, JSON.stringify(status));
  }

  /** The app's own nginx template (`proxy:template`), or undefined when the built-in one renders it. */
  async template(app: string): Promise<string | undefined> {
    return (await this.redis.get(this.keys.proxyTemplate(app))) ?? undefined;
  }

  /** Stores an already validated template; routers re-render the app at once. */
  async setTemplate(app: string, source: string): Promise<void> {
    await this.redis.multi().set(this.keys.proxyTemplate(app), source).publish(this.keys.routesChannel, app).exec();
  }

  /** Back to the built-in template; false when the app had none of its own. */
  async resetTemplate(app: string): Promise<boolean> {
    const [[, removed] = []] = (await this.redis.multi().del(this.keys.proxyTemplate(app)).publish(this.keys.routesChannel, app).exec()) ?? [];
    return removed === 1;
  }

  /** Back to the global value (for an app) or the default. */
  async unset(app: string | undefined, name: ProxyKey): Promise<void> {
    await this.redis.multi().hdel(this.key(app), name).publish(this.keys.routesChannel, app ?? '*').exec();
  }
}
