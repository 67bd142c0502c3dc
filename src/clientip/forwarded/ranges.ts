/**
 * Trusted ranges, compiled once: IPv4 ranges become sorted, merged [start, end] uint32 pairs
 * searched by bisection, so a check is a few integer comparisons with no allocation; IPv6 ranges
 * stay `net/` networks. IPv4-mapped IPv6 ranges (`::ffff:10.0.0.0/104`) are stored as IPv4 ranges,
 * as addresses are unmapped before they are checked.
 *
 * @module
 */
import {
  AddressError,
  formatNetwork,
  type IPAddress,
  type IPNetwork,
  ipv4,
  networkContains,
  networkOf,
  parseNetwork,
} from '../../net/index.js';
import { unmapIP } from './address.js';

/** Parse one range (`ADDR` or `ADDR/LEN`); an IPv4-mapped range of /96 or longer becomes IPv4. */
export function parseTrustedRange(text: string): IPNetwork {
  if (text.includes('%')) throw new AddressError(`"${text}": a trusted range cannot have an IPv6 zone`);
  const net = parseNetwork(text);
  const p = net.prefixLength!;
  if (net.family === 6 && p >= 96 && (net.network.value as bigint) >> 32n === 0xffffn) {
    return networkOf(ipv4(Number((net.network.value as bigint) & 0xffffffffn)), p - 96);
  }
  return net;
}

/** Parse a list of addresses and CIDRs (realclientip's AddressesAndRangesToIPNets); throws AddressError. */
export function parseTrustedRanges(list: readonly string[]): IPNetwork[] {
  return list.map(parseTrustedRange);
}

/** Ranges given as text, networks, or an already compiled set. */
export type RangesInput = readonly (string | IPNetwork)[] | IPRanges;

/** A compiled set of ranges; `contains` is the hot-path check. */
export class IPRanges {
  /** The ranges as given (normalised), for explanations. */
  readonly networks: readonly IPNetwork[];
  private readonly starts: Uint32Array;
  private readonly ends: Uint32Array;
  private readonly v6: readonly IPNetwork[];

  constructor(networks: readonly IPNetwork[]) {
    this.networks = networks;
    const v4: [number, number][] = [];
    const v6: IPNetwork[] = [];
    for (const net of networks) {
      if (net.family === 6) {
        v6.push(net);
        continue;
      }
      const start = net.network.value as number;
      v4.push([start, start + (~(net.mask as number) >>> 0)]);
    }
    v4.sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const r of v4) {
      const last = merged[merged.length - 1];
      if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    this.starts = Uint32Array.from(merged, (r) => r[0]);
    this.ends = Uint32Array.from(merged, (r) => r[1]);
    this.v6 = v6;
  }

  /** Compile text or networks; an IPRanges is returned as it is. */
  static from(input: RangesInput): IPRanges {
    if (input instanceof IPRanges) return input;
    return new IPRanges(input.map((r) => (typeof r === 'string' ? parseTrustedRange(r) : r)));
  }

  /** True when the (unmapped) address lies in one of the ranges. */
  contains(ip: IPAddress): boolean {
    if (ip.family === 6) {
      for (const net of this.v6) if (networkContains(net, ip)) return true;
      return false;
    }
    return this.containsV4(ip.value);
  }

  /** True when the IPv4 address with this value lies in one of the ranges. */
  containsV4(v: number): boolean {
    const starts = this.starts;
    let lo = 0;
    let hi = starts.length - 1;
    // Last range whose start is <= v, then check its end.
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid]! <= v) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 && v <= this.ends[hi]!;
  }

  /** True when there are no ranges at all. */
  get empty(): boolean {
    return this.networks.length === 0;
  }

  /** The ranges as CIDR text. */
  toStrings(): string[] {
    return this.networks.map(formatNetwork);
  }
}

/**
 * Private, loopback, link-local, shared, documentation, benchmarking, multicast and reserved
 * ranges: realclientip's list (its RFC 2544 fix included). NonPrivate strategies skip these.
 */
export const PRIVATE_AND_LOCAL_RANGES: readonly string[] = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '127.0.0.0/8',
  '0.0.0.0/8',
  '169.254.0.0/16',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '192.88.99.0/24',
  '198.18.0.0/15',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '255.255.255.255/32',
  '100.64.0.0/10',
  '::/128',
  '::1/128',
  '100::/64',
  '2001::/23',
  '2001:2::/48',
  '2001:db8::/32',
  '2001::/32',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
  '2002::/16',
];

const PRIVATE = IPRanges.from(PRIVATE_AND_LOCAL_RANGES);

/** True for an address in PRIVATE_AND_LOCAL_RANGES (IPv4-mapped addresses are judged as IPv4). */
export function isPrivateOrLocal(ip: IPAddress): boolean {
  return PRIVATE.contains(unmapIP(ip));
}
