/**
 * Fuzzing (seeded, reproducible): random and mutated headers and byte streams, fed whole and in
 * random splits, to the decoder and to a real server. Nothing crashes, nothing hangs past the
 * timeout, only ProxyProtocolError is thrown, and the decoder never holds more than one header.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import {
  PROXY_PROTOCOL_ERROR_EVENT,
  type ProxyDecodeStep,
  type ProxyDecoderOptions,
  ProxyHeaderDecoder,
  ProxyProtocolError,
  acceptProxyProtocol,
  describeProxyHeader,
  encodeProxyHeader,
} from '../../../src/clientip/proxy-protocol/index.js';
import { close, exchange, listen } from './loopback.js';
import { bytes, int, mutant, pick, prng, randomHeader } from './support.js';

type Result = { kind: 'header'; view: string; rest: string } | { kind: 'absent'; rest: string } | { kind: 'error'; code: string };

/** Feed `input` in the given piece sizes, then end the stream; check the buffer bound on the way. */
function decode(input: Buffer, sizes: () => number, options: ProxyDecoderOptions): Result {
  const decoder = new ProxyHeaderDecoder(options);
  const cap = Math.max(107, 16 + (options.maxV2Length ?? 4096));
  try {
    let at = 0;
    let step: ProxyDecodeStep = { status: 'incomplete' };
    while (at < input.length && step.status === 'incomplete') {
      const n = sizes();
      step = decoder.feed(input.subarray(at, at + n));
      at += n;
      assert.ok(decoder.buffered <= cap, `buffered ${decoder.buffered} > ${cap}`);
    }
    if (step.status === 'incomplete') step = decoder.end();
    const tail = input.subarray(Math.min(at, input.length));
    if (step.status === 'complete') return { kind: 'header', view: JSON.stringify(describeProxyHeader(step.header)), rest: Buffer.concat([step.rest, tail]).toString('hex') };
    if (step.status === 'absent') return { kind: 'absent', rest: Buffer.concat([step.rest, tail]).toString('hex') };
    return { kind: 'error', code: 'incomplete after end' };
  } catch (e) {
    if (!(e instanceof ProxyProtocolError)) throw e;
    return { kind: 'error', code: e.code };
  }
}

function input(rand: () => number): Buffer {
  switch (int(rand, 5)) {
    case 0:
      return bytes(rand, int(rand, 300));
    case 1:
      return Buffer.concat([Buffer.from(pick(rand, ['0d0a0d0a000d0a515549540a', '50524f585920', '0d0a0d0a000d0a515549540a21']), 'hex'), bytes(rand, int(rand, 300))]);
    case 2:
      return Buffer.concat([encodeProxyHeader(randomHeader(rand)), bytes(rand, int(rand, 50))]);
    default:
      return mutant(rand);
  }
}

test('decoder: 5,000 random and mutated streams, whole and in random splits, agree and only throw ProxyProtocolError', () => {
  const rand = prng(20260522);
  const started = Date.now();
  let slowest = 0;
  const kinds = new Map<string, number>();
  for (let i = 0; i < 5000; i++) {
    const bytesIn = input(rand);
    const options: ProxyDecoderOptions = pick(rand, [{}, { optional: true }, { maxV2Length: 64 }, { maxV2Length: 0xffff, acceptLittleEndianCrc32c: true }]);
    const t0 = Date.now();
    const whole = decode(bytesIn, () => Infinity, options);
    const split = decode(bytesIn, () => 1 + int(rand, pick(rand, [1, 2, 8, 64, 1000])), options);
    slowest = Math.max(slowest, Date.now() - t0);
    assert.deepEqual(split, whole, `case ${i}: ${bytesIn.toString('hex')}`);
    if (whole.kind === 'absent') assert.equal(whole.rest, bytesIn.toString('hex'), 'an absent header hands every byte back');
    const key = whole.kind === 'error' ? whole.code : whole.kind;
    kinds.set(key, (kinds.get(key) ?? 0) + 1);
  }
  console.log(`PROXY protocol decoder fuzz: 5000 streams in ${Date.now() - started} ms (slowest ${slowest} ms): ${[...kinds].sort().map(([k, n]) => `${k} ${n}`).join(', ')}`);
  assert.ok(slowest < 200);
});

test('decoder: the largest declared v2 length is buffered only up to the cap', () => {
  const header = Buffer.from('0d0a0d0a000d0a515549540a2111ffff', 'hex');
  const capped = decode(Buffer.concat([header, Buffer.alloc(70_000)]), () => 1000, {});
  assert.deepEqual(capped, { kind: 'error', code: 'header-too-large' });
  // Allowed up to the spec's maximum: a 65,551-byte header of zero-type TLVs, held whole and no more.
  const decoder = new ProxyHeaderDecoder({ maxV2Length: 0xffff });
  let step: ProxyDecodeStep = decoder.feed(header);
  let fed = header.length;
  while (step.status === 'incomplete') {
    step = decoder.feed(Buffer.alloc(1000));
    fed += 1000;
    assert.ok(decoder.buffered <= 16 + 0xffff);
  }
  assert.equal(step.status, 'complete');
  if (step.status === 'complete') assert.equal(step.rest.length, fed - (16 + 0xffff));
});

test('server: 200 random streams from 127.x peers end in a connection or a reported error, within the timeout', async () => {
  const rand = prng(77);
  let handled = 0;
  const errors = new Map<string, number>();
  const timeoutMs = 300;
  for (const mode of ['require', 'optional'] as const) {
    const server = acceptProxyProtocol(
      net.createServer((socket) => {
        handled++;
        socket.on('error', () => undefined);
        // Read what the client sends: a socket nobody reads never closes (plain net.Server too).
        socket.resume();
        socket.end('ok');
      }),
      mode === 'optional' ? { mode, trusted: ['127.0.0.0/25'], timeoutMs } : { mode, timeoutMs },
    );
    server.on(PROXY_PROTOCOL_ERROR_EVENT, (e: ProxyProtocolError) => {
      assert.ok(e instanceof ProxyProtocolError);
      errors.set(e.code, (errors.get(e.code) ?? 0) + 1);
    });
    const port = await listen(server);
    try {
      for (let batch = 0; batch < 10; batch++) {
        await Promise.all(
          Array.from({ length: 10 }, async () => {
            const data = input(rand);
            const localAddress = `127.0.0.${1 + int(rand, 250)}`;
            const pieces = rand() < 0.5 ? [data] : [data.subarray(0, data.length >> 1), data.subarray(data.length >> 1)];
            const t0 = Date.now();
            await exchange(port, pieces, { localAddress, end: rand() < 0.5, gapMs: 1 });
            assert.ok(Date.now() - t0 < timeoutMs + 2000, 'ended within the timeout');
          }),
        );
      }
    } finally {
      await close(server);
    }
  }
  const total = handled + [...errors.values()].reduce((a, b) => a + b, 0);
  console.log(`PROXY protocol server fuzz: 200 connections, ${handled} handed on, errors ${[...errors].sort().map(([k, n]) => `${k} ${n}`).join(', ')}`);
  assert.equal(total, 200, 'every connection either reached the server or was reported');
});
