import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import Docker from 'dockerode';
import { TestPier, run } from '../helpers/test-pier.js';

describe('config vars stay secret', function () {
  this.timeout(300_000);
  const sentinel = `sentinel-${randomBytes(12).toString('hex')}`;
  const logFile = path.join(os.tmpdir(), `pier-secrets-${randomBytes(4).toString('hex')}.log`);
  let pier: TestPier;
  let repo: string;

  before(async () => {
    pier = await TestPier.start({ logFile });
    repo = await pier.fixtureRepo('node-app');
  });

  after(async () => {
    await pier?.close();
    await rm(logFile, { force: true });
  });

  it('reaches the app but never the build output, the daemon logs or the image', async () => {
    expect((await pier.cli(['apps:create', 'vault'])).code).to.equal(0);
    expect((await pier.cli(['config:set', 'vault', `GREETING=${sentinel}`])).code).to.equal(0);
    const pushed = await pier.push(repo, 'vault');
    expect(pushed.code, pushed.stderr).to.equal(0);
    expect((await pier.get('vault')).body).to.contain(`${sentinel} from pier-fixture-node-app`);
    expect(pushed.stdout + pushed.stderr).to.not.contain(sentinel);
    expect((await pier.cli(['builds:output', 'vault'])).stdout).to.not.contain(sentinel);

    const logs = await readFile(logFile, 'utf8');
    expect(logs.length, 'the daemon logged something').to.be.greaterThan(0);
    expect(logs).to.not.contain(sentinel);

    const docker = new Docker();
    const info = JSON.parse((await pier.cli(['apps:info', 'vault', '--json'])).stdout) as { image: string };
    const image = await docker.getImage(info.image).inspect();
    expect(JSON.stringify(image.Config)).to.not.contain(sentinel);
    const history = await run('docker', ['history', '--no-trunc', info.image]);
    expect(history.code).to.equal(0);
    expect(history.stdout).to.not.contain(sentinel);
    const files = await run('docker', ['run', '--rm', '--entrypoint', 'grep', info.image, '-rlF', sentinel, '/app', '/tmp', '/etc']);
    expect(files.stdout, 'files in the image holding the value').to.equal('');
  });
});
