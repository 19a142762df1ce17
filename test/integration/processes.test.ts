import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import Docker from 'dockerode';
import type { ProcessReport } from '../../src/release/process-service.js';
import { waitFor } from '../helpers/http.js';
import { TestPier, usePier, commitAll } from '../helpers/test-pier.js';

describe('process types, scaling, health checks, the release phase and rollback', function () {
  this.timeout(600_000);
  const app = 'procs';
  const docker = new Docker();
  let pier: TestPier;
  let repo: string;
  usePier('process-app', (p, r) => ([pier, repo] = [p, r]), { env: { PIER_KEEP_RELEASES: '3' } });

  const ps = async () => JSON.parse((await pier.cli(['ps', app, '--json'])).stdout) as ProcessReport;
  const running = async () => (await ps()).instances.filter((i) => i.state === 'running').map((i) => `${i.name}@v${i.release}`).sort();
  /** The dynos that answer across `n` requests through the router. */
  const answering = async (n: number) => {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) seen.add((await pier.get(app)).body.trim());
    return [...seen].sort();
  };

  it('runs the release phase, passes the app.json check, then serves web.1; the worker type waits to be scaled', async () => {
    const pushed = await pier.push(repo, app);
    expect(pushed.code, pushed.stderr).to.equal(0);
    expect(pushed.stderr).to.contain('Running the release command: python3 release.py');
    expect(pushed.stderr).to.contain('release phase for hello');
    expect(pushed.stderr).to.contain('web.1 accept connections and pass 1 app.json check(s)');
    expect(pushed.stderr).to.contain('Running the postdeploy script: echo "postdeploy ran for $DYNO"');
    expect(pushed.stderr).to.contain('postdeploy ran for run.1');
    expect((await pier.get(app)).body).to.equal('hello from web.1\n');
    expect(await running()).to.deep.equal(['web.1@v1']);
    expect((await ps()).formation).to.deep.equal({ web: 1, worker: 0 });
  });

  it('scales web and worker up, spreads requests over every web instance, then scales down', async () => {
    const up = await pier.cli(['ps:scale', app, 'web=3', 'worker=1']);
    expect(up.code, up.stderr).to.equal(0);
    expect(up.stdout).to.contain('Formation: web=3 worker=1');
    expect(await running()).to.deep.equal(['web.1@v1', 'web.2@v1', 'web.3@v1', 'worker.1@v1']);
    expect(await answering(12)).to.deep.equal(['hello from web.1', 'hello from web.2', 'hello from web.3']);
    const table = await pier.cli(['ps', app]);
    expect(table.stdout).to.match(/worker\.1\s+running\s+\S+\s+v1\s+0/);

    const down = await pier.cli(['ps:scale', app, 'web=1', 'worker=0']);
    expect(down.code, down.stderr).to.equal(0);
    expect(await answering(6)).to.deep.equal(['hello from web.1']);
    await waitFor(running, (r) => r.length === 1, 'web.1 alone', 60_000);
  });

  it('refuses to scale a process type the app does not have, naming the ones it has', async () => {
    const bad = await pier.cli(['ps:scale', app, 'clock=1']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.contain(`${app} has no process type clock. Its types are: web, worker.`);
    const malformed = await pier.cli(['ps:scale', app, 'web']);
    expect(malformed.code).to.equal(1);
    expect(malformed.stderr).to.contain('"web" is not TYPE=COUNT');
  });

  it('keeps the old release serving when the new one fails its health check, and shows why', async () => {
    const sick = await pier.cli(['config:set', app, 'SICK=1']);
    expect(sick.code).to.equal(1);
    expect(sick.stderr).to.contain('web.1 failed the check "health endpoint" (GET /health) 2 time(s): answered without "ok"');
    expect(sick.stderr).to.contain('web listening on');
    expect((await pier.get(app)).body).to.equal('hello from web.1\n');
    const releases = await pier.cli(['releases', app]);
    expect(releases.stdout).to.match(/v2\s+Set SICK \(failed\)/);
    expect((await pier.cli(['config:unset', app, 'SICK'])).code).to.equal(0);
  });

  it('aborts a deploy whose release phase fails, before any instance of it starts', async () => {
    const failing = await pier.cli(['config:set', app, 'FAIL_RELEASE=1']);
    expect(failing.code).to.equal(1);
    expect(failing.stderr).to.contain('The release command failed (exit 1); no instance of v4 was started, the previous release keeps serving.');
    expect((await pier.get(app)).body).to.equal('hello from web.1\n');
    expect(await running()).to.deep.equal(['web.1@v3']);
    expect((await pier.cli(['config:unset', app, 'FAIL_RELEASE'])).code).to.equal(0);
  });

  it('rolls back to an earlier release, its image and its config, without a build, and lists it', async () => {
    expect((await pier.cli(['config:set', app, 'GREETING=bonjour'])).code).to.equal(0);
    expect((await pier.get(app)).body).to.equal('bonjour from web.1\n');
    const rolled = await pier.cli(['rollback', app]);
    expect(rolled.code, rolled.stderr).to.equal(0);
    expect(rolled.stdout).to.match(/Released v\d+/);
    expect((await pier.get(app)).body).to.equal('hello from web.1\n');
    expect((await pier.cli(['config:get', app, 'GREETING'])).code, 'the config came back with the release').to.equal(1);
    const releases = await pier.cli(['releases', app]);
    expect(releases.stdout).to.match(/Rollback to v\d+\s+admin/);
    expect(releases.stdout).to.contain('Deploy ');
  });

  it('refuses to roll back to a release whose image was pruned, naming the oldest one it can restore', async () => {
    const server = path.join(repo, 'web.py');
    for (const word of ['hi', 'hey', 'yo']) {
      await writeFile(server, (await readFile(server, 'utf8')).replace(/"GREETING", "\w+"/, `"GREETING", "${word}"`));
      await commitAll(repo, word);
      const pushed = await pier.push(repo, app);
      expect(pushed.code, pushed.stderr).to.equal(0);
    }
    expect((await pier.get(app)).body).to.equal('yo from web.1\n');
    const refused = await pier.cli(['rollback', app, 'v1']);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.match(/The image of v1 was pruned .*The oldest release you can roll back to is v\d+\./);
    const missing = await pier.cli(['rollback', app, 'v999']);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain(`${app} has no release v999`);
  });

  it('replaces a web instance killed with SIGKILL and one removed behind its back, and routes to the new ones', async () => {
    const web = async () => (await ps()).instances.find((i) => i.name === 'web.1' && i.state === 'running');
    const first = (await web())!;
    await docker.getContainer(first.id).kill({ signal: 'SIGKILL' });
    await waitFor(async () => (await pier.get(app)).status, (s) => s === 200, 'the app to serve again after kill -9', 60_000);
    const after = await waitFor(web, (i) => i !== undefined && i.startedAt !== first.startedAt, 'web.1 running again', 60_000);
    expect(after!.name).to.equal('web.1');

    await docker.getContainer(after!.id).remove({ force: true });
    const replaced = await waitFor(web, (i) => i !== undefined && i.id !== after!.id, 'a new web.1', 60_000);
    expect(replaced!.state).to.equal('running');
    await waitFor(async () => (await pier.get(app)).body, (b) => b === 'yo from web.1\n', 'the new web.1 to be routed', 30_000);
  });

  it('ps:stop stops the app (503) until ps:start, and ps:restart replaces instances without downtime', async () => {
    const stopped = await pier.cli(['ps:stop', app]);
    expect(stopped.code, stopped.stderr).to.equal(0);
    expect((await pier.get(app)).status).to.equal(503);
    expect((await ps()).stopped).to.deep.equal(['*']);
    // The reconciler must leave a stopped app alone.
    await new Promise((r) => setTimeout(r, 6000));
    expect(await running()).to.deep.equal([]);
    expect((await pier.cli(['ps:start', app])).code).to.equal(0);
    expect((await pier.get(app)).body).to.equal('yo from web.1\n');

    const before = (await ps()).instances.map((i) => i.id);
    const restarted = await pier.cli(['ps:restart', app]);
    expect(restarted.code, restarted.stderr).to.equal(0);
    const now = (await ps()).instances.filter((i) => i.state === 'running').map((i) => i.id);
    expect(now.some((id) => before.includes(id)), 'every running instance is new').to.equal(false);
    expect((await pier.get(app)).body).to.equal('yo from web.1\n');
  });

  it('ps:rebuild builds the last pushed commit again and deploys it', async () => {
    const before = JSON.parse((await pier.cli(['releases', app, '--json'])).stdout) as Array<{ version: number; description: string }>;
    const rebuilt = await pier.cli(['ps:rebuild', app]);
    expect(rebuilt.code, rebuilt.stderr + rebuilt.stdout).to.equal(0);
    expect(rebuilt.stdout).to.contain(`=====> Rebuilding ${app}`);
    expect(rebuilt.stdout).to.match(/-----> Building procs from commit [0-9a-f]{7}/);
    const after = JSON.parse((await pier.cli(['releases', app, '--json'])).stdout) as Array<{ version: number; description: string }>;
    expect(after[0]!.version).to.equal(before[0]!.version + 1);
    expect(after[0]!.description).to.match(/^Deploy [0-9a-f]{7}$/);
    expect((await pier.get(app)).body).to.equal('yo from web.1\n');
    const none = await pier.cli(['ps:rebuild']);
    expect(none.code).to.equal(1);
    expect(none.stderr).to.contain('pier ps:rebuild --all');
  });
});
