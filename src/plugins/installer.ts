import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { git, gitUrl } from '../build/buildpack-source.js';
import { PluginError } from './errors.js';
import { readManifest, type PluginManifest } from './manifest.js';

/** `pier plugins:install PATH|GIT_URL`: a folder on the Pier server, or a git repository (`URL#branch-or-tag` pins one). */
export const installSourceSchema = z
  .object({
    path: z.string().refine((p) => path.isAbsolute(p), 'path must be absolute: a folder on the Pier server').optional(),
    url: gitUrl.optional(),
  })
  .strict()
  .refine((s) => (s.path === undefined) !== (s.url === undefined), 'name either a path or a url');
export type InstallSource = z.infer<typeof installSourceSchema>;

/**
 * Puts a plugin into `installDir/<name>` once its manifest checks out. It is staged in a dot
 * folder there first (which discovery skips), so the final step is an atomic rename and a refused
 * install leaves nothing behind.
 */
export async function installFiles(source: InstallSource, installDir: string): Promise<PluginManifest> {
  await mkdir(installDir, { recursive: true });
  const staging = await mkdtemp(path.join(installDir, '.staging-'));
  const where = source.path ?? source.url!;
  try {
    if (source.url) await clone(source.url, staging);
    else await copyFolder(source.path!, staging);
    // A plugin is its files; its history would only take space (and a copied .git may hold credentials in its config).
    await rm(path.join(staging, '.git'), { recursive: true, force: true });
    const manifest = await readManifest(staging, where);
    const target = path.join(installDir, manifest.name);
    if (existsSync(target)) throw new PluginError(`Plugin ${manifest.name} is installed already. Uninstall it first: pier plugins:uninstall ${manifest.name}`);
    await rename(staging, target);
    return manifest;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function clone(spec: string, target: string): Promise<void> {
  const hash = spec.lastIndexOf('#');
  const [url, ref] = hash > 0 ? [spec.slice(0, hash), spec.slice(hash + 1)] : [spec, ''];
  await git(['clone', '--quiet', '--depth', '1', ...(ref ? ['--branch', ref] : []), '--', url, target]).catch((err: Error) => {
    throw new PluginError(`Could not clone ${spec}: ${err.message}. Check the URL (git clone must work from the Pier server).`);
  });
}

async function copyFolder(source: string, target: string): Promise<void> {
  const info = await stat(source).catch(() => undefined);
  if (!info?.isDirectory()) throw new PluginError(`${source} is not a folder on the Pier server. Name the plugin's folder (with its plugin.json), or a git URL.`);
  await cp(source, target, { recursive: true, filter: (p) => path.basename(p) !== '.git' });
}
