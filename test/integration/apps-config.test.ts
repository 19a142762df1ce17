import { expect } from 'chai';
import Docker from 'dockerode';
import { TestPier, emptyCommit } from '../helpers/test-pier.js';

describe('global config and renaming apps', function () {
  this.timeout(600_000);
  const docker = new Docker();
  let pier: TestPier;
  let repo: string;

  before(async () => {
    pier = await TestPier.start();
    repo = await pier.fixtureRepo('process-app');
    const pushed = await pier.push(repo, 'origin-app');
    expect(pushed.code, pushed.stderr).to.equal(0);
  });

  after(async () => {
    await pier?.close();
  });

  it('config:set --global gives every app a variable when its instances start, and the app\'s own value wins', async () => {
    const set = await pier.cli(['config:set', '--global', 'GREETING=hola']);
    expect(set.code, set.stderr).to.equal(0);
    expect(set.stdout).to.contain('every app gets them when its instances next start');
    expect((await pier.cli(['config', '--global', '--json'])).stdout).to.contain('"GREETING": "hola"');
    expect((await pier.cli(['config:get', '--global', 'GREETING'])).stdout.trim()).to.equal('hola');
    expect((await pier.cli(['ps:restart', 'origin-app'])).code).to.equal(0);
    expect((await pier.get('origin-app')).body).to.equal('hola from web.1\n');

    expect((await pier.cli(['config:set', 'origin-app', 'GREETING=salut'])).code).to.equal(0);
    expect((await pier.get('origin-app')).body).to.equal('salut from web.1\n');
    expect((await pier.cli(['config:unset', 'origin-app', 'GREETING'])).code).to.equal(0);
    expect((await pier.get('origin-app')).body).to.equal('hola from web.1\n');

    const unset = await pier.cli(['config:unset', '--global', 'GREETING']);
    expect(unset.code, unset.stderr).to.equal(0);
    expect((await pier.cli(['config', '--global', '--json'])).stdout.trim()).to.equal('{}');
    const noApp = await pier.cli(['config:set', 'GREETING=x']);
    expect(noApp.code).to.equal(1);
  });

  it('apps:rename moves the app with its releases, images, repository and instances, serving it under the new name', async () => {
    const renamed = await pier.cli(['apps:rename', 'origin-app', 'renamed-app']);
    expect(renamed.code, renamed.stderr).to.equal(0);
    expect(renamed.stdout).to.contain(`served at http://renamed-app.localhost:${pier.settings.httpPort}`);
    expect((await pier.get('renamed-app')).body).to.equal('hello from web.1\n');
    expect((await pier.get('origin-app')).status).to.equal(404);

    const label = (app: string) => [`pier.instance=${pier.settings.instance}`, `pier.app=${app}`];
    expect(await docker.listContainers({ all: true, filters: { label: label('origin-app') } })).to.have.length(0);
    expect(await docker.listImages({ filters: { reference: [`${pier.settings.instance}/app-origin-app:*`] } })).to.have.length(0);
    const releases = await pier.cli(['releases', 'renamed-app', '--json']);
    const list = JSON.parse(releases.stdout) as Array<{ version: number; image: string }>;
    expect(list.map((r) => r.version)).to.deep.equal([3, 2, 1]);
    for (const r of list) expect(r.image).to.contain('/app-renamed-app:');

    // The repository moved too: pushing to the new name deploys.
    await emptyCommit(repo);
    const pushed = await pier.push(repo, 'renamed-app');
    expect(pushed.code, pushed.stderr).to.equal(0);
    const taken = await pier.cli(['apps:rename', 'renamed-app', 'renamed-app']);
    expect(taken.code).to.equal(1);
    expect(taken.stderr).to.contain('App renamed-app already exists');
  });
});
