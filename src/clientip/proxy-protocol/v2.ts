/**
 * PROXY protocol v2: the 16-byte fixed part (signature, version/command, family/transport,
 * length), the address block, then TLVs up to the declared length. Scanned on any prefix, so
 * that a header is rejected at the first byte that makes it invalid and "need more" means a
 * valid header can still follow.
 *
 * @module
 */
import { ipv4, ipv6 } from '../../net/index.js';
import {
  PP2_ADDR_LEN_INET,
  PP2_ADDR_LEN_INET6,
  PP2_ADDR_LEN_UNIX,
  PP2_FIXED_LENGTH,
  PP2_SIGNATURE,
  PP2_UNIX_PATH_LEN,
} from './constants.js';
import { ProxyProtocolError } from './errors.js';
import type { ProxyCommand, ProxyEndpoint, ProxyFamily, ProxyHeader, ProxyInetEndpoint, ProxyTlv, ProxyUnixEndpoint } from './header.js';
import type { ResolvedParseOptions } from './options.js';
import { newTlvProgress, readTlvs, type TlvProgress, verifyCrc32c, walkTlvs } from './tlv.js';

/** Name of a defined family/transport byte; undefined for the others (which MUST be rejected). */
function familyName(byte: number): ProxyFamily | undefined {
  switch (byte) {
    case 0x00:
      return 'UNSPEC';
    case 0x11:
      return 'TCP4';
    case 0x12:
      return 'UDP4';
    case 0x21:
      return 'TCP6';
    case 0x22:
      return 'UDP6';
    case 0x31:
      return 'UNIX_STREAM';
    case 0x32:
      return 'UNIX_DGRAM';
    default:
      return undefined;
  }
}

function addressLength(familyByte: number): number {
  const af = familyByte >> 4;
  return af === 1 ? PP2_ADDR_LEN_INET : af === 2 ? PP2_ADDR_LEN_INET6 : af === 3 ? PP2_ADDR_LEN_UNIX : 0;
}

function fail(code: 'not-proxy-protocol' | 'v2-bad-version-or-command' | 'v2-bad-family' | 'v2-bad-length' | 'header-too-large', offset: number, message: string): ProxyProtocolError {
  return new ProxyProtocolError(code, `${code === 'not-proxy-protocol' ? 'PROXY protocol' : 'PROXY v2'}: ${message} (byte ${offset})`, { offset });
}

/** Used when the caller keeps no progress: scans are synchronous, so one object serves them all. */
const SCRATCH: TlvProgress = newTlvProgress(-1);

/**
 * Scan bytes[0, n) as the start of a v2 header: the header when complete; when not yet, the
 * header's total length once the fixed part is in, else -1. Throws ProxyProtocolError.
 * `progress` carries the TLV walk between calls on one growing buffer (a fresh one when the
 * buffer changes); without it the walk starts over.
 */
export function scanV2(bytes: Uint8Array, n: number, o: ResolvedParseOptions, progress?: TlvProgress): ProxyHeader | number {
  // Whole signature in three words; byte by byte only to find where a prefix goes wrong.
  if (n < 12 || u32(bytes, 0) !== 0x0d0a0d0a || u32(bytes, 4) !== 0x000d0a51 || u32(bytes, 8) !== 0x5549540a) {
    const sig = n < 12 ? n : 12;
    for (let i = 0; i < sig; i++) {
      if (bytes[i] !== PP2_SIGNATURE[i]) throw fail('not-proxy-protocol', i, 'not a PROXY protocol signature');
    }
  }
  if (n <= 12) return -1;
  const verCmd = bytes[12]!;
  if (verCmd >> 4 !== 2 || (verCmd & 0x0f) > 1) {
    throw fail('v2-bad-version-or-command', 12, `version/command byte 0x${verCmd.toString(16)} (want 0x20 LOCAL or 0x21 PROXY)`);
  }
  const proxy = (verCmd & 0x0f) === 1;
  if (n <= 13) return -1;
  const famByte = bytes[13]!;
  const family = familyName(famByte);
  if (family === undefined) throw fail('v2-bad-family', 13, `undefined family/transport byte 0x${famByte.toString(16).padStart(2, '0')}`);
  if (proxy && famByte === 0 && !o.allowProxyUnspec) throw fail('v2-bad-family', 13, 'PROXY command with AF_UNSPEC carries no addresses');
  if (n <= 14) return -1;
  // The length's high byte alone can put it above the cap.
  if (bytes[14]! << 8 > o.maxV2Length) throw fail('header-too-large', 14, `length ${bytes[14]! << 8} or more is above the limit of ${o.maxV2Length}`);
  if (n < PP2_FIXED_LENGTH) return -1;
  const length = (bytes[14]! << 8) | bytes[15]!;
  if (length > o.maxV2Length) throw fail('header-too-large', 15, `length ${length} is above the limit of ${o.maxV2Length}`);
  const addrLen = addressLength(famByte);
  if (proxy && length < addrLen) throw fail('v2-bad-length', 15, `length ${length} cannot hold the ${addrLen}-byte ${family} address block`);
  const total = PP2_FIXED_LENGTH + length;
  // LOCAL: the receiver discards the block; one too short for its family is not an error.
  if (length < addrLen) return n < total ? total : new V2Header(proxy, 'UNSPEC', null, null, total, bytes, total);
  let p = progress;
  if (p === undefined) {
    p = SCRATCH;
    p.cursor = -1;
    p.crcValueOffset = -1;
  }
  if (p.cursor < 0) {
    p.cursor = PP2_FIXED_LENGTH + addrLen;
    const area = total - p.cursor;
    if (area === 1 || area === 2) throw new ProxyProtocolError('tlv-malformed', `PROXY v2: ${area} bytes after the address block, too few for a TLV (byte 15)`, { offset: 15 });
  }
  walkTlvs(bytes, p, n < total ? n : total, total, o.acceptLittleEndianCrc32c);
  if (n < total) return total;
  if (p.crcValueOffset >= 0) verifyCrc32c(bytes, p.crcValueOffset, total, o.acceptLittleEndianCrc32c);
  const at = PP2_FIXED_LENGTH;
  let source: ProxyEndpoint | null = null;
  let destination: ProxyEndpoint | null = null;
  if (addrLen === PP2_ADDR_LEN_INET) {
    source = inet4(bytes, at, at + 8);
    destination = inet4(bytes, at + 4, at + 10);
  } else if (addrLen === PP2_ADDR_LEN_INET6) {
    source = inet6(bytes, at, at + 32);
    destination = inet6(bytes, at + 16, at + 34);
  } else if (addrLen === PP2_ADDR_LEN_UNIX) {
    source = unixPath(bytes, at);
    destination = unixPath(bytes, at + PP2_UNIX_PATH_LEN);
  }
  return new V2Header(proxy, family, source, destination, total, bytes, at + addrLen);
}

const NO_TLVS: readonly ProxyTlv[] = [];

/** True when the header's TLV values, not yet read, still refer to the bytes it was parsed from. */
export function holdsInput(h: ProxyHeader): boolean {
  return h instanceof V2Header && h.holdsInput;
}

/**
 * A parsed v2 header. Its TLVs were checked during the parse but become objects only when read:
 * a typed-array view costs about as much as the whole parse, and most readers want the address.
 */
class V2Header implements ProxyHeader {
  // Fields are assigned in the constructor only (`declare`): one shape, no define-then-assign.
  declare readonly version: 2;
  declare readonly command: ProxyCommand;
  declare readonly family: ProxyFamily;
  declare readonly source: ProxyEndpoint | null;
  declare readonly destination: ProxyEndpoint | null;
  declare readonly length: number;
  private declare bytes: Uint8Array | undefined;
  private declare tlvStart: number;
  private declare parsedTlvs: readonly ProxyTlv[] | undefined;

  constructor(
    proxy: boolean,
    family: ProxyFamily,
    source: ProxyEndpoint | null,
    destination: ProxyEndpoint | null,
    length: number,
    bytes: Uint8Array,
    tlvStart: number,
  ) {
    this.version = 2;
    this.command = proxy ? 'PROXY' : 'LOCAL';
    this.family = family;
    this.source = source;
    this.destination = destination;
    this.length = length;
    this.tlvStart = tlvStart;
    // Without TLVs nothing refers to the input bytes: do not keep them alive.
    this.bytes = tlvStart < length ? bytes : undefined;
    this.parsedTlvs = tlvStart < length ? undefined : NO_TLVS;
  }

  get tlvs(): readonly ProxyTlv[] {
    if (this.parsedTlvs === undefined) {
      this.parsedTlvs = readTlvs(this.bytes!, this.tlvStart, this.length);
      this.bytes = undefined;
    }
    return this.parsedTlvs;
  }

  /** True when the TLVs, not yet read, are views into the input (the decoder then copies the header out). */
  get holdsInput(): boolean {
    return this.bytes !== undefined;
  }
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function port(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function inet4(b: Uint8Array, addrAt: number, portAt: number): ProxyInetEndpoint {
  return { ip: ipv4(u32(b, addrAt)), port: port(b, portAt) };
}

function inet6(b: Uint8Array, addrAt: number, portAt: number): ProxyInetEndpoint {
  const hi = (BigInt(u32(b, addrAt)) << 32n) | BigInt(u32(b, addrAt + 4));
  const lo = (BigInt(u32(b, addrAt + 8)) << 32n) | BigInt(u32(b, addrAt + 12));
  return { ip: ipv6((hi << 64n) | lo), port: port(b, portAt) };
}

const utf8 = new TextDecoder('utf-8');

/** A `sun_path`: the bytes up to the first NUL (all 108 when there is none). */
function unixPath(b: Uint8Array, at: number): ProxyUnixEndpoint {
  let end = at;
  while (end < at + PP2_UNIX_PATH_LEN && b[end] !== 0) end++;
  return { path: utf8.decode(b.subarray(at, end)) };
}
