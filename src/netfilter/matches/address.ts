/**
 * Matches on addresses and links: addrtype, iprange, set (ipset), mac, physdev, pkttype.
 *
 * @module
 */
import {
  compareIP,
  type IPAddress,
  LOCAL_TABLE,
  lookupRoute,
  networkContains,
  networkOf,
  parseIP,
} from '../../net/index.js';
import type { MatchContext } from '../context.js';
import type { Host } from '../host.js';
import type { Match } from '../ir.js';
import { type MatchModule, notNegated, OptionError, optionsText, type ParsedOption, parseList, single } from '../options.js';

/** Address types of `-m addrtype`, as the kernel's route types. */
export const ADDRESS_TYPES = [
  'UNSPEC',
  'UNICAST',
  'LOCAL',
  'BROADCAST',
  'ANYCAST',
  'MULTICAST',
  'BLACKHOLE',
  'UNREACHABLE',
  'PROHIBIT',
  'THROW',
  'NAT',
  'XRESOLVE',
] as const;
type AddressType = (typeof ADDRESS_TYPES)[number];

function isMulticast(ip: IPAddress): boolean {
  return ip.family === 4 ? ip.value >>> 28 === 0xe : ip.value >> 120n === 0xffn;
}

/** True when the address is the broadcast address of a subnet on an interface (or limited broadcast). */
function isBroadcast(host: Host, ip: IPAddress, device: string | undefined): boolean {
  if (ip.family !== 4) return false;
  if (ip.value === 0xffffffff || ip.value === 0) return true;
  for (const iface of host.interfaces) {
    if (device && iface.name !== device) continue;
    for (const a of iface.addresses) {
      if (a.ip.family !== 4 || a.prefixLength >= 31) continue;
      const net = networkOf(a.ip, a.prefixLength);
      const bcast = (net.network.value as number) | (~(net.mask as number) >>> 0);
      if (bcast >>> 0 === ip.value) return true;
    }
  }
  return false;
}

/**
 * The type the kernel gives an address (inet_dev_addr_type): BROADCAST and MULTICAST by
 * address, LOCAL when the local table has it (on `device` only, when limited), else UNICAST.
 */
export function addressType(host: Host, ip: IPAddress, device: string | undefined): AddressType {
  if (isMulticast(ip)) return 'MULTICAST';
  if (isBroadcast(host, ip, device)) return 'BROADCAST';
  for (const route of host.routes) {
    if (route.table !== LOCAL_TABLE || route.type !== 'local') continue;
    if (!networkContains(route.destination, ip)) continue;
    if (device && route.device !== device) continue;
    return 'LOCAL';
  }
  return 'UNICAST';
}

/**
 * IPv6, as xt_addrtype's match_type6(): UNICAST, MULTICAST and UNSPEC are classes of the address
 * that must all hold; LOCAL, ANYCAST and UNREACHABLE come from a route lookup, one must hold.
 * So `LOCAL,UNICAST` means local and unicast (for IPv4: local or unicast).
 */
export function matchesAddressType6(host: Host, ip: IPAddress, device: string | undefined, types: ReadonlySet<AddressType>): boolean {
  const multicast = isMulticast(ip);
  const any = ip.value === 0n;
  if (types.has('MULTICAST') && !multicast) return false;
  if (types.has('UNICAST') && (multicast || any)) return false;
  if (types.has('UNSPEC') && !any) return false;
  if (!types.has('LOCAL') && !types.has('ANYCAST') && !types.has('UNREACHABLE')) return true;
  const match = lookupRoute(host.routes, host.policyRules, ip);
  const route = match && (!device || match.route.device === device || match.route.type === 'unicast' || match.route.type === 'unreachable') ? match.route : undefined;
  if (types.has('UNREACHABLE') && (!route || route.type === 'unreachable' || route.type === 'prohibit' || route.type === 'blackhole')) return true;
  if (types.has('LOCAL') && route?.type === 'local') return true;
  if (types.has('ANYCAST') && route?.type === 'anycast') return true;
  return false;
}

const UNSUPPORTED_V6: readonly AddressType[] = ['BROADCAST', 'BLACKHOLE', 'PROHIBIT', 'THROW', 'NAT', 'XRESOLVE'];

function parseTypes(option: ParsedOption): Set<AddressType> {
  const types = new Set<AddressType>();
  for (const t of parseList(option.values[0]!, option.name)) {
    if (!(ADDRESS_TYPES as readonly string[]).includes(t)) {
      throw new OptionError(`${option.name}: unknown address type "${t}" (${ADDRESS_TYPES.join(', ')})`);
    }
    types.add(t as AddressType);
  }
  return types;
}

/** `-m addrtype --dst-type LOCAL [--limit-iface-in]` */
export const addrtypeMatch: MatchModule = {
  name: 'addrtype',
  options: { '--src-type': 1, '--dst-type': 1, '--limit-iface-in': 0, '--limit-iface-out': 0 },
  build(options, info) {
    const src = single(options, '--src-type');
    const dst = single(options, '--dst-type');
    const limitIn = single(options, '--limit-iface-in');
    const limitOut = single(options, '--limit-iface-out');
    if (limitIn) notNegated(limitIn);
    if (limitOut) notNegated(limitOut);
    if (limitIn && limitOut) throw new OptionError('--limit-iface-in and --limit-iface-out cannot be combined');
    if (limitIn && (info.chain === 'OUTPUT' || info.chain === 'POSTROUTING')) {
      throw new OptionError(`--limit-iface-in cannot be used in ${info.chain}`);
    }
    if (limitOut && (info.chain === 'PREROUTING' || info.chain === 'INPUT')) {
      throw new OptionError(`--limit-iface-out cannot be used in ${info.chain}`);
    }
    const srcTypes = src ? parseTypes(src) : undefined;
    const dstTypes = dst ? parseTypes(dst) : undefined;
    if (info.family === 6) {
      for (const t of [...(srcTypes ?? []), ...(dstTypes ?? [])]) {
        if (UNSUPPORTED_V6.includes(t)) throw new OptionError(`address type ${t} cannot be matched for IPv6`);
      }
    }

    return {
      module: 'addrtype',
      text: optionsText(options),
      test(ctx: MatchContext) {
        const device = limitIn ? ctx.inInterface : limitOut ? ctx.outInterface : undefined;
        if ((limitIn || limitOut) && device === undefined) return false;
        const holds = (ip: IPAddress, types: ReadonlySet<AddressType>) =>
          ip.family === 6 ? matchesAddressType6(ctx.host, ip, device, types) : types.has(addressType(ctx.host, ip, device));
        if (src && srcTypes && holds(ctx.packet.source, srcTypes) === src.negated) return false;
        if (dst && dstTypes && holds(ctx.packet.destination, dstTypes) === dst.negated) return false;
        return true;
      },
    };
  },
};

function parseRange(option: ParsedOption, family: 4 | 6): [IPAddress, IPAddress] {
  const [a, b, extra] = option.values[0]!.split('-');
  try {
    if (a === undefined || extra !== undefined) throw new Error('expected FROM-TO');
    const lo = parseIP(a);
    const hi = b === undefined ? lo : parseIP(b);
    if (lo.family !== family || hi.family !== family) throw new Error(`not IPv${family} addresses`);
    return [lo, hi];
  } catch (e) {
    throw new OptionError(`${option.name} "${option.values[0]}": ${(e as Error).message}`);
  }
}

/** `-m iprange --src-range 10.0.0.1-10.0.0.9` */
export const iprangeMatch: MatchModule = {
  name: 'iprange',
  options: { '--src-range': 1, '--dst-range': 1 },
  build(options, info) {
    const src = single(options, '--src-range');
    const dst = single(options, '--dst-range');
    if (!src && !dst) throw new OptionError('-m iprange needs --src-range or --dst-range');
    const srcRange = src ? parseRange(src, info.family) : undefined;
    const dstRange = dst ? parseRange(dst, info.family) : undefined;
    const inside = (ip: IPAddress, [lo, hi]: [IPAddress, IPAddress]) => compareIP(ip, lo) >= 0 && compareIP(ip, hi) <= 0;
    return {
      module: 'iprange',
      text: optionsText(options),
      test(ctx) {
        if (src && srcRange && inside(ctx.packet.source, srcRange) === src.negated) return false;
        if (dst && dstRange && inside(ctx.packet.destination, dstRange) === dst.negated) return false;
        return true;
      },
    };
  },
};

/** `-m set --match-set NAME src,dst` (sets come from `ipset save` data). */
export const setMatch: MatchModule = {
  name: 'set',
  options: {
    '--match-set': 2,
    '--set': 2,
    '--return-nomatch': 0,
    '--update-counters': 0,
    '--update-subcounters': 0,
    '--packets-eq': 1,
    '--packets-lt': 1,
    '--packets-gt': 1,
    '--bytes-eq': 1,
    '--bytes-lt': 1,
    '--bytes-gt': 1,
  },
  build(options): Match {
    const sets = options.filter((o) => o.name === '--match-set' || o.name === '--set');
    if (sets.length !== 1) throw new OptionError('-m set takes one --match-set NAME FLAGS');
    const o = sets[0]!;
    const name = o.values[0]!;
    const flags = parseList(o.values[1]!, '--match-set flags').map((f) => {
      if (f !== 'src' && f !== 'dst') throw new OptionError(`--match-set flags are src or dst, not "${f}"`);
      return f;
    });
    const counterTests = options.filter((x) => /^--(packets|bytes)-/.test(x.name));
    return {
      module: 'set',
      text: optionsText(options),
      test(ctx) {
        const hit = ctx.ipsets.test(name, flags, ctx.packet);
        if (hit === undefined) return { undetermined: `ipset "${name}" is not given (pass its "ipset save" output with --ipset)` };
        if (counterTests.length > 0) return { undetermined: 'ipset counter matches depend on set counters, which are not modelled' };
        return hit !== o.negated;
      },
    };
  },
};

/** `-m mac --mac-source 00:11:22:33:44:55` */
export const macMatch: MatchModule = {
  name: 'mac',
  options: { '--mac-source': 1 },
  build(options) {
    const o = single(options, '--mac-source');
    if (!o) throw new OptionError('-m mac needs --mac-source');
    const mac = o.values[0]!.toLowerCase();
    if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac)) throw new OptionError(`--mac-source "${o.values[0]}" is not a MAC address`);
    return {
      module: 'mac',
      text: optionsText(options),
      test(ctx) {
        if (ctx.sourceMac === undefined) return { undetermined: 'the packet\'s source MAC address is not given' };
        return (ctx.sourceMac.toLowerCase() === mac) !== o.negated;
      },
    };
  },
};

function ifaceMatches(pattern: string, name: string | undefined): boolean {
  if (name === undefined) return false;
  return pattern.endsWith('+') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

/** `-m physdev --physdev-in veth+ --physdev-is-bridged` (bridged packets with br_netfilter). */
export const physdevMatch: MatchModule = {
  name: 'physdev',
  options: {
    '--physdev-in': 1,
    '--physdev-out': 1,
    '--physdev-is-in': 0,
    '--physdev-is-out': 0,
    '--physdev-is-bridged': 0,
  },
  build(options) {
    if (options.length === 0) throw new OptionError('-m physdev needs an option');
    return {
      module: 'physdev',
      text: optionsText(options),
      test(ctx) {
        const bridged = ctx.physInInterface !== undefined || ctx.physOutInterface !== undefined;
        if (!bridged) {
          // xt_physdev: on a packet that was not bridged, every non-negated option fails.
          return options.every((o) => o.negated);
        }
        for (const o of options) {
          let hit: boolean;
          switch (o.name) {
            case '--physdev-in':
              hit = ifaceMatches(o.values[0]!, ctx.physInInterface);
              break;
            case '--physdev-out':
              hit = ifaceMatches(o.values[0]!, ctx.physOutInterface);
              break;
            case '--physdev-is-in':
              hit = ctx.physInInterface !== undefined;
              break;
            case '--physdev-is-out':
              hit = ctx.physOutInterface !== undefined;
              break;
            default:
              hit = ctx.physOutInterface !== undefined;
          }
          if (hit === o.negated) return false;
        }
        return true;
      },
    };
  },
};

/** `-m pkttype --pkt-type unicast` (judged from the destination address). */
export const pkttypeMatch: MatchModule = {
  name: 'pkttype',
  options: { '--pkt-type': 1 },
  build(options) {
    const o = single(options, '--pkt-type');
    if (!o) throw new OptionError('-m pkttype needs --pkt-type');
    const want = o.values[0]!.toLowerCase();
    if (!['unicast', 'broadcast', 'multicast', 'host', 'otherhost'].includes(want)) {
      throw new OptionError(`--pkt-type must be unicast, broadcast or multicast, not "${o.values[0]}"`);
    }
    return {
      module: 'pkttype',
      text: optionsText(options),
      test(ctx) {
        const dst = ctx.packet.destination;
        const type = isMulticast(dst) ? 'multicast' : isBroadcast(ctx.host, dst, ctx.inInterface) ? 'broadcast' : 'unicast';
        const normalized = want === 'host' ? 'unicast' : want;
        if (want === 'otherhost') return { undetermined: '--pkt-type otherhost depends on the link layer, which is not modelled' };
        return (type === normalized) !== o.negated;
      },
    };
  },
};
