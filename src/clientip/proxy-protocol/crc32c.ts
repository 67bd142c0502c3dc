/**
 * CRC32c (Castagnoli, RFC 4960 appendix B), table-driven, for PP2_TYPE_CRC32C.
 *
 * @module
 */

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Continue a CRC32c over bytes[start, end); start a new one with `crc = 0`. */
export function crc32cUpdate(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = ~crc >>> 0;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
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
