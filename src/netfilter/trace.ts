/**
 * What a trace is made of: the request (packet, where it enters, the state it meets) and the
 * result (outcomes with their probabilities, each with its steps, NAT and conntrack entry).
 *
 * @module
 */
import type { IPAddress, Packet } from '../net/index.js';
import type { PacketView, RecentEntry, SocketOwner } from './context.js';
import type { ConntrackEntry, ConntrackTable } from './conntrack.js';
import type { HookName, TableName } from './ir.js';
import type { IpsetCollection } from './ipset.js';

/** Where a traced packet enters the host. */
export type PacketEntry =
  /** Arriving on an interface (PREROUTING first). */
  | {
      readonly kind: 'incoming';
      readonly interface: string;
      readonly physInInterface?: string | undefined;
      readonly sourceMac?: string | undefined;
    }
  /** Sent by a local process (OUTPUT first). */
  | { readonly kind: 'local'; readonly socket?: SocketOwner | undefined };

/** Everything a trace needs besides the rules and the host. */
export interface TraceRequest {
  readonly packet: Packet;
  readonly entry: PacketEntry;
  /** The packet's mark on entry (default 0). */
  readonly mark?: number;
  /** Connections that exist before this packet (later packets and replies). */
  readonly conntrack?: ConntrackTable;
  /** xt_recent lists before this packet. */
  readonly recent?: ReadonlyMap<string, readonly RecentEntry[]>;
  /** statistic --mode nth: packets each rule has seen before, by `table/chain/number`. */
  readonly nthCounters?: ReadonlyMap<string, number>;
  readonly ipsets?: IpsetCollection;
  /** Clock for xt_recent, seconds (default 0). */
  readonly now?: number;
}

/** What finally happened to the packet. */
export type Disposition = 'deliver' | 'forward' | 'drop' | 'reject' | 'undetermined';

/** A reference to the rule that acted, with its text and where it is written. */
export interface RuleRef {
  readonly table: TableName;
  readonly chain: string;
  readonly number: number;
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

/** One step of a trace. */
export interface TraceStep {
  readonly kind: 'table' | 'rule' | 'policy' | 'return' | 'skip' | 'route' | 'conntrack' | 'nat' | 'note';
  readonly hook: HookName | undefined;
  readonly table: TableName | undefined;
  readonly chain: string | undefined;
  /** Nesting depth of the chain (0 for the built-in chain). */
  readonly depth: number;
  readonly rule: RuleRef | undefined;
  /** For rules: whether it matched. */
  readonly matched: boolean | undefined;
  /** Why it did not match, or what was decided. */
  readonly detail: string;
  /** For statistic branches: the probability of the branch this outcome took here. */
  readonly branchProbability: number | undefined;
}

/** A NAT rewrite of the packet. */
export interface NatEvent {
  readonly hook: HookName;
  readonly kind: 'DNAT' | 'SNAT' | 'MASQUERADE' | 'REDIRECT' | 'un-DNAT' | 'un-SNAT';
  readonly rule: RuleRef | undefined;
  readonly before: string;
  readonly after: string;
}

/** One possible end of the packet's way, with its probability. */
export interface Outcome {
  readonly probability: number;
  readonly disposition: Disposition;
  /** One sentence: what happened and why. */
  readonly reason: string;
  /** The rule that gave the final verdict, when a rule did. */
  readonly verdictRule: RuleRef | undefined;
  /** For `reject`: ICMP type or tcp-reset. */
  readonly rejectWith: string | undefined;
  /** The packet as it left (or was delivered, dropped), after NAT. */
  readonly packet: PacketView;
  readonly inInterface: string | undefined;
  readonly outInterface: string | undefined;
  /** The next hop for forwarded packets. */
  readonly nextHop: IPAddress | undefined;
  readonly mark: number;
  /** The conntrack entry of the connection (undefined when untracked). */
  readonly conntrack: ConntrackEntry | undefined;
  readonly ctDirection: 'ORIGINAL' | 'REPLY';
  readonly nat: readonly NatEvent[];
  readonly steps: readonly TraceStep[];
  /** Assumptions and caveats of this outcome. */
  readonly notes: readonly string[];
  /** TPROXY's socket, when the packet was diverted to one. */
  readonly tproxy: { readonly address: IPAddress | undefined; readonly port: number } | undefined;
  /** xt_recent lists after this packet: pass them as `recent` to trace a later packet. */
  readonly recent: ReadonlyMap<string, readonly RecentEntry[]>;
  /** statistic nth counters after this packet: pass them as `nthCounters` to trace a later packet. */
  readonly nthCounters: ReadonlyMap<string, number>;
}

/** The result of tracing one packet. */
export interface Trace {
  readonly packet: Packet;
  readonly entry: PacketEntry;
  readonly outcomes: readonly Outcome[];
}
