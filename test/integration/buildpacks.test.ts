import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { get } from '../helpers/http.js';
import { TestPier, commitAll, run } from '../helpers/test-pier.js';

// One app per built-in buildpack besides Node.js, each from its fixture, in the builder's detection order.
const cases = [
  {
    fixture: 'python-app',
    app: 'bp-python',
    detected: 'Python',
    log: [/remote: -----> Nothing to install: requirements\.txt lists no packages/],
    body: ['hello from pier-fixture-python-app', 'in /app/.heroku/python', 'PYTHONUNBUFFERED=1'],
  },
  {
    fixture: 'static-app',
    app: 'bp-static',
    detected: 'Static',
    log: [/remote: -----> Serving public\/ \(from public\/index\.html\)/, /remote: {8}gzip: 2 files, /],
    body: ['<h1>hello from pier-fixture-static-app</h1>'],
  },
  {
    fixture: 'procfile-app',
    app: 'bp-procfile',
    detected: 'Procfile',
    log: [/remote: -----> Nothing to install: the Procfile's commands run as-is with bash/],
    body: ['hello from pier-fixture-procfile-app: server.sh ran as app with DYNO=web.1'],
  },
];

describe('deploying Python, static and Procfile apps with the built-in buildpacks', function () {
  this.timeout(600_000);
  let pier: TestPier;
  const repos = new Map<string, string>();

  before(async () => {
    pier = await TestPier.start();
    for (const c of cases) repos.set(c.app, await pier.fixtureRepo(c.fixture));
  });

  after(async () => {
    await pier?.close();
    for (const repo of repos.values()) await rm(repo, { recursive: true, force: true });
  });

  for (const c of cases) {
    it(`detects ${c.fixture} as a ${c.detected} app, builds it and serves it`, async () => {
      const pushed = await pier.push(repos.get(c.app)!, c.app);
      expect(pushed.code, pushed.stderr).to.equal(0);
      expect(pushed.stderr).to.contain(`remote: -----> ${c.detected} app detected`);
      for (const line of c.log) expect(pushed.stderr).to.match(line);
      expect(pushed.stderr).to.contain('Procfile declares types -> web');
      const page = await pier.get(c.app);
      expect(page.status, page.body).to.equal(200);
      for (const text of c.body) expect(page.body).to.contain(text);
    });
  }

  describe('the static site, through the router', () => {
    const host = () => `bp-static.${pier.settings.domain}`;

    it('sends its stylesheet gzipped, with a content type and caching headers', async () => {
      const css = await get(pier.settings.httpPort, host(), { path: '/css/style.css', headers: { 'accept-encoding': 'gzip' } });
      expect(css.status).to.equal(200);
      expect(css.headers['content-type']).to.equal('text/css; charset=utf-8');
      expect(css.headers['content-encoding']).to.equal('gzip');
      expect(css.headers.vary).to.equal('Accept-Encoding');
      expect(css.headers['cache-control']).to.equal('no-cache');
      expect(css.headers.etag).to.match(/^"[0-9a-f]+-[0-9a-f]+-gz"$/);
      expect(css.headers['last-modified']).to.be.a('string');
      const plain = await get(pier.settings.httpPort, host(), { path: '/css/style.css' });
      expect(plain.headers['content-encoding']).to.equal(undefined);
      expect(plain.body).to.contain('--accent: #2f6fde;');
    });

    it('answers a revalidation with 304 Not Modified', async () => {
      const first = await get(pier.settings.httpPort, host(), { path: '/', headers: { 'accept-encoding': 'gzip' } });
      const again = await get(pier.settings.httpPort, host(), { path: '/', headers: { 'accept-encoding': 'gzip', 'if-none-match': first.headers.etag! } });
      expect(again.status).to.equal(304);
      expect(again.body).to.equal('');
    });

    it("answers unknown paths and hidden files with the site's own 404 page", async () => {
      for (const target of ['/no-such-page', '/.pier/static.json', '/../Procfile']) {
        const missing = await get(pier.settings.httpPort, host(), { path: target });
        expect(missing.status, target).to.equal(404);
        expect(missing.body, target).to.contain('pier-fixture-static-app: this page does not exist');
      }
    });
  });

  describe('a Python app whose requirements.txt needs an unreachable index', () => {
    const app = 'bp-python';
    const repo = () => repos.get(app)!;

    before(async () => {
      await writeFile(path.join(repo(), 'requirements.txt'), 'six==1.16.0\n');
      await commitAll(repo(), 'needs a package from the index');
    });

    after(async () => {
      await run('git', ['reset', '-q', '--hard', 'HEAD~1'], { cwd: repo() });
    });

    it("fails fast, naming pip's default index and how to fix it, and the running release keeps serving", async () => {
      const started = Date.now();
      const pushed = await pier.push(repo(), app);
      const seconds = (Date.now() - started) / 1000;
      expect(pushed.code, pushed.stderr).to.not.equal(0);
      expect(pushed.stderr).to.contain("remote:  !     pip could not reach the package index after");
      expect(pushed.stderr).to.contain("pip's default index (PyPI)");
      expect(pushed.stderr).to.contain(`pier config:set <app> PIP_INDEX_URL=`);
      expect(pushed.stderr).to.contain('--find-links vendor');
      expect(pushed.stderr).to.contain('pre-receive hook declined');
      expect(seconds, `the failed push took ${seconds} s`).to.be.below(60);
      const page = await pier.get(app);
      expect(page.status).to.equal(200);
      expect(page.body).to.contain('hello from pier-fixture-python-app');
    });

    it('names the index set with PIP_INDEX_URL, without its password', async () => {
      const set = await pier.cli(['config:set', app, 'PIP_INDEX_URL=http://pier:s3cret@127.0.0.1:9/simple']);
      expect(set.code, set.stderr).to.equal(0);
      const pushed = await pier.push(repo(), app);
      expect(pushed.code, pushed.stderr).to.not.equal(0);
      expect(pushed.stderr).to.contain('pip could not reach the package index after');
      expect(pushed.stderr).to.contain('http://pier:***@127.0.0.1:9/simple');
      expect(pushed.stderr).to.not.contain('s3cret');
      expect((await pier.get(app)).body).to.contain('hello from pier-fixture-python-app');
    });
  });
});
