/**
 * The values of the generic TLV types: read from a header's TLVs (the first of its type wins),
 * and built for the encoder. Text is decoded here, not at parse time: HAProxy keeps values with
 * NUL bytes, and so does the parser.
 *
 * @module
 */
import {
  PP2_TYPE_ALPN,
  PP2_TYPE_AUTHORITY,
  PP2_TYPE_CRC32C,
  PP2_TYPE_NETNS,
  PP2_TYPE_NOOP,
  PP2_TYPE_SSL,
  PP2_TYPE_UNIQUE_ID,
  PP2_UNIQUE_ID_MAX_LENGTH,
} from './constants.js';
import { ProxyProtocolError } from './errors.js';
import type { ProxyTlv } from './header.js';
import { decodeSsl, type ProxySsl } from './ssl.js';

const utf8 = new TextDecoder('utf-8');

/** The first TLV of a type, or undefined. */
export function findTlv(tlvs: readonly ProxyTlv[], type: number): ProxyTlv | undefined {
  for (const t of tlvs) if (t.type === type) return t;
  return undefined;
}

function text(tlvs: readonly ProxyTlv[], type: number): string | undefined {
  const t = findTlv(tlvs, type);
  return t === undefined ? undefined : utf8.decode(t.value);
}

/** PP2_TYPE_ALPN: the protocol the client negotiated (`h2`, `http/1.1`). */
export function alpnOf(tlvs: readonly ProxyTlv[]): string | undefined {
  return text(tlvs, PP2_TYPE_ALPN);
}

/** PP2_TYPE_AUTHORITY: the host name the client asked for (TLS SNI). */
export function authorityOf(tlvs: readonly ProxyTlv[]): string | undefined {
  return text(tlvs, PP2_TYPE_AUTHORITY);
}

/** PP2_TYPE_UNIQUE_ID: the sender's opaque connection id. */
export function uniqueIdOf(tlvs: readonly ProxyTlv[]): Uint8Array | undefined {
  return findTlv(tlvs, PP2_TYPE_UNIQUE_ID)?.value;
}

/** PP2_TYPE_NETNS: the network namespace name. */
export function netnsOf(tlvs: readonly ProxyTlv[]): string | undefined {
  return text(tlvs, PP2_TYPE_NETNS);
}

/** PP2_TYPE_CRC32C as sent (a parsed header's has been verified). */
export function crc32cOf(tlvs: readonly ProxyTlv[]): number | undefined {
  const v = findTlv(tlvs, PP2_TYPE_CRC32C)?.value;
  return v === undefined || v.length !== 4 ? undefined : ((v[0]! << 24) | (v[1]! << 16) | (v[2]! << 8) | v[3]!) >>> 0;
}

/** PP2_TYPE_SSL decoded; throws ProxyProtocolError `tlv-malformed` (never for a parsed header's TLVs). */
export function sslOf(tlvs: readonly ProxyTlv[]): ProxySsl | undefined {
  const t = findTlv(tlvs, PP2_TYPE_SSL);
  return t === undefined ? undefined : decodeSsl(t.value);
}

function invalid(message: string): ProxyProtocolError {
  return new ProxyProtocolError('invalid-argument', message);
}

export function alpnTlv(protocol: string): ProxyTlv {
  return { type: PP2_TYPE_ALPN, value: Buffer.from(protocol, 'utf8') };
}

export function authorityTlv(host: string): ProxyTlv {
  return { type: PP2_TYPE_AUTHORITY, value: Buffer.from(host, 'utf8') };
}

export function uniqueIdTlv(id: Uint8Array): ProxyTlv {
  if (id.length > PP2_UNIQUE_ID_MAX_LENGTH) throw invalid(`PP2_TYPE_UNIQUE_ID of ${id.length} bytes (at most ${PP2_UNIQUE_ID_MAX_LENGTH})`);
  return { type: PP2_TYPE_UNIQUE_ID, value: id };
}

/** PP2_TYPE_NOOP: `length` bytes of padding. */
export function noopTlv(length = 0): ProxyTlv {
  return { type: PP2_TYPE_NOOP, value: Buffer.alloc(length) };
}

export function netnsTlv(name: string): ProxyTlv {
  return { type: PP2_TYPE_NETNS, value: Buffer.from(name, 'latin1') };
}
