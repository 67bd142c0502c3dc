/**
 * The parsed header: what a PROXY protocol v1 line or v2 block says about the connection.
 *
 * @module
 */
import type { IPAddress } from '../../net/index.js';

/** `PROXY`: the addresses are the client's; `LOCAL`: use the connection's own endpoints. */
export type ProxyCommand = 'LOCAL' | 'PROXY';

/**
 * The family and transport: v1 has `TCP4`, `TCP6` and `UNKNOWN`; v2 has `UNSPEC`, TCP and UDP
 * over IPv4/IPv6, and UNIX stream/datagram sockets.
 */
export type ProxyFamily = 'UNSPEC' | 'UNKNOWN' | 'TCP4' | 'UDP4' | 'TCP6' | 'UDP6' | 'UNIX_STREAM' | 'UNIX_DGRAM';

/** An IPv4/IPv6 endpoint carried by the header. */
export interface ProxyInetEndpoint {
  readonly ip: IPAddress;
  readonly port: number;
}

/** A UNIX socket endpoint carried by a v2 header (the path up to its first NUL). */
export interface ProxyUnixEndpoint {
  readonly path: string;
}

export type ProxyEndpoint = ProxyInetEndpoint | ProxyUnixEndpoint;

/** One v2 TLV as received; `value` is a view into the header bytes. */
export interface ProxyTlv {
  readonly type: number;
  readonly value: Uint8Array;
}

/** A parsed PROXY protocol header. */
export interface ProxyHeader {
  readonly version: 1 | 2;
  /** v1 `UNKNOWN` is reported as `LOCAL`: both mean "use the real endpoints". */
  readonly command: ProxyCommand;
  /** A LOCAL v2 header whose block is too short for its family is reported as `UNSPEC`. */
  readonly family: ProxyFamily;
  /** Null for UNSPEC/UNKNOWN (and a LOCAL block that was discarded). */
  readonly source: ProxyEndpoint | null;
  readonly destination: ProxyEndpoint | null;
  /** Every v2 TLV in order (NOOP and CRC32C included); empty for v1. */
  readonly tlvs: readonly ProxyTlv[];
  /** Bytes the header took on the wire (v1: CRLF included; v2: 16 + the length field). */
  readonly length: number;
}

/** True when the endpoint is an IP address and port (not a UNIX path). */
export function isInetEndpoint(e: ProxyEndpoint | null): e is ProxyInetEndpoint {
  return e !== null && 'ip' in e;
}

/**
 * The client endpoint the header vouches for: the source of a PROXY command over TCP/UDP, else
 * null (LOCAL, UNSPEC, UNKNOWN and UNIX mean "use the connection's own peer"; a LOCAL header's
 * addresses are never the client's, see sozu-proxy/sozu#1334).
 */
export function clientEndpointOf(header: ProxyHeader): ProxyInetEndpoint | null {
  return header.command === 'PROXY' && isInetEndpoint(header.source) ? header.source : null;
}
