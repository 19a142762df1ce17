import { existsSync } from 'node:fs';
import { cp, readdir } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { TestPier, commitAll, emptyCommit, repoRoot } from '../helpers/test-pier.js';

const examplePlugin = path.join(repoRoot, 'plugins/example');
const fixturePlugin = (name: string) => path.join(repoRoot, 'test/fixtures/plugins', name);

/** The misbehaving fixtures and how their calls fail (their manifests lower the timeouts to 2 s). */
const misbehaving = [
  { name: 'throws', does: 'throws', failure: 'this plugin always throws' },
  { name: 'hangs', does: 'hangs', failure: 'timed out after 2s' },
  { name: 'busy-loop', does: 'busy-loops', failure: 'timed out after 2s' },
  { name: 'exits', does: 'calls process.exit', failure: 'its process exited (code 3)' },
];

describe('plugins', function () {
  this.timeout(600_000);
  const app = 'plugged';
  let pier: TestPier;
  let repo: string;
  const api = (pathname: string, opts: { anonymous?: boolean } = {}) =>
    fetch(`${pier.apiUrl}${pathname}`, { headers: opts.anonymous ? {} : { authorization: `Bearer ${pier.token}` } });
  const installedFolders = async () => (await readdir(path.join(pier.settings.home, 'plugins')).catch(() => [])).sort();

  before(async () => {
    pier = await TestPier.start();
    repo = await pier.fixtureRepo('dockerfile-app');
  });

  after(async () => {
    await pier?.close();
  });

  it('a fresh Pier lists the built-in example plugin, disabled', async () => {
    const listed = await pier.cli(['plugins']);
    expect(listed.code, listed.stderr).to.equal(0);
    expect(listed.stdout).to.contain('=====> Plugins');
    expect(listed.stdout).to.match(/example\s+1\.0\.0\s+disabled\s+built-in/);
  });

  it('the example plugin installs from its folder, enabled, and says what it registered', async () => {
    const installed = await pier.cli(['plugins:install', examplePlugin]);
    expect(installed.code, installed.stderr).to.equal(0);
    expect(installed.stdout).to.contain('-----> Installed example 1.0.0');
    expect(installed.stdout).to.contain('Commands: example:hello, example:deploys, example:shout');
    expect(installed.stdout).to.contain('Handles: post-deploy, domains-changed');
    expect(installed.stdout).to.contain('Routes: GET /api/plugins/example/routes/deploys');
    const table = await pier.cli(['plugins']);
    expect(table.stdout).to.match(/example\s+1\.0\.0\s+enabled\s+installed/);
    const listed = JSON.parse((await pier.cli(['plugins', '--json'])).stdout) as Array<Record<string, unknown>>;
    expect(listed.find((p) => p.name === 'example')).to.include({ version: '1.0.0', state: 'enabled', source: 'installed' });
  });

  it('pier example:hello runs the plugin command: its output, its exit code', async () => {
    const hello = await pier.cli(['example:hello', 'you']);
    expect(hello.code, hello.stderr).to.equal(0);
    expect(hello.stdout).to.equal('Hello, you!\n');
    const usage = await pier.cli(['example:hello']);
    expect(usage.code).to.equal(1);
    expect(usage.stderr).to.contain('Usage: pier example:hello NAME');
  });

  it("a plugin command that asks for stdin reads what is piped into pier; one that does not ignores it", async () => {
    const shout = await pier.cli(['example:shout'], {}, 'quiet please\n');
    expect(shout.code, shout.stderr).to.equal(0);
    expect(shout.stdout).to.equal('QUIET PLEASE\n');
    const hello = await pier.cli(['example:hello', 'you'], {}, 'not for hello\n');
    expect(hello.stdout).to.equal('Hello, you!\n');
  });

  it('pier help lists the plugin commands, and a mistyped one gets a suggestion', async () => {
    const help = await pier.cli(['help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.match(/example:hello \[args\.\.\.\]\s+Print a greeting/);
    expect(help.stdout).to.contain('apps:create');
    const typo = await pier.cli(['example:helo', 'you']);
    expect(typo.code).to.equal(1);
    expect(typo.stderr).to.contain("unknown command 'example:helo'").and.contain('Did you mean example:hello?');
  });

  it("a git push runs the example's post-deploy handler: the push shows it, the plugin counted it, pier logs has it", async () => {
    const pushed = await pier.push(repo, app);
    expect(pushed.code, pushed.stderr).to.equal(0);
    expect(pushed.stderr).to.contain(`remote:        example: deploy number 1 of ${app} (v1)`);
    const deploys = await pier.cli(['example:deploys', app]);
    expect(deploys.code, deploys.stderr).to.equal(0);
    expect(deploys.stdout).to.equal(`${app}: 1 deploys\n`);
    const logs = await pier.cli(['logs', app, '-p', 'example']);
    expect(logs.stdout).to.match(/pier\[example\]: counted deploy number 1 \(v1\)/);
  });

  it("the plugin's HTTP route answers below /api/plugins/example/routes, to authenticated requests only", async () => {
    expect((await api('/api/plugins/example/routes/deploys', { anonymous: true })).status).to.equal(401);
    const counts = await api('/api/plugins/example/routes/deploys');
    expect(counts.status).to.equal(200);
    expect(await counts.json()).to.deep.equal({ [app]: 1 });
    const missing = await api('/api/plugins/example/routes/nothing-here');
    expect(missing.status).to.equal(404);
    expect(((await missing.json()) as { error: string }).error).to.contain('Plugin example has no route GET /nothing-here');
  });

  it('plugins that throw, hang, busy-loop and exit install like any other', async () => {
    for (const { name } of misbehaving) {
      const installed = await pier.cli(['plugins:install', fixturePlugin(name)]);
      expect(installed.code, installed.stderr).to.equal(0);
      expect(installed.stdout).to.contain(`Installed ${name} 0.1.0`);
    }
  });

  for (const { name, does, failure } of misbehaving) {
    it(`a command of the plugin that ${does} fails with the plugin's name, and the daemon keeps serving`, async () => {
      const pid = process.pid;
      const started = Date.now();
      const result = await pier.cli([`${name}:run`]);
      expect(result.code).to.equal(1);
      expect(result.stderr).to.contain(` !     plugin "${name}" failed in command ${name}:run: ${failure}`);
      expect(Date.now() - started).to.be.below(15_000);
      // The daemon runs in this test process: that it still answers, with the same pid, is the proof it survived.
      expect(process.pid).to.equal(pid);
      expect((await api('/healthz')).ok).to.equal(true);
      const other = await pier.cli(['example:hello', 'again']);
      expect(other.stdout, other.stderr).to.equal('Hello, again!\n');
    });
  }

  it('a plugin killed for looping serves its next call from a fresh process', async () => {
    const ping = await pier.cli(['busy-loop:ping']);
    expect(ping.code, ping.stderr).to.equal(0);
    expect(ping.stdout).to.equal('pong\n');
  });

  it('a deploy succeeds anyway: each failing post-deploy handler is a warning naming its plugin, in run order', async () => {
    await emptyCommit(repo);
    const pushed = await pier.push(repo, app);
    expect(pushed.code, pushed.stderr).to.equal(0);
    const at = (text: string) => {
      expect(pushed.stderr).to.contain(text);
      return pushed.stderr.indexOf(text);
    };
    const order = [
      at('Warning: plugin "busy-loop" failed in post-deploy: timed out after 2s'),
      at(`example: deploy number 2 of ${app} (v2)`),
      at('Warning: plugin "exits" failed in post-deploy: its process exited (code 3)'),
      at('Warning: plugin "hangs" failed in post-deploy: timed out after 2s'),
      at('Warning: plugin "throws" failed in post-deploy: this plugin always throws'),
    ];
    expect(order).to.deep.equal([...order].sort((a, b) => a - b));
    expect(pushed.stderr).to.contain('Application deployed');
    expect((await pier.get(app)).status).to.equal(200);
  });

  it('the misbehaving plugins uninstall, leaving no folder behind', async () => {
    for (const { name } of misbehaving) {
      const removed = await pier.cli(['plugins:uninstall', name]);
      expect(removed.code, removed.stderr).to.equal(0);
      expect(removed.stdout).to.contain(`-----> Uninstalled ${name}`);
    }
    expect(await installedFolders()).to.deep.equal(['example']);
  });

  it('a plugin installs from a git URL, and its failing pre-build handler refuses the push while the app keeps serving', async () => {
    const source = await pier.tempDir('pier-plugin-');
    await cp(fixturePlugin('vetoes'), source, { recursive: true });
    await commitAll(source, 'vetoes plugin');
    const installed = await pier.cli(['plugins:install', `file://${source}`]);
    expect(installed.code, installed.stderr).to.equal(0);
    expect(installed.stdout).to.contain('Handles: pre-build');
    expect(existsSync(path.join(pier.settings.home, 'plugins/vetoes/.git'))).to.equal(false);

    const frozen = await pier.cli(['config:set', app, 'BUILDS_FROZEN=1']);
    expect(frozen.code, frozen.stderr).to.equal(0);
    await emptyCommit(repo);
    const refused = await pier.push(repo, app);
    expect(refused.code).to.not.equal(0);
    expect(refused.stderr).to.contain(`remote:  !     plugin "vetoes" failed in pre-build: builds of ${app} are frozen`);
    expect(refused.stderr).to.contain('the app keeps running its previous release');
    expect((await pier.get(app)).status).to.equal(200);
  });

  it("a disabled plugin's handlers and commands are gone until it is enabled again", async () => {
    const disabled = await pier.cli(['plugins:disable', 'vetoes']);
    expect(disabled.code, disabled.stderr).to.equal(0);
    expect(disabled.stdout).to.contain('-----> Disabled vetoes');
    const pushed = await pier.push(repo, app);
    expect(pushed.code, pushed.stderr).to.equal(0);

    expect((await pier.cli(['plugins:disable', 'example'])).code).to.equal(0);
    const off = await pier.cli(['example:hello', 'you']);
    expect(off.code).to.equal(1);
    expect(off.stderr).to.contain('Plugin example is disabled. Enable it: pier plugins:enable example');
    const enabled = await pier.cli(['plugins:enable', 'example']);
    expect(enabled.code, enabled.stderr).to.equal(0);
    expect(enabled.stdout).to.contain('-----> Enabled example 1.0.0');
    expect((await pier.cli(['example:hello', 'back'])).stdout).to.equal('Hello, back!\n');
  });

  it('uninstalling the installed example brings back the built-in one, which cannot be uninstalled', async () => {
    const removed = await pier.cli(['plugins:uninstall', 'example']);
    expect(removed.code, removed.stderr).to.equal(0);
    expect(removed.stdout).to.contain('Its data stays');
    expect((await pier.cli(['plugins'])).stdout).to.match(/example\s+1\.0\.0\s+disabled\s+built-in/);
    const builtIn = await pier.cli(['plugins:uninstall', 'example']);
    expect(builtIn.code).to.equal(1);
    expect(builtIn.stderr).to.contain('Plugin example is built into Pier and cannot be uninstalled. Disable it instead: pier plugins:disable example');
    expect(await installedFolders()).to.deep.equal(['vetoes']);
  });

  it('bad manifests, incompatible API versions, folders that are no plugin and plugins that fail to load are refused at install, leaving nothing behind', async () => {
    const badManifest = await pier.cli(['plugins:install', fixturePlugin('bad-manifest')]);
    expect(badManifest.code).to.equal(1);
    expect(badManifest.stderr).to.contain(`${fixturePlugin('bad-manifest')}: plugin.json is not valid: name: Plugin names are`);

    const incompatible = await pier.cli(['plugins:install', fixturePlugin('incompatible-api')]);
    expect(incompatible.code).to.equal(1);
    expect(incompatible.stderr).to.contain('the plugin needs plugin API ^2.0.0, and this Pier provides 1.2.0');

    const notAPlugin = await pier.cli(['plugins:install', path.join(repoRoot, 'test/fixtures/dockerfile-app')]);
    expect(notAPlugin.code).to.equal(1);
    expect(notAPlugin.stderr).to.contain('has no plugin.json, so it is no Pier plugin');

    const broken = await pier.cli(['plugins:install', fixturePlugin('fails-to-load')]);
    expect(broken.code).to.equal(1);
    expect(broken.stderr).to.contain('Plugin fails-to-load was not installed: a required setting is missing');

    const again = await pier.cli(['plugins:install', fixturePlugin('vetoes')]);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.contain('Plugin vetoes is installed already. Uninstall it first: pier plugins:uninstall vetoes');

    expect(await installedFolders()).to.deep.equal(['vetoes']);
    const names = (JSON.parse((await pier.cli(['plugins', '--json'])).stdout) as Array<{ name: string }>).map((p) => p.name);
    expect(names).to.deep.equal(['example', 'nginx-proxy', 'postgres', 'redis', 'vetoes']);
  });
});
