import type { Redis } from 'ioredis';
import type { AppJson } from '../app-json.js';
import type { Keyspace } from './keys.js';

/** How a release's image runs; absent on releases recorded before Dockerfile builds existed (buildpack defaults). */
export interface ReleaseRuntime {
  /** 'buildpack': commands run through pier-launch (bash -c). 'image': the image's ENTRYPOINT and CMD, a Procfile command replaces CMD. */
  kind: 'buildpack' | 'image';
  /** The port the app listens on; PORT is set to it. */
  port: number;
  /** User[:group] every process runs as. */
  user: string;
}

export interface Release {
  version: number;
  image: string;
  /** Config snapshot the release runs with. Holds secrets: never log a Release. */
  config: Record<string, string>;
  /** Process type → command; an empty command means the image's own CMD (image runtime only). */
  processTypes: Record<string, string>;
  runtime?: ReleaseRuntime;
  /** The app's app.json as it was built (health checks, deploy scripts, default formation). */
  appJson?: AppJson;
  description: string;
  createdAt: string;
  createdBy: string;
  buildId?: string;
  commit?: string;
  /** Set when the deploy of this release failed; the previous release kept serving. */
  failed?: boolean;
}

export type NewRelease = Omit<Release, 'version' | 'createdAt'>;

export class ReleaseStore {
  constructor(private readonly redis: Redis, private readonly keys: Keyspace) {}

  async create(app: string, release: NewRelease): Promise<Release> {
    const version = await this.redis.incr(this.keys.releaseSeq(app));
    const full: Release = { ...release, version, createdAt: new Date().toISOString() };
    await this.redis.hset(this.keys.releases(app), String(version), JSON.stringify(full));
    return full;
  }

  async markFailed(app: string, version: number): Promise<void> {
    const release = await this.get(app, version);
    if (release) await this.redis.hset(this.keys.releases(app), String(version), JSON.stringify({ ...release, failed: true }));
  }

  async get(app: string, version: number): Promise<Release | undefined> {
    const raw = await this.redis.hget(this.keys.releases(app), String(version));
    return raw === null ? undefined : (JSON.parse(raw) as Release);
  }

  /** Newest first. */
  async list(app: string): Promise<Release[]> {
    const all = await this.redis.hvals(this.keys.releases(app));
    return all.map((r) => JSON.parse(r) as Release).sort((a, b) => b.version - a.version);
  }
}
