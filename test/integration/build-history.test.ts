import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import Docker from 'dockerode';
import type { BuildRecord } from '../../src/state/build-store.js';
import { TestPier, usePier, commitAll, run } from '../helpers/test-pier.js';

/** Follows the app's latest build log over the API until `text` appears (or the time is up). */
async function followUntil(pier: TestPier, app: string, text: string, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  let seen = '';
  while (Date.now() < deadline && !seen.includes(text)) {
    const builds = await fetch(`${pier.apiUrl}/api/apps/${app}/builds`, { headers: { authorization: `Bearer ${pier.token}` } });
    const [latest] = (await builds.json()) as BuildRecord[];
    if (latest?.status !== 'running') {
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), Math.max(0, deadline - Date.now()));
    try {
      const res = await fetch(`${pier.apiUrl}/api/apps/${app}/builds/${latest.id}/output`, {
        headers: { authorization: `Bearer ${pier.token}` },
        signal: controller.signal,
      });
      const decoder = new TextDecoder();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        seen += decoder.decode(chunk, { stream: true });
        if (seen.includes(text)) break;
      }
    } catch {
      // aborted at the deadline
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  }
  return seen;
}

/** Rewrites the fixture's package.json (description, and a heroku-prebuild script or none) and commits. */
async function commitPackage(repo: string, description: string, prebuild: string | null): Promise<void> {
  const pkgFile = path.join(repo, 'package.json');
  const pkg = JSON.parse(await readFile(pkgFile, 'utf8')) as { description: string; engines: Record<string, string>; scripts: Record<string, string> };
  pkg.description = description;
  pkg.engines.node = '>=20';
  if (prebuild) pkg.scripts['heroku-prebuild'] = prebuild;
  else delete pkg.scripts['heroku-prebuild'];
  await writeFile(pkgFile, JSON.stringify(pkg, null, 2));
  await commitAll(repo, description);
}

describe('build history', function () {
  this.timeout(300_000);
  let pier: TestPier;
  let repo: string;
  usePier('node-app', (p, r) => ([pier, repo] = [p, r]));

  const builds = async (app: string) => JSON.parse((await pier.cli(['builds', app, '--json'])).stdout) as BuildRecord[];

  it('lists builds with commit, status, duration and who, and replays a finished build log', async () => {
    const pushed = await pier.push(repo, 'history');
    expect(pushed.code, pushed.stderr).to.equal(0);
    const [build] = await builds('history');
    expect(build).to.include({ app: 'history', status: 'succeeded', createdBy: 'admin' });
    const table = await pier.cli(['builds', 'history']);
    expect(table.stdout).to.match(/^ID\s+COMMIT\s+STATUS\s+DURATION\s+BY\s+CREATED/);
    expect(table.stdout).to.contain(build!.commit.slice(0, 7));
    expect(table.stdout).to.match(/succeeded\s+\d+\.\ds\s+admin/);
    const output = await pier.cli(['builds:output', 'history']);
    expect(output.code).to.equal(0);
    expect(output.stdout).to.contain('-----> Node.js app detected');
    expect(output.stdout).to.contain('=====> Application deployed');
    const byId = await pier.cli(['builds:output', 'history', build!.id]);
    expect(byId.stdout).to.equal(output.stdout);
  });

  it('exits 1 when replaying a failed build, and names an unknown build id', async () => {
    const pkgFile = path.join(repo, 'package.json');
    const pkg = JSON.parse(await readFile(pkgFile, 'utf8')) as { engines: Record<string, string> };
    pkg.engines.node = '>=999';
    await writeFile(pkgFile, JSON.stringify(pkg, null, 2));
    await commitAll(repo, 'impossible engine');
    const failed = await pier.push(repo, 'history');
    expect(failed.code, failed.stderr).to.not.equal(0);
    const replay = await pier.cli(['builds:output', 'history']);
    expect(replay.code).to.equal(1);
    expect(replay.stdout).to.contain('>=999');
    const [latest, previous] = await builds('history');
    expect(latest!.status).to.equal('failed');
    expect(previous!.status).to.equal('succeeded');
    const unknown = await pier.cli(['builds:output', 'history', 'nosuchbuild']);
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.contain('No build nosuchbuild for history');
  });

  const slowCommit = (description: string, prebuild: string | null = 'sleep 600') => commitPackage(repo, description, prebuild);

  it('collapses pushes made while a build runs: the newest commit is built, the superseded pusher is told which won', async () => {
    await slowCommit('first', 'sleep 8');
    const first = pier.push(repo, 'history');
    expect(await followUntil(pier, 'history', 'sleep 8', 120_000)).to.contain('sleep 8');
    await slowCommit('second', 'sleep 8');
    const second = pier.push(repo, 'history');
    const deadline = Date.now() + 60_000;
    while ((await builds('history')).filter((b) => b.status === 'queued').length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    await slowCommit('third', null);
    const third = (await run('git', ['rev-parse', 'HEAD'], { cwd: repo })).stdout.trim();
    const newest = pier.push(repo, 'history');
    const superseded = await second;
    expect(superseded.code).to.not.equal(0);
    expect(superseded.stderr).to.contain(`remote:  !     Superseded by commit ${third.slice(0, 7)} pushed by admin`);
    expect((await first).code).to.equal(0);
    await newest;
    const [latest] = await builds('history');
    expect(latest).to.include({ commit: third, status: 'succeeded' });
    const statuses = (await builds('history')).slice(0, 3).map((b) => b.status);
    expect(statuses).to.deep.equal(['succeeded', 'cancelled', 'succeeded']);
  });

  it('cancels a running build: the push is refused naming who cancelled, and the previous release keeps serving', async () => {
    await slowCommit('cancel me');
    const push = pier.push(repo, 'history');
    expect(await followUntil(pier, 'history', 'sleep 600', 120_000)).to.contain('sleep 600');
    const cancel = await pier.cli(['builds:cancel', 'history']);
    expect(cancel.code, cancel.stderr).to.equal(0);
    expect(cancel.stdout).to.match(/Stopping build \w+/);
    const pushed = await push;
    expect(pushed.code).to.not.equal(0);
    expect(pushed.stderr).to.contain('remote:  !     Build cancelled by admin');
    const [latest] = await builds('history');
    expect(latest!.status).to.equal('cancelled');
    const page = await pier.get('history');
    expect(page.status).to.equal(200);
    expect(page.body).to.contain('hello from pier-fixture-node-app');
    const label = [`pier.instance=${pier.settings.instance}`, 'pier.role=build'];
    expect(await new Docker().listContainers({ all: true, filters: { label } })).to.have.length(0);
    expect((await pier.cli(['builds:cancel', 'history'])).stdout).to.contain('history has no queued or running build');
  });

  it('marks a build interrupted by a daemon restart as failed, removes its container, and tells the pusher', async () => {
    await slowCommit('interrupt me');
    const push = pier.push(repo, 'history');
    const output = await followUntil(pier, 'history', 'sleep 600', 120_000);
    expect(output, 'the build reached heroku-prebuild').to.contain('sleep 600');
    await pier.restart();
    const pushed = await push;
    expect(pushed.code).to.not.equal(0);
    expect(pushed.stderr, pushed.stderr).to.contain('remote:  !     Interrupted: the Pier daemon stopped during this build');
    const [latest] = await builds('history');
    expect(latest).to.include({ status: 'failed' });
    expect(latest!.error).to.contain('Interrupted');
    const label = [`pier.instance=${pier.settings.instance}`, 'pier.role=build'];
    const left = await new Docker().listContainers({ all: true, filters: { label } });
    expect(left, JSON.stringify(left.map((c) => [c.Labels, c.State, c.Status]))).to.have.length(0);
  });
});

describe('the build timeout', function () {
  this.timeout(300_000);
  let pier: TestPier;
  let repo: string;
  usePier('node-app', (p, r) => ([pier, repo] = [p, r]), { env: { PIER_BUILD_TIMEOUT: '20' } });

  it('stops a build that runs too long, says how to allow more time, and removes its container', async () => {
    await commitPackage(repo, 'never ends', 'sleep 600');
    const pushed = await pier.push(repo, 'slow');
    expect(pushed.code).to.not.equal(0);
    expect(pushed.stderr).to.contain('Build timed out after 0.3 min');
    expect(pushed.stderr).to.contain('PIER_BUILD_TIMEOUT');
    const label = [`pier.instance=${pier.settings.instance}`, 'pier.role=build'];
    expect(await new Docker().listContainers({ all: true, filters: { label } })).to.have.length(0);
  });
});
