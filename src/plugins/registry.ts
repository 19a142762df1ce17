import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { PluginSwitch } from '../state/plugin-store.js';
import { readManifest, type PluginManifest } from './manifest.js';

export type PluginSource = 'built-in' | 'installed';

/** A plugin folder: its manifest, or why it could not be read. */
export interface FoundPlugin {
  name: string;
  dir: string;
  source: PluginSource;
  manifest?: PluginManifest;
  error?: string;
}

/**
 * The plugins in the built-in folder and in the install folder, by name. An installed plugin
 * shadows a built-in one of the same name, so a newer version of a built-in can be installed
 * over it (and uninstalling brings the built-in back). Dot folders (installs in progress) are
 * skipped.
 */
export async function discover(builtinDir: string, installDir: string): Promise<Map<string, FoundPlugin>> {
  const found = new Map<string, FoundPlugin>();
  for (const [root, source] of [[builtinDir, 'built-in'], [installDir, 'installed']] as const) {
    const entries: Dirent[] = await readdir(root, { withFileTypes: true }).catch(() => []);
    for (const entry of entries.filter((e) => e.isDirectory() && !e.name.startsWith('.'))) {
      const dir = path.join(root, entry.name);
      try {
        const manifest = await readManifest(dir);
        if (manifest.name !== entry.name) throw new Error(`${dir}: the folder of plugin ${manifest.name} must be named ${manifest.name}`);
        found.set(entry.name, { name: entry.name, dir, source, manifest });
      } catch (err) {
        found.set(entry.name, { name: entry.name, dir, source, error: (err as Error).message });
      }
    }
  }
  return found;
}

/** A plugin nobody switched on or off follows its manifest (`pier plugins:install` switches it on). */
export function isEnabled(plugin: FoundPlugin, switched: PluginSwitch | undefined): boolean {
  if (!plugin.manifest) return false;
  return (switched ?? (plugin.manifest.defaultEnabled ? 'enabled' : 'disabled')) === 'enabled';
}
