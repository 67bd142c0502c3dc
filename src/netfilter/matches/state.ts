/**
 * Matches on connection tracking and marks: conntrack, state, mark, connmark.
 *
 * @module
 */
import { type IPNetwork, networkContains, parseNetwork, protocolNumber } from '../../net/index.js';
import type { MatchContext } from '../context.js';
import type { CtTuple } from '../conntrack.js';
import type { Match } from '../ir.js';
import {
  type MatchModule,
  notNegated,
  OptionError,
  optionsText,
  type ParsedOption,
  parseList,
  parsePortRange,
  parseValueMask,
  single,
} from '../options.js';

const CT_STATES = ['INVALID', 'NEW', 'ESTABLISHED', 'RELATED', 'UNTRACKED', 'SNAT', 'DNAT'] as const;
type CtStateName = (typeof CT_STATES)[number];

function parseStates(option: ParsedOption, allowed: readonly string[]): Set<CtStateName> {
  const states = new Set<CtStateName>();
  for (const s of parseList(option.values[0]!, option.name)) {
    if (!allowed.includes(s)) throw new OptionError(`${option.name}: unknown state "${s}" (${allowed.join(', ')})`);
    states.add(s as CtStateName);
  }
  return states;
}

/** The state bits xt_conntrack sees: the ctinfo state, plus SNAT/DNAT from the entry's status. */
function stateBits(ctx: MatchContext, withNat: boolean): Set<CtStateName> {
  const bits = new Set<CtStateName>([ctx.ctState]);
  if (withNat && ctx.conntrack && ctx.ctState !== 'UNTRACKED' && ctx.ctState !== 'INVALID') {
    if (ctx.conntrack.srcNat) bits.add('SNAT');
    if (ctx.conntrack.dstNat) bits.add('DNAT');
  }
  return bits;
}

function anyOf(want: Set<CtStateName>, have: Set<CtStateName>): boolean {
  for (const s of have) if (want.has(s)) return true;
  return false;
}

/** `-m state --state NEW,ESTABLISHED` */
export const stateMatch: MatchModule = {
  name: 'state',
  options: { '--state': 1 },
  build(options) {
    const o = single(options, '--state');
    if (!o) throw new OptionError('-m state needs --state');
    const want = parseStates(o, ['INVALID', 'NEW', 'ESTABLISHED', 'RELATED', 'UNTRACKED']);
    return {
      module: 'state',
      text: optionsText(options),
      test: (ctx) => anyOf(want, stateBits(ctx, false)) !== o.negated,
    };
  },
};

type TupleField = { tuple: 'original' | 'reply'; field: 'source' | 'destination' };

const ADDRESS_OPTIONS: Readonly<Record<string, TupleField>> = {
  '--ctorigsrc': { tuple: 'original', field: 'source' },
  '--ctorigdst': { tuple: 'original', field: 'destination' },
  '--ctreplsrc': { tuple: 'reply', field: 'source' },
  '--ctrepldst': { tuple: 'reply', field: 'destination' },
};

const PORT_OPTIONS: Readonly<Record<string, { tuple: 'original' | 'reply'; field: 'sourcePort' | 'destinationPort' }>> = {
  '--ctorigsrcport': { tuple: 'original', field: 'sourcePort' },
  '--ctorigdstport': { tuple: 'original', field: 'destinationPort' },
  '--ctreplsrcport': { tuple: 'reply', field: 'sourcePort' },
  '--ctrepldstport': { tuple: 'reply', field: 'destinationPort' },
};

const CT_STATUS = ['NONE', 'EXPECTED', 'SEEN_REPLY', 'ASSURED', 'CONFIRMED'];

/** `-m conntrack --ctstate ... --ctorigdst ... --ctdir ...` */
export const conntrackMatch: MatchModule = {
  name: 'conntrack',
  options: {
    '--ctstate': 1,
    '--ctproto': 1,
    '--ctstatus': 1,
    '--ctexpire': 1,
    '--ctdir': 1,
    ...Object.fromEntries(Object.keys(ADDRESS_OPTIONS).map((k) => [k, 1])),
    ...Object.fromEntries(Object.keys(PORT_OPTIONS).map((k) => [k, 1])),
  },
  build(options, info): Match {
    const checks: ((ctx: MatchContext) => boolean | { undetermined: string })[] = [];
    let stateCheck: ((ctx: MatchContext) => boolean) | undefined;
    for (const o of options) {
      const name = o.name;
      if (name === '--ctstate') {
        const want = parseStates(o, CT_STATES);
        stateCheck = (ctx) => anyOf(want, stateBits(ctx, true)) !== o.negated;
        continue;
      }
      // Every other option needs an entry: without one the match fails (xt_conntrack).
      if (name === '--ctproto') {
        const proto = protocolNumber(o.values[0]!);
        if (proto === undefined) throw new OptionError(`--ctproto: unknown protocol "${o.values[0]}"`);
        checks.push((ctx) => !!ctx.conntrack && (ctx.conntrack.protocol === proto) !== o.negated);
      } else if (name in ADDRESS_OPTIONS) {
        const where = ADDRESS_OPTIONS[name]!;
        let net: IPNetwork;
        try {
          net = parseNetwork(o.values[0]!, { allowMask: true });
        } catch (e) {
          throw new OptionError(`${name}: ${(e as Error).message}`);
        }
        if (net.family !== info.family) throw new OptionError(`${name}: ${o.values[0]} is not an IPv${info.family} address`);
        checks.push((ctx) => {
          if (!ctx.conntrack) return false;
          const tuple: CtTuple = ctx.conntrack[where.tuple];
          return networkContains(net, tuple[where.field]) !== o.negated;
        });
      } else if (name in PORT_OPTIONS) {
        const where = PORT_OPTIONS[name]!;
        const range = parsePortRange(o.values[0]!);
        checks.push((ctx) => {
          if (!ctx.conntrack) return false;
          const port = ctx.conntrack[where.tuple][where.field];
          return (port !== undefined && port >= range.min && port <= range.max) !== o.negated;
        });
      } else if (name === '--ctdir') {
        notNegated(o);
        const dir = o.values[0]!.toUpperCase();
        if (dir !== 'ORIGINAL' && dir !== 'REPLY') throw new OptionError(`--ctdir must be ORIGINAL or REPLY, not "${o.values[0]}"`);
        checks.push((ctx) => !!ctx.conntrack && ctx.ctDirection === dir);
      } else if (name === '--ctstatus') {
        const want = parseList(o.values[0]!, name);
        for (const s of want) if (!CT_STATUS.includes(s)) throw new OptionError(`--ctstatus: unknown status "${s}" (${CT_STATUS.join(', ')})`);
        checks.push((ctx) => {
          const e = ctx.conntrack;
          if (!e) return false;
          if (want.includes('ASSURED') && e.seenReply) {
            return { undetermined: '--ctstatus ASSURED depends on the connection\'s later packets, which are not modelled' };
          }
          const have = new Set<string>();
          if (e.seenReply) have.add('SEEN_REPLY');
          if (e.confirmed) have.add('CONFIRMED');
          const hit = want.some((s) => have.has(s)) || (want.includes('NONE') && have.size === 0);
          return hit !== o.negated;
        });
      } else if (name === '--ctexpire') {
        checks.push((ctx) => (ctx.conntrack ? { undetermined: '--ctexpire depends on conntrack timers, which are not modelled' } : false));
      }
    }
    return {
      module: 'conntrack',
      text: optionsText(options),
      test(ctx) {
        if (stateCheck && !stateCheck(ctx)) return false;
        // xt_conntrack: without an entry (before conntrack, or untracked) only --ctstate is
        // looked at; the rule then matches when it has --ctstate, and fails otherwise.
        if (!ctx.conntrack) return stateCheck !== undefined;
        for (const check of checks) {
          const r = check(ctx);
          if (r !== true) return r;
        }
        return true;
      },
    };
  },
};

function markModule(name: 'mark' | 'connmark'): MatchModule {
  return {
    name,
    options: { '--mark': 1 },
    build(options) {
      const o = single(options, '--mark');
      if (!o) throw new OptionError(`-m ${name} needs --mark`);
      const { value, mask } = parseValueMask(o.values[0]!, '--mark');
      return {
        module: name,
        text: optionsText(options),
        test(ctx) {
          if (name === 'connmark' && !ctx.conntrack) return false;
          const mark = name === 'mark' ? ctx.mark : ctx.conntrack!.mark;
          // xt_mark compares (mark & mask) with the value as given, unmasked: 0x5/0x1 never matches.
          return (((mark & mask) >>> 0) === value) !== o.negated;
        },
      };
    },
  };
}

/** `-m mark --mark 0x4000/0x4000` */
export const markMatch = markModule('mark');
/** `-m connmark --mark 0x1/0x1` */
export const connmarkMatch = markModule('connmark');
