import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { TestPier, usePier, commitAll, run } from '../helpers/test-pier.js';

describe('the build cache', function () {
  this.timeout(600_000);
  const app = 'offline';
  let pier: TestPier;
  let repo: string;
  usePier('node-app', (p, r) => ([pier, repo] = [p, r]));

  it('rebuilds an app whose lockfile is unchanged with the build container cut off from the network', async () => {
    const first = await pier.push(repo, app);
    expect(first.code, first.stderr).to.equal(0);
    const offline = await pier.cli(['builder:set', app, 'network', 'none']);
    expect(offline.code, offline.stderr).to.equal(0);
    expect(offline.stdout).to.contain('Network:     none');

    const server = path.join(repo, 'server.js');
    await writeFile(server, (await readFile(server, 'utf8')).replace('from pier-fixture-node-app', 'from an offline build'));
    await commitAll(repo, 'one-line change');
    const rebuilt = await pier.push(repo, app);
    expect(rebuilt.code, rebuilt.stderr).to.equal(0);
    expect(rebuilt.stderr).to.contain('Building offline (builder network: none)');
    expect(rebuilt.stderr).to.contain('Restoring cached node_modules');
    expect((await pier.get(app)).body).to.contain('hello from an offline build');
  });

  it('proves the network really was cut: a build that needs a new dependency fails offline and the app keeps serving', async () => {
    const pkgFile = path.join(repo, 'package.json');
    const pkg = JSON.parse(await readFile(pkgFile, 'utf8')) as { dependencies: Record<string, string> };
    pkg.dependencies['is-number'] = '7.0.0';
    await writeFile(pkgFile, JSON.stringify(pkg, null, 2));
    await rm(path.join(repo, 'package-lock.json'));
    await commitAll(repo, 'new dependency');
    const pushed = await pier.push(repo, app);
    expect(pushed.code).to.not.equal(0);
    expect(pushed.stderr, pushed.stderr).to.contain('npm install failed');
    expect((await pier.get(app)).body).to.contain('hello from an offline build');
    await run('git', ['reset', '-q', '--hard', 'HEAD~1'], { cwd: repo });

    expect((await pier.cli(['builder:set', app, 'network', 'bridge'])).code).to.equal(0);
    const report = JSON.parse((await pier.cli(['builder:report', app, '--json'])).stdout) as { network?: string };
    expect(report.network).to.equal(undefined);
  });
});
