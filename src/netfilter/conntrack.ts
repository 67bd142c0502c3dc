/**
 * Connection tracking as the kernel keeps it: an entry per connection with the original and
 * reply tuples (NAT edits the reply tuple), status bits, and the connection mark. The first
 * packet creates the entry and walks the nat table; later packets and replies are translated
 * from the entry alone.
 *
 * @module
 */
import { formatEndpoint, type IPAddress, type IPFamily, ipEquals, protocolName } from '../net/index.js';

/** ctstate values of `-m conntrack --ctstate` / `-m state --state`. */
export type CtState = 'NEW' | 'ESTABLISHED' | 'RELATED' | 'INVALID' | 'UNTRACKED';

/** One direction of a connection. */
export interface CtTuple {
  readonly source: IPAddress;
  readonly destination: IPAddress;
  readonly sourcePort: number | undefined;
  readonly destinationPort: number | undefined;
}

/** A conntrack entry. Mutable while its first packet is in flight; cloned per trace branch. */
export interface ConntrackEntry {
  readonly family: IPFamily;
  readonly protocol: number;
  original: CtTuple;
  reply: CtTuple;
  /** IPS_SRC_NAT / IPS_DST_NAT: the reply tuple was changed by SNAT / DNAT. */
  srcNat: boolean;
  dstNat: boolean;
  /** A reply has been seen (IPS_SEEN_REPLY): later original-direction packets are ESTABLISHED. */
  seenReply: boolean;
  /** Entered the table (IPS_CONFIRMED): done at the end of POSTROUTING or INPUT. */
  confirmed: boolean;
  /** The nat table ran for this manip type (a binding, possibly null, exists). */
  srcManipDone: boolean;
  dstManipDone: boolean;
  /** The connection mark (`CONNMARK`, `-m connmark`). */
  mark: number;
}

/** The inverse of a tuple: what a reply to it looks like. */
export function invertTuple(t: CtTuple): CtTuple {
  return { source: t.destination, destination: t.source, sourcePort: t.destinationPort, destinationPort: t.sourcePort };
}

/** True when both tuples name the same addresses and ports. */
export function tupleEquals(a: CtTuple, b: CtTuple): boolean {
  return (
    ipEquals(a.source, b.source) &&
    ipEquals(a.destination, b.destination) &&
    a.sourcePort === b.sourcePort &&
    a.destinationPort === b.destinationPort
  );
}

/** A new, unconfirmed entry for a first packet: the reply tuple is the inverse until NAT. */
export function newEntry(family: IPFamily, protocol: number, original: CtTuple): ConntrackEntry {
  return {
    family,
    protocol,
    original,
    reply: invertTuple(original),
    srcNat: false,
    dstNat: false,
    seenReply: false,
    confirmed: false,
    srcManipDone: false,
    dstManipDone: false,
    mark: 0,
  };
}

/** Copy an entry so that a branch's NAT stays its own. */
export function cloneEntry(e: ConntrackEntry): ConntrackEntry {
  return { ...e };
}

/** The conntrack table of a host: the entries that exist before a packet arrives. */
export class ConntrackTable {
  readonly #entries: ConntrackEntry[] = [];

  /** Add an entry (it is taken as confirmed). */
  add(entry: ConntrackEntry): void {
    this.#entries.push({ ...entry, confirmed: true, srcManipDone: true, dstManipDone: true });
  }

  /** All entries. */
  entries(): readonly ConntrackEntry[] {
    return this.#entries;
  }

  /** Find the entry a packet belongs to, and its direction in it. */
  lookup(
    family: IPFamily,
    protocol: number,
    tuple: CtTuple,
  ): { readonly entry: ConntrackEntry; readonly direction: 'ORIGINAL' | 'REPLY' } | undefined {
    for (const entry of this.#entries) {
      if (entry.family !== family || entry.protocol !== protocol) continue;
      if (tupleEquals(entry.original, tuple)) return { entry, direction: 'ORIGINAL' };
      if (tupleEquals(entry.reply, tuple)) return { entry, direction: 'REPLY' };
    }
    return undefined;
  }
}

/** `tcp 10.0.0.2:40000 -> 172.30.0.41:80 | reply 10.180.0.1:80 -> 10.0.0.2:40000` */
export function formatEntry(e: ConntrackEntry): string {
  const t = (x: CtTuple) => `${formatEndpoint(x.source, x.sourcePort)} -> ${formatEndpoint(x.destination, x.destinationPort)}`;
  return `${protocolName(e.protocol)} ${t(e.original)} | reply ${t(e.reply)}`;
}
