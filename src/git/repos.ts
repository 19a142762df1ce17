import { execFile } from 'node:child_process';
import { access, mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Bare repositories, one per app, all sharing Pier's hooks directory. */
export class RepoStore {
  constructor(private readonly reposDir: string, private readonly hooksDir: string) {}

  dir(app: string): string {
    return path.join(this.reposDir, `${app}.git`);
  }

  async ensure(app: string): Promise<void> {
    const dir = this.dir(app);
    const fresh = !(await access(path.join(dir, 'HEAD')).then(() => true, () => false));
    if (fresh) {
      await mkdir(this.reposDir, { recursive: true });
      await run('git', ['init', '--quiet', '--bare', '--initial-branch=main', dir]);
      await run('git', ['--git-dir', dir, 'config', 'core.hooksPath', this.hooksDir]);
    }
  }

  /** The deployed commit (main, else master) exported as a tar, for rebuilds; undefined when nothing was pushed. */
  async archiveDeployed(app: string, target: string): Promise<string | undefined> {
    for (const branch of ['main', 'master']) {
      const commit = await run('git', ['--git-dir', this.dir(app), 'rev-parse', '--verify', '--quiet', `refs/heads/${branch}`]).then(
        (r) => r.stdout.trim(),
        () => '',
      );
      if (!commit) continue;
      await run('git', ['--git-dir', this.dir(app), 'archive', '--format=tar', '-o', target, commit]);
      return commit;
    }
    return undefined;
  }

  async rename(from: string, to: string): Promise<void> {
    await rename(this.dir(from), this.dir(to)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async remove(app: string): Promise<void> {
    await rm(this.dir(app), { recursive: true, force: true });
  }
}
