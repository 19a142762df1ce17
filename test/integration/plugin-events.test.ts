import path from 'node:path';
import { expect } from 'chai';
import { TestPier, emptyCommit, repoRoot, usePier } from '../helpers/test-pier.js';

const observer = path.join(repoRoot, 'test/fixtures/plugins/observer');
const examplePlugin = path.join(repoRoot, 'plugins/example');

describe('plugin events: each lifecycle event is emitted by the operation that causes it, in the documented order', function () {
  this.timeout(600_000);
  const app = 'observed';
  let pier: TestPier;
  let repo: string;
  usePier('dockerfile-app', (p, r) => ([pier, repo] = [p, r]));

  /** Runs the CLI, which must succeed, and returns what the observer heard meanwhile. */
  const heard = async (...args: string[]) => {
    const r = await pier.cli(args);
    expect(r.code, r.stderr).to.equal(0);
    const events = await pier.cli(['observer:heard']);
    expect(events.code, events.stderr).to.equal(0);
    return events.stdout.split('\n').filter((line) => line !== '');
  };
  const push = async () => {
    const pushed = await pier.push(repo, app);
    expect(pushed.code, pushed.stderr).to.equal(0);
    return (await pier.cli(['observer:heard'])).stdout.split('\n').filter((line) => line !== '');
  };

  before(async () => {
    for (const plugin of [observer, examplePlugin]) {
      const installed = await pier.cli(['plugins:install', plugin]);
      expect(installed.code, installed.stderr).to.equal(0);
    }
  });

  it('apps:create emits app-created', async () => {
    expect(await heard('apps:create', app)).to.deep.equal([`app-created {"app":"${app}"}`]);
  });

  it('a push emits pre-build, post-build, pre-release and post-deploy, in that order', async () => {
    const events = await push();
    expect(events.map((e) => e.split(' ')[0])).to.deep.equal(['pre-build', 'post-build', 'pre-release', 'post-deploy']);
    expect(events[0]).to.equal(`pre-build {"app":"${app}","origin":"git"}`);
    expect(events[3]).to.match(new RegExp(`^post-deploy \\{"app":"${app}","version":1,"description":"Deploy [0-9a-f]+"\\}$`));
  });

  it('config:set releases the app, then emits config-changed with the keys it set', async () => {
    expect(await heard('config:set', app, 'COLOUR=blue')).to.deep.equal([
      `pre-release {"app":"${app}","description":"Set COLOUR"}`,
      `post-deploy {"app":"${app}","version":2,"description":"Set COLOUR"}`,
      `config-changed {"app":"${app}","set":["COLOUR"],"unset":[]}`,
    ]);
  });

  it('config:set --global and config:unset --global emit config-changed with app null, and release no app', async () => {
    expect(await heard('config:set', '--global', 'REGION=eu')).to.deep.equal(['config-changed {"app":null,"set":["REGION"],"unset":[]}']);
    expect(await heard('config:unset', '--global', 'REGION')).to.deep.equal(['config-changed {"app":null,"set":[],"unset":["REGION"]}']);
  });

  it('domains:add and domains:remove emit domains-changed with the domains after the change and what changed', async () => {
    expect(await heard('domains:add', app, 'www.observed.test', 'api.observed.test')).to.deep.equal([
      `domains-changed {"app":"${app}","domains":["api.observed.test","www.observed.test"],"added":["api.observed.test","www.observed.test"],"removed":[]}`,
    ]);
    expect(await heard('domains:remove', app, 'api.observed.test')).to.deep.equal([
      `domains-changed {"app":"${app}","domains":["www.observed.test"],"added":[],"removed":["api.observed.test"]}`,
    ]);
  });

  it("the example plugin's domains-changed handler writes the change into the app's log", async () => {
    const logs = await pier.cli(['logs', app, '-p', 'example']);
    expect(logs.stdout).to.contain('pier[example]: domains now api.observed.test, www.observed.test (+api.observed.test +www.observed.test)');
    expect(logs.stdout).to.contain('pier[example]: domains now www.observed.test (-api.observed.test)');
  });

  it('domains:add of a domain another app owns emits nothing, as nothing changed', async () => {
    expect((await pier.cli(['apps:create', 'owner'])).code).to.equal(0);
    expect((await pier.cli(['domains:add', 'owner', 'taken.observed.test'])).code).to.equal(0);
    await pier.cli(['observer:heard']);
    const refused = await pier.cli(['domains:add', app, 'taken.observed.test']);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain('taken.observed.test already belongs to app owner');
    expect((await pier.cli(['observer:heard'])).stdout).to.equal('');
  });

  it('domains:set-global emits domains-changed with app null, the new global domain added and the old one removed', async () => {
    const { domain } = pier.settings;
    expect(await heard('domains:set-global', 'elsewhere.test')).to.deep.equal([
      `domains-changed {"app":null,"domains":["elsewhere.test"],"added":["elsewhere.test"],"removed":["${domain}"]}`,
    ]);
    expect(await heard('domains:set-global', domain)).to.deep.equal([
      `domains-changed {"app":null,"domains":["${domain}"],"added":["${domain}"],"removed":["elsewhere.test"]}`,
    ]);
  });

  it('a rollback releases the earlier config, then emits config-changed with the keys it took back', async () => {
    expect(await heard('rollback', app, 'v1')).to.deep.equal([
      `pre-release {"app":"${app}","description":"Rollback to v1"}`,
      `post-deploy {"app":"${app}","version":3,"description":"Rollback to v1"}`,
      `config-changed {"app":"${app}","set":[],"unset":["COLOUR"]}`,
    ]);
  });

  it('apps:rename emits app-renamed once the app serves under its new name; apps:destroy emits app-destroyed', async () => {
    expect(await heard('apps:rename', app, 'watched')).to.deep.equal([`app-renamed {"from":"${app}","to":"watched"}`]);
    expect((await pier.get('watched')).status).to.equal(200);
    expect(await heard('apps:destroy', 'watched', '--force')).to.deep.equal(['app-destroyed {"app":"watched"}']);
  });

  it('a push to an app that does not exist creates it: app-created comes before the build events', async () => {
    await emptyCommit(repo);
    const events = await push();
    expect(events.map((e) => e.split(' ')[0])).to.deep.equal(['app-created', 'pre-build', 'post-build', 'pre-release', 'post-deploy']);
  });
});
