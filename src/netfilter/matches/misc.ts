/**
 * Matches that count, sample or remember: comment, nfacct, limit, statistic, recent, owner.
 *
 * @module
 */
import { type IPAddress, ipEquals, ipv4, ipv6, parseIP } from '../../net/index.js';
import type { MatchContext } from '../context.js';
import {
  type MatchModule,
  notNegated,
  OptionError,
  optionsText,
  type ParsedOption,
  parseU32,
  single,
} from '../options.js';

/** `-m comment --comment "..."`: always matches; its text names the rule's purpose. */
export const commentMatch: MatchModule = {
  name: 'comment',
  options: { '--comment': 1 },
  build(options) {
    const o = single(options, '--comment');
    if (!o) throw new OptionError('-m comment needs --comment');
    notNegated(o);
    if (o.values[0]!.length > 255) throw new OptionError('--comment is longer than 255 characters');
    return { module: 'comment', text: optionsText(options), test: () => true };
  },
};

/** The text of a rule's comment, if it has one. */
export function commentOf(options: readonly ParsedOption[]): string | undefined {
  return options.find((o) => o.name === '--comment')?.values[0];
}

/** `-m nfacct --nfacct-name NAME`: counts, always matches. */
export const nfacctMatch: MatchModule = {
  name: 'nfacct',
  options: { '--nfacct-name': 1 },
  build(options) {
    if (!single(options, '--nfacct-name')) throw new OptionError('-m nfacct needs --nfacct-name');
    return { module: 'nfacct', text: optionsText(options), test: () => true };
  },
};

/** `-m limit --limit 5/min --limit-burst 10`: a traced packet is within the burst, so it matches. */
export const limitMatch: MatchModule = {
  name: 'limit',
  options: { '--limit': 1, '--limit-burst': 1 },
  build(options) {
    const rate = single(options, '--limit');
    if (rate && !/^[0-9]+(\/(s|sec|second|m|min|minute|h|hour|d|day))?$/.test(rate.values[0]!)) {
      throw new OptionError(`--limit "${rate.values[0]}" is not RATE[/second|/minute|/hour|/day]`);
    }
    const burst = single(options, '--limit-burst');
    if (burst && parseU32(burst.values[0]!, '--limit-burst') === 0) throw new OptionError('--limit-burst must be at least 1');
    return { module: 'limit', text: optionsText(options), test: () => true };
  },
};

/** The kernel's probability for `--probability P`: libxt_statistic stores lround(2^31 * P). */
export function kernelProbability(p: number): number {
  return Math.round(0x80000000 * p) / 0x80000000;
}

/** `-m statistic --mode random --probability P` or `--mode nth --every N --packet P`. */
export const statisticMatch: MatchModule = {
  name: 'statistic',
  options: { '--mode': 1, '--probability': 1, '--every': 1, '--packet': 1 },
  build(options) {
    const mode = single(options, '--mode');
    if (!mode) throw new OptionError('-m statistic needs --mode random or --mode nth');
    notNegated(mode);
    const text = optionsText(options);
    if (mode.values[0] === 'random') {
      const prob = single(options, '--probability');
      if (!prob) throw new OptionError('--mode random needs --probability');
      if (single(options, '--every') || single(options, '--packet')) throw new OptionError('--every/--packet are for --mode nth');
      const raw = prob.values[0]!;
      if (!/^(?:0|1)(?:\.[0-9]+)?$|^\.[0-9]+$/.test(raw) || Number(raw) > 1) {
        throw new OptionError(`--probability "${raw}" is not a number from 0 to 1`);
      }
      const p = kernelProbability(Number(raw));
      const effective = prob.negated ? 1 - p : p;
      return {
        module: 'statistic',
        text,
        test: () => (effective >= 1 ? true : effective <= 0 ? false : { probability: effective }),
      };
    }
    if (mode.values[0] === 'nth') {
      const every = single(options, '--every');
      if (!every) throw new OptionError('--mode nth needs --every');
      if (single(options, '--probability')) throw new OptionError('--probability is for --mode random');
      const n = parseU32(every.values[0]!, '--every');
      if (n === 0) throw new OptionError('--every must be at least 1');
      const packetOpt = single(options, '--packet');
      if (packetOpt) notNegated(packetOpt);
      const packet = packetOpt ? parseU32(packetOpt.values[0]!, '--packet') : 0;
      if (packet >= n) throw new OptionError(`--packet ${packet} must be less than --every ${n}`);
      return {
        module: 'statistic',
        text,
        test(ctx: MatchContext) {
          // Packet k seen by the rule (0-based) matches when k mod N = P (checked on the kernel).
          const k = ctx.state.nth.get(ctx.ruleKey) ?? 0;
          ctx.state.nth.set(ctx.ruleKey, k + 1);
          return (k % n === packet) !== every.negated;
        },
      };
    }
    throw new OptionError(`--mode must be random or nth, not "${mode.values[0]}"`);
  },
};

function maskAddress(ip: IPAddress, mask: IPAddress | undefined): IPAddress {
  if (!mask || mask.family !== ip.family) return ip;
  return ip.family === 4 ? ipv4(ip.value & (mask.value as number)) : ipv6(ip.value & (mask.value as bigint));
}

/** `-m recent --name N --set|--rcheck|--update|--remove [--seconds S] [--hitcount H] [--reap] [--rsource|--rdest] [--mask M]` */
export const recentMatch: MatchModule = {
  name: 'recent',
  options: {
    '--name': 1,
    '--set': 0,
    '--rcheck': 0,
    '--update': 0,
    '--remove': 0,
    '--seconds': 1,
    '--reap': 0,
    '--hitcount': 1,
    '--rttl': 0,
    '--rsource': 0,
    '--rdest': 0,
    '--mask': 1,
  },
  build(options, info) {
    const commands = options.filter((o) => ['--set', '--rcheck', '--update', '--remove'].includes(o.name));
    if (commands.length !== 1) throw new OptionError('-m recent takes exactly one of --set, --rcheck, --update, --remove');
    const command = commands[0]!;
    const name = single(options, '--name')?.values[0] ?? 'DEFAULT';
    const secondsOpt = single(options, '--seconds');
    const seconds = secondsOpt ? parseU32(secondsOpt.values[0]!, '--seconds') : 0;
    const hitOpt = single(options, '--hitcount');
    const hitcount = hitOpt ? parseU32(hitOpt.values[0]!, '--hitcount') : 0;
    const reap = !!single(options, '--reap');
    if (reap && !seconds) throw new OptionError('--reap needs --seconds');
    const rdest = !!single(options, '--rdest');
    const maskOpt = single(options, '--mask');
    let mask: IPAddress | undefined;
    if (maskOpt) {
      try {
        mask = parseIP(maskOpt.values[0]!);
      } catch (e) {
        throw new OptionError(`--mask: ${(e as Error).message}`);
      }
      if (mask.family !== info.family) throw new OptionError(`--mask ${maskOpt.values[0]} is not an IPv${info.family} mask`);
    }
    const rttl = !!single(options, '--rttl');
    return {
      module: 'recent',
      text: optionsText(options),
      test(ctx: MatchContext) {
        if (rttl) return { undetermined: '--rttl depends on the packet TTL history, which is not modelled' };
        // xt_recent's recent_mt(), step by step: ret starts as the inversion and flips on a hit.
        const invert = command.negated;
        let ret = invert;
        const addr = maskAddress(rdest ? ctx.packet.destination : ctx.packet.source, mask);
        const list = ctx.state.recent.get(name) ?? [];
        const index = list.findIndex((e) => ipEquals(e.address, addr));
        const entry = index >= 0 ? list[index] : undefined;
        const stamp = (seen: readonly number[]) => [...seen, ctx.now].slice(-20);
        if (!entry) {
          if (command.name !== '--set') return ret;
          ctx.state.recent.set(name, [...list, { address: addr, seen: [ctx.now], ttl: undefined }]);
          return !ret;
        }
        if (command.name === '--set') {
          ret = !ret;
        } else if (command.name === '--remove') {
          ctx.state.recent.set(name, list.filter((_, i) => i !== index));
          return !ret;
        } else {
          const since = ctx.now - seconds;
          let hits = 0;
          for (const t of entry.seen) {
            if (seconds && t < since) continue;
            if (!hitcount || ++hits >= hitcount) {
              ret = !ret;
              break;
            }
          }
          if (reap) {
            const kept = entry.seen.filter((t) => t >= since);
            const next = [...list];
            if (kept.length === 0) next.splice(index, 1);
            else next[index] = { ...entry, seen: kept };
            ctx.state.recent.set(name, next);
          }
        }
        if (command.name === '--set' || (command.name === '--update' && ret)) {
          const current = ctx.state.recent.get(name) ?? [];
          const i = current.findIndex((e) => ipEquals(e.address, addr));
          const next = [...current];
          if (i >= 0) next[i] = { ...next[i]!, seen: stamp(next[i]!.seen) };
          else next.push({ address: addr, seen: [ctx.now], ttl: undefined });
          ctx.state.recent.set(name, next);
        }
        return ret;
      },
    };
  },
};

function parseIdRange(text: string, what: string): { min: number; max: number } {
  const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(text);
  if (!m) throw new OptionError(`${what} "${text}" is not a numeric id or range (names are not resolved)`);
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : Number(m[2]);
  if (min > max || max > 0xffffffff) throw new OptionError(`${what} "${text}" is not a valid range`);
  return { min, max };
}

/** `-m owner --uid-owner 1337`: the sending socket's owner (OUTPUT and POSTROUTING only). */
export const ownerMatch: MatchModule = {
  name: 'owner',
  options: { '--uid-owner': 1, '--gid-owner': 1, '--socket-exists': 0, '--suppl-groups': 0 },
  build(options, info) {
    if (info.chain === 'PREROUTING' || info.chain === 'INPUT' || info.chain === 'FORWARD') {
      throw new OptionError(`-m owner is only valid in OUTPUT and POSTROUTING, not ${info.chain}`);
    }
    const uid = single(options, '--uid-owner');
    const gid = single(options, '--gid-owner');
    const exists = single(options, '--socket-exists');
    const suppl = !!single(options, '--suppl-groups');
    const uidRange = uid ? parseIdRange(uid.values[0]!, '--uid-owner') : undefined;
    const gidRange = gid ? parseIdRange(gid.values[0]!, '--gid-owner') : undefined;
    const checks = [uid, gid, exists].filter((o): o is ParsedOption => !!o);
    if (checks.length === 0) throw new OptionError('-m owner needs --uid-owner, --gid-owner or --socket-exists');
    return {
      module: 'owner',
      text: optionsText(options),
      test(ctx) {
        const sock = ctx.socket;
        // xt_owner: without a local socket only fully negated conditions match.
        if (!sock) return checks.every((o) => o.negated);
        if (uid && uidRange) {
          if (sock.uid === undefined) return { undetermined: 'the sending socket\'s uid is not given (--uid)' };
          if ((sock.uid >= uidRange.min && sock.uid <= uidRange.max) === uid.negated) return false;
        }
        if (gid && gidRange) {
          if (sock.gid === undefined) return { undetermined: 'the sending socket\'s gid is not given (--gid)' };
          const gids = suppl ? [sock.gid, ...sock.supplementaryGids] : [sock.gid];
          if (gids.some((g) => g >= gidRange.min && g <= gidRange.max) === gid.negated) return false;
        }
        if (exists && exists.negated) return false;
        return true;
      },
    };
  },
};
