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
 * throws `tlv-malformed` at the first byte after which the area cannot be valid (a length's high
 * byte alone can already overrun the header).
 */
export function walkTlvs(bytes: Uint8Array, p: TlvProgress, available: number, end: number, acceptLittleEndianCrc: boolean): void {
  let cur = p.cursor;
  while (cur < end) {
    if (end - cur < 3) throw malformed(cur, `${end - cur} bytes left after the last TLV, too few for a TLV`);
    if (cur + 3 <= available) {
      // The common case: a whole TLV header of a type without rules of its own, that fits.
      const type = bytes[cur]!;
      const vEnd = cur + 3 + ((bytes[cur + 1]! << 8) | bytes[cur + 2]!);
      const left = end - vEnd;
      if (type !== PP2_TYPE_CRC32C && type !== PP2_TYPE_SSL && type !== PP2_TYPE_UNIQUE_ID && (left === 0 || left > 2)) {
        if (vEnd > available) break;
        cur = vEnd;
        continue;
      }
    }
    const next = stepTlv(bytes, p, cur, available, end, acceptLittleEndianCrc);
    if (next < 0) break;
    cur = next;
  }
  p.cursor = cur;
}

/**
 * One TLV at `cur`, checked byte by byte (type, then the length's high byte, then its low byte,
 * then the value) so an error names the first byte that decided it. Returns the next TLV's
 * offset, or -1 when more bytes are needed.
 */
function stepTlv(bytes: Uint8Array, p: TlvProgress, cur: number, available: number, end: number, acceptLittleEndianCrc: boolean): number {
  if (cur >= available) return -1;
  const type = bytes[cur]!;
  if (type === PP2_TYPE_CRC32C && p.crcValueOffset >= 0) throw malformed(cur, 'a second PP2_TYPE_CRC32C');
  // The room left decides some types at once: a TLV must end the area or leave 3 bytes or more.
  const room = end - cur;
  if (type === PP2_TYPE_CRC32C && (room < 7 || room === 8 || room === 9)) throw malformed(cur, `no room for a 7-byte PP2_TYPE_CRC32C in ${room} bytes`);
  if (type === PP2_TYPE_SSL && (room < 8 || room === 9 || room === 10)) throw malformed(cur, `no room for a PP2_TYPE_SSL in ${room} bytes`);
  if (cur + 1 >= available) return -1;
  const hi = bytes[cur + 1]!;
  if (cur + 3 + (hi << 8) > end) throw malformed(cur + 1, `TLV 0x${type.toString(16)} of at least ${hi << 8} bytes overruns the header`);
  if ((type === PP2_TYPE_CRC32C || type === PP2_TYPE_UNIQUE_ID) && hi !== 0) throw malformed(cur + 1, `${type === PP2_TYPE_CRC32C ? 'PP2_TYPE_CRC32C' : 'PP2_TYPE_UNIQUE_ID'} of ${hi << 8} bytes or more`);
  if (cur + 2 >= available) return -1;
  const len = (hi << 8) | bytes[cur + 2]!;
  const vStart = cur + 3;
  const vEnd = vStart + len;
  if (vEnd > end) throw malformed(cur + 2, `TLV 0x${type.toString(16)} of ${len} bytes overruns the header by ${vEnd - end}`);
  if (end - vEnd === 1 || end - vEnd === 2) throw malformed(cur + 2, `TLV 0x${type.toString(16)} leaves ${end - vEnd} bytes, too few for a TLV`);
  if (type === PP2_TYPE_CRC32C && len !== 4) throw malformed(cur + 2, `PP2_TYPE_CRC32C must be 4 bytes, not ${len}`);
  if (type === PP2_TYPE_UNIQUE_ID && len > PP2_UNIQUE_ID_MAX_LENGTH) throw malformed(cur + 2, `PP2_TYPE_UNIQUE_ID of ${len} bytes (at most ${PP2_UNIQUE_ID_MAX_LENGTH})`);
  if (type === PP2_TYPE_SSL) checkSsl(bytes, vStart, vEnd, available);
  if (vEnd > available) {
    // A checksum that ends the header is known as soon as everything before it is: check its first bytes now.
    if (type === PP2_TYPE_CRC32C && vEnd === end && available > vStart) {
      const bad = crcConflict(bytes, vStart, available, headerCrc32c(bytes, vStart, end), acceptLittleEndianCrc);
      if (bad >= 0) throw crcMismatch(bytes, vStart, end, bad);
    }
    return -1;
  }
  if (type === PP2_TYPE_CRC32C) p.crcValueOffset = vStart;
  return vEnd;
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
 * The first byte of the CRC32C value at bytes[vo, vo + 4) before `upTo` that disagrees with
 * `want` in every accepted byte order, or -1.
 */
function crcConflict(bytes: Uint8Array, vo: number, upTo: number, want: number, acceptLittleEndian: boolean): number {
  let be = true;
  let le = acceptLittleEndian;
  for (let j = 0; j < 4 && vo + j < upTo; j++) {
    const b = bytes[vo + j]!;
    be &&= b === (want >>> (24 - 8 * j)) % 256;
    le &&= b === (want >>> (8 * j)) % 256;
    if (!be && !le) return vo + j;
  }
  return -1;
}

function crcMismatch(bytes: Uint8Array, vo: number, end: number, offset: number): ProxyProtocolError {
  const got = ((bytes[vo]! << 24) | (bytes[vo + 1]! << 16) | (bytes[vo + 2]! << 8) | bytes[vo + 3]!) >>> 0;
  const want = headerCrc32c(bytes, vo, end);
  const hex = (n: number): string => n.toString(16).padStart(8, '0');
  return new ProxyProtocolError('crc32c-mismatch', `PROXY v2: PP2_TYPE_CRC32C is 0x${hex(got)}, the header's is 0x${hex(want)} (byte ${offset})`, { offset });
}

/**
 * Check the PP2_TYPE_CRC32C value at `valueOffset` against the whole header bytes[0, end):
 * network byte order, or (compat) little-endian as libproxyprotocol writes it. Throws
 * `crc32c-mismatch` at the byte that decided it: the first wrong value byte when the checksum
 * ends the header, else the header's last byte.
 */
export function verifyCrc32c(bytes: Uint8Array, valueOffset: number, end: number, acceptLittleEndian: boolean): void {
  const want = headerCrc32c(bytes, valueOffset, end);
  const bad = crcConflict(bytes, valueOffset, valueOffset + 4, want, acceptLittleEndian);
  if (bad < 0) return;
  throw crcMismatch(bytes, valueOffset, end, valueOffset + 4 === end ? bad : end - 1);
}
