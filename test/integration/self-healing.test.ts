import { expect } from 'chai';
import Docker from 'dockerode';
import type { ProcessReport } from '../../src/release/process-service.js';
import { containerAddress } from '../../src/scheduler/docker-network.js';
import { waitFor } from '../helpers/http.js';
import { TestPier, usePier } from '../helpers/test-pier.js';

describe('self-healing when the daemon is killed', function () {
  this.timeout(600_000);
  const app = 'healer';
  const docker = new Docker();
  let pier: TestPier;
  let repo: string;
  usePier('process-app', (p, r) => ([pier, repo] = [p, r]), { child: true });

  const webs = async () => {
    const report = JSON.parse((await pier.cli(['ps', app, '--json'])).stdout) as ProcessReport;
    return report.instances.filter((i) => i.process === 'web' && i.state === 'running');
  };

  it('keeps containers serving while the daemon is down, and repairs what changed meanwhile when it comes back', async () => {
    const pushed = await pier.push(repo, app);
    expect(pushed.code, pushed.stderr).to.equal(0);
    expect((await pier.cli(['ps:scale', app, 'web=2'])).code).to.equal(0);
    const before = await webs();
    expect(before.map((i) => i.name).sort()).to.deep.equal(['web.1', 'web.2']);

    await pier.crash();
    // With the daemon (and its router) gone, the instances themselves still answer.
    for (const web of before) {
      const ip = containerAddress(await docker.getContainer(web.id).inspect(), pier.settings.instance);
      const res = await fetch(`http://${ip}:5000/`);
      expect(await res.text()).to.equal(`hello from ${web.name}\n`);
    }
    // Drift while nobody watches: one instance disappears.
    await docker.getContainer(before[1]!.id).remove({ force: true });

    await pier.revive();
    expect((await pier.get(app)).status).to.equal(200);
    const healed = await waitFor(webs, (w) => w.length === 2, 'two web instances again', 60_000);
    expect(healed.map((i) => i.name).sort()).to.deep.equal(['web.1', 'web.2']);
    expect(healed.find((i) => i.name === 'web.1')!.id, 'the survivor was kept').to.equal(before[0]!.id);
    const bodies = new Set<string>();
    await waitFor(
      async () => {
        bodies.add((await pier.get(app)).body);
        return bodies.size;
      },
      (n) => n === 2,
      'both instances routed',
      30_000,
    );
    const events = JSON.parse((await pier.cli(['ps', app, '--json'])).stdout) as ProcessReport;
    expect(events.formation).to.deep.equal({ web: 2, worker: 0 });
  });

  it('keeps the scale across a redeploy', async () => {
    const redeployed = await pier.cli(['config:set', app, 'GREETING=again']);
    expect(redeployed.code, redeployed.stderr).to.equal(0);
    const now = await webs();
    expect(now.map((i) => `${i.name}@v${i.release}`).sort()).to.deep.equal(['web.1@v2', 'web.2@v2']);
  });

  it('brings every instance back when all were stopped at once, as a dockerd restart leaves them', async () => {
    const before = await webs();
    // dockerd stops every container when it restarts; with on-failure, Docker does not start them again.
    await Promise.all(before.map((w) => docker.getContainer(w.id).stop({ t: 1 })));
    const back = await waitFor(webs, (w) => w.length === 2, 'both instances running again', 60_000);
    expect(back.map((i) => i.id).sort(), 'the same containers, started again').to.deep.equal(before.map((i) => i.id).sort());
    await waitFor(async () => (await pier.get(app)).status, (s) => s === 200, 'the app served again', 30_000);
    expect((await pier.get(app)).body).to.match(/^again from web\.[12]\n$/);
  });
});
