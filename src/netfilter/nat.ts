/**
 * How the kernel picks the new address and port for a NAT binding (nf_nat_core.c):
 * an address from a range by jhash2 of the tuple's addresses, and a port kept when it is in
 * range, else the range's first port for DNAT (random for SNAT).
 *
 * @module
 */
import { type IPAddress, ipv4, ipv6 } from '../net/index.js';
import type { NatRange } from './targets.js';

function rol32(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Bob Jenkins' lookup3 `jhash2` over 32-bit words, as include/linux/jhash.h has it. */
export function jhash2(words: readonly number[], initval: number): number {
  let a = (0xdeadbeef + (words.length << 2) + initval) >>> 0;
  let b = a;
  let c = a;
  let k = 0;
  let length = words.length;
  while (length > 3) {
    a = (a + words[k]!) >>> 0;
    b = (b + words[k + 1]!) >>> 0;
    c = (c + words[k + 2]!) >>> 0;
    // __jhash_mix
    a = (a - c) >>> 0; a = (a ^ rol32(c, 4)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rol32(a, 6)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rol32(b, 8)) >>> 0; b = (b + a) >>> 0;
    a = (a - c) >>> 0; a = (a ^ rol32(c, 16)) >>> 0; c = (c + b) >>> 0;
    b = (b - a) >>> 0; b = (b ^ rol32(a, 19)) >>> 0; a = (a + c) >>> 0;
    c = (c - b) >>> 0; c = (c ^ rol32(b, 4)) >>> 0; b = (b + a) >>> 0;
    length -= 3;
    k += 3;
  }
  if (length > 0) {
    if (length === 3) c = (c + words[k + 2]!) >>> 0;
    if (length >= 2) b = (b + words[k + 1]!) >>> 0;
    a = (a + words[k]!) >>> 0;
    // __jhash_final
    c = (c ^ b) >>> 0; c = (c - rol32(b, 14)) >>> 0;
    a = (a ^ c) >>> 0; a = (a - rol32(c, 11)) >>> 0;
    b = (b ^ a) >>> 0; b = (b - rol32(a, 25)) >>> 0;
    c = (c ^ b) >>> 0; c = (c - rol32(b, 16)) >>> 0;
    a = (a ^ c) >>> 0; a = (a - rol32(c, 4)) >>> 0;
    b = (b ^ a) >>> 0; b = (b - rol32(a, 14)) >>> 0;
    c = (c ^ b) >>> 0; c = (c - rol32(b, 24)) >>> 0;
  }
  return c >>> 0;
}

/** An address as the kernel's `union nf_inet_addr` words read on a little-endian host. */
function addressWords(ip: IPAddress): number[] {
  const bytes: number[] = [];
  if (ip.family === 4) {
    const v = ip.value;
    bytes.push(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
    for (let i = 0; i < 12; i++) bytes.push(0);
  } else {
    for (let shift = 120n; shift >= 0n; shift -= 8n) bytes.push(Number((ip.value >> shift) & 0xffn));
  }
  const words: number[] = [];
  for (let i = 0; i < 16; i += 4) {
    words.push((bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) >>> 0);
  }
  return words;
}

function reciprocalScale(value: number, range: number): number {
  return Number((BigInt(value) * BigInt(range)) >> 32n);
}

/**
 * The address find_best_ips_proto() picks from `range` for a connection from `source` to
 * `destination`: the same client always lands on the same address.
 */
export function pickRangeAddress(
  range: NatRange,
  source: IPAddress,
  destination: IPAddress,
  persistent: boolean,
  manip: 'src' | 'dst' = 'dst',
): IPAddress | undefined {
  const min = range.minAddress;
  const max = range.maxAddress;
  if (!min || !max) return undefined;
  if (min.value === max.value) return min;
  const dstWords = addressWords(destination);
  const last = source.family === 4 ? 0 : 3;
  let j = jhash2(addressWords(source), persistent ? 0 : dstWords[last]!);
  if (min.family === 4) {
    const dist = ((max.value as number) - (min.value as number) + 1) >>> 0;
    return ipv4(((min.value as number) + reciprocalScale(j, dist)) >>> 0);
  }
  // IPv6: word by word (network order), full range once a word differs from the maximum.
  const minWords = wordsBE(min.value as bigint);
  const maxWords = wordsBE(max.value as bigint);
  const out: number[] = [];
  let fullRange = false;
  for (let i = 0; i <= last; i++) {
    const lo = fullRange ? 0 : minWords[i]!;
    const dist = fullRange ? 0xffffffff : (maxWords[i]! - minWords[i]! + 1) >>> 0;
    out.push((lo + reciprocalScale(j, dist)) >>> 0);
    if (out[i] !== maxWords[i]) fullRange = true;
    // The kernel mixes in the tuple's destination word, which for DNAT is the word just written.
    if (!persistent) j = (j ^ (manip === 'dst' ? bswap32(out[i]!) : dstWords[i]!)) >>> 0;
  }
  let value = 0n;
  for (const w of out) value = (value << 32n) | BigInt(w);
  return ipv6(value);
}

/** A 32-bit word as the little-endian host reads the network-order bytes. */
function bswap32(x: number): number {
  return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}

function wordsBE(v: bigint): number[] {
  return [96n, 64n, 32n, 0n].map((s) => Number((v >> s) & 0xffffffffn));
}

/** A port choice: the port, and whether the kernel picks it at random in practice. */
export interface PortChoice {
  readonly port: number | undefined;
  readonly random: boolean;
}

/**
 * The port of a NAT binding: kept when no range is given or it lies in the range; otherwise
 * the range's first port for DNAT/REDIRECT and a random one for SNAT/MASQUERADE.
 */
export function pickPort(
  current: number | undefined,
  min: number | undefined,
  max: number | undefined,
  manip: 'src' | 'dst',
  random: boolean,
): PortChoice {
  if (current === undefined) return { port: undefined, random: false };
  // DNAT --random without a port range keeps the destination port; SNAT --random picks one.
  if (random && min === undefined && manip === 'dst') return { port: current, random: false };
  if (random) return { port: min !== undefined ? min : current, random: true };
  if (min === undefined || max === undefined) return { port: current, random: false };
  if (current >= min && current <= max) return { port: current, random: false };
  return manip === 'dst' ? { port: min, random: false } : { port: min, random: true };
}
