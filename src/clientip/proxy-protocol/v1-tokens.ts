/**
 * The tokens of a v1 line, checked as prefixes: each function returns how many characters at
 * least must follow for the token to become valid (0: it is complete), or -1 when no
 * continuation can make it valid. That is what lets the decoder tell "need more bytes" from
 * "invalid" exactly, byte by byte. A complete token (result 0) is exactly what `tryParseIP` /
 * `parsePort` in net/ accept (the tests check the two agree).
 *
 * @module
 */

const NO = -1;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/** Dotted-quad IPv4 (no leading zeros): shortest completion of `s`, or -1. */
export function ipv4Completion(s: string): number {
  let dots = 0;
  let digits = 0;
  let octet = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return NO;
      dots++;
      digits = 0;
      octet = 0;
    } else if (isDigit(c)) {
      // "0" is an octet; "01" is inet_aton's octal and never valid.
      if (digits === 1 && octet === 0) return NO;
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return NO;
    } else {
      return NO;
    }
  }
  return (digits === 0 ? 1 : 0) + (3 - dots) * 2;
}

/** Count 1-4 digit hex groups in `s` (only hex and ':'); -1 when a group is malformed. */
function hexGroups(s: string): number {
  let groups = 0;
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 58) {
      if (run > 0) groups++;
      run = 0;
    } else if (isHex(c)) {
      if (++run > 4) return NO;
    } else {
      return NO;
    }
  }
  return run > 0 ? groups + 1 : groups;
}

/** RFC 4291 IPv6 text without a zone (as net/ parses it): shortest completion of `s`, or -1. */
export function ipv6Completion(s: string): number {
  if (s === '') return 2; // "::"
  if (s.includes(':::')) return NO;
  const dc = s.indexOf('::');
  const hasDc = dc >= 0;
  if (hasDc && s.indexOf('::', dc + 1) >= 0) return NO;
  // A leading single colon must become "::".
  if (s.charCodeAt(0) === 58 && !s.startsWith('::')) return s.length === 1 ? 1 : NO;
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.')) {
    // An IPv4 tail takes two groups and ends the address.
    if (lastColon < 0) return NO;
    const tail = s.slice(lastColon + 1);
    if (!tail.includes('.')) return NO;
    const head = s.slice(0, lastColon + 1);
    const g = hexGroups(head);
    if (g < 0) return NO;
    if (hasDc ? g > 5 : g !== 6) return NO;
    return ipv4Completion(tail);
  }
  const g = hexGroups(s);
  if (g < 0) return NO;
  const endsWithColon = lastColon === s.length - 1 && !s.endsWith('::');
  if (hasDc) {
    if (g > 7) return NO;
    if (endsWithColon) return g + 1 <= 7 ? 1 : NO;
    return 0;
  }
  if (g > 8) return NO;
  if (endsWithColon) return g <= 7 ? 1 : NO; // one more ":" (making "::") or one group
  return g === 8 ? 0 : 2; // "::" finishes it
}

/** A port 0-65535 in plain decimal (no sign, no leading zero): shortest completion, or -1. */
export function portCompletion(s: string): number {
  if (s.length === 0) return 1;
  if (s.length > 5) return NO;
  let value = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isDigit(c) || (i === 1 && value === 0)) return NO;
    value = value * 10 + (c - 48);
  }
  return value > 65535 ? NO : 0;
}

/** Shortest completions of the three v1 protocol words (the word itself, without separator). */
export function protocolCompletion(s: string, word: 'TCP4' | 'TCP6' | 'UNKNOWN'): number {
  return word.startsWith(s) ? word.length - s.length : NO;
}
