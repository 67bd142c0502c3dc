/**
 * IPv4 and IPv6 addresses as numbers, parsed strictly and printed canonically.
 *
 * IPv4 is a uint32 `number`, IPv6 a 128-bit `bigint`: comparisons and masks on the hot path
 * never touch strings. Parsing accepts dotted-quad (RFC 791 text as every tool prints it) and
 * RFC 4291 text only: `012.0.0.5`, `0xa.0.0.5` and `167772165` are errors, not 10.0.0.5,
 * because inet_aton's legacy forms are how allow-lists get bypassed.
 *
 * @module
 */

/** Address family: 4 or 6, as in `ip -4` / `ip -6`. */
export type IPFamily = 4 | 6;

/** An IPv4 address; `value` is the address as an unsigned 32-bit integer. */
export interface IPv4Address {
  readonly family: 4;
  readonly value: number;
}

/** An IPv6 address; `value` is the address as an unsigned 128-bit integer. */
export interface IPv6Address {
  readonly family: 6;
  readonly value: bigint;
}

/** An IPv4 or IPv6 address. */
export type IPAddress = IPv4Address | IPv6Address;

/** Thrown for text that is not an address, CIDR or port; `message` says why. */
export class AddressError extends Error {
  override readonly name = 'AddressError';
  constructor(message: string) {
    super(message);
  }
}

const V6_MAX = (1n << 128n) - 1n;

/** Make an IPv4 address from its 32-bit value. */
export function ipv4(value: number): IPv4Address {
  return { family: 4, value: value >>> 0 };
}

/** Make an IPv6 address from its 128-bit value. */
export function ipv6(value: bigint): IPv6Address {
  return { family: 6, value: value & V6_MAX };
}

/**
 * The value of the dotted-quad IPv4 text in `text[start, end)` (decimal octets, no leading zeros),
 * or -1. Reads the range in place, so callers scanning a longer string (a header) need no slice.
 */
export function parseIPv4Range(text: string, start: number, end: number): number {
  const n = end - start;
  if (n < 7 || n > 15) return -1;
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      // A leading zero makes octal in inet_aton: refuse it rather than guess.
      if (digits === 1 && octet === 0) return -1;
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + octet;
}

/** Parse dotted-quad IPv4 text (decimal octets, no leading zeros); undefined otherwise. */
function parseIPv4Value(text: string): number | undefined {
  const v = parseIPv4Range(text, 0, text.length);
  return v < 0 ? undefined : v;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Parse RFC 4291 IPv6 text (no zone); returns undefined when it is not that. */
function parseIPv6Value(text: string): bigint | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (part: string, allowV4Tail: boolean): number[] | undefined => {
    if (part === '') return [];
    const items = part.split(':');
    const groups: number[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (allowV4Tail && i === items.length - 1 && item.includes('.')) {
        const v4 = parseIPv4Value(item);
        if (v4 === undefined) return undefined;
        groups.push(v4 >>> 16, v4 & 0xffff);
      } else {
        if (!HEX_GROUP.test(item)) return undefined;
        groups.push(parseInt(item, 16));
      }
    }
    return groups;
  };
  let groups: number[];
  if (halves.length === 2) {
    const head = parseGroups(halves[0]!, false);
    const tail = parseGroups(halves[1]!, true);
    if (!head || !tail) return undefined;
    const missing = 8 - head.length - tail.length;
    // "::" stands for at least one zero group (RFC 4291 §2.2).
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    const all = parseGroups(text, true);
    if (!all || all.length !== 8) return undefined;
    groups = all;
  }
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  return value;
}

/** Parse an IPv4 or IPv6 address strictly; undefined when the text is not one. */
export function tryParseIP(text: string): IPAddress | undefined {
  if (text.includes(':')) {
    const v6 = parseIPv6Value(text);
    return v6 === undefined ? undefined : { family: 6, value: v6 };
  }
  const v4 = parseIPv4Value(text);
  return v4 === undefined ? undefined : { family: 4, value: v4 };
}

/** Parse an IPv4 or IPv6 address strictly; throws AddressError naming the text. */
export function parseIP(text: string): IPAddress {
  const ip = tryParseIP(text);
  if (!ip) throw new AddressError(`"${text}" is not an IP address (dotted-quad IPv4 or RFC 4291 IPv6)`);
  return ip;
}

/** Parse an address of the given family; throws when it is the other one. */
export function parseIPOfFamily(text: string, family: IPFamily): IPAddress {
  const ip = parseIP(text);
  if (ip.family !== family) throw new AddressError(`"${text}" is not an IPv${family} address`);
  return ip;
}

function formatIPv4Value(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/** Format an IPv6 value per RFC 5952: lowercase, longest zero run as "::", IPv4-mapped dotted. */
function formatIPv6Value(value: bigint): string {
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${formatIPv4Value(Number(value & 0xffffffffn))}`;
  }
  let bestStart = -1;
  let bestLen = 1; // a single zero group is never compressed (RFC 5952 §4.2.2)
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Canonical text of an address (RFC 5952 for IPv6). */
export function formatIP(ip: IPAddress): string {
  return ip.family === 4 ? formatIPv4Value(ip.value) : formatIPv6Value(ip.value);
}

/** True when both are the same address of the same family. */
export function ipEquals(a: IPAddress, b: IPAddress): boolean {
  return a.family === b.family && a.value === b.value;
}

/** Order addresses: IPv4 before IPv6, then numerically. */
export function compareIP(a: IPAddress, b: IPAddress): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

/** A key usable in a Map: the number for IPv4, the bigint for IPv6 (distinct types never collide). */
export function ipKey(ip: IPAddress): number | bigint {
  return ip.value;
}

/** Bits in an address of the family. */
export function familyBits(family: IPFamily): 32 | 128 {
  return family === 4 ? 32 : 128;
}

/** True for 127.0.0.0/8 and ::1. */
export function isLoopback(ip: IPAddress): boolean {
  return ip.family === 4 ? ip.value >>> 24 === 127 : ip.value === 1n;
}

/** The unspecified address of a family: 0.0.0.0 or ::. */
export function unspecified(family: IPFamily): IPAddress {
  return family === 4 ? ipv4(0) : ipv6(0n);
}

/** Text of an endpoint: `IP:PORT`, `[IPv6]:PORT`, or the bare address when there is no port. */
export function formatEndpoint(ip: IPAddress, port: number | undefined): string {
  const text = formatIP(ip);
  if (port === undefined) return text;
  return ip.family === 6 ? `[${text}]:${port}` : `${text}:${port}`;
}
