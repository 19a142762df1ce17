/**
 * Peers whose X-Forwarded-* headers the router believes: proxies in front of Pier (a TLS terminator,
 * a load balancer). From anyone else those headers are replaced, so an app never acts on a forged client IP.
 */
import net from 'node:net';

interface Subnet {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** `10.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`; undefined when the entry is none of these. */
function parseEntry(entry: string): Subnet | undefined {
  const [address = '', prefixText, extra] = entry.split('/');
  const version = net.isIP(address);
  if (version === 0 || extra !== undefined) return undefined;
  const max = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** Why a trusted-proxy entry is unusable, for the settings error; undefined when it is fine. */
export function trustedProxyProblem(entry: string): string | undefined {
  return parseEntry(entry) ? undefined : `"${entry}" is not an IP address or CIDR range (such as 10.0.0.0/8 or ::1)`;
}

/** Matches peer addresses (IPv4-mapped IPv6 ones included) against the configured entries. */
export class TrustedProxies {
  private readonly list = new net.BlockList();
  readonly empty: boolean;

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const subnet = parseEntry(entry);
      if (!subnet) throw new Error(trustedProxyProblem(entry));
      this.list.addSubnet(subnet.address, subnet.prefix, subnet.family);
    }
    this.empty = entries.length === 0;
  }

  trusts(address: string | undefined): boolean {
    if (this.empty || !address) return false;
    return this.list.check(address, net.isIPv4(address) ? 'ipv4' : 'ipv6');
  }
}
