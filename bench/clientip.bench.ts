/**
 * `npm run bench` (part 4): the client address behind a 3-hop X-Forwarded-For with 4 trusted
 * CIDRs, resolved by kubepath's RightmostTrustedRange, proxy-addr (Express), @fastify/proxy-addr
 * and request-ip, side by side in one process: rounds alternate between them so that neither
 * warms up or collects garbage at the other's expense. Target: kubepath at least 10x faster than
 * proxy-addr. request-ip has no trust setting (it answers the leftmost node, spoofable); it is
 * timed for scale only.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import fastifyProxyAddr from '@fastify/proxy-addr';
import proxyaddr from 'proxy-addr';
import requestIp from 'request-ip';
import { clientIp, RightmostTrustedRange } from '../src/clientip/forwarded/index.js';
import { median, runAsChild, runInChildren } from './runner.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 7);
const ROUND_MS = Number(process.env['BENCH_ROUND_MS'] ?? 150);

const TRUSTED = ['10.244.0.0/16', '172.16.0.0/12', '10.1.0.0/16', '192.168.0.0/16'];

/** 16 requests alike but for the client: the ingress pod as peer, two trusted hops, the client leftmost. */
const requests = Array.from({ length: 16 }, (_, i) => {
  const peer = `10.244.${i}.9`;
  return {
    headers: { 'x-forwarded-for': `203.0.113.${i + 7}, 192.168.${i}.20, 172.20.0.${i + 5}` },
    socket: { remoteAddress: peer },
    connection: { remoteAddress: peer },
  };
});
const expected = requests.map((_, i) => `203.0.113.${i + 7}`);

type Resolver = (req: (typeof requests)[number]) => string | undefined;

function resolvers(): Record<string, Resolver> {
  const ours = new RightmostTrustedRange('x-forwarded-for', TRUSTED);
  const paTrust = proxyaddr.compile(TRUSTED);
  const fpaTrust = fastifyProxyAddr.compile(TRUSTED);
  return {
    kubepath: (req) => clientIp(req, ours),
    'proxy-addr': (req) => proxyaddr(req as never, paTrust),
    '@fastify/proxy-addr': (req) => fastifyProxyAddr(req as never, fpaTrust),
    'request-ip': (req) => requestIp.getClientIp(req as never) ?? undefined,
  };
}

interface RunResult {
  nsPerOp: Record<string, number>;
}

/** One batch of `n` calls; returns ns per call. */
function batch(fn: Resolver, n: number): number {
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) sink += fn(requests[i & 15]!)!.length;
  const ns = ((performance.now() - t0) * 1e6) / n;
  if (sink === 0) throw new Error('no answers');
  return ns;
}

function runOnce(): RunResult {
  const libs = resolvers();
  for (const [name, fn] of Object.entries(libs)) {
    requests.forEach((r, i) => {
      if (name !== 'request-ip' && fn(r) !== expected[i]) throw new Error(`${name} answered ${fn(r)} for request ${i}`);
    });
  }
  // Calibrate: calls per round so a round lasts about ROUND_MS; warm every resolver up.
  const perRound: Record<string, number> = {};
  for (const [name, fn] of Object.entries(libs)) {
    const ns = batch(fn, 20_000);
    perRound[name] = Math.max(1000, Math.round((ROUND_MS * 1e6) / ns));
  }
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(libs).map((k) => [k, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, fn] of Object.entries(libs)) samples[name]!.push(batch(fn, perRound[name]!));
  }
  return { nsPerOp: Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, median(xs)])) };
}

if (!runAsChild(runOnce)) {
  console.log(`client IP: X-Forwarded-For "203.0.113.7, 192.168.0.20, 172.20.0.5" from 10.244.0.9, trusted ${TRUSTED.join(' ')}`);
  const line = (r: RunResult): string => Object.entries(r.nsPerOp).map(([k, v]) => `${k} ${v.toFixed(0)} ns`).join(', ');
  const runs = runInChildren<RunResult>(fileURLToPath(import.meta.url), RUNS, line);
  const ns = (name: string): number => median(runs.map((r) => r.nsPerOp[name]!));
  const ours = ns('kubepath');
  console.log('');
  for (const name of Object.keys(runs[0]!.nsPerOp)) {
    const note = name === 'request-ip' ? '  (no trust setting: answers the leftmost node)' : '';
    console.log(`${name.padEnd(20)} ${ns(name).toFixed(0).padStart(6)} ns/op  ${(ns(name) / ours).toFixed(1).padStart(5)}x kubepath's time${note}`);
  }
  // The ratio within each run (same process, same load), then the median of those.
  const speedup = median(runs.map((r) => r.nsPerOp['proxy-addr']! / r.nsPerOp['kubepath']!));
  console.log(`kubepath vs proxy-addr: ${speedup.toFixed(1)}x faster  (target >= 10x)  ${speedup >= 10 ? 'ok' : 'MISSED'}`);
}
