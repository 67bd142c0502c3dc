/**
 * The rule IR: tables, chains and rules as iptables-save prints them, each rule keeping its
 * original text and line so every verdict can name the rule that gave it.
 *
 * @module
 */
import type { IPFamily, IPNetwork } from '../net/index.js';
import type { MatchContext } from './context.js';
import type { Target } from './targets.js';

/** The iptables tables kubepath evaluates. */
export type TableName = 'raw' | 'mangle' | 'nat' | 'filter' | 'security';

/** Netfilter hooks, named as their built-in chains. */
export type HookName = 'PREROUTING' | 'INPUT' | 'FORWARD' | 'OUTPUT' | 'POSTROUTING';

/** The built-in chains of each table. */
export const BUILTIN_CHAINS: Readonly<Record<TableName, readonly HookName[]>> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  security: ['INPUT', 'FORWARD', 'OUTPUT'],
};

/** Where a rule or declaration came from. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
}

/** A value with iptables' `!` in front of it or not. */
export interface Negatable<T> {
  readonly value: T;
  readonly negated: boolean;
}

/** `-i`/`-o`: an interface name, or a prefix when written with a trailing `+`. */
export interface InterfaceMatch {
  readonly name: string;
  readonly wildcard: boolean;
}

/** What a match says about a packet. */
export type MatchResult =
  | boolean
  /** Matches with this probability (statistic --mode random): the trace branches. */
  | { readonly probability: number }
  /** The engine cannot tell: the reason names what is missing. */
  | { readonly undetermined: string };

/** A match module's condition (`-m tcp --dport 80`), ready to test packets. */
export interface Match {
  /** Module name as in `-m NAME` (implicit protocol matches use the protocol's name). */
  readonly module: string;
  /** The options as written, for traces: `--dport 80`. */
  readonly text: string;
  /** The one destination port this match requires, when it requires exactly one (for indexing). */
  readonly destinationPort?: number | undefined;
  /** Test the packet in context; may update per-branch state (recent, nth counters). */
  test(ctx: MatchContext): MatchResult;
}

/** One rule: `-A CHAIN [conditions] [-j TARGET | -g CHAIN]`. */
export interface Rule {
  readonly table: TableName;
  readonly chain: string;
  /** 1-based position in the chain, as `iptables -L --line-numbers` shows it. */
  readonly number: number;
  readonly location: SourceLocation;
  /** The rule's text as given, without a leading counter. */
  readonly text: string;
  readonly protocol: Negatable<number> | undefined;
  readonly source: Negatable<IPNetwork> | undefined;
  readonly destination: Negatable<IPNetwork> | undefined;
  readonly inInterface: Negatable<InterfaceMatch> | undefined;
  readonly outInterface: Negatable<InterfaceMatch> | undefined;
  /** `-f`: only second and further fragments (traced packets are never fragments). */
  readonly fragment: Negatable<true> | undefined;
  /** Conditions other than the header fields above, in order. */
  readonly matches: readonly Match[];
  /** The rule's `-m comment --comment` text (always matches, so it is not a condition). */
  readonly comment: string | undefined;
  /** The target; undefined for a rule without `-j` (it only counts). */
  readonly target: Target | undefined;
  /** Why the engine cannot evaluate this rule, when it cannot (lenient parsing only). */
  readonly unmodelled: string | undefined;
  /** Counters given with the rule (`[p:b]` or `-c p b`). */
  readonly counters: { readonly packets: bigint; readonly bytes: bigint } | undefined;
}

/** A chain with its rules. */
export interface Chain {
  readonly table: TableName;
  readonly name: string;
  readonly builtin: boolean;
  /** Policy of a built-in chain (`:INPUT DROP`); user chains have none. */
  readonly policy: 'ACCEPT' | 'DROP' | undefined;
  readonly location: SourceLocation;
  readonly rules: Rule[];
}

/** A table: its chains by name. */
export interface Table {
  readonly name: TableName;
  readonly location: SourceLocation;
  readonly chains: Map<string, Chain>;
}

/** A parsed iptables-save (or ip6tables-save) dump for one address family. */
export interface Ruleset {
  readonly family: IPFamily;
  /** File name (or `-` for stdin) the rules came from. */
  readonly file: string;
  readonly tables: ReadonlyMap<TableName, Table>;
  /** Rules the engine cannot evaluate, with the reason (lenient parsing only). */
  readonly unmodelled: readonly Rule[];
}
