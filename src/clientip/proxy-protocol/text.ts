/**
 * Byte checks for TLV text, written to work on prefixes: the decoder must reject a bad byte as
 * soon as it arrives, before the rest of the value does.
 *
 * @module
 */

/** Index of the first byte in [start, end) outside printable US-ASCII (0x20-0x7E), or -1. */
export function firstNonAscii(bytes: Uint8Array, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c < 0x20 || c > 0x7e) return i;
  }
  return -1;
}

/**
 * Check bytes[start, end) as the start of UTF-8 text (the WHATWG decoder's rules: no overlongs,
 * surrogates or code points above U+10FFFF). Returns the index of the first byte no continuation
 * can make valid, `-1` when the bytes are complete text, or `-2` when they end inside a character.
 */
export function utf8Prefix(bytes: Uint8Array, start: number, end: number): number {
  let needed = 0;
  let lower = 0x80;
  let upper = 0xbf;
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    if (needed === 0) {
      if (b <= 0x7f) continue;
      if (b >= 0xc2 && b <= 0xdf) needed = 1;
      else if (b >= 0xe0 && b <= 0xef) {
        if (b === 0xe0) lower = 0xa0;
        if (b === 0xed) upper = 0x9f;
        needed = 2;
      } else if (b >= 0xf0 && b <= 0xf4) {
        if (b === 0xf0) lower = 0x90;
        if (b === 0xf4) upper = 0x8f;
        needed = 3;
      } else return i;
    } else {
      if (b < lower || b > upper) return i;
      lower = 0x80;
      upper = 0xbf;
      needed--;
    }
  }
  return needed === 0 ? -1 : -2;
}
