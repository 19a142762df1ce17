import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import Docker from 'dockerode';
import { ensureNetwork } from '../../src/scheduler/docker-network.js';

describe("Pier's Docker network", function () {
  this.timeout(60_000);
  const docker = new Docker();
  const name = `pt-net-${randomBytes(4).toString('hex')}`;
  const ids = async () => (await docker.listNetworks({ filters: { name: [name] } })).filter((n) => n.Name === name).map((n) => n.Id);

  after(async () => {
    for (const id of await ids()) await docker.getNetwork(id).remove().catch(() => undefined);
  });

  it('two of one name, as two daemon processes racing make them, become one: the oldest, which every racer keeps', async () => {
    const first = await docker.createNetwork({ Name: name, Driver: 'bridge', CheckDuplicate: false, Labels: { 'pier.instance': 'pt' } });
    await docker.createNetwork({ Name: name, Driver: 'bridge', CheckDuplicate: false, Labels: { 'pier.instance': 'pt' } });
    expect(await ids(), 'Docker made both').to.have.length(2);

    await ensureNetwork(docker, name, 'pt');

    expect(await ids()).to.deep.equal([first.id]);
    // And a container can now be attached by name again.
    const container = await docker.createContainer({ Image: 'pier/stack:bookworm', Cmd: ['true'], HostConfig: { NetworkMode: name } });
    await container.remove();
  });
});
