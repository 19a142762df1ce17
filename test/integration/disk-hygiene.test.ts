import { expect } from 'chai';
import Docker from 'dockerode';
import { waitFor } from '../helpers/http.js';
import { TestPier, emptyCommit } from '../helpers/test-pier.js';

describe('disk hygiene: pruning, cleanup and the free-disk check', function () {
  this.timeout(600_000);
  const keep = 2;
  const docker = new Docker();
  let pier: TestPier;
  let repo: string;

  before(async () => {
    pier = await TestPier.start({ env: { PIER_KEEP_RELEASES: String(keep) } });
    repo = await pier.fixtureRepo('dockerfile-app');
  });

  after(async () => {
    await pier?.close();
  });

  const appImages = async (app: string) =>
    (await docker.listImages({ filters: { reference: [`${pier.settings.instance}/app-${app}:*`] } })).flatMap((i) => i.RepoTags ?? []).sort();

  it(`keeps exactly the images of the last ${keep} releases however often the app deploys`, async () => {
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      if (i > 0) await emptyCommit(repo, `deploy ${i}`);
      const pushed = await pier.push(repo, 'pruned');
      expect(pushed.code, pushed.stderr).to.equal(0);
      seen.push((JSON.parse((await pier.cli(['apps:info', 'pruned', '--json'])).stdout) as { image: string }).image);
    }
    // Images of instances still draining go once those have stopped.
    await waitFor(() => appImages('pruned'), (tags) => tags.length === keep, `${keep} images left`, 60_000);
    expect(await appImages('pruned')).to.deep.equal(seen.slice(-keep).sort());
    expect((await pier.get('pruned')).status).to.equal(200);
  });

  it('pier cleanup removes exited containers and the build caches of apps that are gone, and leaves running apps alone', async () => {
    const label = { 'pier.instance': pier.settings.instance };
    const ghostVolume = `${pier.settings.instance}-cache-ghost`;
    const ownedVolume = `${pier.settings.instance}-cache-pruned`;
    await docker.createVolume({ Name: ghostVolume });
    await docker.createVolume({ Name: ownedVolume });
    const exited = await docker.createContainer({ Image: pier.settings.stackImage, Cmd: ['true'], Labels: { ...label, 'pier.app': 'ghost', 'pier.role': 'build' } });
    await exited.start();
    await exited.wait();
    const cleaned = await pier.cli(['cleanup', '--json']);
    expect(cleaned.code, cleaned.stderr).to.equal(0);
    const report = JSON.parse(cleaned.stdout) as { containers: string[]; images: string[]; volumes: string[] };
    expect(report.volumes).to.deep.equal([ghostVolume]);
    expect(report.containers).to.have.length(1);
    expect(await docker.getContainer(exited.id).inspect().then(() => 'there', () => 'gone')).to.equal('gone');
    expect(await docker.getVolume(ownedVolume).inspect().then(() => 'kept', () => 'gone')).to.equal('kept');
    expect((await pier.get('pruned')).status).to.equal(200);
    const again = await pier.cli(['cleanup']);
    expect(again.stdout).to.contain('Nothing to clean up');
  });

  it('refuses to build when free disk is below PIER_MIN_FREE_DISK_MB, saying how to free space', async () => {
    const tight = await TestPier.start({ env: { PIER_MIN_FREE_DISK_MB: String(1024 * 1024 * 1024) } });
    try {
      const pushed = await tight.push(repo, 'cramped');
      expect(pushed.code).to.not.equal(0);
      expect(pushed.stderr).to.match(/only \d+ MB are free on \S+; builds need at least 1073741824 MB \(PIER_MIN_FREE_DISK_MB\)/);
      expect(pushed.stderr).to.contain('pier cleanup');
    } finally {
      await tight.close();
    }
  });
});
