import type Docker from 'dockerode';

/** Pier's own bridge network: the router reaches containers by IP here, not through published ports. */
export async function ensureNetwork(docker: Docker, name: string, instance: string): Promise<void> {
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
