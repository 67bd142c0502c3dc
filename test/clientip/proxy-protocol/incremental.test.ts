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
import { bytes, classify, int, mutant, pick, prng, randomHeader } from './support.js';

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

/** `count` mutated headers, each with parser options picked at random, from a seed. */
function* mutants(seed: number, count: number): Generator<[Buffer, ProxyParseOptions, number, () => number]> {
  const rand = prng(seed);
  for (let i = 0; i < count; i++) yield [mutant(rand), pick(rand, OPTIONS), i, rand];
}

test('an error is raised at the byte that made the prefix invalid, never earlier or later', () => {
  let errors = 0;
  for (const [input, options, i] of mutants(2, 3000)) {
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
  let checked = 0;
  for (const [input, options, i, rand] of mutants(3, 1500)) {
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
