import { expect } from 'chai';
import { TestPier } from '../helpers/test-pier.js';

describe('the pier CLI over the HTTP API', function () {
  this.timeout(120_000);
  let pier: TestPier;

  before(async () => {
    pier = await TestPier.start();
  });

  after(async () => {
    await pier?.close();
  });

  it('creates an app and lists it, as a table and as JSON', async () => {
    const created = await pier.cli(['apps:create', 'shop']);
    expect(created.code, created.stderr).to.equal(0);
    const table = await pier.cli(['apps:list']);
    expect(table.stdout).to.match(/^NAME\s+RELEASE\s+CREATED/);
    expect(table.stdout).to.match(/\nshop\s+-\s+/);
    const json = JSON.parse((await pier.cli(['apps:list', '--json'])).stdout) as Array<{ name: string; currentRelease: number }>;
    expect(json.find((a) => a.name === 'shop')).to.include({ currentRelease: 0 });
  });

  it('shows app info with its URL, as text and as JSON', async () => {
    const info = await pier.cli(['apps:info', 'shop']);
    expect(info.stdout).to.contain(`http://shop.localhost:${pier.settings.httpPort}`);
    expect(info.stdout).to.contain('not deployed');
    const json = JSON.parse((await pier.cli(['apps:info', 'shop', '--json'])).stdout) as { name: string; instances: unknown[] };
    expect(json).to.include({ name: 'shop' });
    expect(json.instances).to.deep.equal([]);
  });

  it('refuses an invalid app name with the rule and a non-zero exit', async () => {
    const result = await pier.cli(['apps:create', 'My_App']);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.contain('Invalid app name "My_App"');
    expect(result.stderr).to.contain('lowercase letter');
  });

  it('refuses a duplicate app name and says how to deploy the existing one', async () => {
    const result = await pier.cli(['apps:create', 'shop']);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.contain('App shop already exists');
  });

  it('says 401 and how to find the token when the token is wrong', async () => {
    const result = await pier.cli(['apps:list'], { PIER_TOKEN: 'wrong' });
    expect(result.code).to.equal(1);
    expect(result.stderr).to.contain('401 Unauthorized');
    expect(result.stderr).to.contain('pier token');
  });

  it('rejects unauthenticated API requests with 401', async () => {
    const res = await fetch(`${pier.apiUrl}/api/apps`);
    expect(res.status).to.equal(401);
    expect(((await res.json()) as { error: string }).error).to.contain('API token');
  });

  it('sets, shows, gets and unsets config vars of an app that is not deployed yet', async () => {
    const set = await pier.cli(['config:set', 'shop', 'GREETING=hi there', 'DATABASE_URL=postgres://u:p@db/x?a=b']);
    expect(set.code, set.stderr).to.equal(0);
    expect(set.stdout).to.contain('they apply at the next deploy');
    const shown = await pier.cli(['config', 'shop']);
    expect(shown.stdout).to.match(/GREETING:\s+hi there/);
    expect((await pier.cli(['config:get', 'shop', 'DATABASE_URL'])).stdout.trim()).to.equal('postgres://u:p@db/x?a=b');
    const json = JSON.parse((await pier.cli(['config', 'shop', '--json'])).stdout) as Record<string, string>;
    expect(json).to.deep.equal({ GREETING: 'hi there', DATABASE_URL: 'postgres://u:p@db/x?a=b' });
    const unset = await pier.cli(['config:unset', 'shop', 'GREETING']);
    expect(unset.code, unset.stderr).to.equal(0);
    const missing = await pier.cli(['config:get', 'shop', 'GREETING']);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain('GREETING is not set for shop');
  });

  it('refuses an invalid config key, names it, and changes nothing', async () => {
    const result = await pier.cli(['config:set', 'shop', '1BAD=x', 'OK=y']);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.contain('Invalid config key "1BAD"');
    const json = JSON.parse((await pier.cli(['config', 'shop', '--json'])).stdout) as Record<string, string>;
    expect(json).to.not.have.property('OK');
  });

  it('validates config keys at the API too, for clients other than the CLI', async () => {
    const res = await fetch(`${pier.apiUrl}/api/apps/shop/config`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${pier.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ vars: { 'BAD-KEY': 'x' } }),
    });
    expect(res.status).to.equal(400);
    expect(((await res.json()) as { error: string }).error).to.contain('environment variable names');
  });

  it('refuses to destroy without --force, then destroys with it', async () => {
    const refused = await pier.cli(['apps:destroy', 'shop']);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain('pier apps:destroy shop --force');
    expect((await pier.cli(['apps:destroy', 'shop', '--force'])).code).to.equal(0);
    const info = await pier.cli(['apps:info', 'shop']);
    expect(info.code).to.equal(1);
    expect(info.stderr).to.contain('App shop does not exist');
  });
});
