import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { expect } from 'chai';
import Docker from 'dockerode';
import { close, listen } from '../helpers/http.js';
import { TestPier, commitAll, emptyCommit, expectHardened, repoRoot, run, webContainer } from '../helpers/test-pier.js';

describe('Dockerfile builds and deploys without git push', function () {
  this.timeout(600_000);
  const app = 'docked';
  const sentinel = `sentinel-${randomBytes(12).toString('hex')}`;
  const docker = new Docker();
  let pier: TestPier;
  let repo: string;

  const imageOf = async (name: string) => (JSON.parse((await pier.cli(['apps:info', name, '--json'])).stdout) as { image: string }).image;

  before(async () => {
    pier = await TestPier.start();
    repo = await pier.fixtureRepo('dockerfile-app');
    expect((await pier.cli(['apps:create', app])).code).to.equal(0);
  });

  after(async () => {
    await pier?.close();
  });

  it('builds a root Dockerfile through the Docker API and serves it on its EXPOSEd port as its USER', async () => {
    const pushed = await pier.push(repo, app);
    expect(pushed.code, pushed.stderr).to.equal(0);
    expect(pushed.stderr).to.contain('remote: -----> Builder: dockerfile (Dockerfile at the root)');
    expect(pushed.stderr).to.match(/remote: -----> Step 1\/\d+ : FROM pier\/stack:bookworm/);
    const page = await pier.get(app);
    expect(page.status).to.equal(200);
    expect(page.body).to.equal('hello from a Dockerfile app on port 8080 as uid 1000\n');

    const info = await webContainer(pier, app);
    expectHardened(info);
    expect(info.Config.Env).to.include('PORT=8080');
  });

  it('passes only the config vars marked as build args into the build, and keeps the others out of the image', async () => {
    const marked = await pier.cli(['builder:set', app, 'build-args', 'GREETING_PREFIX']);
    expect(marked.code, marked.stderr).to.equal(0);
    expect(marked.stdout).to.contain('Build args:  GREETING_PREFIX');
    expect((await pier.cli(['config:set', app, 'GREETING_PREFIX=bonjour', `API_SECRET=${sentinel}`])).code).to.equal(0);
    await emptyCommit(repo);
    const pushed = await pier.push(repo, app);
    expect(pushed.code, pushed.stderr).to.equal(0);
    expect(pushed.stderr).to.contain('Build args: GREETING_PREFIX');
    expect(pushed.stderr).to.not.contain(sentinel);
    expect((await pier.get(app)).body).to.equal('bonjour from a Dockerfile app on port 8080 as uid 1000\n');
    const history = await run('docker', ['history', '--no-trunc', await imageOf(app)]);
    expect(history.code).to.equal(0);
    expect(history.stdout).to.contain('bonjour');
    expect(history.stdout).to.not.contain(sentinel);
    expect(JSON.stringify((await docker.getImage(await imageOf(app)).inspect()).Config)).to.not.contain(sentinel);
  });

  const refusals: Array<[string, string, Array<string | RegExp>]> = [
    [
      'refuses a FROM image that is not local and cannot be pulled, listing the local images',
      'FROM pier-test/no-such-image:1\nCMD ["true"]\n',
      ['FROM pier-test/no-such-image:1, which is not on this machine and could not be pulled', /Local images you can build FROM: .*pier\/stack:bookworm/],
    ],
    [
      'detects a failed RUN step from the build stream and shows it',
      'FROM pier/stack:bookworm\nRUN echo "about to fail" && exit 3\n',
      ['about to fail', /the Dockerfile build failed: .*returned a non-zero code: 3/],
    ],
    ['refuses a Dockerfile that runs as root', 'FROM pier/stack:bookworm\nUSER root\nCMD ["sleep", "infinity"]\n', ['Pier runs apps as non-root users only']],
  ];
  for (const [title, dockerfile, messages] of refusals) {
    it(`${title}, and keeps the running release serving`, async () => {
      await writeFile(path.join(repo, 'Dockerfile'), dockerfile);
      await commitAll(repo, title);
      const pushed = await pier.push(repo, app);
      expect(pushed.code).to.not.equal(0);
      for (const message of messages) {
        if (typeof message === 'string') expect(pushed.stderr).to.contain(message);
        else expect(pushed.stderr).to.match(message);
      }
      expect(pushed.stderr).to.contain('pre-receive hook declined');
      expect((await pier.get(app)).body).to.contain('bonjour from a Dockerfile app');
      await run('git', ['reset', '-q', '--hard', 'HEAD~1'], { cwd: repo });
    });
  }

  it('builder:set forces the builder, and says what to do when the app does not fit it', async () => {
    const other = 'no-dockerfile';
    expect((await pier.cli(['apps:create', other])).code).to.equal(0);
    const node = await pier.fixtureRepo('node-app');
    const set = await pier.cli(['builder:set', other, 'dockerfile']);
    expect(set.code, set.stderr).to.equal(0);
    const report = JSON.parse((await pier.cli(['builder:report', other, '--json'])).stdout) as { selected: string };
    expect(report.selected).to.equal('dockerfile');
    const pushed = await pier.push(node, other);
    expect(pushed.code).to.not.equal(0);
    expect(pushed.stderr).to.contain('Builder: dockerfile (set with pier builder:set)');
    expect(pushed.stderr).to.contain(`the app has no Dockerfile at its root, but its builder is set to dockerfile. Add one, or switch: pier builder:set ${other} buildpacks`);
    const bad = await pier.cli(['builder:set', other, 'kaniko']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.contain('Unknown builder setting "kaniko"');
  });

  it('git:from-image deploys a local image as a release of another app', async () => {
    const image = await imageOf(app);
    expect((await pier.cli(['apps:create', 'imported'])).code).to.equal(0);
    const deployed = await pier.cli(['git:from-image', 'imported', image]);
    expect(deployed.code, deployed.stderr + deployed.stdout).to.equal(0);
    expect(deployed.stdout).to.contain(`-----> Building imported from image ${image}`);
    expect((await pier.get('imported')).body).to.equal('bonjour from a Dockerfile app on port 8080 as uid 1000\n');
    const missing = await pier.cli(['git:from-image', 'imported', 'pier-test/absent:9']);
    expect(missing.code).to.equal(1);
    expect(missing.stdout).to.match(/Local images you can build FROM: .*pier\/stack:bookworm/);
    expect((await pier.get('imported')).body).to.contain('bonjour');
  });

  it('git:from-archive deploys an uploaded tarball and one served over HTTP, unwrapping a top-level folder', async () => {
    const dir = await pier.tempDir('pier-archive-');
    const tarball = path.join(dir, 'app.tar.gz');
    // Release tarballs wrap everything in one folder, as this one does.
    await run('tar', ['-czf', tarball, '-C', path.join(repoRoot, 'test/fixtures'), 'dockerfile-app']);
    expect((await pier.cli(['apps:create', 'archived'])).code).to.equal(0);
    const uploaded = await pier.cli(['git:from-archive', 'archived', tarball]);
    expect(uploaded.code, uploaded.stderr + uploaded.stdout).to.equal(0);
    expect(uploaded.stdout).to.match(/-----> Building archived from archive [0-9a-f]{7}/);
    expect((await pier.get('archived')).body).to.equal('hello from a Dockerfile app on port 8080 as uid 1000\n');

    const server = http.createServer((req, res) => {
      if (req.url !== '/app.tar.gz') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/gzip' });
      createReadStream(tarball).pipe(res);
    });
    const port = await listen(server);
    try {
      const downloaded = await pier.cli(['git:from-archive', 'archived', `http://127.0.0.1:${port}/app.tar.gz`]);
      expect(downloaded.code, downloaded.stderr + downloaded.stdout).to.equal(0);
      const gone = await pier.cli(['git:from-archive', 'archived', `http://127.0.0.1:${port}/missing.tar.gz`]);
      expect(gone.code).to.equal(1);
      expect(gone.stderr).to.contain('answered 404; check the archive URL');
    } finally {
      await close(server);
    }
    const notTar = path.join(dir, 'notes.txt');
    await writeFile(notTar, 'not an archive\n');
    const refused = await pier.cli(['git:from-archive', 'archived', notTar]);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain('the archive could not be unpacked');
    expect((await pier.get('archived')).status).to.equal(200);
    const builds = JSON.parse((await pier.cli(['builds', 'archived', '--json'])).stdout) as Array<{ origin: string; status: string }>;
    expect(builds.map((b) => `${b.origin}:${b.status}`)).to.deep.equal(['archive:succeeded', 'archive:succeeded']);
  });
});
