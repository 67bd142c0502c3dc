/**
 * Transport-header matches: tcp, udp, sctp (ports, TCP flags), multiport, icmp and icmp6.
 *
 * @module
 */
import { IPPROTO, protocolName, TCP_FLAGS } from '../../net/index.js';
import type { Match } from '../ir.js';
import {
  type MatchModule,
  OptionError,
  optionsText,
  type ParsedOption,
  parseList,
  parsePortRange,
  type RuleInfo,
  single,
} from '../options.js';

type PortRange = { min: number; max: number };

function inRange(port: number | undefined, r: PortRange): boolean {
  return port !== undefined && port >= r.min && port <= r.max;
}

function requireProtocol(info: RuleInfo, module: string, protocols: readonly number[]): void {
  const p = info.protocol;
  if (!p || p.negated || !protocols.includes(p.value)) {
    const names = protocols.map((x) => `-p ${protocolName(x)}`).join(' or ');
    throw new OptionError(`-m ${module} needs ${names} before it`);
  }
}

/** A single-port-or-range option test with iptables' `!`. */
function portTest(option: ParsedOption | undefined, which: 'sourcePort' | 'destinationPort') {
  if (!option) return undefined;
  const range = parsePortRange(option.values[0]!);
  const negated = option.negated;
  return { range, negated, which };
}

const TCP_FLAG_NAMES: Readonly<Record<string, number>> = { ...TCP_FLAGS, ALL: 0x3f, NONE: 0 };

function parseTcpFlagList(text: string): number {
  let bits = 0;
  for (const name of parseList(text, 'TCP flags')) {
    const v = TCP_FLAG_NAMES[name.toUpperCase()];
    if (v === undefined) throw new OptionError(`unknown TCP flag "${name}" (FIN, SYN, RST, PSH, ACK, URG, ALL, NONE)`);
    bits |= v;
  }
  return bits;
}

function portsModule(name: 'tcp' | 'udp' | 'sctp', proto: number, extra: Record<string, number>): MatchModule {
  return {
    name,
    options: { '--sport': 1, '--source-port': 1, '--dport': 1, '--destination-port': 1, ...extra },
    build(options, info): Match {
      requireProtocol(info, name, [proto]);
      const sport = portTest(single(options, '--sport', '--source-port'), 'sourcePort');
      const dport = portTest(single(options, '--dport', '--destination-port'), 'destinationPort');
      let flags: { mask: number; comp: number; negated: boolean } | undefined;
      const tcpFlags = single(options, '--tcp-flags');
      const syn = single(options, '--syn');
      if (tcpFlags && syn) throw new OptionError('--syn and --tcp-flags cannot be combined');
      if (tcpFlags) {
        flags = {
          mask: parseTcpFlagList(tcpFlags.values[0]!),
          comp: parseTcpFlagList(tcpFlags.values[1]!),
          negated: tcpFlags.negated,
        };
      } else if (syn) {
        // --syn is --tcp-flags FIN,SYN,RST,ACK SYN
        flags = { mask: 0x17, comp: 0x02, negated: syn.negated };
      }
      const tcpOption = single(options, '--tcp-option');
      const chunkTypes = single(options, '--chunk-types');
      const exact = {
        module: name,
        text: optionsText(options),
        destinationPort: dport && !dport.negated && dport.range.min === dport.range.max ? dport.range.min : undefined,
      };
      return {
        ...exact,
        test(ctx) {
          const pkt = ctx.packet;
          for (const t of [sport, dport]) {
            if (t && inRange(pkt[t.which], t.range) === t.negated) return false;
          }
          if (flags) {
            const have = pkt.tcpFlags ?? TCP_FLAGS.SYN;
            if (((have & flags.mask) === flags.comp) === flags.negated) return false;
          }
          if (tcpOption) return { undetermined: `--tcp-option needs the packet's TCP options, which kubepath does not model` };
          if (chunkTypes) return { undetermined: `--chunk-types needs the SCTP chunks, which kubepath does not model` };
          return true;
        },
      };
    },
  };
}

/** `-m tcp` (also implicit after `-p tcp`). */
export const tcpMatch = portsModule('tcp', IPPROTO.tcp, { '--tcp-flags': 2, '--syn': 0, '--tcp-option': 1 });
/** `-m udp` (also implicit after `-p udp`). */
export const udpMatch = portsModule('udp', IPPROTO.udp, {});
/** `-m sctp` (also implicit after `-p sctp`). */
export const sctpMatch = portsModule('sctp', IPPROTO.sctp, { '--chunk-types': 2 });

/** `-m multiport --dports 80,443,8000:8080` */
export const multiportMatch: MatchModule = {
  name: 'multiport',
  options: { '--sports': 1, '--source-ports': 1, '--dports': 1, '--destination-ports': 1, '--ports': 1 },
  build(options, info) {
    requireProtocol(info, 'multiport', [IPPROTO.tcp, IPPROTO.udp, IPPROTO.sctp]);
    if (options.length !== 1) throw new OptionError('-m multiport takes exactly one of --sports, --dports, --ports');
    const option = options[0]!;
    const ranges = parseList(option.values[0]!, option.name).map(parsePortRange);
    const slots = ranges.reduce((n, r) => n + (r.min === r.max ? 1 : 2), 0);
    if (slots > 15) throw new OptionError(`${option.name}: too many ports (iptables allows 15 slots)`);
    const which = option.name === '--ports' ? 'both' : option.name === '--dports' || option.name === '--destination-ports' ? 'dst' : 'src';
    return {
      module: 'multiport',
      text: optionsText(options),
      test(ctx) {
        const { sourcePort, destinationPort } = ctx.packet;
        const hit =
          which === 'src'
            ? ranges.some((r) => inRange(sourcePort, r))
            : which === 'dst'
              ? ranges.some((r) => inRange(destinationPort, r))
              : ranges.some((r) => inRange(sourcePort, r) || inRange(destinationPort, r));
        return hit !== option.negated;
      },
    };
  },
};

const ICMP_TYPES: Readonly<Record<string, [number, number | undefined]>> = {
  any: [255, undefined],
  'echo-reply': [0, undefined],
  pong: [0, undefined],
  'destination-unreachable': [3, undefined],
  'network-unreachable': [3, 0],
  'host-unreachable': [3, 1],
  'protocol-unreachable': [3, 2],
  'port-unreachable': [3, 3],
  'fragmentation-needed': [3, 4],
  'source-route-failed': [3, 5],
  'network-unknown': [3, 6],
  'host-unknown': [3, 7],
  'network-prohibited': [3, 9],
  'host-prohibited': [3, 10],
  'TOS-network-unreachable': [3, 11],
  'TOS-host-unreachable': [3, 12],
  'communication-prohibited': [3, 13],
  'host-precedence-violation': [3, 14],
  'precedence-cutoff': [3, 15],
  'source-quench': [4, undefined],
  redirect: [5, undefined],
  'network-redirect': [5, 0],
  'host-redirect': [5, 1],
  'echo-request': [8, undefined],
  ping: [8, undefined],
  'router-advertisement': [9, undefined],
  'router-solicitation': [10, undefined],
  'time-exceeded': [11, undefined],
  'ttl-exceeded': [11, undefined],
  'ttl-zero-during-transit': [11, 0],
  'ttl-zero-during-reassembly': [11, 1],
  'parameter-problem': [12, undefined],
  'timestamp-request': [13, undefined],
  'timestamp-reply': [14, undefined],
  'address-mask-request': [17, undefined],
  'address-mask-reply': [18, undefined],
};

const ICMPV6_TYPES: Readonly<Record<string, [number, number | undefined]>> = {
  'destination-unreachable': [1, undefined],
  'no-route': [1, 0],
  'communication-prohibited': [1, 1],
  'beyond-scope': [1, 2],
  'address-unreachable': [1, 3],
  'port-unreachable': [1, 4],
  'failed-policy': [1, 5],
  'reject-route': [1, 6],
  'packet-too-big': [2, undefined],
  'time-exceeded': [3, undefined],
  'ttl-exceeded': [3, undefined],
  'parameter-problem': [4, undefined],
  'echo-request': [128, undefined],
  ping: [128, undefined],
  'echo-reply': [129, undefined],
  pong: [129, undefined],
  'router-solicitation': [133, undefined],
  'router-advertisement': [134, undefined],
  'neighbour-solicitation': [135, undefined],
  'neighbor-solicitation': [135, undefined],
  'neighbour-advertisement': [136, undefined],
  'neighbor-advertisement': [136, undefined],
  redirect: [137, undefined],
};

function parseIcmpType(text: string, table: Readonly<Record<string, [number, number | undefined]>>): [number, number | undefined] {
  const named = table[text];
  if (named) return named;
  const m = /^([0-9]{1,3})(?:\/([0-9]{1,3}))?$/.exec(text);
  if (!m || Number(m[1]) > 255 || (m[2] !== undefined && Number(m[2]) > 255)) {
    throw new OptionError(`"${text}" is not an ICMP type (a name, TYPE or TYPE/CODE)`);
  }
  return [Number(m[1]), m[2] === undefined ? undefined : Number(m[2])];
}

function icmpModule(name: 'icmp' | 'icmp6', option: string, proto: number, table: typeof ICMP_TYPES): MatchModule {
  return {
    name,
    options: { [option]: 1 },
    build(options, info) {
      requireProtocol(info, name, [proto]);
      const o = single(options, option);
      if (!o) return { module: name, text: '', test: () => true };
      const [type, code] = parseIcmpType(o.values[0]!, table);
      return {
        module: name,
        text: optionsText(options),
        test(ctx) {
          const t = ctx.packet.icmpType;
          if (t === undefined) return { undetermined: 'the ICMP type of the packet is not given (--icmp-type)' };
          const hit = type === 255 || (t === type && (code === undefined || code === (ctx.packet.icmpCode ?? 0)));
          return hit !== o.negated;
        },
      };
    },
  };
}

/** `-m icmp --icmp-type echo-request` */
export const icmpMatch = icmpModule('icmp', '--icmp-type', IPPROTO.icmp, ICMP_TYPES);
/** `-m icmp6 --icmpv6-type echo-request` */
export const icmp6Match = icmpModule('icmp6', '--icmpv6-type', IPPROTO.icmpv6, ICMPV6_TYPES);
