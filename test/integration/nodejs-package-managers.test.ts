import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { TestPier, commitAll, run } from '../helpers/test-pier.js';

// Each fixture names its manager in its body: its build script records the
// npm_config_user_agent of the manager that ran it.
const apps = [
  {
    fixture: 'pnpm-app',
    manager: 'pnpm 9, chosen from pnpm-lock.yaml',
    installs: /remote: -----> Installing pnpm 9\.\d+\.\d+ \(/,
    install: 'pnpm install --prod=false --frozen-lockfile (pnpm-lock.yaml)',
    builtBy: /^built by pnpm\/9\.\d+\.\d+, is-number\(5\) = true$/m,
  },
  {
    fixture: 'yarn-app',
    manager: 'Yarn 1, chosen from a Yarn 1 yarn.lock',
    installs: /remote: -----> Installing yarn 1\.\d+\.\d+ \(/,
    install: 'yarn install --production=false --non-interactive --frozen-lockfile (yarn.lock)',
    builtBy: /^built by yarn\/1\.\d+\.\d+, is-number\(5\) = true$/m,
  },
  {
    fixture: 'yarn-berry-app',
    manager: 'Yarn 4.5.0, pinned by packageManager',
    installs: /remote: -----> Installing yarn 4\.5\.0 \(/,
    install: 'yarn install --immutable (yarn.lock)',
    builtBy: /^built by yarn\/4\.5\.0, is-number\(5\) = true$/m,
  },
];

describe('installing Node.js apps with pnpm and Yarn', function () {
  this.timeout(600_000);
  let pier: TestPier;
  const repos: string[] = [];

  before(async () => {
    pier = await TestPier.start();
  });

  after(async () => {
    await pier?.close();
    for (const repo of repos) await rm(repo, { recursive: true, force: true });
  });

  for (const { fixture, manager, installs, install, builtBy } of apps) {
    describe(`${fixture} (${manager})`, () => {
      const app = fixture.replace(/-app$/, '');
      let repo: string;

      before(async () => {
        repo = await pier.fixtureRepo(fixture);
        repos.push(repo);
      });

      it('builds with that manager, and the build log says which version', async () => {
        const pushed = await pier.push(repo, app);
        expect(pushed.code, pushed.stderr).to.equal(0);
        expect(pushed.stderr).to.match(installs);
        expect(pushed.stderr).to.contain(`remote:        ${install}`);
        expect(pushed.stderr).to.contain('remote: -----> Pruning devDependencies');
      });

      it('serves the app, built by that manager, with its dependency', async () => {
        const page = await pier.get(app);
        expect(page.status).to.equal(200);
        expect(page.body).to.contain(`hello from pier-fixture-${fixture}`);
        expect(page.body).to.contain("ms('2h') = 7200000");
        expect(page.body).to.match(builtBy);
      });

      it('leaves the devDependency out of the image', async () => {
        expect((await pier.get(app)).body).to.contain('devDependency is-number: pruned');
        const { image } = JSON.parse((await pier.cli(['apps:info', app, '--json'])).stdout) as { image: string };
        const found = await run('docker', ['run', '--rm', '--entrypoint', 'find', image, '/app/node_modules', '-name', 'is-number']);
        expect(found.code, found.stderr).to.equal(0);
        expect(found.stdout).to.equal('');
      });

      /** Pushes a one-line change of server.js's greeting; the build must restore node_modules from the cache. */
      const pushGreeting = async (from: string, to: string) => {
        const server = path.join(repo, 'server.js');
        await writeFile(server, (await readFile(server, 'utf8')).replace(from, to));
        await commitAll(repo, `greeting: ${to}`);
        const pushed = await pier.push(repo, app);
        expect(pushed.code, pushed.stderr).to.equal(0);
        expect(pushed.stderr).to.contain('remote: -----> Restoring cached node_modules');
        expect((await pier.get(app)).body).to.contain(`${to} pier-fixture-${fixture}`);
        return pushed;
      };

      it('restores node_modules from the cache when a push changes one line of code', async () => {
        const pushed = await pushGreeting('hello from', 'hello again from');
        expect(pushed.stderr).to.not.contain('Installing dependencies');
        expect(pushed.stderr).to.match(/remote: -----> Installing (pnpm|yarn) [\d.]+ \(from cache\)/);
        const page = await pier.get(app);
        expect(page.body).to.match(builtBy);
        expect(page.body).to.contain('devDependency is-number: pruned');
      });

      it('rebuilds with the build container cut off from the network, from the cache alone', async () => {
        const offline = await pier.cli(['builder:set', app, 'network', 'none']);
        expect(offline.code, offline.stderr).to.equal(0);
        const pushed = await pushGreeting('hello again from', 'hello offline from');
        expect(pushed.stderr).to.contain('Building offline');
      });
    });
  }
});
