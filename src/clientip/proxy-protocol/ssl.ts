/**
 * The PP2_TYPE_SSL value: `client` (u8 flags), `verify` (u32, 0 = the client certificate was
 * verified), then sub-TLVs (PP2_SUBTYPE_SSL_*). Checked strictly, and on prefixes so that the
 * decoder rejects a bad value as soon as the bad byte arrives: a sub-TLV must end inside the
 * value and the last one exactly at its end; VERSION is required when PP2_CLIENT_SSL is set;
 * VERSION, CIPHER, SIG_ALG, KEY_ALG, GROUP and SIG_SCHEME are non-empty US-ASCII, CN non-empty
 * UTF-8 (go-proxyproto's tlvparse rules).
 *
 * @module
 */
import {
  PP2_CLIENT_CERT_CONN,
  PP2_CLIENT_CERT_SESS,
  PP2_CLIENT_SSL,
  PP2_SUBTYPE_SSL_CIPHER,
  PP2_SUBTYPE_SSL_CLIENT_CERT,
  PP2_SUBTYPE_SSL_CN,
  PP2_SUBTYPE_SSL_GROUP,
  PP2_SUBTYPE_SSL_KEY_ALG,
  PP2_SUBTYPE_SSL_SIG_ALG,
  PP2_SUBTYPE_SSL_SIG_SCHEME,
  PP2_SUBTYPE_SSL_VERSION,
  PP2_TYPE_SSL,
} from './constants.js';
import { ProxyProtocolError } from './errors.js';
import type { ProxyTlv } from './header.js';
import { firstNonAscii, utf8Prefix } from './text.js';

/** A decoded PP2_TYPE_SSL TLV. */
export interface ProxySsl {
  /** The raw `client` byte (PP2_CLIENT_SSL | PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS). */
  readonly client: number;
  /** The raw `verify` field; 0 means the client presented a certificate that was verified. */
  readonly verify: number;
  readonly clientSsl: boolean;
  readonly clientCertConn: boolean;
  readonly clientCertSess: boolean;
  readonly verified: boolean;
  readonly version: string | undefined;
  /** The client certificate's Common Name. */
  readonly cn: string | undefined;
  readonly cipher: string | undefined;
  readonly sigAlg: string | undefined;
  readonly keyAlg: string | undefined;
  readonly group: string | undefined;
  readonly sigScheme: string | undefined;
  /** The client certificate, DER. */
  readonly clientCert: Uint8Array | undefined;
  /** Every sub-TLV in order, known or not. */
  readonly subTlvs: readonly ProxyTlv[];
}

/** Sub-TLVs whose value is printable US-ASCII text. */
const ASCII_SUBTYPES = new Set([
  PP2_SUBTYPE_SSL_VERSION,
  PP2_SUBTYPE_SSL_CIPHER,
  PP2_SUBTYPE_SSL_SIG_ALG,
  PP2_SUBTYPE_SSL_KEY_ALG,
  PP2_SUBTYPE_SSL_GROUP,
  PP2_SUBTYPE_SSL_SIG_SCHEME,
]);

function malformed(offset: number, message: string): ProxyProtocolError {
  return new ProxyProtocolError('tlv-malformed', `PROXY v2: PP2_TYPE_SSL ${message} (byte ${offset})`, { offset });
}

/**
 * Check an SSL value at bytes[start, end) of which only bytes before `available` have arrived;
 * throws `tlv-malformed` at the first byte after which the value cannot be valid. With `collect`,
 * the sub-TLVs are pushed to it (call it then with the whole value available).
 */
export function checkSsl(bytes: Uint8Array, start: number, end: number, available: number, collect?: ProxyTlv[]): void {
  // The TLV length is known (its last byte is just before `start`).
  if (end - start < 5) throw malformed(start - 1, `value of ${end - start} bytes: client and verify need 5`);
  if (end - start === 6 || end - start === 7) throw malformed(start - 1, `value of ${end - start} bytes leaves ${end - start - 5}, too few for a sub-TLV`);
  const avail = Math.min(available, end);
  if (avail <= start) return;
  const needsVersion = (bytes[start]! & PP2_CLIENT_SSL) !== 0;
  // PP2_CLIENT_SSL needs a VERSION sub-TLV of at least one character: 4 bytes.
  if (needsVersion && end - start - 5 < 4) throw malformed(start, 'has PP2_CLIENT_SSL but no room for PP2_SUBTYPE_SSL_VERSION');
  let sawVersion = false;
  let cur = start + 5;
  while (cur < end) {
    if (end - cur < 3) throw malformed(cur, `ends with ${end - cur} bytes, too few for a sub-TLV`);
    if (cur >= avail) return;
    const type = bytes[cur]!;
    const text = ASCII_SUBTYPES.has(type) || type === PP2_SUBTYPE_SSL_CN;
    // Without VERSION yet, this sub-TLV must leave room (4 bytes) for one after it.
    const versionLater = needsVersion && !sawVersion && type !== PP2_SUBTYPE_SSL_VERSION;
    if (end - cur < (text ? 4 : 3) + (versionLater ? 4 : 0)) throw malformed(cur, `no room for sub-TLV 0x${type.toString(16)} in ${end - cur} bytes`);
    if (cur + 1 >= avail) return;
    const hi = bytes[cur + 1]!;
    const minEnd = cur + 3 + (hi << 8);
    if (minEnd > end) throw malformed(cur + 1, `sub-TLV 0x${type.toString(16)} of at least ${hi << 8} bytes overruns the value`);
    if (versionLater && minEnd > end - 4) throw malformed(cur + 1, 'has PP2_CLIENT_SSL but no room left for PP2_SUBTYPE_SSL_VERSION');
    if (cur + 2 >= avail) return;
    const len = (hi << 8) | bytes[cur + 2]!;
    const vStart = cur + 3;
    const vEnd = vStart + len;
    const what = `sub-TLV 0x${type.toString(16)}`;
    if (vEnd > end) throw malformed(cur + 2, `${what} of ${len} bytes overruns the value by ${vEnd - end}`);
    if (end - vEnd > 0 && end - vEnd < 3) throw malformed(cur + 2, `${what} leaves ${end - vEnd} bytes, too few for a sub-TLV`);
    if (versionLater && vEnd > end - 4) throw malformed(cur + 2, 'has PP2_CLIENT_SSL but no room left for PP2_SUBTYPE_SSL_VERSION');
    if (text && len === 0) throw malformed(cur + 2, `${what} is empty`);
    if (type === PP2_SUBTYPE_SSL_VERSION) sawVersion = true;
    const upTo = Math.min(vEnd, avail);
    if (ASCII_SUBTYPES.has(type)) {
      const bad = firstNonAscii(bytes, vStart, upTo);
      if (bad >= 0) throw malformed(bad, `${what} is not US-ASCII text`);
    } else if (type === PP2_SUBTYPE_SSL_CN) {
      const bad = utf8Prefix(bytes, vStart, upTo);
      // A character cut by the end of the value is known bad at its last byte.
      if (bad >= 0 || (bad === -2 && upTo === vEnd)) throw malformed(bad >= 0 ? bad : vEnd - 1, 'PP2_SUBTYPE_SSL_CN is not UTF-8 text');
    }
    if (vEnd > avail) return;
    collect?.push({ type, value: bytes.subarray(vStart, vEnd) });
    cur = vEnd;
  }
}

const utf8 = new TextDecoder('utf-8');

function latin1(v: Uint8Array): string {
  let s = '';
  for (let i = 0; i < v.length; i++) s += String.fromCharCode(v[i]!);
  return s;
}

/** Decode a PP2_TYPE_SSL value; throws ProxyProtocolError `tlv-malformed` (offsets within the value). */
export function decodeSsl(value: Uint8Array): ProxySsl {
  const subTlvs: ProxyTlv[] = [];
  checkSsl(value, 0, value.length, value.length, subTlvs);
  const client = value[0]!;
  const verify = ((value[1]! << 24) | (value[2]! << 16) | (value[3]! << 8) | value[4]!) >>> 0;
  const first = (type: number): Uint8Array | undefined => subTlvs.find((t) => t.type === type)?.value;
  const ascii = (type: number): string | undefined => {
    const v = first(type);
    return v === undefined ? undefined : latin1(v);
  };
  const cn = first(PP2_SUBTYPE_SSL_CN);
  return {
    client,
    verify,
    clientSsl: (client & PP2_CLIENT_SSL) !== 0,
    clientCertConn: (client & PP2_CLIENT_CERT_CONN) !== 0,
    clientCertSess: (client & PP2_CLIENT_CERT_SESS) !== 0,
    verified: verify === 0,
    version: ascii(PP2_SUBTYPE_SSL_VERSION),
    cn: cn === undefined ? undefined : utf8.decode(cn),
    cipher: ascii(PP2_SUBTYPE_SSL_CIPHER),
    sigAlg: ascii(PP2_SUBTYPE_SSL_SIG_ALG),
    keyAlg: ascii(PP2_SUBTYPE_SSL_KEY_ALG),
    group: ascii(PP2_SUBTYPE_SSL_GROUP),
    sigScheme: ascii(PP2_SUBTYPE_SSL_SIG_SCHEME),
    clientCert: first(PP2_SUBTYPE_SSL_CLIENT_CERT),
    subTlvs,
  };
}

/** What to put in a PP2_TYPE_SSL TLV. */
export interface ProxySslInit {
  /** Flags; default PP2_CLIENT_SSL when a version is given, else 0. */
  readonly client?: number;
  /** Default 0 (verified). */
  readonly verify?: number;
  readonly version?: string;
  readonly cn?: string;
  readonly cipher?: string;
  readonly sigAlg?: string;
  readonly keyAlg?: string;
  readonly group?: string;
  readonly sigScheme?: string;
  readonly clientCert?: Uint8Array;
  /** More sub-TLVs, written after the ones above. */
  readonly subTlvs?: readonly ProxyTlv[];
}

/** Build a PP2_TYPE_SSL TLV; the result passes {@link decodeSsl} (else throws `invalid-argument`). */
export function sslTlv(init: ProxySslInit): ProxyTlv {
  const subs: ProxyTlv[] = [];
  const text = (type: number, s: string | undefined, encoding: 'latin1' | 'utf8'): void => {
    if (s !== undefined) subs.push({ type, value: Buffer.from(s, encoding) });
  };
  text(PP2_SUBTYPE_SSL_VERSION, init.version, 'latin1');
  text(PP2_SUBTYPE_SSL_CN, init.cn, 'utf8');
  text(PP2_SUBTYPE_SSL_CIPHER, init.cipher, 'latin1');
  text(PP2_SUBTYPE_SSL_SIG_ALG, init.sigAlg, 'latin1');
  text(PP2_SUBTYPE_SSL_KEY_ALG, init.keyAlg, 'latin1');
  text(PP2_SUBTYPE_SSL_GROUP, init.group, 'latin1');
  text(PP2_SUBTYPE_SSL_SIG_SCHEME, init.sigScheme, 'latin1');
  if (init.clientCert !== undefined) subs.push({ type: PP2_SUBTYPE_SSL_CLIENT_CERT, value: init.clientCert });
  subs.push(...(init.subTlvs ?? []));
  const length = 5 + subs.reduce((n, t) => n + 3 + t.value.length, 0);
  if (length > 0xffff) throw new ProxyProtocolError('invalid-argument', `PP2_TYPE_SSL value of ${length} bytes does not fit a TLV`);
  const value = Buffer.alloc(length);
  value[0] = init.client ?? (init.version !== undefined ? PP2_CLIENT_SSL : 0);
  value.writeUInt32BE((init.verify ?? 0) >>> 0, 1);
  let at = 5;
  for (const t of subs) {
    value[at] = t.type;
    value.writeUInt16BE(t.value.length, at + 1);
    value.set(t.value, at + 3);
    at += 3 + t.value.length;
  }
  try {
    checkSsl(value, 0, length, length);
  } catch (e) {
    throw new ProxyProtocolError('invalid-argument', `sslTlv: ${(e as Error).message}`, { cause: e });
  }
  return { type: PP2_TYPE_SSL, value };
}
