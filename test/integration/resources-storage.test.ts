import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import Docker from 'dockerode';
import type { ProcessSettingsReport, ResourceReport } from '../../src/release/resource-service.js';
import { waitFor } from '../helpers/http.js';
import { TestPier, commitAll, emptyCommit, expectHardened, run, type RunResult } from '../helpers/test-pier.js';

const MIB = 1024 ** 2;
const GIB = 1024 ** 3;

describe('resource limits, restart policy, stop timeout and persistent storage', function () {
  this.timeout(600_000);
  const app = 'stash';
  const docker = new Docker();
  let pier: TestPier;
  let repo: string;
  let volume: string;

  before(async () => {
    pier = await TestPier.start();
    repo = await pier.fixtureRepo('dockerfile-app');
    const pushed = await pier.push(repo, app);
    expect(pushed.code, pushed.stderr).to.equal(0);
    volume = `${pier.settings.instance}-storage-data`;
  });

  after(async () => {
    await pier?.close();
  });

  /** The one running web instance, once a deploy or restart has retired the one it replaced (`not`). */
  const onlyWeb = async (not?: string) => {
    const label = [`pier.instance=${pier.settings.instance}`, `pier.app=${app}`, 'pier.process=web'];
    const list = () => docker.listContainers({ filters: { label, status: ['running'] } });
    const [web] = await waitFor(list, (l) => l.length === 1 && l[0]!.Id !== not, 'a single running web instance', 60_000);
    return docker.getContainer(web!.Id).inspect();
  };
  const limitsOf = (info: Docker.ContainerInspectInfo) => [info.HostConfig.Memory, info.HostConfig.MemorySwap, info.HostConfig.NanoCpus];
  const report = async () => JSON.parse((await pier.cli(['resource:report', app, '--json'])).stdout) as ResourceReport;
  const cli = async (args: string[]) => {
    const result = await pier.cli(args);
    expect(result.code, `pier ${args.join(' ')}: ${result.stderr}${result.stdout}`).to.equal(0);
    return result;
  };
  const volumeExists = (name: string) => docker.getVolume(name).inspect().then(() => true, () => false);

  it('runs a fresh app with the documented defaults: 1 GiB of memory and no swap, no CPU cap, 1024 processes', async () => {
    const info = await onlyWeb();
    expectHardened(info);
    expect(limitsOf(info)).to.deep.equal([GIB, GIB, 0]);
    expect(info.HostConfig.PidsLimit).to.equal(1024);
    expect(info.HostConfig.RestartPolicy).to.deep.equal({ Name: 'on-failure', MaximumRetryCount: 10 });
    const shown = await cli(['resource:report', app]);
    expect(shown.stdout).to.contain('=====> stash resource limits');
    expect(shown.stdout).to.match(/^ {7}web\s+1g \(default\)\s+unlimited \(default\)\s+1024$/m);
  });

  it('resource:limit changes the memory and CPUs of the running instance in place, and instances started later get them', async () => {
    const before = await onlyWeb();
    const limited = await cli(['resource:limit', app, '--memory', '256m', '--cpu', '0.5']);
    expect(limited.stdout).to.contain('-----> Limiting stash (every process type): memory 256m, cpu 0.5');
    expect(limited.stdout).to.contain('Applied in place to web.1, without a restart; new instances get them too');
    const now = await docker.getContainer(before.Id).inspect();
    expect(limitsOf(now)).to.deep.equal([256 * MIB, 256 * MIB, 5e8]);
    expect(now.State.StartedAt).to.equal(before.State.StartedAt);
    expect(now.RestartCount).to.equal(0);
    expect((await pier.get(app)).status).to.equal(200);

    await cli(['ps:restart', app]);
    const fresh = await onlyWeb(before.Id);
    expect(limitsOf(fresh)).to.deep.equal([256 * MIB, 256 * MIB, 5e8]);
    const shown = await cli(['resource:limit', app]);
    expect(shown.stdout).to.contain('=====> stash resource limits (every process type)\n       memory:  256m\n       cpu:     0.5\n       pids:    1024');
  });

  it("--process limits one type over every type's limits, and resource:limit:clear undoes them in place, lifting the CPU cap", async () => {
    const web = await onlyWeb();
    await cli(['resource:limit', app, '--memory', '512m', '--process', 'web']);
    expect(limitsOf(await docker.getContainer(web.Id).inspect())).to.deep.equal([512 * MIB, 512 * MIB, 5e8]);
    const limits = await report();
    expect(limits.processes).to.deep.equal([{ process: 'web', memory: 512 * MIB, cpus: 0.5, pids: 1024, from: { memory: 'web', cpus: '*' } }]);
    expect(limits.every).to.deep.include({ memory: 256 * MIB, cpus: 0.5 });
    expect((await cli(['resource:report', app])).stdout).to.match(/^ {7}web\s+512m\s+0\.5 \(every process type\)\s+1024$/m);

    const cleared = await cli(['resource:limit:clear', app, '--process', 'web']);
    expect(cleared.stdout).to.contain('memory:  256m (every process type)');
    expect(limitsOf(await docker.getContainer(web.Id).inspect())).to.deep.equal([256 * MIB, 256 * MIB, 5e8]);
    await cli(['resource:limit:clear', app]);
    const { NCPU } = (await docker.info()) as { NCPU: number };
    // Docker cannot set "no cap" on a running container; a cap of every core is the same.
    expect(limitsOf(await docker.getContainer(web.Id).inspect())).to.deep.equal([GIB, GIB, NCPU * 1e9]);
    expect((await report()).processes[0]).to.deep.include({ memory: GIB, cpus: 0, from: { memory: 'default', cpus: 'default' } });
  });

  it('ps:set changes the restart policy of the running instance in place and the stop timeout of every later stop', async () => {
    const web = await onlyWeb();
    const always = await cli(['ps:set', app, 'restart-policy', 'always']);
    expect(always.stdout).to.contain('-----> Setting restart-policy of stash to always');
    expect((await docker.getContainer(web.Id).inspect()).HostConfig.RestartPolicy).to.deep.equal({ Name: 'always', MaximumRetryCount: 0 });
    await cli(['ps:set', app, 'restart-policy', 'on-failure:5']);
    expect((await docker.getContainer(web.Id).inspect()).HostConfig.RestartPolicy).to.deep.equal({ Name: 'on-failure', MaximumRetryCount: 5 });
    const timeout = await cli(['ps:set', app, 'stop-timeout', '45']);
    expect(timeout.stdout).to.contain('Every stop from now on sends SIGTERM, then SIGKILL after 45s');
    const settings = JSON.parse((await cli(['ps:report', app, '--json'])).stdout) as ProcessSettingsReport;
    expect(settings).to.deep.equal({ restartPolicy: 'on-failure:5', stopTimeoutSec: 45, defaults: [], stopped: [] });

    await cli(['ps:restart', app]);
    const fresh = await onlyWeb(web.Id);
    expect(fresh.HostConfig.RestartPolicy).to.deep.equal({ Name: 'on-failure', MaximumRetryCount: 5 });
    expect((fresh.Config as { StopTimeout?: number }).StopTimeout).to.equal(45);

    await cli(['ps:set', app, 'restart-policy']);
    await cli(['ps:set', app, 'stop-timeout']);
    const shown = await cli(['ps:report', app]);
    expect(shown.stdout).to.contain('Restart policy:  on-failure:10 (default)\n       Stop timeout:    30s (default)');
  });

  const refusals: Array<[string[], string]> = [
    [['resource:limit', app, '--memory', '12x'], 'memory "12x" is not a size in bytes or with a unit k, m or g (e.g. 512m, 1.5g), at least 6m'],
    [['resource:limit', app, '--memory', '1m'], 'at least 6m'],
    [['resource:limit', app, '--cpu', '0'], 'cpu "0" is not a number of CPUs of at least 0.01 (e.g. 0.5, 1, 2)'],
    [['resource:limit', app, '--cpu', '512'], 'cpu 512 is more than the'],
    [['resource:limit', app, '--memory', '100000g'], 'this host has; use less (e.g. --memory 512m)'],
    [['resource:limit', app, '--cpu', '1', '--process', 'worker'], 'stash has no process type worker. Its types are: web.'],
    [['ps:set', app, 'restart-policy', 'sometimes'], 'restart policy "sometimes" is not one of: no, always, on-failure (retry forever) or on-failure:N'],
    [['ps:set', app, 'stop-timeout', '3601'], 'stop timeout "3601" is not a number of seconds from 0 to 3600 (e.g. 45)'],
    [['ps:set', app, 'restart', 'always'], 'Unknown process setting "restart". Settings: restart-policy, stop-timeout.'],
    [['storage:mount', app, 'Data:/data'], 'invalid storage name "Data"'],
    [['storage:mount', app, 'data:data'], 'mount path "data" must be absolute'],
    [['storage:mount', app, 'data:/app'], 'would hide the app itself'],
    [['storage:mount', app, 'data:/proc/x'], 'is inside /proc, which the system needs'],
    [['storage:mount', app, 'data:/srv/../etc'], 'must be a plain path'],
    [['storage:unmount', app, '/nothing'], 'stash has no storage mounted at /nothing. See what is mounted: pier storage:list stash'],
  ];
  it('refuses bad values with exit 1 and the rule they break, and changes nothing', async () => {
    const before = await report();
    for (const [args, message] of refusals) {
      const refused = await pier.cli(args);
      expect(refused.code, args.join(' ')).to.equal(1);
      expect(refused.stderr, args.join(' ')).to.contain(` !     `).and.contain(message);
    }
    expect(await report()).to.deep.equal(before);
    expect((await cli(['storage:list', app, '--json'])).stdout.trim()).to.equal('[]');
    // The API checks what it is sent as the CLI does.
    const res = await fetch(`${pier.apiUrl}/api/apps/${app}/resources`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${pier.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ memory: '12x' }),
    });
    expect(res.status).to.equal(400);
    expect(((await res.json()) as { error: string }).error).to.contain('memory "12x" is not a size');
  });

  it('storage:mount restarts the app with a volume its non-root user can write to, and storage:list shows it', async () => {
    const before = await onlyWeb();
    const mounted = await cli(['storage:mount', app, 'data:/data']);
    expect(mounted.stdout).to.contain('-----> Mounting storage data at /data in stash');
    expect(mounted.stderr).to.contain('-----> Restarting stash so its instances get the new mounts');
    expect(mounted.stdout).to.contain('-----> Restarted stash: its instances have the new mounts');
    expect(mounted.stdout).to.contain(`Volume ${volume} keeps its data across deploys, restarts and rollbacks`);
    const web = await onlyWeb(before.Id);
    expectHardened(web);
    // A one-off container of the release runs as the app's user and mounts what its instances mount.
    const wrote = await pier.cli(['run', app, 'sh', '-c', 'id -u && echo "kept across deploys" > /data/note']);
    expect(wrote.code, wrote.stderr).to.equal(0);
    expect(wrote.stdout).to.equal('1000\n');
    expect((await run('docker', ['exec', web.Id, 'cat', '/data/note'])).stdout).to.equal('kept across deploys\n');
    const labels = (await docker.getVolume(volume).inspect()).Labels;
    expect(labels).to.deep.include({ 'pier.instance': pier.settings.instance, 'pier.app': app });

    const list = await cli(['storage:list', app]);
    expect(list.stdout).to.contain('=====> stash storage');
    expect(list.stdout).to.match(new RegExp(`^ {7}data\\s+/data\\s+${volume}$`, 'm'));
    expect(JSON.parse((await cli(['storage:list', app, '--json'])).stdout)).to.deep.equal([{ name: 'data', volume, path: '/data' }]);
    const again = await cli(['storage:mount', app, 'data:/data']);
    expect(again.stdout).to.contain('It was mounted there already');
    expect((await pier.cli(['storage:mount', app, 'other:/data'])).stderr).to.contain('/data in stash already holds storage data. Unmount it first');
  });

  it('keeps the data through a redeploy, a restart, a rollback and a rebuild', async () => {
    const steps: Array<[string, () => Promise<RunResult>]> = [
      ['a push', async () => (await emptyCommit(repo), pier.push(repo, app))],
      ['ps:restart', () => pier.cli(['ps:restart', app])],
      ['rollback', () => pier.cli(['rollback', app])],
      ['ps:rebuild', () => pier.cli(['ps:rebuild', app])],
    ];
    let last = (await onlyWeb()).Id;
    for (const [what, step] of steps) {
      const done = await step();
      expect(done.code, `${what}: ${done.stderr}${done.stdout}`).to.equal(0);
      const web = await onlyWeb(last);
      const note = await run('docker', ['exec', web.Id, 'cat', '/data/note']);
      expect(note.stdout, `after ${what}`).to.equal('kept across deploys\n');
      last = web.Id;
    }
  });

  it('storage:unmount restarts the app without the mount and keeps the volume; mounting it again brings the data back', async () => {
    const before = await onlyWeb();
    const unmounted = await cli(['storage:unmount', app, '/data']);
    expect(unmounted.stdout).to.contain(`Volume ${volume} keeps its data; mount it again with: pier storage:mount stash data:/data`);
    const web = await onlyWeb(before.Id);
    expect((await run('docker', ['exec', web.Id, 'test', '-e', '/data/note'])).code).to.not.equal(0);
    expect(await volumeExists(volume)).to.equal(true);
    await cli(['storage:mount', app, 'data:/data']);
    const back = await onlyWeb(web.Id);
    expect((await run('docker', ['exec', back.Id, 'cat', '/data/note'])).stdout).to.equal('kept across deploys\n');
  });

  it("refuses a storage name whose volume holds another app's data", async () => {
    await cli(['apps:create', 'other']);
    const refused = await pier.cli(['storage:mount', 'other', 'data:/data']);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain(`Storage data (volume ${volume}) holds the data of app stash; apps cannot share it. Pick another name`);
    const own = await cli(['storage:mount', 'other', 'files:/data']);
    expect(own.stdout).to.contain('Nothing of other runs now; its instances get the mounts when they start');
  });

  it("hands a volume to an image's USER given by name", async () => {
    const named = await pier.fixtureRepo('dockerfile-app');
    const dockerfile = path.join(named, 'Dockerfile');
    await writeFile(dockerfile, (await readFile(dockerfile, 'utf8')).replace('USER 1000:1000', 'USER nobody'));
    await commitAll(named, 'run as nobody');
    await cli(['apps:create', 'named']);
    await cli(['storage:mount', 'named', 'named-data:/srv/data']);
    const pushed = await pier.push(named, 'named');
    expect(pushed.code, pushed.stderr).to.equal(0);
    const [web] = await docker.listContainers({ filters: { label: [`pier.instance=${pier.settings.instance}`, 'pier.app=named', 'pier.process=web'] } });
    const wrote = await run('docker', ['exec', web!.Id, 'sh', '-c', 'id -un && touch /srv/data/ok && stat -c %U /srv/data']);
    expect(wrote.code, wrote.stderr).to.equal(0);
    expect(wrote.stdout).to.equal('nobody\nnobody\n');
  });

  it('apps:destroy keeps the volumes and says how to remove them, pier cleanup leaves them, --remove-volumes removes them', async () => {
    const destroyed = await cli(['apps:destroy', app, '--force']);
    expect(destroyed.stdout).to.contain(`-----> Destroyed stash\n       Kept volume ${volume} and its data; remove it with: docker volume rm ${volume}`);
    expect(await volumeExists(volume)).to.equal(true);
    const cleanup = JSON.parse((await cli(['cleanup', '--json'])).stdout) as { volumes: string[] };
    expect(cleanup.volumes).to.not.include(volume);
    expect(await volumeExists(volume)).to.equal(true);
    expect(await volumeExists(`${pier.settings.instance}-storage-files`)).to.equal(true);

    // The same app made again finds its data where it was.
    await cli(['apps:create', app]);
    await cli(['storage:mount', app, 'data:/data']);
    const pushed = await pier.push(repo, app);
    expect(pushed.code, pushed.stderr).to.equal(0);
    expect((await run('docker', ['exec', (await onlyWeb()).Id, 'cat', '/data/note'])).stdout).to.equal('kept across deploys\n');

    const removed = await cli(['apps:destroy', app, '--force', '--remove-volumes']);
    expect(removed.stdout).to.contain(`       Removed volume ${volume} and its data`);
    expect(await volumeExists(volume)).to.equal(false);
  });
});
