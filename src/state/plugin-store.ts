import type { Redis } from 'ioredis';
import type { Keyspace } from './keys.js';

export type PluginSwitch = 'enabled' | 'disabled';

/**
 * Which plugins are switched on or off, and each plugin's key-value store. Every change of what
 * is installed or switched bumps a generation counter, so every daemon process sharing this
 * Redis reloads its plugins before its next event or command.
 */
export class PluginStore {
  constructor(private readonly redis: Redis, private readonly keys: Keyspace) {}

  /** Plugin name → its switch; a plugin absent here was never switched (built-ins then follow their manifest). */
  async switches(): Promise<Record<string, PluginSwitch>> {
    const all = await this.redis.hgetall(this.keys.plugins);
    return Object.fromEntries(Object.entries(all).filter((e): e is [string, PluginSwitch] => e[1] === 'enabled' || e[1] === 'disabled'));
  }

  async setSwitch(name: string, value: PluginSwitch): Promise<void> {
    await this.redis.multi().hset(this.keys.plugins, name, value).incr(this.keys.pluginsGeneration).exec();
  }

  /** Drops a plugin's switch (uninstall); its key-value store stays, for a reinstall. */
  async forget(name: string): Promise<void> {
    await this.redis.multi().hdel(this.keys.plugins, name).incr(this.keys.pluginsGeneration).exec();
  }

  async generation(): Promise<number> {
    return Number((await this.redis.get(this.keys.pluginsGeneration)) ?? 0);
  }

  async kvGet(plugin: string, key: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.pluginData(plugin), key)) ?? undefined;
  }

  async kvSet(plugin: string, key: string, value: string): Promise<void> {
    await this.redis.hset(this.keys.pluginData(plugin), key, value);
  }

  /** False when there was no such key. */
  async kvDelete(plugin: string, key: string): Promise<boolean> {
    return (await this.redis.hdel(this.keys.pluginData(plugin), key)) > 0;
  }

  async kvAll(plugin: string): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.pluginData(plugin));
  }
}
