/**
 * What a match sees while a packet walks the chains: the packet as it is now (after any NAT so
 * far), the hook and interfaces, the mark, the conntrack entry, the host, and the per-branch
 * state that some matches update (recent lists, nth counters).
 *
 * @module
 */
import type { IPAddress, Packet } from '../net/index.js';
import type { ConntrackEntry, CtState } from './conntrack.js';
import type { Host } from './host.js';
import type { HookName, TableName } from './ir.js';
import type { IpsetCollection } from './ipset.js';

/** The packet's header fields as they are at this point of the path (after any NAT so far). */
export type PacketView = Packet;

/** One entry of an xt_recent list: an address and when it was seen (seconds). */
export interface RecentEntry {
  readonly address: IPAddress;
  /** Times it was seen, oldest first, in seconds on the trace's clock. */
  readonly seen: readonly number[];
  /** TTL of the packet that last updated it. */
  readonly ttl: number | undefined;
}

/** State that matches update and that branches of a trace must not share. */
export interface BranchState {
  /** xt_recent lists by name (`--name`, default `DEFAULT`). */
  recent: Map<string, RecentEntry[]>;
  /** statistic --mode nth counters by rule key (`table/chain/number`). */
  nth: Map<string, number>;
}

/** Copy branch state so that a branch's updates stay its own. */
export function cloneBranchState(state: BranchState): BranchState {
  return { recent: new Map([...state.recent].map(([k, v]) => [k, [...v]])), nth: new Map(state.nth) };
}

/** The local socket of a locally generated packet (for `-m owner`). */
export interface SocketOwner {
  readonly uid: number | undefined;
  readonly gid: number | undefined;
  readonly supplementaryGids: readonly number[];
}

/** Everything a match may look at. */
export interface MatchContext {
  readonly hook: HookName;
  readonly table: TableName;
  readonly packet: PacketView;
  /** Incoming interface (PREROUTING, INPUT, FORWARD); undefined where the kernel has none. */
  readonly inInterface: string | undefined;
  /** Outgoing interface (FORWARD, OUTPUT after routing, POSTROUTING). */
  readonly outInterface: string | undefined;
  /** Bridge ports when the packet was bridged (br_netfilter); undefined when not bridged. */
  readonly physInInterface: string | undefined;
  readonly physOutInterface: string | undefined;
  readonly sourceMac: string | undefined;
  readonly mark: number;
  /** The conntrack entry attached to the packet; undefined when none is (yet). */
  readonly conntrack: ConntrackEntry | undefined;
  /** The packet's direction in its entry. */
  readonly ctDirection: 'ORIGINAL' | 'REPLY';
  /** ctstate as xt_conntrack computes it here. */
  readonly ctState: CtState;
  readonly host: Host;
  /** The sending socket, for locally generated packets only. */
  readonly socket: SocketOwner | undefined;
  readonly ipsets: IpsetCollection;
  /** Clock for xt_recent, seconds. */
  readonly now: number;
  /** `table/chain/number` of the rule being tested (per-rule counters). */
  readonly ruleKey: string;
  readonly state: BranchState;
}
