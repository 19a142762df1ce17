import type { Redis } from 'ioredis';
import type { Keyspace } from './keys.js';

export type BuilderChoice = 'dockerfile' | 'buildpacks';

/** Per-app build settings, as `pier builder:set` leaves them. */
export interface BuilderSettings {
  /** Unset: a root Dockerfile picks the Dockerfile builder, else buildpacks. */
  selected?: BuilderChoice;
  /** Config vars handed to Dockerfile builds as build args (and so visible in the image's history). */
  buildArgs: string[];
  /** Docker network of build containers; "none" builds offline, from the build cache only. */
  network?: 'none';
}

export class BuilderStore {
  constructor(private readonly redis: Redis, private readonly keys: Keyspace) {}

  async get(app: string): Promise<BuilderSettings> {
    const h = await this.redis.hgetall(this.keys.builder(app));
    return {
      selected: h.selected === 'dockerfile' || h.selected === 'buildpacks' ? h.selected : undefined,
      buildArgs: h.buildArgs ? h.buildArgs.split(',') : [],
      network: h.network === 'none' ? 'none' : undefined,
    };
  }

  async setSelected(app: string, choice: BuilderChoice | undefined): Promise<void> {
    await this.setField(app, 'selected', choice);
  }

  async setNetwork(app: string, network: 'none' | undefined): Promise<void> {
    await this.setField(app, 'network', network);
  }

  async setBuildArgs(app: string, keys: string[]): Promise<void> {
    await this.setField(app, 'buildArgs', keys.length > 0 ? [...new Set(keys)].sort().join(',') : undefined);
  }

  private async setField(app: string, field: string, value: string | undefined): Promise<void> {
    if (value === undefined) await this.redis.hdel(this.keys.builder(app), field);
    else await this.redis.hset(this.keys.builder(app), field, value);
  }
}
