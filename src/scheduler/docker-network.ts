import type Docker from 'dockerode';

/** Creations in flight in this process: Docker 20.10 lets two concurrent creates of one name both succeed. */
const creating = new Map<string, Promise<void>>();

/** Pier's own bridge network: the router reaches containers by IP here, not through published ports. */
export function ensureNetwork(docker: Docker, name: string, instance: string): Promise<void> {
  const pending = creating.get(name);
  if (pending) return pending;
  const work = createOnce(docker, name, instance).finally(() => creating.delete(name));
  creating.set(name, work);
  return work;
}

async function createOnce(docker: Docker, name: string, instance: string): Promise<void> {
  const existing = await docker.listNetworks({ filters: { name: [name] } });
  if (existing.some((n) => n.Name === name)) return;
  try {
    await docker.createNetwork({ Name: name, Driver: 'bridge', CheckDuplicate: true, Labels: { 'pier.instance': instance } });
  } catch (err) {
    // Another process may have created it between the list and the create.
    const again = await docker.listNetworks({ filters: { name: [name] } });
    if (!again.some((n) => n.Name === name)) throw err;
  }
}

export function containerAddress(info: Docker.ContainerInspectInfo, network: string): string | undefined {
  const ip = info.NetworkSettings.Networks[network]?.IPAddress;
  return ip ? ip : undefined;
}
