/**
 * Test helpers for the PROXY protocol: a seeded PRNG, random headers (valid by construction),
 * and a one-call classification of a byte string as a stream prefix.
 */
import { ipv4, ipv6 } from '../../../src/net/index.js';
import { mulberry32 } from '../../support/prng.js';
import {
  type ProxyHeaderInit,
  type ProxyParseOptions,
  type ProxyTlv,
  ProxyHeaderDecoder,
  encodeProxyHeader,
  ProxyProtocolError,
  alpnTlv,
  authorityTlv,
  awsVpcEndpointIdTlv,
  azurePrivateEndpointLinkIdTlv,
  gcpPscConnectionIdTlv,
  netnsTlv,
  noopTlv,
  sslTlv,
  uniqueIdTlv,
} from '../../../src/clientip/proxy-protocol/index.js';

/** A seeded PRNG (mulberry32): floats in [0, 1), the same for the same seed. */
export const prng = mulberry32;

export function int(rand: () => number, n: number): number {
  return Math.floor(rand() * n);
}

export function pick<T>(rand: () => number, xs: readonly T[]): T {
  return xs[int(rand, xs.length)]!;
}

export function bytes(rand: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = int(rand, 256);
  return b;
}

function ascii(rand: () => number, min: number, max: number): string {
  let s = '';
  const n = min + int(rand, max - min + 1);
  for (let i = 0; i < n; i++) s += String.fromCharCode(0x21 + int(rand, 0x5e));
  return s;
}

/** Addresses that exercise the text forms: edges, zero runs, IPv4-mapped. */
function randomIPv4(rand: () => number): ReturnType<typeof ipv4> {
  return ipv4(pick(rand, [0, 0xffffffff, 0x7f000001, int(rand, 2 ** 32)]));
}

function randomIPv6(rand: () => number): ReturnType<typeof ipv6> {
  const kind = int(rand, 5);
  if (kind === 0) return ipv6(0n);
  if (kind === 1) return ipv6(0xffff00000000n | BigInt(int(rand, 2 ** 32)));
  let v = 0n;
  for (let i = 0; i < 8; i++) v = (v << 16n) | BigInt(rand() < 0.4 ? 0 : int(rand, 0x10000));
  return ipv6(kind === 2 ? (1n << 128n) - 1n : v);
}

function randomTlvs(rand: () => number): ProxyTlv[] {
  const makers: (() => ProxyTlv)[] = [
    () => alpnTlv(pick(rand, ['h2', 'http/1.1', 'h3'])),
    () => authorityTlv(`${ascii(rand, 1, 20)}.example`),
    () => uniqueIdTlv(bytes(rand, int(rand, 129))),
    () => noopTlv(int(rand, 40)),
    () => netnsTlv(ascii(rand, 1, 16)),
    () => awsVpcEndpointIdTlv(`vpce-${ascii(rand, 1, 17)}`),
    () => azurePrivateEndpointLinkIdTlv(int(rand, 2 ** 32)),
    () => gcpPscConnectionIdTlv(BigInt(int(rand, 2 ** 32)) << 32n),
    () => sslTlv({ version: 'TLSv1.3', cn: rand() < 0.5 ? 'client ✓' : undefined, cipher: 'TLS_AES_128_GCM_SHA256', verify: int(rand, 2) }),
    () => ({ type: 0xf0 + int(rand, 16), value: bytes(rand, int(rand, 30)) }),
  ];
  const tlvs: ProxyTlv[] = [];
  const n = int(rand, 5);
  for (let i = 0; i < n; i++) tlvs.push(pick(rand, makers)());
  return tlvs;
}

/** A random header that a strict receiver accepts. */
export function randomHeader(rand: () => number): ProxyHeaderInit {
  const port = (): number => pick(rand, [0, 1, 80, 65535, int(rand, 65536)]);
  if (rand() < 0.35) {
    const family = pick(rand, ['TCP4', 'TCP6', 'UNKNOWN'] as const);
    if (family === 'UNKNOWN') return { version: 1, command: 'LOCAL' };
    const ip = family === 'TCP4' ? randomIPv4 : randomIPv6;
    return { version: 1, family, source: { ip: ip(rand), port: port() }, destination: { ip: ip(rand), port: port() } };
  }
  const family = pick(rand, ['TCP4', 'UDP4', 'TCP6', 'UDP6', 'UNIX_STREAM', 'UNIX_DGRAM', 'UNSPEC'] as const);
  const command = family === 'UNSPEC' || rand() < 0.15 ? 'LOCAL' : 'PROXY';
  const endpoint = () =>
    family.startsWith('UNIX') ? { path: `/run/${ascii(rand, 1, 40)}.sock` } : { ip: family.endsWith('4') ? randomIPv4(rand) : randomIPv6(rand), port: port() };
  return {
    version: 2,
    command,
    family,
    source: family === 'UNSPEC' ? null : endpoint(),
    destination: family === 'UNSPEC' ? null : endpoint(),
    tlvs: randomTlvs(rand),
    crc32c: rand() < 0.3,
  };
}

export type Classification = 'incomplete' | 'complete' | ProxyProtocolError['code'];

/** Feed `input` to a fresh decoder in one chunk: what it says about it as a stream prefix. */
export function classify(input: Uint8Array, options: ProxyParseOptions = {}): Classification {
  try {
    const step = new ProxyHeaderDecoder(options).feed(input);
    return step.status === 'complete' ? 'complete' : 'incomplete';
  } catch (e) {
    if (e instanceof ProxyProtocolError) return e.code;
    throw e;
  }
}

/** Inputs near the edge of validity: valid headers with bytes changed, cut, inserted, or v1 lines with random characters. */
export function mutant(rand: () => number): Buffer {
  const base = encodeProxyHeader(randomHeader(rand));
  const b = Buffer.from(base);
  switch (int(rand, 6)) {
    case 0:
      for (let k = 0, n = 1 + int(rand, 3); k < n; k++) b[int(rand, b.length)] = int(rand, 256);
      return b;
    case 1: {
      const at = int(rand, b.length);
      return Buffer.concat([b.subarray(0, at), bytes(rand, 1 + int(rand, 4)), b.subarray(at)]);
    }
    case 2: {
      const at = int(rand, b.length);
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(rand, 3))]);
    }
    case 3:
      // A length field or TLV length byte set to something else.
      if (b[0] === 0x0d) b[14 + int(rand, 2)] = int(rand, 256);
      else b[int(rand, b.length)] = pick(rand, [0x20, 0x0d, 0x0a, 0x30, 0x3a, 0x2e]);
      return b;
    case 4: {
      const chars = '0123456789abcdef:. \r\nPROXYTCP46UNKW';
      let s = 'PROXY ';
      for (let k = 0, n = int(rand, 110); k < n; k++) s += chars[int(rand, chars.length)];
      return Buffer.from(s, 'latin1');
    }
    default:
      b[b.length - 1 - int(rand, Math.min(b.length, 8))] ^= 1 << int(rand, 8);
      return b;
  }
}
