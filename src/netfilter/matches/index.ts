/**
 * The match extensions kubepath models, by `-m` name.
 *
 * @module
 */
import type { MatchModule } from '../options.js';
import { addrtypeMatch, iprangeMatch, macMatch, physdevMatch, pkttypeMatch, setMatch } from './address.js';
import { icmp6Match, icmpMatch, multiportMatch, sctpMatch, tcpMatch, udpMatch } from './l4.js';
import { commentMatch, limitMatch, nfacctMatch, ownerMatch, recentMatch, statisticMatch } from './misc.js';
import { connmarkMatch, conntrackMatch, markMatch, stateMatch } from './state.js';

const ALL: readonly MatchModule[] = [
  tcpMatch,
  udpMatch,
  sctpMatch,
  multiportMatch,
  icmpMatch,
  icmp6Match,
  addrtypeMatch,
  iprangeMatch,
  setMatch,
  macMatch,
  physdevMatch,
  pkttypeMatch,
  commentMatch,
  nfacctMatch,
  limitMatch,
  statisticMatch,
  recentMatch,
  ownerMatch,
  conntrackMatch,
  stateMatch,
  markMatch,
  connmarkMatch,
];

/** Match modules by name (`-m NAME`); `ipv6-icmp`/`icmpv6` are aliases of `icmp6`. */
export const MATCH_MODULES: ReadonlyMap<string, MatchModule> = new Map([
  ...ALL.map((m) => [m.name, m] as [string, MatchModule]),
  ['icmpv6', icmp6Match],
  ['ipv6-icmp', icmp6Match],
]);

/** The implicit match that `-p PROTO` loads, so `-p tcp --dport 80` works without `-m tcp`. */
export function implicitProtocolMatch(protocol: number): MatchModule | undefined {
  switch (protocol) {
    case 6:
      return tcpMatch;
    case 17:
      return udpMatch;
    case 132:
      return sctpMatch;
    case 1:
      return icmpMatch;
    case 58:
      return icmp6Match;
    default:
      return undefined;
  }
}
