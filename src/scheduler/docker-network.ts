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
  const existing = await named(docker, name);
  if (existing.length === 1) return;
  if (existing.length === 0) {
    try {
      await docker.createNetwork({ Name: name, Driver: 'bridge', CheckDuplicate: true, Labels: { 'pier.instance': instance } });
    } catch (err) {
      // Another process may have created it between the list and the create.
      if ((await named(docker, name)).length === 0) throw err;
    }
  }
  await keepOne(docker, name);
}

const named = async (docker: Docker, name: string) => (await docker.listNetworks({ filters: { name: [name] } })).filter((n) => n.Name === name);

/**
 * Two daemon processes on one host (say, a router-only one beside the API's) can both create the
 * network at once, and Docker then refuses every container create on that name as "ambiguous".
 * Every racer keeps the same one, the oldest, and removes the empty others.
 */
async function keepOne(docker: Docker, name: string): Promise<void> {
  const found = await named(docker, name);
  if (found.length < 2) return;
  const [, ...extra] = [...found].sort((a, b) => Date.parse(a.Created) - Date.parse(b.Created) || a.Id.localeCompare(b.Id));
  for (const n of extra) {
    const info = (await docker.getNetwork(n.Id).inspect()) as Docker.NetworkInspectInfo;
    if (Object.keys(info.Containers ?? {}).length > 0) continue;
    await docker.getNetwork(n.Id).remove().catch(() => undefined);
  }
}

export function containerAddress(info: Docker.ContainerInspectInfo, network: string): string | undefined {
  const ip = info.NetworkSettings.Networks[network]?.IPAddress;
  return ip ? ip : undefined;
}
