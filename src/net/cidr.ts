/**
 * Networks (CIDR prefixes, and the arbitrary masks iptables also prints) and ports.
 *
 * @module
 */
import {
  AddressError,
  familyBits,
  formatIP,
  type IPAddress,
  type IPFamily,
  ipv4,
  ipv6,
  parseIP,
  tryParseIP,
} from './ip.js';

/**
 * A network: an address with a mask. `prefixLength` is set when the mask is contiguous
 * (always for CIDR text); iptables also accepts and prints masks like `255.0.255.0`.
 */
export interface IPNetwork {
  readonly family: IPFamily;
  /** The network address: the given address with host bits cleared. */
  readonly network: IPAddress;
  /** The mask as a value of the family's width. */
  readonly mask: number | bigint;
  /** The prefix length, or undefined for a non-contiguous mask. */
  readonly prefixLength: number | undefined;
}

/** The mask value for a prefix length. */
export function prefixMask(family: IPFamily, length: number): number | bigint {
  if (family === 4) return length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
  return length === 0 ? 0n : (((1n << 128n) - 1n) >> BigInt(128 - length)) << BigInt(128 - length);
}

/** The prefix length of a contiguous mask, or undefined. */
function maskPrefixLength(family: IPFamily, mask: number | bigint): number | undefined {
  const bits = familyBits(family);
  for (let len = 0; len <= bits; len++) if (prefixMask(family, len) === mask) return len;
  return undefined;
}

function applyMask(ip: IPAddress, mask: number | bigint): IPAddress {
  return ip.family === 4 ? ipv4(ip.value & (mask as number)) : ipv6(ip.value & (mask as bigint));
}

/** A network of exactly one address (/32 or /128). */
export function hostNetwork(ip: IPAddress): IPNetwork {
  const bits = familyBits(ip.family);
  return { family: ip.family, network: ip, mask: prefixMask(ip.family, bits), prefixLength: bits };
}

/** Build a network from an address and prefix length, clearing host bits. */
export function networkOf(ip: IPAddress, prefixLength: number): IPNetwork {
  const mask = prefixMask(ip.family, prefixLength);
  return { family: ip.family, network: applyMask(ip, mask), mask, prefixLength };
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

/** Options for parsing a network. */
export interface ParseNetworkOptions {
  /** Accept a dotted mask after the slash (`10.0.0.0/255.0.0.0`), as iptables does. */
  readonly allowMask?: boolean;
  /** Reject text whose address has host bits set beyond the prefix (`10.0.0.1/8`). */
  readonly strictHostBits?: boolean;
}

/**
 * Parse `ADDR`, `ADDR/LEN` (and with `allowMask`, `ADDR/MASK`) strictly. A bare address is a host
 * network. Host bits beyond the prefix are cleared, as iptables does, unless `strictHostBits`.
 */
export function parseNetwork(text: string, options: ParseNetworkOptions = {}): IPNetwork {
  const slash = text.indexOf('/');
  if (slash < 0) return hostNetwork(parseIP(text));
  const ip = parseIP(text.slice(0, slash));
  const suffix = text.slice(slash + 1);
  const bits = familyBits(ip.family);
  let mask: number | bigint;
  let prefixLength: number | undefined;
  if (DECIMAL.test(suffix)) {
    prefixLength = Number(suffix);
    if (prefixLength > bits) throw new AddressError(`"${text}": prefix length ${suffix} is longer than ${bits}`);
    mask = prefixMask(ip.family, prefixLength);
  } else {
    const maskIP = options.allowMask ? tryParseIP(suffix) : undefined;
    if (!maskIP || maskIP.family !== ip.family) {
      throw new AddressError(`"${text}" is not a network: expected ADDRESS/PREFIX-LENGTH`);
    }
    mask = maskIP.value;
    prefixLength = maskPrefixLength(ip.family, mask);
  }
  const network = applyMask(ip, mask);
  if (options.strictHostBits && network.value !== ip.value) {
    throw new AddressError(`"${text}" has host bits set; the network is ${formatIP(network)}/${suffix}`);
  }
  return { family: ip.family, network, mask, prefixLength };
}

/** True when the address lies in the network (never across families). */
export function networkContains(net: IPNetwork, ip: IPAddress): boolean {
  if (net.family !== ip.family) return false;
  if (ip.family === 4) return ((ip.value & (net.mask as number)) >>> 0) === net.network.value;
  return (ip.value & (net.mask as bigint)) === net.network.value;
}

/** True when the network holds exactly one address. */
export function isHostNetwork(net: IPNetwork): boolean {
  return net.prefixLength === familyBits(net.family);
}

/** Text of a network: `ADDR/LEN`, or `ADDR/MASK` for a non-contiguous mask. */
export function formatNetwork(net: IPNetwork): string {
  if (net.prefixLength !== undefined) return `${formatIP(net.network)}/${net.prefixLength}`;
  const mask = net.family === 4 ? ipv4(net.mask as number) : ipv6(net.mask as bigint);
  return `${formatIP(net.network)}/${formatIP(mask)}`;
}

/** Parse a port number 0–65535 in plain decimal; throws AddressError otherwise. */
export function parsePort(text: string): number {
  if (!DECIMAL.test(text) || text.length > 5 || Number(text) > 65535) {
    throw new AddressError(`"${text}" is not a port number (0-65535)`);
  }
  return Number(text);
}

/** An address with an optional port. */
export interface Endpoint {
  readonly ip: IPAddress;
  readonly port: number | undefined;
}

/**
 * Parse `IP`, `IP:PORT`, `[IPv6]` or `[IPv6]:PORT`. A bare IPv6 address without brackets is
 * taken whole (its colons are not a port separator).
 */
export function parseEndpoint(text: string): Endpoint {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new AddressError(`"${text}": missing "]" after the IPv6 address`);
    const ip = parseIP(text.slice(1, close));
    if (ip.family !== 6) throw new AddressError(`"${text}": brackets are for IPv6 addresses`);
    const rest = text.slice(close + 1);
    if (rest === '') return { ip, port: undefined };
    if (!rest.startsWith(':')) throw new AddressError(`"${text}": expected ":PORT" after "]"`);
    return { ip, port: parsePort(rest.slice(1)) };
  }
  const colons = text.split(':').length - 1;
  if (colons === 1) {
    const [host, port] = text.split(':') as [string, string];
    return { ip: parseIP(host), port: parsePort(port) };
  }
  return { ip: parseIP(text), port: undefined };
}
