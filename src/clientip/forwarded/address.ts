/**
 * One node of a forwarding chain as the headers write it: `IP`, `IP:PORT`, `[IPv6]`,
 * `[IPv6]:PORT`, `IPv6%zone`, RFC 7239's `unknown` and `_obfuscated` identifiers. Addresses go
 * through `net/`'s strict parser (`012.0.0.5` is not 10.0.0.5); IPv4-mapped IPv6 is unmapped so
 * that `::ffff:10.0.0.1` and `10.0.0.1` are one client; IPv6 zones are kept (net/ has none).
 *
 * @module
 */
import { formatIP, type IPAddress, ipv4, tryParseIP } from '../../net/index.js';

/** A usable address taken from a header or a socket: the IP, its zone (IPv6 only) and port if given. */
export interface NodeAddress {
  readonly ip: IPAddress;
  /** IPv6 zone (`eth0` in `fe80::1%eth0`), kept because a link-local address means nothing without it. */
  readonly zone: string | undefined;
  /** The port written after the address; undefined when absent or obfuscated (`_p1`). */
  readonly port: number | undefined;
}

/** What a node in a forwarding chain is: an address, RFC 7239's `unknown` or `_obfuscated`, or not valid. */
export type NodeKind = 'ip' | 'unknown' | 'obfuscated' | 'invalid';

const MAPPED_PREFIX = 0xffffn;

/** `::ffff:a.b.c.d` becomes `a.b.c.d`; other addresses (NAT64 `64:ff9b::/96` too) stay as they are. */
export function unmapIP(ip: IPAddress): IPAddress {
  if (ip.family === 6 && ip.value >> 32n === MAPPED_PREFIX) return ipv4(Number(ip.value & 0xffffffffn));
  return ip;
}

/** True for 0.0.0.0 and ::, which no client can have. */
export function isUnspecified(ip: IPAddress): boolean {
  return ip.family === 4 ? ip.value === 0 : ip.value === 0n;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isAlnum(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** RFC 7239 §6.3: `_` followed by ALPHA / DIGIT / "." / "_" / "-". */
export function isObfuscated(text: string): boolean {
  if (text.length < 2 || text.charCodeAt(0) !== 95) return false;
  for (let i = 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!isAlnum(c) && c !== 46 && c !== 95 && c !== 45) return false;
  }
  return true;
}

/** RFC 6874 zone text: unreserved characters only (no `:/[]%`, no spaces). */
function isZone(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!isAlnum(c) && c !== 45 && c !== 46 && c !== 95 && c !== 126) return false;
  }
  return true;
}

const NO_PORT = -1;
const BAD_PORT = -2;

/** A decimal port 0-65535 (1-5 digits), NO_PORT for an obfuscated one, BAD_PORT otherwise. */
function portValue(text: string, from: number): number {
  const n = text.length - from;
  if (n >= 2 && text.charCodeAt(from) === 95) return isObfuscated(text.slice(from)) ? NO_PORT : BAD_PORT;
  if (n < 1 || n > 5) return BAD_PORT;
  let port = 0;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!isDigit(c)) return BAD_PORT;
    port = port * 10 + (c - 48);
  }
  return port > 65535 ? BAD_PORT : port;
}

/**
 * Parse one node's text (already trimmed). Accepts `IP`, `IPv4:PORT`, `[IP]`, `[IP]:PORT`, a zone
 * after `%` on IPv6, a decimal or obfuscated port; with `lastColonPort` an unbracketed
 * `IPv6:PORT` too (CloudFront-Viewer-Address writes that). Returns undefined for anything else,
 * including 0.0.0.0 and :: when `allowUnspecified` is not set.
 */
export function parseNodeAddress(
  text: string,
  options?: { readonly allowUnspecified?: boolean; readonly lastColonPort?: boolean },
): NodeAddress | undefined {
  const n = text.length;
  if (n === 0) return undefined;
  let host = text;
  let port = NO_PORT;
  if (text.charCodeAt(0) === 91) {
    // "[" ... "]" [":" port]
    const close = text.indexOf(']');
    if (close < 0) return undefined;
    host = text.slice(1, close);
    if (close + 1 < n) {
      if (text.charCodeAt(close + 1) !== 58) return undefined;
      port = portValue(text, close + 2);
    }
  } else {
    const colon = text.indexOf(':');
    if (colon >= 0) {
      const last = text.lastIndexOf(':');
      // One colon: IPv4:PORT. More: an IPv6 address, whose colons are not a port separator.
      const split = colon === last ? colon : options?.lastColonPort ? last : -1;
      if (split >= 0) {
        host = text.slice(0, split);
        port = portValue(text, split + 1);
      }
    }
  }
  if (port === BAD_PORT) return undefined;
  let zone: string | undefined;
  const pct = host.indexOf('%');
  if (pct >= 0) {
    const z = host.slice(pct + 1);
    if (!isZone(z)) return undefined;
    if (z !== '') zone = z;
    host = host.slice(0, pct);
  }
  const parsed = tryParseIP(host);
  if (!parsed) return undefined;
  const ip = unmapIP(parsed);
  // A zone scopes an IPv6 address to a link; on IPv4 (mapped or not) it is a malformed node.
  if (zone !== undefined && ip.family === 4) return undefined;
  if (!options?.allowUnspecified && isUnspecified(ip)) return undefined;
  return { ip, zone, port: port === NO_PORT ? undefined : port };
}

/** The kind of a node's text: `unknown`, `_obfuscated`, a usable address, or invalid. */
export function nodeKind(text: string, address: NodeAddress | undefined): NodeKind {
  if (address) return 'ip';
  if (text.length === 7 && text.toLowerCase() === 'unknown') return 'unknown';
  return isObfuscated(text) ? 'obfuscated' : 'invalid';
}

/** A plain IPv4 node from its value. */
export function ipv4Node(value: number): NodeAddress {
  return { ip: ipv4(value), zone: undefined, port: undefined };
}

// Octets as text, so an IPv4 answer is formatted without number-to-string conversions.
const OCTETS = Array.from({ length: 256 }, (_, i) => String(i));

/** Canonical text of an address: RFC 5952 for IPv6, the zone kept after `%`. */
export function formatNodeAddress(address: NodeAddress): string {
  const ip = address.ip;
  if (ip.family === 4) {
    const v = ip.value;
    return `${OCTETS[v >>> 24]}.${OCTETS[(v >>> 16) & 255]}.${OCTETS[(v >>> 8) & 255]}.${OCTETS[v & 255]}`;
  }
  const text = formatIP(ip);
  return address.zone === undefined ? text : `${text}%${address.zone}`;
}

/** True when the character is HTTP optional white space (SP or HTAB). */
export function isOWS(c: number): boolean {
  return c === 32 || c === 9;
}

/** Text between `start` and `end` without surrounding SP/HTAB. */
export function trimmed(text: string, start: number, end: number): string {
  while (start < end && isOWS(text.charCodeAt(start))) start++;
  while (end > start && isOWS(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}
