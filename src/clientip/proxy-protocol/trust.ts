/**
 * Which peers may send a header: a list of CIDRs (or single addresses), matched against the
 * socket's peer as Node reports it (IPv4-mapped IPv6 from dual-stack listeners counts as IPv4,
 * a zone is ignored).
 *
 * @module
 */
import { type IPAddress, type IPNetwork, ipv4, networkContains, parseNetwork, tryParseIP } from '../../net/index.js';
import { ProxyProtocolError } from './errors.js';

/** The peer address as an IPAddress: `::ffff:a.b.c.d` unmapped, `%zone` dropped; undefined when not an IP. */
export function peerIP(address: string | undefined): IPAddress | undefined {
  if (address === undefined) return undefined;
  const zone = address.indexOf('%');
  const ip = tryParseIP(zone < 0 ? address : address.slice(0, zone));
  if (ip?.family === 6 && ip.value >> 32n === 0xffffn) return ipv4(Number(ip.value & 0xffffffffn));
  return ip;
}

/** Compile trusted networks once; the result tells whether a peer address is in one of them. */
export function trustedPeers(cidrs: readonly string[]): (address: string | undefined) => boolean {
  const networks: IPNetwork[] = cidrs.map((text) => {
    try {
      return parseNetwork(text);
    } catch (e) {
      throw new ProxyProtocolError('invalid-argument', `trusted: ${(e as Error).message}`, { cause: e });
    }
  });
  return (address) => {
    const ip = peerIP(address);
    return ip !== undefined && networks.some((n) => networkContains(n, ip));
  };
}
