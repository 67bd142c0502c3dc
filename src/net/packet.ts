/**
 * Transport protocols, 5-tuples and packets: the L3/L4 header fields netfilter looks at.
 *
 * @module
 */
import type { IPAddress, IPFamily } from './ip.js';

/** IANA protocol numbers of the transports kubepath names. */
export const IPPROTO = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132 } as const;

/** The transports a trace can carry. */
export type TransportName = keyof typeof IPPROTO;

const NAMES = new Map<number, string>([
  [1, 'icmp'],
  [6, 'tcp'],
  [17, 'udp'],
  [58, 'icmpv6'],
  [132, 'sctp'],
  [0, 'all'],
  [4, 'ipip'],
  [41, 'ipv6'],
  [47, 'gre'],
  [50, 'esp'],
  [51, 'ah'],
]);

const NUMBERS = new Map<string, number>([
  ...[...NAMES].map(([n, s]) => [s, n] as [string, number]),
  ['ipv6-icmp', 58],
  ['icmp6', 58],
]);

/** Protocol number for a name or decimal number (`tcp`, `6`); undefined when unknown. */
export function protocolNumber(text: string): number | undefined {
  const lower = text.toLowerCase();
  if (/^(?:0|[1-9][0-9]{0,2})$/.test(lower) && Number(lower) <= 255) return Number(lower);
  return NUMBERS.get(lower);
}

/** The usual name of a protocol number (`6` → `tcp`), or the number as text. */
export function protocolName(proto: number): string {
  return NAMES.get(proto) ?? String(proto);
}

/** TCP header flags as in `--tcp-flags` (bit values of the TCP header). */
export const TCP_FLAGS = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 } as const;

/** The connection a packet belongs to, in the direction the packet travels. */
export interface FiveTuple {
  readonly family: IPFamily;
  readonly protocol: number;
  readonly source: IPAddress;
  readonly destination: IPAddress;
  /** Source port, or ICMP echo identifier; undefined when the transport has none. */
  readonly sourcePort: number | undefined;
  /** Destination port; undefined when the transport has none. */
  readonly destinationPort: number | undefined;
}

/** A packet: its 5-tuple plus the header fields matches look at. */
export interface Packet extends FiveTuple {
  /** TCP flags (default: SYN, the first packet of a connection). */
  readonly tcpFlags: number | undefined;
  /** ICMP type and code, for icmp/icmpv6. */
  readonly icmpType: number | undefined;
  readonly icmpCode: number | undefined;
  /** Total length in bytes, when known. */
  readonly length: number | undefined;
}
