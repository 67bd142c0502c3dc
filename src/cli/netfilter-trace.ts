/**
 * `kubepath netfilter trace`: one packet through an iptables-save dump.
 *
 * @module
 */
import {
  IPPROTO,
  type IPAddress,
  type Packet,
  parseEndpoint,
  parseIP,
  protocolName,
  protocolNumber,
  TCP_FLAGS,
} from '../net/index.js';
import {
  IpsetCollection,
  parseConntrackList,
  parseIpsetSave,
  parseRuleset,
  type RecentEntry,
  type Ruleset,
  type Trace,
  tracePacket,
  traceJson,
  traceReply,
} from '../netfilter/index.js';
import { renderNetfilterTrace } from '../report/netfilter-trace.js';
import { styleFor } from '../report/style.js';
import { EXIT, readInput, UserError } from './errors.js';
import { type HostFlags, hostFromFlags } from './host-options.js';

/** The flags of `kubepath netfilter trace`. */
export interface NetfilterTraceFlags extends HostFlags {
  readonly rules?: string;
  readonly rules6?: string;
  readonly proto: string;
  readonly src?: string;
  readonly dst?: string;
  readonly localOut?: boolean;
  readonly mark?: string;
  readonly uid?: string;
  readonly gid?: string;
  readonly tcpFlags?: string;
  readonly icmpType?: string;
  readonly ipset?: string[];
  readonly conntrack?: string;
  readonly recent?: string[];
  readonly nth?: string[];
  readonly physdevIn?: string;
  readonly mac?: string;
  readonly reply?: boolean;
  readonly strict?: boolean;
  readonly verbose?: boolean;
  readonly json?: boolean;
}

/** Default source port of a traced connection when none is given (an ephemeral port). */
export const DEFAULT_SOURCE_PORT = 40000;

function parseNumber(text: string, what: string, max: number): number {
  const v = /^0x[0-9a-fA-F]+$/.test(text) ? parseInt(text, 16) : /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(v) || v > max) throw new UserError(`${what} "${text}" is not a number from 0 to ${max}`);
  return v;
}

function parseTcpFlags(text: string): number {
  let bits = 0;
  for (const name of text.split(',')) {
    const v = (TCP_FLAGS as Record<string, number>)[name.toUpperCase()];
    if (v === undefined) throw new UserError(`--tcp-flags: unknown flag "${name}" (SYN, ACK, FIN, RST, PSH, URG)`);
    bits |= v;
  }
  return bits;
}

/** Build the packet from --proto, --src, --dst and friends. */
export function packetFromFlags(flags: NetfilterTraceFlags): Packet {
  const protocol = protocolNumber(flags.proto);
  if (protocol === undefined || ![IPPROTO.tcp, IPPROTO.udp, IPPROTO.sctp, IPPROTO.icmp, IPPROTO.icmpv6].includes(protocol as 6)) {
    throw new UserError(`--proto "${flags.proto}": use tcp, udp, sctp, icmp or icmpv6`);
  }
  if (!flags.src) throw new UserError('--src IP[:PORT] is required');
  if (!flags.dst) throw new UserError('--dst IP:PORT is required');
  const src = withFlag('--src', () => parseEndpoint(flags.src!));
  const dst = withFlag('--dst', () => parseEndpoint(flags.dst!));
  if (src.ip.family !== dst.ip.family) throw new UserError(`--src ${flags.src} and --dst ${flags.dst} are of different address families`);
  const ported = protocol === IPPROTO.tcp || protocol === IPPROTO.udp || protocol === IPPROTO.sctp;
  if (ported && dst.port === undefined) throw new UserError(`--dst ${flags.dst}: ${protocolName(protocol)} needs a port (IP:PORT, [IPv6]:PORT)`);
  if (!ported && (src.port !== undefined || dst.port !== undefined)) throw new UserError(`--proto ${flags.proto} has no ports: give --src and --dst without them`);
  if (protocol === IPPROTO.icmp && src.ip.family !== 4) throw new UserError('--proto icmp is for IPv4; use icmpv6');
  if (protocol === IPPROTO.icmpv6 && src.ip.family !== 6) throw new UserError('--proto icmpv6 is for IPv6; use icmp');
  const icmp = protocol === IPPROTO.icmp || protocol === IPPROTO.icmpv6;
  let icmpType: number | undefined;
  let icmpCode: number | undefined;
  if (icmp) {
    const [t, c] = (flags.icmpType ?? (protocol === IPPROTO.icmp ? '8' : '128')).split('/');
    icmpType = parseNumber(t!, '--icmp-type', 255);
    icmpCode = c === undefined ? 0 : parseNumber(c, '--icmp-type code', 255);
  } else if (flags.icmpType) {
    throw new UserError('--icmp-type is for --proto icmp or icmpv6');
  }
  return {
    family: src.ip.family,
    protocol,
    source: src.ip,
    destination: dst.ip,
    sourcePort: ported ? (src.port ?? DEFAULT_SOURCE_PORT) : undefined,
    destinationPort: dst.port,
    tcpFlags: protocol === IPPROTO.tcp ? (flags.tcpFlags ? parseTcpFlags(flags.tcpFlags) : TCP_FLAGS.SYN) : undefined,
    icmpType,
    icmpCode,
    length: undefined,
  };
}

function withFlag<T>(flag: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw new UserError(`${flag}: ${(e as Error).message}`);
  }
}

function loadRuleset(path: string, family: 4 | 6, strict: boolean): Ruleset {
  const text = readInput(path, family === 4 ? 'rules' : 'IPv6 rules');
  return parseRuleset(text, { file: path, family, lenient: !strict });
}

function recentState(flags: readonly string[]): Map<string, RecentEntry[]> {
  const lists = new Map<string, RecentEntry[]>();
  for (const text of flags) {
    const m = /^([^=]+)=([^@]+)(?:@([0-9]+))?$/.exec(text);
    if (!m) throw new UserError(`--recent "${text}": expected NAME=IP[@SECONDS-AGO]`);
    const ip: IPAddress = withFlag('--recent', () => parseIP(m[2]!));
    const ago = m[3] === undefined ? 0 : Number(m[3]);
    const list = lists.get(m[1]!) ?? [];
    list.push({ address: ip, seen: [-ago], ttl: undefined });
    lists.set(m[1]!, list);
  }
  return lists;
}

function nthCounters(flags: readonly string[]): Map<string, number> {
  const counters = new Map<string, number>();
  for (const text of flags) {
    const m = /^([a-z]+\/[^/=]+\/[0-9]+)=([0-9]+)$/.exec(text);
    if (!m) throw new UserError(`--nth "${text}": expected TABLE/CHAIN/RULE-NUMBER=PACKETS-SEEN`);
    counters.set(m[1]!, Number(m[2]));
  }
  return counters;
}

/** Run the command; returns the exit code. */
export function runNetfilterTrace(flags: NetfilterTraceFlags, stdout: NodeJS.WritableStream & { isTTY?: boolean }, stderr: NodeJS.WritableStream): number {
  if (!flags.rules && !flags.rules6) throw new UserError('--rules FILE (iptables-save output; "-" for stdin) is required');
  if (flags.rules === '-' && flags.rules6 === '-') throw new UserError('only one of --rules and --rules6 can read stdin');
  if (flags.localOut && flags.inIface) throw new UserError('give either --in-iface IF (arriving packet) or --local-out (sent by this host), not both');
  if (!flags.localOut && !flags.inIface) throw new UserError('say where the packet enters: --in-iface IF (arriving on an interface) or --local-out (sent by a local process)');
  if ((flags.uid !== undefined || flags.gid !== undefined) && !flags.localOut) throw new UserError('--uid/--gid describe the sending socket: use them with --local-out');
  const packet = packetFromFlags(flags);
  const rulesPath = packet.family === 4 ? flags.rules : flags.rules6;
  if (!rulesPath) {
    throw new UserError(packet.family === 4 ? 'an IPv4 packet needs --rules (iptables-save output)' : 'an IPv6 packet needs --rules6 (ip6tables-save output)');
  }
  const ruleset = loadRuleset(rulesPath, packet.family, flags.strict ?? false);
  const host = hostFromFlags(flags);
  const ipsets = new IpsetCollection();
  for (const file of flags.ipset ?? []) parseIpsetSave(readInput(file, 'ipset file'), file, ipsets);
  const request = {
    packet,
    entry: flags.localOut
      ? ({
          kind: 'local' as const,
          socket: {
            uid: flags.uid === undefined ? undefined : parseNumber(flags.uid, '--uid', 0xffffffff),
            gid: flags.gid === undefined ? undefined : parseNumber(flags.gid, '--gid', 0xffffffff),
            supplementaryGids: [],
          },
        })
      : ({ kind: 'incoming' as const, interface: flags.inIface!, physInInterface: flags.physdevIn, sourceMac: flags.mac }),
    mark: flags.mark === undefined ? 0 : parseNumber(flags.mark, '--mark', 0xffffffff),
    ipsets,
    ...(flags.conntrack ? { conntrack: parseConntrackList(readInput(flags.conntrack, 'conntrack file'), flags.conntrack) } : {}),
    recent: recentState(flags.recent ?? []),
    nthCounters: nthCounters(flags.nth ?? []),
  };
  if (ruleset.tables.size === 0) {
    stderr.write(`kubepath: warning: ${rulesPath} has no tables: every hook accepts (was it the output of iptables-save?)\n`);
  }
  for (const rule of ruleset.unmodelled) {
    stderr.write(`kubepath: warning: ${rule.location.file}:${rule.location.line}: ${rule.unmodelled}; a path through this rule is undetermined\n`);
  }
  const trace: Trace = tracePacket(ruleset, host, request);
  const replies = flags.reply ? trace.outcomes.map((o) => traceReply(ruleset, host, o, request)) : undefined;
  if (flags.json) {
    stdout.write(`${JSON.stringify(traceJson(trace, replies), null, 2)}\n`);
  } else {
    stdout.write(`${renderNetfilterTrace(trace, { style: styleFor(stdout), verbose: flags.verbose ?? false, replies })}\n`);
  }
  return trace.outcomes.some((o) => o.disposition === 'undetermined') ? EXIT.undetermined : EXIT.ok;
}
