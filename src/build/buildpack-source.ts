import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { BuildError } from './builder.js';

const run = promisify(execFile);
const GIT_TIMEOUT_MS = 120_000;

/** Built-in buildpacks in detection order: the first whose bin/detect claims the app builds it. */
export const DETECT_ORDER = ['nodejs', 'python', 'static', 'procfile'];

/** A buildpack as the user names it: a built-in's name (heroku/ prefix allowed) or a git URL with an optional #ref. */
export type BuildpackRef = { builtin: string } | { url: string; ref?: string };

export const gitUrl = z
  .string()
  .regex(/^(https?:\/\/|file:\/\/|ssh:\/\/|git:\/\/|[\w.-]+@[\w.-]+:)\S+$/, 'a git URL (https://, file://, ssh:// or user@host:path), optionally with #ref');

export function parseBuildpackRef(entry: string, builtins: string[]): BuildpackRef {
  const trimmed = entry.trim();
  const name = trimmed.replace(/^(heroku|heroku-community)\//, '');
  if (builtins.includes(name)) return { builtin: name };
  const checked = gitUrl.safeParse(trimmed);
  if (!checked.success) {
    throw new BuildError(`"${trimmed}" is not a buildpack: use a built-in one (${builtins.join(', ')}) or ${checked.error.issues[0]!.message}.`);
  }
  const hash = trimmed.lastIndexOf('#');
  return hash > 0 ? { url: trimmed.slice(0, hash), ref: trimmed.slice(hash + 1) || undefined } : { url: trimmed };
}

/** Lines of a .buildpacks file: one buildpack each; blank lines and # comments ignored. */
export function parseBuildpacksFile(text: string, builtins: string[]): BuildpackRef[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => parseBuildpackRef(l, builtins));
}

export function describeRef(ref: BuildpackRef): string {
  return 'builtin' in ref ? ref.builtin : `${ref.url}${ref.ref ? `#${ref.ref}` : ''}`;
}

export async function builtinBuildpacks(dir: string): Promise<string[]> {
  const present = new Set(await readdir(dir));
  const ordered = DETECT_ORDER.filter((n) => present.has(n));
  return [...ordered, ...[...present].filter((n) => !ordered.includes(n)).sort()];
}

/**
 * Custom buildpacks come from git. Each URL is mirrored once under `cacheDir` and refreshed
 * before every build that uses it (a failed refresh falls back to the mirror, so builds work
 * offline); the wanted revision is then exported into a folder of the build's own.
 */
export class BuildpackFetcher {
  constructor(private readonly cacheDir: string) {}

  async fetch(url: string, ref: string | undefined, target: string, log: (line: string) => void): Promise<void> {
    const mirror = path.join(this.cacheDir, createHash('sha256').update(url).digest('hex').slice(0, 24));
    if (!existsSync(mirror)) {
      await mkdir(this.cacheDir, { recursive: true });
      const tmp = `${mirror}.tmp-${process.pid}-${Date.now()}`;
      await git(['clone', '--quiet', '--mirror', '--', url, tmp]).catch(async (err: Error) => {
        await rm(tmp, { recursive: true, force: true });
        throw new BuildError(`could not fetch the buildpack ${url}: ${err.message}. Check the URL (git clone must work from the Pier host).`);
      });
      await rename(tmp, mirror).catch(() => rm(tmp, { recursive: true, force: true }));
    } else {
      await git(['--git-dir', mirror, 'remote', 'update', '--prune']).catch((err: Error) =>
        log(` !     Could not refresh the buildpack ${url} (${err.message}); using the copy fetched earlier.`),
      );
    }
    const rev = ref ?? 'HEAD';
    const commit = await git(['--git-dir', mirror, 'rev-parse', '--verify', '--quiet', `${rev}^{commit}`]).catch(() => {
      throw new BuildError(`the buildpack ${url} has no branch, tag or commit "${rev}". Fix the #ref in BUILDPACK_URL or .buildpacks.`);
    });
    await mkdir(target, { recursive: true });
    await run('sh', ['-c', 'git --git-dir "$1" archive "$2" | tar -x -C "$3"', 'sh', mirror, commit, target]);
    log(`       ${url} at ${rev === 'HEAD' ? 'its default branch' : rev} (${commit.slice(0, 7)})`);
  }
}

/** Runs git with a timeout and no prompts; a failure's message is git's last line of stderr. */
export async function git(args: string[]): Promise<string> {
  try {
    const { stdout } = await run('git', args, { timeout: GIT_TIMEOUT_MS, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
    return stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; killed?: boolean; message: string };
    if (e.killed) throw new Error(`git timed out after ${GIT_TIMEOUT_MS / 1000}s`);
    throw new Error((e.stderr ?? '').trim().split('\n').pop() || e.message);
  }
}
