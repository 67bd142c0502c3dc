/**
 * CRC32c (Castagnoli, RFC 4960 appendix B), table-driven, for PP2_TYPE_CRC32C.
 *
 * @module
 */

/**
 * Slicing-by-4 tables: TABLE[k * 256 + n] is the CRC of byte n followed by k zero bytes, so four
 * bytes are folded in per step instead of one.
 */
const TABLE = (() => {
  const t = new Uint32Array(4 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let k = 1; k < 4; k++) {
    for (let n = 0; n < 256; n++) {
      const prev = t[(k - 1) * 256 + n]!;
      t[k * 256 + n] = (prev >>> 8) ^ t[prev & 0xff]!;
    }
  }
  return t;
})();

/** Continue a CRC32c over bytes[start, end); start a new one with `crc = 0`. */
export function crc32cUpdate(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = ~crc >>> 0;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    c ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    c = TABLE[768 + (c & 0xff)]! ^ TABLE[512 + ((c >>> 8) & 0xff)]! ^ TABLE[256 + ((c >>> 16) & 0xff)]! ^ TABLE[c >>> 24]!;
  }
  for (; i < end; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC32c of bytes[start, end). */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return crc32cUpdate(0, bytes, start, end);
}

const ZEROS = new Uint8Array(4);

/**
 * The checksum a PP2_TYPE_CRC32C TLV must carry: CRC32c of the whole header (bytes[0, end))
 * with the 4 value bytes at `valueOffset` counted as zeros, without copying the header.
 */
export function headerCrc32c(bytes: Uint8Array, valueOffset: number, end: number): number {
  let c = crc32cUpdate(0, bytes, 0, valueOffset);
  c = crc32cUpdate(c, ZEROS);
  return crc32cUpdate(c, bytes, valueOffset + 4, end);
}
