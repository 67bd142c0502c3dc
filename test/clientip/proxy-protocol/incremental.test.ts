/**
 * The incremental decoder tells "need more bytes" from "invalid" exactly:
 * - every proper prefix of a valid header is "need more", in any split;
 * - an error names the byte whose arrival made the prefix invalid (the bytes before it are
 *   still "need more", with it the same error);
 * - a prefix that is "need more" always has a next byte that keeps it valid (no dead ends), so,
 *   headers being bounded in length, it can always still become a header.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type ProxyParseOptions,
  ProxyHeaderDecoder,
  ProxyProtocolError,
  describeProxyHeader,
  encodeProxyHeader,
} from '../../../src/clientip/proxy-protocol/index.js';
import { bytes, classify, int, pick, prng, randomHeader } from './support.js';

const OPTIONS: ProxyParseOptions[] = [{}, { v1AcceptIPv4InTCP6: true }, { maxV2Length: 300 }];

test('every proper prefix of a valid header needs more bytes; any split gives the same header and payload', () => {
  const rand = prng(1);
  for (let i = 0; i < 300; i++) {
    const header = encodeProxyHeader(randomHeader(rand));
    const payload = bytes(rand, int(rand, 40));
    const stream = Buffer.concat([header, payload]);
    for (let k = 0; k < header.length; k++) assert.equal(classify(stream.subarray(0, k), { maxV2Length: 0xffff }), 'incomplete', `case ${i}: prefix ${k}/${header.length}`);
    const whole = new ProxyHeaderDecoder({ maxV2Length: 0xffff }).feed(stream);
    assert.equal(whole.status, 'complete');
    const decoder = new ProxyHeaderDecoder({ maxV2Length: 0xffff });
    let at = 0;
    for (;;) {
      const n = 1 + int(rand, pick(rand, [1, 3, 17, 200]));
      const step = decoder.feed(stream.subarray(at, at + n));
      at += n;
      if (step.status === 'incomplete') {
        assert.ok(at < header.length, `case ${i}: still incomplete after the whole header`);
        assert.ok(decoder.buffered <= header.length);
        continue;
      }
      assert.equal(step.status, 'complete');
      if (step.status !== 'complete' || whole.status !== 'complete') break;
      assert.deepEqual(describeProxyHeader(step.header), describeProxyHeader(whole.header), `case ${i}`);
      assert.deepEqual(Buffer.concat([step.rest, stream.subarray(at)]), payload, `case ${i}: payload handed back untouched`);
      break;
    }
  }
});

/** Inputs near the edge of validity: valid headers with bytes changed, cut, inserted, or v1 lines with random characters. */
function mutant(rand: () => number): Buffer {
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

test('an error is raised at the byte that made the prefix invalid, never earlier or later', () => {
  const rand = prng(2);
  let errors = 0;
  for (let i = 0; i < 3000; i++) {
    const input = mutant(rand);
    const options = pick(rand, OPTIONS);
    let offset: number | undefined;
    let code = '';
    try {
      new ProxyHeaderDecoder(options).feed(input);
      continue;
    } catch (e) {
      assert.ok(e instanceof ProxyProtocolError, `case ${i}: ${String(e)}`);
      offset = e.offset;
      code = e.code;
    }
    errors++;
    assert.ok(offset !== undefined && offset < input.length, `case ${i}: ${code} has an offset inside the input`);
    const hex = input.toString('hex');
    assert.equal(classify(input.subarray(0, offset), options), 'incomplete', `case ${i}: before byte ${offset} of ${hex}, ${code} is not yet certain`);
    assert.equal(classify(input.subarray(0, offset + 1), options), code, `case ${i}: byte ${offset} of ${hex} makes it ${code}`);
  }
  assert.ok(errors > 1000, `enough invalid inputs (${errors})`);
});

test('a prefix that needs more bytes has a next byte that keeps it valid (no dead ends)', () => {
  const rand = prng(3);
  let checked = 0;
  for (let i = 0; i < 1500; i++) {
    const input = mutant(rand);
    const options = pick(rand, OPTIONS);
    const cut = input.subarray(0, int(rand, input.length + 1));
    // Walk back to the longest prefix that still needs more bytes.
    let k = cut.length;
    while (k > 0 && classify(cut.subarray(0, k), options) !== 'incomplete') k--;
    const prefix = cut.subarray(0, k);
    const next = Buffer.alloc(k + 1);
    prefix.copy(next);
    let alive = false;
    for (let b = 0; b < 256 && !alive; b++) {
      next[k] = b;
      const c = classify(next, options);
      alive = c === 'incomplete' || c === 'complete';
    }
    assert.ok(alive, `case ${i}: ${prefix.toString('hex')} needs more, but every next byte is an error`);
    checked++;
  }
  assert.equal(checked, 1500);
});
