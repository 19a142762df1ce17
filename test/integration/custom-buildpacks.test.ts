import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { TestPier, commitAll, emptyCommit, run } from '../helpers/test-pier.js';

/** Writes a buildpack into a new git repository: bin/detect, bin/compile and bin/release from the given bodies. */
async function buildpackRepo(pier: TestPier, name: string, compile: string, release = 'echo "--- {}"'): Promise<string> {
  const dir = await pier.tempDir(`pier-bp-${name}-`);
  await mkdir(path.join(dir, 'bin'));
  const scripts: Record<string, string> = { detect: `echo ${name}`, compile, release };
  for (const [script, body] of Object.entries(scripts)) {
    const file = path.join(dir, 'bin', script);
    await writeFile(file, `#!/usr/bin/env bash\nset -euo pipefail\n${body}\n`);
    await chmod(file, 0o755);
  }
  await commitAll(dir, 'v1');
  return dir;
}

describe('custom buildpacks from git URLs', function () {
  this.timeout(600_000);
  let pier: TestPier;

  before(async () => {
    pier = await TestPier.start();
  });

  after(async () => {
    await pier?.close();
  });

  /** An app with no language files: only a Procfile that serves /app, so what buildpacks wrote is visible. */
  const appRepo = async (extra: Record<string, string> = {}) => {
    const dir = await pier.tempDir('pier-custom-app-');
    await writeFile(path.join(dir, 'Procfile'), 'web: cd /app/public && exec python3 -m http.server "$PORT"\n');
    for (const [file, text] of Object.entries(extra)) await writeFile(path.join(dir, file), text);
    await commitAll(dir, 'app');
    return dir;
  };

  it('builds with BUILDPACK_URL pointing at a local git repository, pinned to a tag', async () => {
    const bp = await buildpackRepo(pier, 'greeter', 'mkdir -p "$1/public" && echo "built by greeter v1" > "$1/public/index.html"');
    await run('git', ['tag', 'v1'], { cwd: bp });
    await writeFile(path.join(bp, 'bin/compile'), '#!/usr/bin/env bash\nmkdir -p "$1/public" && echo "built by greeter v2" > "$1/public/index.html"\n');
    await commitAll(bp, 'v2');
    const repo = await appRepo();
    expect((await pier.cli(['apps:create', 'pinned'])).code).to.equal(0);
    expect((await pier.cli(['config:set', 'pinned', `BUILDPACK_URL=file://${bp}#v1`])).code).to.equal(0);
    const pushed = await pier.push(repo, 'pinned');
    expect(pushed.code, pushed.stderr).to.equal(0);
    expect(pushed.stderr).to.contain('remote: -----> Using the buildpack from BUILDPACK_URL');
    expect(pushed.stderr).to.contain(`file://${bp} at v1`);
    expect(pushed.stderr).to.contain('remote: -----> greeter app detected');
    expect((await pier.get('pinned')).body).to.equal('built by greeter v1\n');

    expect((await pier.cli(['config:set', 'pinned', `BUILDPACK_URL=file://${bp}`])).code).to.equal(0);
    await emptyCommit(repo);
    const latest = await pier.push(repo, 'pinned');
    expect(latest.code, latest.stderr).to.equal(0);
    expect((await pier.get('pinned')).body).to.equal('built by greeter v2\n');
  });

  it('runs the buildpacks of .buildpacks in order, sourcing each one\'s export before the next compiles', async () => {
    const first = await buildpackRepo(pier, 'first', 'echo "export FIRST_SAYS=\'hello from the first buildpack\'" > "$(dirname "$0")/../export"');
    const second = await buildpackRepo(
      pier,
      'second',
      'mkdir -p "$1/public" && echo "$FIRST_SAYS, then the second" > "$1/public/index.html"',
      'printf -- "---\\ndefault_process_types:\\n  worker: sleep infinity\\n"',
    );
    const repo = await appRepo({ '.buildpacks': `# one per line\nfile://${first}\n\nfile://${second}\n` });
    const pushed = await pier.push(repo, 'multi');
    expect(pushed.code, pushed.stderr).to.equal(0);
    expect(pushed.stderr).to.contain(`Using the buildpacks listed in .buildpacks: file://${first}, file://${second}`);
    expect(pushed.stderr).to.contain('Procfile declares types -> worker, web');
    expect((await pier.get('multi')).body).to.equal('hello from the first buildpack, then the second\n');
  });

  it('fails with a clear message for a buildpack that cannot be fetched, a bad #ref, or one that does not apply, and keeps serving', async () => {
    const bp = await buildpackRepo(pier, 'picky', 'true');
    await writeFile(path.join(bp, 'bin/detect'), '#!/usr/bin/env bash\nexit 1\n');
    await commitAll(bp, 'never applies');
    const repo = await appRepo();
    const cases: Array<[string, string]> = [
      [`file://${bp}-missing`, `could not fetch the buildpack file://${bp}-missing`],
      [`file://${bp}#no-such-tag`, `the buildpack file://${bp} has no branch, tag or commit "no-such-tag"`],
      [`file://${bp}`, `the buildpack file://${bp} does not apply to this app (its bin/detect said no)`],
      ['not a url', '"not a url" is not a buildpack: use a built-in one (nodejs'],
    ];
    for (const [url, message] of cases) {
      expect((await pier.cli(['config:set', 'pinned', `BUILDPACK_URL=${url}`])).code).to.equal(0);
      await emptyCommit(repo, url);
      const pushed = await pier.push(repo, 'pinned');
      expect(pushed.code, url).to.not.equal(0);
      expect(pushed.stderr, url).to.contain(message);
      expect((await pier.get('pinned')).body).to.equal('built by greeter v2\n');
    }
  });
});
