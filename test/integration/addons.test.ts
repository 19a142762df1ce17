import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import Docker from 'dockerode';
import { cliWithFile } from '../helpers/cli-io.js';
import { TestPier, emptyCommit, run, usePier } from '../helpers/test-pier.js';

/** What differs between the add-ons for the same story: the variable they set and the app's endpoint that uses it. */
const KINDS = [
  { kind: 'postgres', title: 'Postgres', variable: 'DATABASE_URL', endpoint: '/pg', wipe: 'DELETE FROM notes;\n', unknownVersion: '14', versions: '15', magic: 'PGDMP' },
  { kind: 'redis', title: 'Redis', variable: 'REDIS_URL', endpoint: '/redis', wipe: 'DEL note\n', unknownVersion: '6', versions: '7', magic: 'REDIS' },
] as const;

/** A POST through the router with the app's Host header (TestPier.get only GETs). */
function postVia(pier: TestPier, app: string, pathname: string): Promise<{ status: number; body: string }> {
  return run('curl', ['-s', '-o', '-', '-w', '%{http_code}', '-X', 'POST', '-H', `Host: ${app}.${pier.settings.domain}`, `http://127.0.0.1:${pier.settings.httpPort}${pathname}`]).then((r) => {
    const at = r.stdout.lastIndexOf('\n') + 1;
    return { status: Number(r.stdout.slice(at)), body: r.stdout.slice(0, at) };
  });
}

describe('add-on services: postgres and redis, linked to an app', function () {
  this.timeout(900_000);
  const app = 'notes';
  const docker = new Docker();
  let pier: TestPier;
  let repo: string;
  const logFile = path.join(os.tmpdir(), `pier-addons-${randomBytes(4).toString('hex')}.log`);
  const passwords: string[] = [];
  usePier('addons-app', (p, r) => ([pier, repo] = [p, r]), { logFile });
  after(() => rm(logFile, { force: true }));
  const env = async (name: string) => (JSON.parse((await pier.cli(['config', name, '--json'])).stdout) as Record<string, string>);

  describe('setting up', () => {
    it('deploys the app and creates one service of each kind (the service image is built once and cached)', async () => {
      const [pushed, ...created] = await Promise.all([pier.push(repo, app), ...KINDS.map((k) => pier.cli([`${k.kind}:create`, 'holddb']))]);
      expect(pushed.code, pushed.stderr).to.equal(0);
      for (const [i, c] of created.entries()) {
        expect(c.code, c.stderr).to.equal(0);
        expect(c.stdout).to.contain(`=====> Creating ${KINDS[i]!.title}`);
        expect(c.stdout).to.contain(`-----> ${KINDS[i]!.title} service holddb is running`);
      }
    });
  });

  for (const k of KINDS) {
    describe(k.kind, () => {
      const container = () => `${pier.settings.instance}-${k.kind}-holddb`;

      it(`refuses --version ${k.unknownVersion}, listing the versions Debian provides`, async () => {
        const r = await pier.cli([`${k.kind}:create`, 'other', '--version', k.unknownVersion]);
        expect(r.code).to.equal(1);
        expect(r.stderr).to.contain(`${k.title} ${k.unknownVersion} is not available; available versions: ${k.versions}.`);
      });

      it('runs the service unprivileged on Pier\'s network under a stable name, restarted by dockerd, its data in a named volume', async () => {
        const info = await docker.getContainer(container()).inspect();
        expect(info.Config.User).to.equal(k.kind === 'postgres' ? 'postgres' : 'redis');
        expect(info.HostConfig.CapDrop).to.deep.equal(['ALL']);
        expect(info.HostConfig.Privileged).to.equal(false);
        expect(info.HostConfig.RestartPolicy?.Name).to.equal('unless-stopped');
        expect(info.NetworkSettings.Networks[pier.settings.instance]?.Aliases).to.include(container());
        expect(info.Mounts.map((m) => m.Name)).to.include(`${container()}-data`);
      });

      it(`links to the app: ${k.variable} is set in a release named for it, and the app reaches the service`, async () => {
        const linked = await pier.cli([`${k.kind}:link`, 'holddb', app]);
        expect(linked.code, linked.stderr).to.equal(0);
        expect(linked.stdout).to.contain(`-----> Linking ${k.kind} holddb to ${app} as ${k.variable}`);
        const releases = JSON.parse((await pier.cli(['releases', app, '--json'])).stdout) as Array<{ description: string }>;
        expect(releases.map((r) => r.description)).to.include(`Attach ${k.kind} holddb`);
        expect((await pier.get(app, '/env')).body).to.contain(k.variable);
        const written = await postVia(pier, app, `${k.endpoint}?v=first`);
        expect(written, written.body).to.deep.include({ status: 200, body: 'first\n' });
      });

      it('shows the service with the password masked, unless asked', async () => {
        const masked = await pier.cli([`${k.kind}:info`, 'holddb']);
        expect(masked.code, masked.stderr).to.equal(0);
        expect(masked.stdout).to.contain(`=====> ${k.title} service holddb`);
        expect(masked.stdout).to.match(/URL: +\w+:\/\/[^@]*\*{8}@/);
        expect(masked.stdout).to.contain(`Links:   ${app} (${k.variable})`);
        const full = JSON.parse((await pier.cli([`${k.kind}:info`, 'holddb', '--show-password', '--json'])).stdout) as { url: string };
        expect(full.url).to.equal((await env(app))[k.variable]);
        passwords.push(new URL(full.url).password);
        const listed = JSON.parse((await pier.cli([`${k.kind}:list`, '--json'])).stdout) as Array<{ name: string; links: string[] }>;
        expect(listed).to.deep.include({ name: 'holddb', version: k.versions, status: 'running', links: [app] });
      });

      it("shows the service's log", async () => {
        const logs = await pier.cli([`${k.kind}:logs`, 'holddb', '--tail', '50']);
        expect(logs.code, logs.stderr).to.equal(0);
        expect(logs.stdout).to.match(/ready to accept connections/i);
      });

      it('refuses to destroy the service while it is linked', async () => {
        const r = await pier.cli([`${k.kind}:destroy`, 'holddb', '--force']);
        expect(r.code).to.equal(1);
        expect(r.stderr).to.contain(`${k.title} service holddb is linked to ${app}. Unlink it first: pier ${k.kind}:unlink holddb ${app}`);
      });
    });
  }

  // Mocha runs a suite's own tests before its nested suites: the order of the story is kept by suites alone.
  describe('the app redeployed, then the daemon restarted', () => {
    it('keeps the data across a redeploy of the app', async () => {
      await emptyCommit(repo);
      const pushed = await pier.push(repo, app);
      expect(pushed.code, pushed.stderr).to.equal(0);
      for (const k of KINDS) expect((await pier.get(app, k.endpoint)).body).to.equal('first\n');
    });

    it('keeps the services and their data across a daemon restart', async () => {
      await pier.restart();
      for (const k of KINDS) expect((await pier.get(app, k.endpoint)).body).to.equal('first\n');
    });

    it('pier cleanup leaves a stopped service alone, and linking starts it again', async () => {
      const name = `${pier.settings.instance}-postgres-holddb`;
      await docker.getContainer(name).stop();
      const cleaned = await pier.cli(['cleanup']);
      expect(cleaned.code, cleaned.stderr).to.equal(0);
      expect(cleaned.stdout).not.to.contain(name);
      expect((await docker.getContainer(name).inspect()).State.Running).to.equal(false);
      expect((await pier.cli(['apps:create', 'starter'])).code).to.equal(0);
      expect((await pier.cli(['postgres:link', 'holddb', 'starter'])).code).to.equal(0);
      expect((await pier.get(app, '/pg')).body).to.equal('first\n');
      expect((await pier.cli(['apps:destroy', 'starter', '--force'])).code).to.equal(0);
    });
  });

  describe('a second postgres service for the same app', () => {
    it('gets an alias variable, and promote swaps it with DATABASE_URL', async () => {
      expect((await pier.cli(['postgres:create', 'second'])).code).to.equal(0);
      const linked = await pier.cli(['postgres:link', 'second', app]);
      expect(linked.code, linked.stderr).to.equal(0);
      const alias = /as (DATABASE_[A-Z]+_URL)/.exec(linked.stdout)?.[1];
      expect(alias, linked.stdout).to.be.a('string');
      const before = await env(app);
      expect((await pier.get(app, '/env')).body).to.equal(['DATABASE_URL', alias, 'REDIS_URL'].sort().join(',') + '\n');

      const promoted = await pier.cli(['postgres:promote', 'second', app]);
      expect(promoted.code, promoted.stderr).to.equal(0);
      const after = await env(app);
      expect(after.DATABASE_URL).to.equal(before[alias!]);
      const holddbAlias = Object.keys(after).find((key) => key !== 'DATABASE_URL' && after[key] === before.DATABASE_URL);
      expect(holddbAlias).to.match(/^DATABASE_[A-Z]+_URL$/);
      const releases = JSON.parse((await pier.cli(['releases', app, '--json'])).stdout) as Array<{ description: string }>;
      expect(releases.map((r) => r.description)).to.include('Promote postgres second');

      expect((await pier.cli(['postgres:promote', 'holddb', app])).code).to.equal(0);
      expect((await env(app)).DATABASE_URL).to.equal(before.DATABASE_URL);
      expect((await pier.cli(['postgres:unlink', 'second', app])).code).to.equal(0);
      expect((await pier.get(app, '/pg')).body).to.equal('first\n');
    });

    it('apps:destroy of a linked app unlinks it and leaves the service', async () => {
      expect((await pier.cli(['apps:create', 'doomed'])).code).to.equal(0);
      expect((await pier.cli(['postgres:link', 'second', 'doomed'])).code).to.equal(0);
      const destroyed = await pier.cli(['apps:destroy', 'doomed', '--force']);
      expect(destroyed.code, destroyed.stderr).to.equal(0);
      const info = JSON.parse((await pier.cli(['postgres:info', 'second', '--json'])).stdout) as { status: string; links: unknown[] };
      expect(info).to.deep.include({ status: 'running', links: [] });
      expect((await pier.cli(['postgres:destroy', 'second', '--force'])).code).to.equal(0);
    });
  });

  for (const k of KINDS) {
    describe(`${k.kind}, later`, () => {
      it('exports a dump, and importing it brings back data deleted since', async () => {
        const dump = path.join(await pier.tempDir(), 'dump');
        const exported = await cliWithFile(pier, [`${k.kind}:export`, 'holddb'], '>', dump);
        expect(exported.code, exported.stderr).to.equal(0);
        // The dump's own format, byte for byte: nothing on the way decoded or re-encoded it.
        expect((await readFile(dump)).subarray(0, k.magic.length).toString('latin1')).to.equal(k.magic);
        const wiped = await pier.cli([`${k.kind}:connect`, 'holddb'], {}, k.wipe);
        expect(wiped.code, wiped.stderr).to.equal(0);
        expect((await pier.get(app, k.endpoint)).body).to.equal('\n');
        const imported = await cliWithFile(pier, [`${k.kind}:import`, 'holddb'], '<', dump);
        expect(imported.code, imported.stderr).to.equal(0);
        expect(imported.stdout).to.contain(`-----> Importing into ${k.title} service holddb`);
        expect((await pier.get(app, k.endpoint)).body).to.equal('first\n');
      });

      it(`unlinks: ${k.variable} is gone from the app, which was restarted without it`, async () => {
        const r = await pier.cli([`${k.kind}:unlink`, 'holddb', app]);
        expect(r.code, r.stderr).to.equal(0);
        expect((await pier.get(app, '/env')).body).not.to.contain(k.variable);
        const releases = JSON.parse((await pier.cli(['releases', app, '--json'])).stdout) as Array<{ description: string }>;
        expect(releases.map((rel) => rel.description)).to.include(`Detach ${k.kind} holddb`);
      });

      it('destroys the service and its volume only with --force', async () => {
        const refused = await pier.cli([`${k.kind}:destroy`, 'holddb']);
        expect(refused.code).to.equal(1);
        expect(refused.stderr).to.contain(`To go ahead: pier ${k.kind}:destroy holddb --force`);
        const destroyed = await pier.cli([`${k.kind}:destroy`, 'holddb', '--force']);
        expect(destroyed.code, destroyed.stderr).to.equal(0);
        const name = `${pier.settings.instance}-${k.kind}-holddb`;
        expect(await docker.getContainer(name).inspect().then(() => true, () => false)).to.equal(false);
        expect(await docker.getVolume(`${name}-data`).inspect().then(() => true, () => false)).to.equal(false);
      });
    });
  }

  describe('afterwards', () => {
    it('never wrote a generated password into the daemon log', async () => {
      expect(passwords).to.have.length(KINDS.length);
      const log = await readFile(logFile, 'utf8');
      expect(log.length).to.be.greaterThan(0);
      for (const password of passwords) expect(log).not.to.contain(password);
    });
  });
});
