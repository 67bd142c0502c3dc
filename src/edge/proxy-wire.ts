/**
 * The PROXY protocol on the wire between hops: what a listener finds at the start of a stream is
 * decided by parsing the bytes the sender wrote (`ProxyHeaderSent.hex`) with kubepath's own strict
 * parser, never by a flag; and a sender's header is written with kubepath's own encoder.
 *
 * @module
 */
import { encodeProxyHeader, isInetEndpoint, isProxyProtocolError, parseProxyHeader, type ProxyHeader } from '../clientip/proxy-protocol/index.js';
import { formatEndpoint, parseEndpoint } from '../net/index.js';
import type { ConnectionPayload, ProxyHeaderSent } from './request.js';

/** An inet endpoint as text: `IP:port`, `[IPv6]:port`. */
export interface WireEndpoint {
  readonly ip: string;
  readonly port: number;
}

/** What a listener reads before the application bytes. */
export type ProxyHeaderRead =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'header';
      readonly version: 1 | 2;
      /** PROXY with TCP/UDP addresses: the client the sender vouches for; undefined for LOCAL, UNKNOWN, UNSPEC, UNIX. */
      readonly source?: WireEndpoint | undefined;
      readonly destination?: WireEndpoint | undefined;
      /** `PROXY TCP4`, `LOCAL`, … in words, for notes. */
      readonly summary: string;
      readonly header: ProxyHeader;
    }
  | { readonly kind: 'invalid'; readonly reason: string };

function endpointOf(e: ProxyHeader['source']): WireEndpoint | undefined {
  return isInetEndpoint(e) ? { ip: formatEndpoint(e.ip, undefined), port: e.port } : undefined;
}

/** Parse the PROXY header bytes a payload carries (none when the sender wrote none). */
export function readProxyHeader(payload: ConnectionPayload): ProxyHeaderRead {
  const sent = payload.proxyHeader;
  if (!sent) return { kind: 'none' };
  const bytes = Buffer.from(sent.hex, 'hex');
  let header: ProxyHeader;
  try {
    header = parseProxyHeader(bytes);
  } catch (e) {
    if (!isProxyProtocolError(e)) throw e;
    return { kind: 'invalid', reason: e.message };
  }
  const proxied = header.command === 'PROXY';
  const source = proxied ? endpointOf(header.source) : undefined;
  const destination = proxied ? endpointOf(header.destination) : undefined;
  const summary = `PROXY protocol v${header.version} ${header.command}${header.command === 'PROXY' ? ` ${header.family}` : ''}${source ? ` from ${formatWire(source)}` : ''}`;
  return { kind: 'header', version: header.version, source, destination, summary, header };
}

/** `IP:port` text of a wire endpoint. */
export function formatWire(e: WireEndpoint): string {
  return formatEndpoint(parseEndpoint(e.ip).ip, e.port);
}

/** A PROXY header a hop sends: `source` is the client it stands for, `destination` the address the client called. */
export function proxyHeaderSent(version: 1 | 2, source: string, destination: string): ProxyHeaderSent {
  const s = parseEndpoint(source);
  const d = parseEndpoint(destination);
  const bytes = encodeProxyHeader({ version, source: { ip: s.ip, port: s.port ?? 0 }, destination: { ip: d.ip, port: d.port ?? 0 } });
  return { version, source: formatEndpoint(s.ip, s.port ?? 0), destination: formatEndpoint(d.ip, d.port ?? 0), hex: bytes.toString('hex') };
}

/** The port of an `IP:port` text, or undefined. */
export function portOf(endpoint: string): number | undefined {
  try {
    return parseEndpoint(endpoint).port;
  } catch {
    return undefined;
  }
}
