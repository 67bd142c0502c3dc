/**
 * The JSON form of a trace (`kubepath netfilter trace --json`), documented in
 * docs/netfilter-trace-json.md. Scripts rely on `outcomes[].probability`, `.disposition` and
 * `.packet.src`/`.packet.dst`: keep those names.
 *
 * @module
 */
import { formatEndpoint, formatIP, protocolName } from '../net/index.js';
import type { PacketView } from './context.js';
import type { ConntrackEntry, CtTuple } from './conntrack.js';
import type { NatEvent, Outcome, RuleRef, Trace, TraceStep } from './trace.js';

/** `{ "src": "IP:PORT", "dst": "IP:PORT" }` (IPv6 as `[IP]:PORT`; no port for ICMP). */
export interface PacketJson {
  readonly src: string;
  readonly dst: string;
}

/** A conntrack entry in JSON. */
export interface ConntrackJson {
  readonly protocol: string;
  readonly original: PacketJson;
  readonly reply: PacketJson;
  readonly status: readonly string[];
  readonly mark: string;
}

/** One outcome in JSON. */
export interface OutcomeJson {
  readonly probability: number;
  readonly disposition: Outcome['disposition'];
  readonly reason: string;
  readonly packet: PacketJson;
  readonly inInterface: string | null;
  readonly outInterface: string | null;
  readonly nextHop: string | null;
  readonly mark: string;
  readonly verdictRule: RuleRef | null;
  readonly rejectWith: string | null;
  readonly nat: readonly NatEvent[];
  readonly conntrack: ConntrackJson | null;
  readonly notes: readonly string[];
  readonly steps: readonly TraceStep[];
  readonly reply?: TraceJson | null;
}

/** A trace in JSON. */
export interface TraceJson {
  readonly kind: 'NetfilterTrace';
  readonly version: 1;
  readonly input: {
    readonly family: 4 | 6;
    readonly protocol: string;
    readonly packet: PacketJson;
    readonly entry: { readonly kind: 'incoming'; readonly interface: string } | { readonly kind: 'local' };
  };
  readonly undetermined: boolean;
  readonly outcomes: readonly OutcomeJson[];
}

/** The packet's addresses as `{src, dst}`. */
export function packetJson(p: PacketView | CtTuple): PacketJson {
  return { src: formatEndpoint(p.source, p.sourcePort), dst: formatEndpoint(p.destination, p.destinationPort) };
}

/** A conntrack entry as JSON. */
export function conntrackJson(e: ConntrackEntry): ConntrackJson {
  const status: string[] = [];
  if (e.srcNat) status.push('SRC_NAT');
  if (e.dstNat) status.push('DST_NAT');
  if (e.seenReply) status.push('SEEN_REPLY');
  if (e.confirmed) status.push('CONFIRMED');
  return {
    protocol: protocolName(e.protocol),
    original: packetJson(e.original),
    reply: packetJson(e.reply),
    status,
    mark: `0x${e.mark.toString(16)}`,
  };
}

/** A trace as JSON; `replies` (same order as the outcomes) adds each outcome's reply trace. */
export function traceJson(trace: Trace, replies?: readonly (Trace | undefined)[]): TraceJson {
  return {
    kind: 'NetfilterTrace',
    version: 1,
    input: {
      family: trace.packet.family,
      protocol: protocolName(trace.packet.protocol),
      packet: packetJson(trace.packet),
      entry: trace.entry.kind === 'incoming' ? { kind: 'incoming', interface: trace.entry.interface } : { kind: 'local' },
    },
    undetermined: trace.outcomes.some((o) => o.disposition === 'undetermined'),
    outcomes: trace.outcomes.map((o, i) => {
      const reply = replies?.[i];
      return {
        probability: o.probability,
        disposition: o.disposition,
        reason: o.reason,
        packet: packetJson(o.packet),
        inInterface: o.inInterface ?? null,
        outInterface: o.outInterface ?? null,
        nextHop: o.nextHop ? formatIP(o.nextHop) : null,
        mark: `0x${o.mark.toString(16)}`,
        verdictRule: o.verdictRule ?? null,
        rejectWith: o.rejectWith ?? null,
        nat: o.nat,
        conntrack: o.conntrack ? conntrackJson(o.conntrack) : null,
        notes: o.notes,
        steps: o.steps,
        ...(replies ? { reply: reply ? traceJson(reply) : null } : {}),
      };
    }),
  };
}
