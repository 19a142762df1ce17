import { execFile } from 'node:child_process';
import { access, mkdir, rm } from 'node:fs/promises';
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

  async remove(app: string): Promise<void> {
    await rm(this.dir(app), { recursive: true, force: true });
  }
}
