/**
 * The TLV area of a v2 header, walked as its bytes arrive: each TLV must end inside the declared
 * length and the last one exactly at its end (HAProxy closes the connection otherwise); known
 * types keep their rules (CRC32C is 4 bytes and appears once, UNIQUE_ID at most 128 bytes, SSL
 * well-formed). Unknown types are kept as they are.
 *
 * @module
 */
import { PP2_TYPE_CRC32C, PP2_TYPE_SSL, PP2_TYPE_UNIQUE_ID, PP2_UNIQUE_ID_MAX_LENGTH } from './constants.js';
import { headerCrc32c } from './crc32c.js';
import { ProxyProtocolError } from './errors.js';
import type { ProxyTlv } from './header.js';
import { checkSsl } from './ssl.js';

/** How far the walk has got; kept by the incremental decoder between chunks. */
export interface TlvProgress {
  /** Offset of the next TLV to read. */
  cursor: number;
  /** Offset of the PP2_TYPE_CRC32C value, or -1. */
  crcValueOffset: number;
}

export function newTlvProgress(cursor: number): TlvProgress {
  return { cursor, crcValueOffset: -1 };
}

function malformed(offset: number, message: string): ProxyProtocolError {
  return new ProxyProtocolError('tlv-malformed', `PROXY v2: ${message} (byte ${offset})`, { offset });
}

/**
 * Read TLVs of bytes[p.cursor, end) as far as bytes before `available` allow, advancing `p`;
 * throws `tlv-malformed` as soon as the bytes seen cannot start a valid TLV area.
 */
export function walkTlvs(bytes: Uint8Array, p: TlvProgress, available: number, end: number): void {
  let cur = p.cursor;
  while (cur < end) {
    if (end - cur < 3) throw malformed(cur, `${end - cur} bytes left after the last TLV, too few for a TLV`);
    if (cur + 3 > available) break;
    const type = bytes[cur]!;
    const len = (bytes[cur + 1]! << 8) | bytes[cur + 2]!;
    const vStart = cur + 3;
    const vEnd = vStart + len;
    if (vEnd > end) throw malformed(cur + 1, `TLV 0x${type.toString(16)} of ${len} bytes overruns the header by ${vEnd - end}`);
    if (type === PP2_TYPE_CRC32C) {
      if (len !== 4) throw malformed(cur + 1, `PP2_TYPE_CRC32C must be 4 bytes, not ${len}`);
      if (p.crcValueOffset >= 0) throw malformed(cur, 'a second PP2_TYPE_CRC32C');
    } else if (type === PP2_TYPE_UNIQUE_ID) {
      if (len > PP2_UNIQUE_ID_MAX_LENGTH) throw malformed(cur + 1, `PP2_TYPE_UNIQUE_ID of ${len} bytes (at most ${PP2_UNIQUE_ID_MAX_LENGTH})`);
    } else if (type === PP2_TYPE_SSL) {
      checkSsl(bytes, vStart, vEnd, available);
    }
    if (vEnd > available) break;
    if (type === PP2_TYPE_CRC32C) p.crcValueOffset = vStart;
    cur = vEnd;
  }
  p.cursor = cur;
}

/** The TLVs of an area {@link walkTlvs} has accepted, as views into `bytes`. */
export function readTlvs(bytes: Uint8Array, start: number, end: number): ProxyTlv[] {
  const tlvs: ProxyTlv[] = [];
  for (let cur = start; cur < end; ) {
    const vEnd = cur + 3 + ((bytes[cur + 1]! << 8) | bytes[cur + 2]!);
    tlvs.push({ type: bytes[cur]!, value: bytes.subarray(cur + 3, vEnd) });
    cur = vEnd;
  }
  return tlvs;
}

/**
 * Check the PP2_TYPE_CRC32C value at `valueOffset` against the header bytes[0, end): network
 * byte order, or (compat) little-endian as libproxyprotocol writes it. Throws `crc32c-mismatch`.
 */
export function verifyCrc32c(bytes: Uint8Array, valueOffset: number, end: number, acceptLittleEndian: boolean): void {
  const want = headerCrc32c(bytes, valueOffset, end);
  const b0 = bytes[valueOffset]!;
  const b1 = bytes[valueOffset + 1]!;
  const b2 = bytes[valueOffset + 2]!;
  const b3 = bytes[valueOffset + 3]!;
  const be = ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
  if (be === want) return;
  const le = ((b3 << 24) | (b2 << 16) | (b1 << 8) | b0) >>> 0;
  if (acceptLittleEndian && le === want) return;
  throw new ProxyProtocolError(
    'crc32c-mismatch',
    `PROXY v2: PP2_TYPE_CRC32C is 0x${be.toString(16).padStart(8, '0')}, the header's is 0x${want.toString(16).padStart(8, '0')}`,
    { offset: valueOffset },
  );
}
