/**
 * netfilter/nat: the kernel's NAT choices: jhash2 (lookup3), the address picked from a range,
 * and the port kept or replaced.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatIP, type IPAddress, parseIP } from '../../src/net/index.js';
import { jhash2, type NatRange, pickRangeAddress } from '../../src/netfilter/index.js';
import { pickPort } from '../../src/netfilter/nat.js';

/** Bytes as little-endian 32-bit words, zero-padded (what jhash2 reads on a little-endian host). */
function leWords(bytes: readonly number[]): number[] {
  const words: number[] = [];
  for (let i = 0; i < bytes.length; i += 4) {
    const b = [0, 1, 2, 3].map((k) => bytes[i + k] ?? 0);
    words.push((b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0);
  }
  return words;
}

const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

describe('jhash2', () => {
  test('no words: the initial value, unmixed (lookup3 returns c at once)', () => {
    assert.equal(jhash2([], 0), 0xdeadbeef);
    assert.equal(jhash2([], 1), 0xdeadbef0);
    assert.equal(jhash2([], 0x21524111), 0); // wraps to 32 bits
  });

  // Published lookup3 vectors for hashlittle() of byte strings. For a length that is a multiple of
  // 4 hashlittle equals jhash2 over the little-endian words; for "Four score and seven years ago"
  // (30 bytes) it equals jhash2 over the zero-padded words with initval lowered by 2, because
  // jhash2 seeds with 4 * words = 32 where hashlittle seeds with the byte length 30.
  test('matches Bob Jenkins\' lookup3 test vectors', () => {
    const four = leWords(ascii('Four score and seven years ago'));
    assert.equal(four.length, 8);
    assert.equal(jhash2(four, (0 - 2) >>> 0), 0x17770551);
    assert.equal(jhash2(four, (1 - 2) >>> 0), 0xcd628161);
    assert.equal(jhash2(leWords(ascii('abcd')), 0), 0xb5f4889c);
    assert.equal(jhash2(leWords([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), 0), 0x5e4aa593);
  });

  test('is a pure function: same input, same output, input untouched', () => {
    const words = [0x0a000001, 0xc0a80001, 0, 0xffffffff];
    const copy = [...words];
    const h = jhash2(words, 42);
    for (let i = 0; i < 5; i++) assert.equal(jhash2(words, 42), h);
    assert.deepEqual(words, copy);
  });

  test('returns an unsigned 32-bit integer', () => {
    for (let n = 0; n < 10; n++) {
      const h = jhash2(Array.from({ length: n }, (_, i) => (i * 0x9e3779b9) >>> 0), n * 7);
      assert.ok(Number.isInteger(h) && h >= 0 && h <= 0xffffffff, String(h));
    }
  });

  test('depends on every word, the order, the length and the initval', () => {
    const base = [1, 2, 3, 4, 5];
    const h = jhash2(base, 0);
    for (let i = 0; i < base.length; i++) {
      const changed = [...base];
      changed[i] = changed[i]! ^ 1;
      assert.notEqual(jhash2(changed, 0), h, `word ${i}`);
    }
    assert.notEqual(jhash2([2, 1, 3, 4, 5], 0), h);
    assert.notEqual(jhash2([1, 2, 3, 4, 5, 0], 0), h); // a trailing zero word still counts
    assert.notEqual(jhash2(base, 1), h);
  });
});

const v4 = (s: string) => parseIP(s);
function range(min: string, max: string): NatRange {
  return { minAddress: parseIP(min), maxAddress: parseIP(max), minPort: undefined, maxPort: undefined };
}

describe('pickRangeAddress', () => {
  test('a single-address range returns that address', () => {
    const r = range('10.0.0.7', '10.0.0.7');
    assert.equal(formatIP(pickRangeAddress(r, v4('1.2.3.4'), v4('5.6.7.8'), false)!), '10.0.0.7');
    assert.equal(formatIP(pickRangeAddress(range('fd00::7', 'fd00::7'), parseIP('fd00::1'), parseIP('fd00::2'), true)!), 'fd00::7');
  });

  test('no address range: undefined', () => {
    const portsOnly: NatRange = { minAddress: undefined, maxAddress: undefined, minPort: 80, maxPort: 80 };
    assert.equal(pickRangeAddress(portsOnly, v4('1.2.3.4'), v4('5.6.7.8'), false), undefined);
  });

  test('IPv4: always inside the range, and every address gets used', () => {
    const r = range('10.0.0.1', '10.0.0.3');
    const seen = new Set<string>();
    for (let i = 0; i < 256; i++) {
      const picked = pickRangeAddress(r, v4(`192.168.1.${i}`), v4('172.30.0.41'), false)!;
      assert.equal(picked.family, 4);
      assert.ok((picked.value as number) >= 0x0a000001 && (picked.value as number) <= 0x0a000003, formatIP(picked));
      seen.add(formatIP(picked));
    }
    assert.deepEqual([...seen].sort(), ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
  });

  test('the same source and destination always land on the same address', () => {
    const r = range('10.0.0.1', '10.0.0.100');
    for (let i = 0; i < 50; i++) {
      const src = v4(`10.244.${i}.5`);
      const dst = v4(`10.96.0.${i}`);
      const a = pickRangeAddress(r, src, dst, false)!;
      const b = pickRangeAddress(r, src, dst, false)!;
      assert.equal(formatIP(a), formatIP(b));
    }
  });

  test('without --persistent the destination takes part; with it, only the source', () => {
    const r = range('10.0.0.1', '10.0.255.254');
    const src = v4('192.168.7.7');
    const persistent = new Set<string>();
    const plain = new Set<string>();
    for (let i = 0; i < 32; i++) {
      const dst = v4(`172.30.${i}.1`);
      persistent.add(formatIP(pickRangeAddress(r, src, dst, true)!));
      plain.add(formatIP(pickRangeAddress(r, src, dst, false)!));
    }
    assert.equal(persistent.size, 1);
    assert.ok(plain.size > 1, 'the destination should change the pick');
  });

  test('IPv6: inside the range', () => {
    const r = range('2001:db8::1', '2001:db8::ff');
    const seen = new Set<string>();
    for (let i = 0; i < 64; i++) {
      const picked: IPAddress = pickRangeAddress(r, parseIP(`fd00::${(i + 1).toString(16)}`), parseIP('fd00:10:96::a'), false)!;
      assert.equal(picked.family, 6);
      assert.ok((picked.value as bigint) >= 0x20010db8000000000000000000000001n && (picked.value as bigint) <= 0x20010db80000000000000000000000ffn, formatIP(picked));
      seen.add(formatIP(picked));
    }
    assert.ok(seen.size > 1);
  });
});

describe('pickPort', () => {
  test('no port (ICMP): none', () => {
    assert.deepEqual(pickPort(undefined, 80, 90, 'dst', false), { port: undefined, random: false });
  });
  test('no range: the port is kept', () => {
    assert.deepEqual(pickPort(40000, undefined, undefined, 'src', false), { port: 40000, random: false });
    assert.deepEqual(pickPort(80, undefined, undefined, 'dst', false), { port: 80, random: false });
  });
  test('a port inside the range is kept', () => {
    assert.deepEqual(pickPort(8081, 8080, 8081, 'dst', false), { port: 8081, random: false });
    assert.deepEqual(pickPort(8080, 8080, 8080, 'dst', false), { port: 8080, random: false });
    assert.deepEqual(pickPort(1500, 1024, 2048, 'src', false), { port: 1500, random: false });
  });
  test('DNAT out of range: the range minimum', () => {
    assert.deepEqual(pickPort(80, 8080, 8081, 'dst', false), { port: 8080, random: false });
    assert.deepEqual(pickPort(9000, 8080, 8081, 'dst', false), { port: 8080, random: false });
  });
  test('SNAT out of range: chosen at random by the kernel (shown as the minimum)', () => {
    assert.deepEqual(pickPort(80, 1024, 2048, 'src', false), { port: 1024, random: true });
  });
  test('--random: random even for a port in range', () => {
    assert.deepEqual(pickPort(1500, 1024, 2048, 'src', true), { port: 1024, random: true });
    assert.deepEqual(pickPort(8080, 8080, 8081, 'dst', true), { port: 8080, random: true });
    assert.deepEqual(pickPort(40000, undefined, undefined, 'src', true), { port: 40000, random: true });
  });
  test(
    'DNAT --random without a port range keeps the port (nf_nat_l4proto_unique_tuple returns for MANIP_DST without NF_NAT_RANGE_PROTO_SPECIFIED)',

    () => {
      assert.deepEqual(pickPort(8080, undefined, undefined, 'dst', true), { port: 8080, random: false });
    },
  );
});

test('IPv6 DNAT ranges mix the word just picked into the hash, as find_best_ips_proto does (found on the kernel)', () => {
  // The kernel picked fd00:2::4 for fd00:1::2 -> fd00:30::10 with --to-destination fd00:2::3-fd00:2::5.
  const range = { minAddress: parseIP('fd00:2::3'), maxAddress: parseIP('fd00:2::5'), minPort: undefined, maxPort: undefined };
  const picked = pickRangeAddress(range, parseIP('fd00:1::2'), parseIP('fd00:30::10'), false, 'dst');
  assert.equal(formatIP(picked!), 'fd00:2::4');
});
