import { expect } from 'chai';
import { get, waitFor } from '../helpers/http.js';
import { TestPier } from '../helpers/test-pier.js';

describe('domains', function () {
  this.timeout(600_000);
  let pier: TestPier;

  before(async () => {
    pier = await TestPier.start();
    const repo = await pier.fixtureRepo('dockerfile-app');
    for (const app of ['shop', 'blog']) {
      const pushed = await pier.push(repo, app);
      expect(pushed.code, pushed.stderr).to.equal(0);
    }
  });

  after(async () => {
    await pier?.close();
  });

  /** The status a host gets once the change has reached the router (pub/sub: within 2 s). */
  const status = async (host: string, expected?: number) => {
    const probe = async () => (await get(pier.settings.httpPort, host)).status;
    return expected === undefined ? probe() : waitFor(probe, (s) => s === expected, `${host} answering ${expected}`, 2000);
  };

  it('serves an app at a custom domain and under a wildcard, live, without a router restart', async () => {
    expect(await status('shop.example.test')).to.equal(404);
    const added = await pier.cli(['domains:add', 'shop', 'shop.example.test', '*.shops.test']);
    expect(added.code, added.stderr).to.equal(0);
    expect(added.stdout).to.contain('shop.localhost (global domain)');
    expect(added.stdout).to.contain('*.shops.test');
    expect(await status('shop.example.test', 200)).to.equal(200);
    expect(await status('eu.shops.test')).to.equal(200);
    expect(await status('a.b.shops.test')).to.equal(200);
    expect(await status('shops.test')).to.equal(404);
    const urls = await pier.cli(['urls', 'shop']);
    expect(urls.stdout.trim().split('\n')).to.deep.equal([
      `http://shop.localhost:${pier.settings.httpPort}`,
      `http://*.shops.test:${pier.settings.httpPort}`,
      `http://shop.example.test:${pier.settings.httpPort}`,
    ]);
  });

  it('refuses a domain another app owns, naming the owner, and a malformed one, naming the rule', async () => {
    const taken = await pier.cli(['domains:add', 'blog', 'SHOP.example.test']);
    expect(taken.code).to.equal(1);
    expect(taken.stderr).to.contain('shop.example.test already belongs to app shop. Remove it there first: pier domains:remove shop shop.example.test');
    const stolen = await pier.cli(['domains:add', 'blog', 'shop.localhost']);
    expect(stolen.code).to.equal(1);
    expect(stolen.stderr).to.contain('shop.localhost is the address of app shop');
    const bad = await pier.cli(['domains:add', 'blog', 'not_a domain']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.contain('Domains are host names such as example.com');
  });

  it('removes a domain, and moves every app to a new global domain at run time', async () => {
    const removed = await pier.cli(['domains:remove', 'shop', 'shop.example.test']);
    expect(removed.code, removed.stderr).to.equal(0);
    expect(await status('shop.example.test', 404)).to.equal(404);
    const missing = await pier.cli(['domains:remove', 'shop', 'shop.example.test']);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain('shop has no domain shop.example.test');

    const moved = await pier.cli(['domains:set-global', 'apps.test']);
    expect(moved.code, moved.stderr).to.equal(0);
    expect(await status('blog.apps.test', 200)).to.equal(200);
    expect(await status('blog.localhost')).to.equal(404);
    expect((await pier.cli(['urls', 'blog'])).stdout.trim()).to.equal(`http://blog.apps.test:${pier.settings.httpPort}`);
    expect((await pier.cli(['domains', 'blog', '--json'])).stdout).to.contain('"global": "blog.apps.test"');
  });
});
