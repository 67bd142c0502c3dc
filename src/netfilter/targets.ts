/**
 * Targets: what a matching rule does. Verdicts (ACCEPT, DROP, REJECT, RETURN), jumps and
 * gotos, marks (MARK, CONNMARK), NAT (DNAT, SNAT, MASQUERADE, REDIRECT), TPROXY, conntrack
 * control (NOTRACK, CT) and targets that only record (LOG, NFLOG, TRACE, ...).
 *
 * @module
 */
import { type IPAddress, parseIP } from '../net/index.js';
import {
  notNegated,
  OptionError,
  optionsText,
  type ParsedOption,
  parsePortValue,
  parseU32,
  parseValueMask,
  type RuleInfo,
  single,
  type TargetModule,
} from './options.js';

/** An address and port range for NAT (`--to-destination 10.0.0.1-10.0.0.3:8080-8081`). */
export interface NatRange {
  readonly minAddress: IPAddress | undefined;
  readonly maxAddress: IPAddress | undefined;
  readonly minPort: number | undefined;
  readonly maxPort: number | undefined;
}

/** What a rule's target does. */
export type Target = { readonly name: string; readonly text: string } & (
  | { readonly kind: 'accept' | 'drop' | 'return' | 'notrack' }
  | { readonly kind: 'reject'; readonly with: string }
  | { readonly kind: 'jump'; readonly chain: string; readonly goto: boolean }
  /** MARK, normalised to --set-xmark: mark = (mark & ~mask) ^ value. */
  | { readonly kind: 'mark'; readonly value: number; readonly mask: number }
  | { readonly kind: 'connmark-set'; readonly value: number; readonly mask: number }
  | { readonly kind: 'connmark-save'; readonly nfmask: number; readonly ctmask: number }
  | { readonly kind: 'connmark-restore'; readonly nfmask: number; readonly ctmask: number }
  | { readonly kind: 'dnat'; readonly range: NatRange; readonly random: boolean; readonly randomFully: boolean; readonly persistent: boolean }
  | { readonly kind: 'snat'; readonly range: NatRange; readonly random: boolean; readonly randomFully: boolean; readonly persistent: boolean }
  | { readonly kind: 'masquerade'; readonly minPort: number | undefined; readonly maxPort: number | undefined; readonly random: boolean; readonly randomFully: boolean }
  | { readonly kind: 'redirect'; readonly minPort: number | undefined; readonly maxPort: number | undefined; readonly random: boolean }
  | { readonly kind: 'tproxy'; readonly port: number; readonly address: IPAddress | undefined; readonly markValue: number; readonly markMask: number }
  /** CT without --notrack (zone, helper, timeouts): recorded, no effect the engine models. */
  | { readonly kind: 'record' }
  | { readonly kind: 'unmodelled'; readonly reason: string }
);

/** Targets that end the traversal of the current table (ACCEPT, DROP, REJECT, NAT, TPROXY). */
export function isTerminal(target: Target): boolean {
  return ['accept', 'drop', 'reject', 'dnat', 'snat', 'masquerade', 'redirect', 'tproxy'].includes(target.kind);
}

/** `-j NAME OPTIONS`: as written in the rule when the parser found it in that form, else built. */
function targetText(name: string, options: readonly ParsedOption[], info: RuleInfo): string {
  return info.targetText ?? (options.length === 0 ? `-j ${name}` : `-j ${name} ${optionsText(options)}`);
}

function noOptions(name: string, kind: 'accept' | 'drop' | 'return'): TargetModule {
  return {
    name,
    options: {},
    build: (options, info) => ({ name: name, text: targetText(name, options, info), kind }),
  };
}

const REJECT_V4 = new Map([
  ['icmp-net-unreachable', 'icmp-net-unreachable'],
  ['net-unreach', 'icmp-net-unreachable'],
  ['icmp-host-unreachable', 'icmp-host-unreachable'],
  ['host-unreach', 'icmp-host-unreachable'],
  ['icmp-port-unreachable', 'icmp-port-unreachable'],
  ['port-unreach', 'icmp-port-unreachable'],
  ['icmp-proto-unreachable', 'icmp-proto-unreachable'],
  ['proto-unreach', 'icmp-proto-unreachable'],
  ['icmp-net-prohibited', 'icmp-net-prohibited'],
  ['net-prohib', 'icmp-net-prohibited'],
  ['icmp-host-prohibited', 'icmp-host-prohibited'],
  ['host-prohib', 'icmp-host-prohibited'],
  ['icmp-admin-prohibited', 'icmp-admin-prohibited'],
  ['admin-prohib', 'icmp-admin-prohibited'],
  ['tcp-reset', 'tcp-reset'],
]);

const REJECT_V6 = new Map([
  ['icmp6-no-route', 'icmp6-no-route'],
  ['no-route', 'icmp6-no-route'],
  ['icmp6-adm-prohibited', 'icmp6-adm-prohibited'],
  ['adm-prohibited', 'icmp6-adm-prohibited'],
  ['icmp6-addr-unreachable', 'icmp6-addr-unreachable'],
  ['addr-unreach', 'icmp6-addr-unreachable'],
  ['icmp6-port-unreachable', 'icmp6-port-unreachable'],
  ['port-unreach', 'icmp6-port-unreachable'],
  ['icmp6-policy-fail', 'icmp6-policy-fail'],
  ['policy-fail', 'icmp6-policy-fail'],
  ['icmp6-reject-route', 'icmp6-reject-route'],
  ['reject-route', 'icmp6-reject-route'],
  ['tcp-reset', 'tcp-reset'],
]);

const HOOKS: readonly string[] = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'];

function onlyIn(info: RuleInfo, target: string, tables: readonly string[], chains: readonly string[]): void {
  if (!tables.includes(info.table)) {
    throw new OptionError(`-j ${target} is only valid in the ${tables.join('/')} table, not ${info.table}`);
  }
  if (HOOKS.includes(info.chain) && !chains.includes(info.chain)) {
    throw new OptionError(`-j ${target} is only valid in ${chains.join('/')} (and chains called from there), not ${info.chain}`);
  }
}

const rejectTarget: TargetModule = {
  name: 'REJECT',
  options: { '--reject-with': 1 },
  build(options, info) {
    onlyIn(info, 'REJECT', ['filter'], ['INPUT', 'FORWARD', 'OUTPUT']);
    const o = single(options, '--reject-with');
    if (o) notNegated(o);
    const table = info.family === 4 ? REJECT_V4 : REJECT_V6;
    const kind = o ? table.get(o.values[0]!) : info.family === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable';
    if (!kind) throw new OptionError(`--reject-with "${o!.values[0]}" is not known (${[...new Set(table.values())].join(', ')})`);
    if (kind === 'tcp-reset' && (info.protocol?.value !== 6 || info.protocol.negated)) {
      throw new OptionError('--reject-with tcp-reset needs -p tcp');
    }
    return { name: 'REJECT', text: targetText('REJECT', options, info), kind: 'reject', with: kind };
  },
};

function markOp(o: ParsedOption): { value: number; mask: number } {
  notNegated(o);
  const text = o.values[0]!;
  switch (o.name) {
    case '--set-xmark': {
      return parseValueMask(text, o.name);
    }
    case '--set-mark': {
      const { value, mask } = parseValueMask(text, o.name);
      return { value, mask: (mask | value) >>> 0 };
    }
    case '--or-mark': {
      const v = parseU32(text, o.name);
      return { value: v, mask: v };
    }
    case '--and-mark': {
      const v = parseU32(text, o.name);
      return { value: 0, mask: ~v >>> 0 };
    }
    case '--xor-mark': {
      return { value: parseU32(text, o.name), mask: 0 };
    }
    default:
      throw new OptionError(`unknown mark operation ${o.name}`);
  }
}

const MARK_OPS = { '--set-xmark': 1, '--set-mark': 1, '--or-mark': 1, '--and-mark': 1, '--xor-mark': 1 };

const markTarget: TargetModule = {
  name: 'MARK',
  options: MARK_OPS,
  build(options, info) {
    if (options.length !== 1) throw new OptionError('-j MARK takes exactly one of --set-xmark, --set-mark, --or-mark, --and-mark, --xor-mark');
    return { name: 'MARK', text: targetText('MARK', options, info), kind: 'mark', ...markOp(options[0]!) };
  },
};

const connmarkTarget: TargetModule = {
  name: 'CONNMARK',
  options: { ...MARK_OPS, '--save-mark': 0, '--restore-mark': 0, '--nfmask': 1, '--ctmask': 1, '--mask': 1 },
  build(options, info) {
    const ops = options.filter((o) => o.name in MARK_OPS || o.name === '--save-mark' || o.name === '--restore-mark');
    if (ops.length !== 1) throw new OptionError('-j CONNMARK takes exactly one of --set-xmark, --set-mark, --save-mark, --restore-mark, ...');
    const op = ops[0]!;
    notNegated(op);
    if (op.name in MARK_OPS) return { name: 'CONNMARK', text: targetText('CONNMARK', options, info), kind: 'connmark-set', ...markOp(op) };
    const mask = single(options, '--mask');
    const nf = single(options, '--nfmask');
    const ct = single(options, '--ctmask');
    if (mask && (nf || ct)) throw new OptionError('--mask cannot be combined with --nfmask/--ctmask');
    const all = mask ? parseU32(mask.values[0]!, '--mask') : 0xffffffff;
    const nfmask = nf ? parseU32(nf.values[0]!, '--nfmask') : all;
    const ctmask = ct ? parseU32(ct.values[0]!, '--ctmask') : all;
    return { name: 'CONNMARK', text: targetText('CONNMARK', options, info), kind: op.name === '--save-mark' ? 'connmark-save' : 'connmark-restore', nfmask, ctmask };
  },
};

/** `text.split('-')` as [first, second, more than two parts], without the array of parts. */
function splitDash(text: string): [string, string | undefined, boolean] {
  const dash = text.indexOf('-');
  if (dash < 0) return [text, undefined, false];
  const next = text.indexOf('-', dash + 1);
  return [text.slice(0, dash), text.slice(dash + 1, next < 0 ? text.length : next), next >= 0];
}

/** Parse `[ADDR[-ADDR]][:PORT[-PORT]]` (IPv6 addresses in brackets when a port follows). */
export function parseNatRange(text: string, family: 4 | 6): NatRange {
  let addrPart = text;
  let portPart: string | undefined;
  if (family === 6 && text.startsWith('[')) {
    const m = /^\[([^\]]+)\](?:-\[([^\]]+)\])?(?::(.*))?$/.exec(text);
    if (!m) throw new OptionError(`"${text}" is not [ADDR][-[ADDR]][:PORT[-PORT]]`);
    addrPart = m[2] ? `${m[1]}-${m[2]}` : m[1]!;
    portPart = m[3];
  } else if (family === 4 || /^:[0-9]/.test(text)) {
    // IPv4 "ADDR:PORT", or ":PORT" alone; an IPv6 address with a port needs brackets.
    const colon = text.indexOf(':');
    if (colon >= 0) {
      addrPart = text.slice(0, colon);
      portPart = text.slice(colon + 1);
    }
  }
  let minAddress: IPAddress | undefined;
  let maxAddress: IPAddress | undefined;
  if (addrPart !== '') {
    try {
      if (addrPart.indexOf('-') < 0) {
        // One address (as kube-proxy's DNAT has): no range to split.
        minAddress = maxAddress = parseIP(addrPart);
      } else {
        const [a, b, extra] = splitDash(addrPart);
        if (extra) throw new Error('too many "-"');
        minAddress = parseIP(a);
        maxAddress = b === undefined ? minAddress : parseIP(b);
      }
    } catch (e) {
      throw new OptionError(`"${text}": ${(e as Error).message}`);
    }
    if (minAddress.family !== family || maxAddress.family !== family) throw new OptionError(`"${text}" is not an IPv${family} address`);
    if (minAddress.value > maxAddress.value) throw new OptionError(`"${text}": the address range is empty`);
  }
  let minPort: number | undefined;
  let maxPort: number | undefined;
  if (portPart !== undefined) {
    if (portPart.includes('/')) throw new OptionError(`"${text}": port offsets (PORT/BASE) are not modelled`);
    if (portPart.indexOf('-') < 0) {
      minPort = maxPort = parsePortValue(portPart);
    } else {
      const [lo, hi, extra] = splitDash(portPart);
      if (extra) throw new OptionError(`"${text}": bad port range`);
      minPort = parsePortValue(lo);
      maxPort = hi === undefined ? minPort : parsePortValue(hi);
    }
    if (minPort > maxPort) throw new OptionError(`"${text}": the port range is empty`);
  }
  if (minAddress === undefined && minPort === undefined) throw new OptionError(`"${text}" names neither an address nor a port`);
  return { minAddress, maxAddress, minPort, maxPort };
}

const NAT_TABLE: readonly string[] = ['nat'];
/** Protocols with ports (tcp, udp, sctp). */
const PORT_PROTOCOLS: readonly number[] = [6, 17, 132];

function natTarget(name: 'DNAT' | 'SNAT'): TargetModule {
  const option = name === 'DNAT' ? '--to-destination' : '--to-source';
  const chains: readonly string[] = name === 'DNAT' ? ['PREROUTING', 'OUTPUT'] : ['POSTROUTING', 'INPUT'];
  return {
    name,
    options: { [option]: 1, '--to': 1, '--random': 0, '--random-fully': 0, '--persistent': 0 },
    build(options, info) {
      onlyIn(info, name, NAT_TABLE, chains);
      let to: ParsedOption | undefined;
      let tos = 0;
      for (const o of options) {
        if (o.name !== option && o.name !== '--to') continue;
        to ??= o;
        tos++;
      }
      if (tos !== 1) throw new OptionError(`-j ${name} needs exactly one ${option}`);
      notNegated(to!);
      const range = parseNatRange(to!.values[0]!, info.family);
      if (range.minPort !== undefined && !PORT_PROTOCOLS.includes(info.protocol?.value ?? -1)) {
        throw new OptionError(`-j ${name} with a port needs -p tcp, udp or sctp`);
      }
      return {
        name: name, text: targetText(name, options, info),
        kind: name === 'DNAT' ? ('dnat' as const) : ('snat' as const),
        range,
        random: !!single(options, '--random'),
        randomFully: !!single(options, '--random-fully'),
        persistent: !!single(options, '--persistent'),
      };
    },
  };
}

function portsOption(options: readonly ParsedOption[]): { minPort: number | undefined; maxPort: number | undefined } {
  const o = single(options, '--to-ports');
  if (!o) return { minPort: undefined, maxPort: undefined };
  const [lo, hi, extra] = o.values[0]!.split('-');
  if (extra !== undefined) throw new OptionError(`--to-ports "${o.values[0]}" is not PORT[-PORT]`);
  const minPort = parsePortValue(lo!);
  const maxPort = hi === undefined ? minPort : parsePortValue(hi);
  if (minPort > maxPort) throw new OptionError(`--to-ports "${o.values[0]}": the range is empty`);
  return { minPort, maxPort };
}

const masqueradeTarget: TargetModule = {
  name: 'MASQUERADE',
  options: { '--to-ports': 1, '--random': 0, '--random-fully': 0 },
  build(options, info) {
    onlyIn(info, 'MASQUERADE', ['nat'], ['POSTROUTING']);
    const ports = portsOption(options);
    if (ports.minPort !== undefined && ![6, 17, 132].includes(info.protocol?.value ?? -1)) {
      throw new OptionError('-j MASQUERADE --to-ports needs -p tcp, udp or sctp');
    }
    return {
      name: 'MASQUERADE', text: targetText('MASQUERADE', options, info),
      kind: 'masquerade',
      ...ports,
      random: !!single(options, '--random'),
      randomFully: !!single(options, '--random-fully'),
    };
  },
};

const redirectTarget: TargetModule = {
  name: 'REDIRECT',
  options: { '--to-ports': 1, '--random': 0 },
  build(options, info) {
    onlyIn(info, 'REDIRECT', ['nat'], ['PREROUTING', 'OUTPUT']);
    const ports = portsOption(options);
    if (ports.minPort !== undefined && ![6, 17, 132].includes(info.protocol?.value ?? -1)) {
      throw new OptionError('-j REDIRECT --to-ports needs -p tcp, udp or sctp');
    }
    return { name: 'REDIRECT', text: targetText('REDIRECT', options, info), kind: 'redirect', ...ports, random: !!single(options, '--random') };
  },
};

const tproxyTarget: TargetModule = {
  name: 'TPROXY',
  options: { '--on-port': 1, '--on-ip': 1, '--tproxy-mark': 1 },
  build(options, info) {
    onlyIn(info, 'TPROXY', ['mangle'], ['PREROUTING']);
    if (!info.protocol || info.protocol.negated || ![6, 17].includes(info.protocol.value)) throw new OptionError('-j TPROXY needs -p tcp or -p udp');
    const port = single(options, '--on-port');
    if (!port) throw new OptionError('-j TPROXY needs --on-port');
    const ip = single(options, '--on-ip');
    let address: IPAddress | undefined;
    if (ip) {
      try {
        address = parseIP(ip.values[0]!);
      } catch (e) {
        throw new OptionError(`--on-ip: ${(e as Error).message}`);
      }
    }
    const mark = single(options, '--tproxy-mark');
    const { value, mask } = mark ? parseValueMask(mark.values[0]!, '--tproxy-mark') : { value: 0, mask: 0 };
    return { name: 'TPROXY', text: targetText('TPROXY', options, info), kind: 'tproxy', port: parsePortValue(port.values[0]!), address, markValue: value, markMask: mask };
  },
};

const notrackTarget: TargetModule = {
  name: 'NOTRACK',
  options: {},
  build(options, info) {
    onlyIn(info, 'NOTRACK', ['raw'], ['PREROUTING', 'OUTPUT']);
    return { name: 'NOTRACK', text: targetText('NOTRACK', options, info), kind: 'notrack' };
  },
};

const ctTarget: TargetModule = {
  name: 'CT',
  options: { '--notrack': 0, '--helper': 1, '--ctevents': 1, '--expevents': 1, '--zone': 1, '--zone-orig': 1, '--zone-reply': 1, '--timeout': 1 },
  build(options, info) {
    onlyIn(info, 'CT', ['raw'], ['PREROUTING', 'OUTPUT']);
    if (single(options, '--notrack')) return { name: 'CT', text: targetText('CT', options, info), kind: 'notrack' };
    const zone = options.find((o) => o.name.startsWith('--zone'));
    if (zone) return { name: 'CT', text: targetText('CT', options, info), kind: 'unmodelled', reason: 'conntrack zones (CT --zone) are not modelled' };
    return { name: 'CT', text: targetText('CT', options, info), kind: 'record' };
  },
};

/** A target that only records or adjusts what the engine does not model (LOG, NFLOG, ...). */
function recordTarget(name: string, options: Record<string, number>): TargetModule {
  return { name, options, build: (opts, info) => ({ name: name, text: targetText(name, opts, info), kind: 'record' }) };
}

const ALL: readonly TargetModule[] = [
  noOptions('ACCEPT', 'accept'),
  noOptions('DROP', 'drop'),
  noOptions('RETURN', 'return'),
  rejectTarget,
  markTarget,
  connmarkTarget,
  natTarget('DNAT'),
  natTarget('SNAT'),
  masqueradeTarget,
  redirectTarget,
  tproxyTarget,
  notrackTarget,
  ctTarget,
  recordTarget('LOG', {
    '--log-level': 1,
    '--log-prefix': 1,
    '--log-tcp-sequence': 0,
    '--log-tcp-options': 0,
    '--log-ip-options': 0,
    '--log-uid': 0,
    '--log-macdecode': 0,
  }),
  recordTarget('NFLOG', { '--nflog-group': 1, '--nflog-prefix': 1, '--nflog-range': 1, '--nflog-size': 1, '--nflog-threshold': 1 }),
  recordTarget('TRACE', {}),
  recordTarget('CHECKSUM', { '--checksum-fill': 0 }),
  recordTarget('TCPMSS', { '--set-mss': 1, '--clamp-mss-to-pmtu': 0 }),
  recordTarget('AUDIT', { '--type': 1 }),
];

/** Target modules by `-j` name. */
export const TARGET_MODULES: ReadonlyMap<string, TargetModule> = new Map(ALL.map((t) => [t.name, t]));
