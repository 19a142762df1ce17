import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import Docker from 'dockerode';
import { TestPier, usePier, commitAll, expectHardened, run, webContainer } from '../helpers/test-pier.js';

/** Sends GETs through the router from several loops until `done` resolves (bounded by `maxMs`). */
async function loadDuring<T>(pier: TestPier, app: string, done: Promise<T>, maxMs: number) {
  const statuses = new Map<number, number>();
  const bodies = new Set<string>();
  let finished = false;
  void done.finally(() => (finished = true));
  const deadline = Date.now() + maxMs;
  const loop = async () => {
    while (!finished && Date.now() < deadline) {
      try {
        const { status, body } = await pier.get(app);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        bodies.add(body.split('\n')[0]!);
      } catch (err) {
        statuses.set(-1, (statuses.get(-1) ?? 0) + 1);
        bodies.add(`transport error: ${(err as Error).message}`);
      }
    }
  };
  const [result] = await Promise.all([done, loop(), loop(), loop(), loop()]);
  return { result, statuses, bodies };
}

describe('deploying a Node.js app with git push', function () {
  this.timeout(600_000);
  const app = 'hello-node';
  let pier: TestPier;
  let repo: string;
  usePier('node-app', (p, r) => ([pier, repo] = [p, r]));

  it('creates the app from the CLI', async () => {
    const created = await pier.cli(['apps:create', app]);
    expect(created.code, created.stderr).to.equal(0);
    expect(created.stdout).to.contain(`Created ${app}`);
  });

  it('builds with the Node.js buildpack and streams the build log into git push', async () => {
    const pushed = await pier.push(repo, app);
    expect(pushed.code, pushed.stderr).to.equal(0);
    expect(pushed.stderr).to.match(/remote: -----> Node\.js app detected/);
    expect(pushed.stderr).to.match(/remote: -----> Installing node/);
    expect(pushed.stderr).to.contain(`remote:        http://${app}.localhost:${pier.settings.httpPort}`);
  });

  it('serves the app through the router, with its npm dependency', async () => {
    const page = await pier.get(app);
    expect(page.status).to.equal(200);
    expect(page.body).to.contain('hello from pier-fixture-node-app');
    expect(page.body).to.contain("ms('2h') = 7200000");
  });

  it('runs the app as a non-root, unprivileged container on Pier\'s network', async () => {
    const info = await webContainer(pier, app);
    expectHardened(info);
    expect(Object.keys(info.NetworkSettings.Networks)).to.deep.equal([pier.settings.instance]);
    expect(info.Config.Env).to.include('PORT=5000');
    expect(info.Config.Env).to.include('DYNO=web.1');
  });

  it('restarts the app with a new config var and serves it', async () => {
    const set = await pier.cli(['config:set', app, 'GREETING=bonjour']);
    expect(set.code, set.stderr).to.equal(0);
    expect(set.stdout).to.contain('Released v2');
    expect((await pier.get(app)).body).to.contain('bonjour from pier-fixture-node-app');
    const got = await pier.cli(['config:get', app, 'GREETING']);
    expect(got.stdout.trim()).to.equal('bonjour');
  });

  it('keeps serving the old release when a build fails', async () => {
    const pkg = JSON.parse(await readFile(path.join(repo, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    pkg.dependencies['pier-test-no-such-package-7f3a9c'] = '1.0.0';
    await writeFile(path.join(repo, 'package.json'), JSON.stringify(pkg, null, 2));
    await rm(path.join(repo, 'package-lock.json'));
    await commitAll(repo, 'broken dependency');
    const pushed = await pier.push(repo, app);
    expect(pushed.code, pushed.stderr).to.not.equal(0);
    expect(pushed.stderr).to.contain('remote:  !');
    expect(pushed.stderr).to.contain('pre-receive hook declined');
    expect((await pier.get(app)).body).to.contain('bonjour from pier-fixture-node-app');
    await run('git', ['reset', '-q', '--hard', 'HEAD~1'], { cwd: repo });
  });

  it('keeps serving the old release when the new one crashes at start', async () => {
    await writeFile(path.join(repo, 'server.js'), "console.error('boom: missing DATABASE_URL'); process.exit(1);\n");
    await commitAll(repo, 'crash at start');
    const pushed = await pier.push(repo, app);
    expect(pushed.code, pushed.stderr).to.not.equal(0);
    expect(pushed.stderr).to.contain('web.1 exited before it accepted connections on its port');
    expect(pushed.stderr).to.contain('boom: missing DATABASE_URL');
    expect((await pier.get(app)).body).to.contain('bonjour from pier-fixture-node-app');
    await run('git', ['reset', '-q', '--hard', 'HEAD~1'], { cwd: repo });
  });

  it('redeploys with zero failed requests under load, each body from the old or the new release', async () => {
    const server = path.join(repo, 'server.js');
    await writeFile(server, (await readFile(server, 'utf8')).replace('from pier-fixture-node-app', 'from release two'));
    await commitAll(repo, 'release two');
    const { result, statuses, bodies } = await loadDuring(pier, app, pier.push(repo, app), 300_000);
    expect(result.code, result.stderr).to.equal(0);
    expect([...statuses.keys()], JSON.stringify([...statuses])).to.deep.equal([200]);
    expect(statuses.get(200)).to.be.greaterThan(20);
    for (const body of bodies) expect(['bonjour from pier-fixture-node-app', 'bonjour from release two']).to.include(body);
    expect(bodies).to.include('bonjour from release two');
    expect((await pier.get(app)).body).to.contain('bonjour from release two');
    // The push returned at the switch; the old instance drains, then stops, in the background.
    const docker = new Docker();
    const label = [`pier.instance=${pier.settings.instance}`, `pier.app=${app}`, 'pier.process=web'];
    const deadline = Date.now() + 45_000;
    while ((await docker.listContainers({ all: true, filters: { label } })).length > 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(await docker.listContainers({ all: true, filters: { label } })).to.have.length(1);
  });

  it('keeps the app running and routed across a daemon restart', async () => {
    const docker = new Docker();
    const { release } = JSON.parse((await pier.cli(['apps:info', app, '--json'])).stdout) as { release: number };
    // The current release's instance; the previous one may still be draining.
    const label = [`pier.instance=${pier.settings.instance}`, `pier.app=${app}`, 'pier.process=web', `pier.release=${release}`];
    const before = (await docker.listContainers({ filters: { label } })).map((c) => c.Id);
    expect(before).to.have.length(1);
    await pier.restart();
    expect((await docker.listContainers({ filters: { label } })).map((c) => c.Id)).to.deep.equal(before);
    const page = await pier.get(app);
    expect(page.status).to.equal(200);
    expect(page.body).to.contain('bonjour from release two');
  });

  it('destroys the app with its containers, images and repository', async () => {
    const refused = await pier.cli(['apps:destroy', app]);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain('--force');
    const destroyed = await pier.cli(['apps:destroy', app, '--force']);
    expect(destroyed.code, destroyed.stderr).to.equal(0);
    const docker = new Docker();
    const label = [`pier.instance=${pier.settings.instance}`, `pier.app=${app}`];
    expect(await docker.listContainers({ all: true, filters: { label } })).to.have.length(0);
    expect(await docker.listImages({ filters: { label } })).to.have.length(0);
    expect((await run('ls', [pier.settings.reposDir])).stdout).to.not.contain(app);
    expect((await pier.get(app)).status).to.equal(404);
  });
});
