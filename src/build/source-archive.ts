import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MAX_FILE_BYTES = 1024 * 1024;

/** The member names of a tar archive, as stored (git archive writes "name", tar -C dir . writes "./name"). */
export async function listArchive(tar: string): Promise<string[]> {
  const { stdout } = await run('tar', ['-tf', tar], { maxBuffer: 64 * 1024 * 1024 });
  return stdout.split('\n').filter(Boolean);
}

/** The stored name of the file `name` at the archive's root, if it has one. */
export function rootMember(members: string[], name: string): string | undefined {
  return members.find((m) => m === name || m === `./${name}`);
}

/** A small text file at the archive's root (Dockerfile, Procfile, .buildpacks), if it has one. */
export async function readArchiveFile(tar: string, members: string[], name: string): Promise<string | undefined> {
  const member = rootMember(members, name);
  if (!member) return undefined;
  const { stdout } = await run('tar', ['-xOf', tar, member], { maxBuffer: MAX_FILE_BYTES });
  return stdout;
}

/**
 * Turns an uploaded archive (tar, optionally gzip/bzip2/xz compressed) into a plain tar of the app's
 * root. An archive whose only entry is one folder (as release tarballs are) is unwrapped.
 */
export async function normalizeArchive(input: string, output: string, workDir: string): Promise<void> {
  const dir = await mkdtemp(path.join(workDir, 'archive-'));
  try {
    // GNU tar refuses members that climb out with "..", and defers symlinks until the end so none can be written through.
    await run('tar', ['-xf', input, '-C', dir, '--no-same-owner', '--no-same-permissions'], { maxBuffer: 16 * 1024 * 1024 }).catch(
      (err: { stderr?: string }) => {
        throw new Error(`the archive could not be unpacked: ${(err.stderr ?? '').trim().split('\n').pop() || 'not a tar archive'}. Upload a .tar, .tar.gz, .tar.bz2 or .tar.xz file.`);
      },
    );
    let root = dir;
    const entries = await readdir(dir);
    if (entries.length === 0) throw new Error('the archive is empty. It must hold the app\'s source files.');
    if (entries.length === 1 && (await stat(path.join(dir, entries[0]!))).isDirectory()) root = path.join(dir, entries[0]!);
    await run('tar', ['-cf', output, '-C', root, '.']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
