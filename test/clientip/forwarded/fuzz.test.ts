/**
 * Property and fuzz tests with a seeded PRNG: random and mutated header values never crash the
 * readers or the strategies; an answer is always a canonical address that obeys its strategy's
 * rule; configuration errors are StrategyErrors; the fast right-to-left X-Forwarded-For cursor
 * reads exactly what the plain reader reads.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  behindCloudflare,
  Chain,
  type ClientIpInput,
  formatNodeAddress,
  forwardedForNodes,
  IPRanges,
  isPrivateOrLocal,
  LeftmostNonPrivate,
  parseNodeAddress,
  ProxyProtocolSource,
  proxyAddrCompatible,
  readForwarded,
  readSingleAddressHeader,
  readXForwardedFor,
  RemoteAddr,
  RightmostNonPrivate,
  RightmostTrustedCount,
  RightmostTrustedRange,
  SingleIPHeader,
  type Strategy,
  StrategyError,
} from '../../../src/clientip/forwarded/index.js';
import { XffCursor } from '../../../src/clientip/forwarded/xff.js';
import { mulberry32 } from '../../support/prng.js';
import { vectors } from './vectors.js';

const rand = mulberry32(0x7239);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

const PIECES = [
  '1.2.3.4', '10.0.0.1', '203.0.113.7', '0.0.0.0', '012.0.0.5', '255.255.255.255', '256.1.1.1', '1.2.3', '::', '::1',
  '2001:db8::1', 'fe80::1%eth0', '::ffff:10.0.0.1', '::ffff:bc15:6', '64:ff9b::1.2.3.4', '[2001:db8::1]:443', '[fe80::1%z]:x',
  '1.2.3.4:80', '1.2.3.4:99999', 'unknown', '_hidden', '_', 'for=', 'For=', 'by=', 'proto=https', 'host="a,b"', '"', '\\',
  ',', ', ', ';', '=', '[', ']', ':', '%', ' ', '\t', '\u0000', '\u007f', 'é', '😀', '\r\n', 'a', '9',
];
const CHARS = '0123456789abcdefABCDEF.:,;="\\[]%_ \t-xyzfoF\u0001\u00ff';

/** A random header value: pieces or characters. */
function randomValue(): string {
  let s = '';
  const n = int(12);
  for (let i = 0; i < n; i++) s += rand() < 0.6 ? pick(PIECES) : CHARS[int(CHARS.length)]!;
  return s;
}

/** A realclientip header value, mutated: characters inserted, deleted, replaced, spans repeated. */
function mutate(value: string): string {
  let s = value;
  const edits = 1 + int(4);
  for (let e = 0; e < edits; e++) {
    const at = int(s.length + 1);
    switch (int(4)) {
      case 0:
        s = s.slice(0, at) + CHARS[int(CHARS.length)]! + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1 + int(3));
        break;
      case 2:
        s = s.slice(0, at) + pick(PIECES) + s.slice(at + 1);
        break;
      default:
        s = s.slice(0, at) + s.slice(int(s.length), int(s.length) + 8) + s.slice(at);
    }
  }
  return s;
}

const SEEDS = vectors.strategyCases.flatMap((c) => Object.values(c.headers).flat());

const TRUSTED = ['10.0.0.0/8', '127.0.0.0/8', 'fe80::/10', '2001:db8::/32'];
const trusted = IPRanges.from(TRUSTED);
const STRATEGIES: Strategy[] = [
  new RemoteAddr(),
  new SingleIPHeader('x-real-ip'),
  new SingleIPHeader('cf-connecting-ip', { trustedPeers: ['1.0.0.0/8'], innerProxies: ['10.0.0.0/8'] }),
  new LeftmostNonPrivate('x-forwarded-for'),
  new LeftmostNonPrivate('forwarded'),
  new RightmostNonPrivate('x-forwarded-for'),
  new RightmostNonPrivate('forwarded'),
  new RightmostTrustedCount('x-forwarded-for', 2, { trustedPeers: TRUSTED }),
  new RightmostTrustedCount('forwarded', 1, { trustedPeers: 'any' }),
  new RightmostTrustedRange('x-forwarded-for', TRUSTED),
  new RightmostTrustedRange('forwarded', TRUSTED, { unknownPeer: 'trusted' }),
  new ProxyProtocolSource(TRUSTED),
  new Chain(new SingleIPHeader('x-real-ip'), new RemoteAddr()),
  behindCloudflare(),
];

const PEERS = ['10.1.2.3', '::ffff:10.1.2.3', '198.51.100.9', '1.2.3.4', 'fe80::1%eth0', '', '@', undefined, '0.0.0.0', '[::1]:80'];

/** A request with random headers in one of Node's three shapes. */
function randomInput(value: () => string): ClientIpInput {
  const names = ['X-Forwarded-For', 'Forwarded', 'X-Real-IP', 'CF-Connecting-IP'];
  const raw: string[] = [];
  const lines = int(5);
  for (let i = 0; i < lines; i++) raw.push(pick(names), value());
  const remoteAddress = pick(PEERS);
  const proxySource = rand() < 0.3 ? value() : undefined;
  switch (int(3)) {
    case 0:
      return { remoteAddress, proxySource, rawHeaders: raw };
    case 1: {
      const d: Record<string, string[]> = {};
      for (let i = 0; i < raw.length; i += 2) (d[raw[i]!.toLowerCase()] ??= []).push(raw[i + 1]!);
      return { remoteAddress, proxySource, headersDistinct: d };
    }
    default: {
      const h: Record<string, string> = {};
      for (let i = 0; i < raw.length; i += 2) {
        const k = raw[i]!.toLowerCase();
        h[k] = h[k] === undefined ? raw[i + 1]! : `${h[k]}, ${raw[i + 1]}`;
      }
      return { remoteAddress, proxySource, headers: h };
    }
  }
}

/** Every property on one input. */
function checkInput(input: ClientIpInput): void {
  for (const s of STRATEGIES) {
    const ip = s.clientIP(input);
    const r = s.resolve(input);
    assert.equal(r.ok ? r.client.ip : undefined, ip, s.name);
    if (!r.ok) {
      assert.ok(r.reason.length > 0);
      continue;
    }
    // Canonical: parsing the answer gives the same text, and the address behind it.
    const again = parseNodeAddress(ip!);
    assert.ok(again, `${s.name} answered ${JSON.stringify(ip)}`);
    assert.equal(formatNodeAddress(again), ip);
    assert.equal(formatNodeAddress(r.client.address), ip);
    if (s instanceof RightmostNonPrivate || s instanceof LeftmostNonPrivate) assert.ok(!isPrivateOrLocal(again.ip), `${s.name}: ${ip}`);
    if (s instanceof RightmostTrustedRange && r.client.source === 'header') assert.ok(!trusted.contains(again.ip), `${s.name}: ${ip}`);
    if (s instanceof RightmostTrustedRange && r.client.source === 'remote-address') assert.ok(!trusted.contains(again.ip));
  }
}

/** The fast cursor reads what readXForwardedFor reads, from the other end. */
function checkCursor(lines: readonly string[]): void {
  const plain = readXForwardedFor(lines);
  const cursor = new XffCursor(lines.length === 1 && rand() < 0.5 ? lines[0]! : lines);
  for (let i = plain.length - 1; i >= 0; i--) {
    assert.ok(cursor.next());
    assert.equal(cursor.text(), plain[i]!.text);
    const a = cursor.address();
    assert.equal(a && formatNodeAddress(a), plain[i]!.address && formatNodeAddress(plain[i]!.address!), JSON.stringify(lines));
    assert.equal(cursor.v4 >= 0, a !== undefined && a.ip.family === 4 && /^[0-9.]+$/.test(plain[i]!.text));
  }
  assert.equal(cursor.next(), false);
}

describe('fuzz: header values never crash, answers keep their rules', () => {
  test('random values: 4,000 requests through 14 strategies', () => {
    const t0 = Date.now();
    for (let i = 0; i < 4000; i++) checkInput(randomInput(randomValue));
    assert.ok(Date.now() - t0 < 20_000);
  });

  test('mutated realclientip values: 4,000 requests', () => {
    for (let i = 0; i < 4000; i++) checkInput(randomInput(() => mutate(pick(SEEDS))));
  });

  test('readers on random and mutated values: no throw, nodes of known kinds', () => {
    for (let i = 0; i < 6000; i++) {
      const v = i % 2 ? randomValue() : mutate(pick(SEEDS));
      for (const n of [...readXForwardedFor(v), ...forwardedForNodes(readForwarded(v))]) {
        assert.ok(['ip', 'unknown', 'obfuscated', 'invalid'].includes(n.kind));
        assert.equal(n.kind === 'ip', n.address !== undefined);
      }
      for (const e of readForwarded(v)) assert.ok(e.error === undefined || e.params.size === 0);
      readSingleAddressHeader({ remoteAddress: undefined, rawHeaders: ['X-Real-IP', v] }, 'x-real-ip');
      proxyAddrCompatible({ headers: { 'x-forwarded-for': v }, socket: { remoteAddress: pick(PEERS) } }, TRUSTED);
    }
  });

  test('the fast X-Forwarded-For cursor agrees with the plain reader: 6,000 values', () => {
    for (let i = 0; i < 6000; i++) {
      const n = 1 + int(3);
      checkCursor(Array.from({ length: n }, () => (i % 3 === 0 ? randomValue() : i % 3 === 1 ? mutate(pick(SEEDS)) : pick(PIECES) + ', ' + pick(PIECES))));
    }
  });

  test('configuration: random names, counts and ranges throw StrategyError or nothing', () => {
    for (let i = 0; i < 2000; i++) {
      const name = pick(['', 'x-forwarded-for', 'X-Forwarded-For', 'Forwarded', 'x-real-ip', randomValue()]);
      const ranges = Array.from({ length: int(3) }, () => pick([...TRUSTED, randomValue(), '10.0.0.0/33', '::ffff:1.2.3.4/120']));
      const count = pick([0, 1, 2, -1, 1.5, NaN, 100]);
      for (const make of [
        () => new SingleIPHeader(name, { trustedPeers: ranges }),
        () => new RightmostNonPrivate(name),
        () => new RightmostTrustedCount(name, count, { trustedPeers: ranges }),
        () => new RightmostTrustedRange(name, ranges),
        () => new ProxyProtocolSource(ranges),
      ]) {
        try {
          make();
        } catch (e) {
          assert.ok(e instanceof StrategyError, String(e));
        }
      }
    }
  });
});

describe('properties on well-formed input', () => {
  // Values as Node decodes them (latin1): HTAB, visible ASCII, SP and obs-text; no controls.
  /** A quoted-string of random text, escaped. */
  const quote = (v: string): string => `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

  test('Forwarded: serialized elements parse back to the same parameters', () => {
    for (let i = 0; i < 3000; i++) {
      const elements: Map<string, string>[] = [];
      const text: string[] = [];
      for (let e = 0; e < 1 + int(4); e++) {
        const params = new Map<string, string>();
        const pairs: string[] = [];
        for (const name of ['for', 'by', 'host', 'proto', 'ext']) {
          if (rand() < 0.5) continue;
          const value = pick(['1.2.3.4', '[2001:db8::1]:80', '_x', 'unknown', 'a,b;c', 'say "hi"', 'back\\slash', 'x y', randomValue().replace(/[^\t\u0020-\u007e\u0080-\u00ff]/g, '')]);
          params.set(name, value);
          const cased = rand() < 0.5 ? name.toUpperCase() : name;
          pairs.push(`${cased}=${TOKEN.test(value) && rand() < 0.5 ? value : quote(value)}`);
        }
        elements.push(params);
        text.push(pairs.join(pick([';', '; ', ' ;'])));
      }
      const parsed = readForwarded(text.join(pick([',', ', ', ' , '])));
      // An element with no pair at all is an empty list element: ignored.
      const want = elements.filter((_, k) => text[k] !== '');
      assert.equal(parsed.length, want.length, text.join(','));
      parsed.forEach((p, k) => {
        assert.equal(p.error, undefined);
        assert.deepEqual(Object.fromEntries(p.params), Object.fromEntries(want[k]!));
      });
    }
  });

  test('a padded X-Forwarded-For costs the hops walked, not its length', () => {
    const s = new RightmostTrustedRange('x-forwarded-for', ['10.0.0.0/8']);
    const padded = `${Array.from({ length: 4000 }, (_, i) => `6.6.${i >> 8}.${i & 255}`).join(', ')}, 203.0.113.7, 10.0.0.1`;
    const short = '203.0.113.7, 10.0.0.1';
    const time = (v: string): number => {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 2000; i++) assert.equal(s.clientIP({ remoteAddress: '10.0.0.2', headers: { 'x-forwarded-for': v } }), '203.0.113.7');
      return Number(process.hrtime.bigint() - t0);
    };
    time(short);
    time(padded);
    // 1,000 times longer, at most a few times slower (noise): nothing scans the whole header.
    assert.ok(time(padded) < time(short) * 5 + 5e6);
  });
});
