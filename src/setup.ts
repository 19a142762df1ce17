import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Settings } from './settings.js';
import { createState } from './state/index.js';
import { migrate } from './state/migrations.js';
import { assertDurableRedis, connectRedis } from './state/redis.js';

export function adminTokenFile(settings: Settings): string {
  return path.join(settings.tokensDir, 'admin');
}

export async function readAdminToken(settings: Settings): Promise<string | undefined> {
  try {
    return (await readFile(adminTokenFile(settings), 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/**
 * Prepares PIER_HOME and Redis: folders, state migrations, and the "admin" API token
 * (created once, stored mode 0600, registered again if Redis lost it). Safe to run repeatedly.
 */
export async function setup(settings: Settings): Promise<{ schema: number; tokenCreated: boolean }> {
  await mkdir(settings.home, { recursive: true, mode: 0o700 });
  await mkdir(settings.tokensDir, { recursive: true, mode: 0o700 });
  await chmod(settings.tokensDir, 0o700);
  const redis = connectRedis(settings.redisUrl);
  try {
    await assertDurableRedis(redis);
    const state = createState(redis, settings.instance);
    const schema = await migrate(redis, state.keys);
    const existing = await readAdminToken(settings);
    if (existing) {
      await state.tokens.register('admin', existing);
      return { schema, tokenCreated: false };
    }
    const token = await state.tokens.create('admin');
    await writeFile(adminTokenFile(settings), `${token}\n`, { mode: 0o600 });
    return { schema, tokenCreated: true };
  } finally {
    redis.disconnect();
  }
}
