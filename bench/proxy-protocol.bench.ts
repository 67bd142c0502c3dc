/**
 * `npm run bench`: parse a PROXY v2 header with 3 TLVs (ALPN, AUTHORITY, UNIQUE_ID, as HAProxy's
 * send-proxy-v2 writes with `proxy-v2-options authority,unique-id`), kubepath against
 * proxy-protocol-js, side by side in the same process, rounds alternating. Target: ≥ 2x faster.
 *
 * proxy-protocol-js reads the addresses and slices everything after them (it neither checks the
 * length nor splits TLVs); kubepath checks every TLV and the length, and makes TLV objects only
 * when they are read, so a second row reads all three too. A third row is an AWS NLB-style header
 * (CRC32C, VPC endpoint, NOOP) with the checksum verified.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { V2ProxyProtocol } from 'proxy-protocol-js';
import { median, runAsChild, runInChildren } from './runner.js';
import {
  alpnOf,
  alpnTlv,
  authorityOf,
  authorityTlv,
  awsVpcEndpointIdTlv,
  encodeProxyHeader,
  noopTlv,
  parseProxyHeader,
  uniqueIdOf,
  uniqueIdTlv,
} from '../src/clientip/proxy-protocol/index.js';

const ITERATIONS = Number(process.env['BENCH_ITERATIONS'] ?? 1_000_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);

const source = { ip: '203.0.113.7', port: 51234 };
const destination = { ip: '10.0.0.5', port: 443 };
const HAPROXY = encodeProxyHeader({ source, destination, tlvs: [alpnTlv('h2'), authorityTlv('api.example.com'), uniqueIdTlv(Buffer.from('4f2a9c1e-77b3-4d0e'))] });
const NLB = encodeProxyHeader({ source, destination, tlvs: [awsVpcEndpointIdTlv('vpce-08d2bf15fac5001c9'), noopTlv(36)], crc32c: true });

interface RunResult {
  bytes: number;
  /** Median over rounds of proxy-protocol-js time / kubepath time (each round measures both, back to back). */
  speedup: number;
  kubepathNs: number;
  kubepathReadTlvsNs: number;
  kubepathCrcNs: number;
  proxyProtocolJsNs: number;
}

/** ns per call of `f` over ITERATIONS calls; `sink` keeps the work from being optimised away. */
function time(f: () => number): number {
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < ITERATIONS; i++) sink += f();
  const ns = ((performance.now() - t0) * 1e6) / ITERATIONS;
  if (sink === -1) console.log(sink);
  return ns;
}

const kubepath = (): number => {
  const h = parseProxyHeader(HAPROXY);
  return h.source !== null && 'port' in h.source ? h.source.port : 0;
};
const kubepathReadTlvs = (): number => {
  const h = parseProxyHeader(HAPROXY);
  return (alpnOf(h.tlvs)?.length ?? 0) + (authorityOf(h.tlvs)?.length ?? 0) + (uniqueIdOf(h.tlvs)?.length ?? 0);
};
const kubepathCrc = (): number => parseProxyHeader(NLB).length;
const proxyProtocolJs = (): number => {
  const p = V2ProxyProtocol.parse(HAPROXY);
  return 'sourcePort' in p.proxyAddress ? p.proxyAddress.sourcePort : 0;
};

function runOnce(): RunResult {
  // Warm up both, then alternate so that neither gets a quieter machine.
  for (let i = 0; i < 200_000; i++) kubepath() + kubepathReadTlvs() + kubepathCrc() + proxyProtocolJs();
  const rounds: Omit<RunResult, 'speedup'>[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    rounds.push({
      bytes: HAPROXY.length,
      proxyProtocolJsNs: time(proxyProtocolJs),
      kubepathNs: time(kubepath),
      kubepathReadTlvsNs: time(kubepathReadTlvs),
      kubepathCrcNs: time(kubepathCrc),
    });
  }
  const m = (k: keyof (typeof rounds)[number]): number => median(rounds.map((x) => x[k]));
  return {
    bytes: HAPROXY.length,
    speedup: median(rounds.map((x) => x.proxyProtocolJsNs / x.kubepathNs)),
    kubepathNs: m('kubepathNs'), kubepathReadTlvsNs: m('kubepathReadTlvsNs'), kubepathCrcNs: m('kubepathCrcNs'),
    proxyProtocolJsNs: m('proxyProtocolJsNs'),
  };
}

if (!runAsChild(runOnce)) {
  const runs = runInChildren<RunResult>(
    fileURLToPath(import.meta.url),
    RUNS,
    (r) => `kubepath ${r.kubepathNs.toFixed(0)} ns/op, proxy-protocol-js ${r.proxyProtocolJsNs.toFixed(0)} ns/op (${r.speedup.toFixed(1)}x)`,
  );
  const ours = median(runs.map((r) => r.kubepathNs));
  const theirs = median(runs.map((r) => r.proxyProtocolJsNs));
  const withTlvs = median(runs.map((r) => r.kubepathReadTlvsNs));
  const crc = median(runs.map((r) => r.kubepathCrcNs));
  const speedup = median(runs.map((r) => r.speedup));
  console.log('');
  console.log(`PROXY v2 header, TCP4 + ALPN, AUTHORITY, UNIQUE_ID (${runs[0]!.bytes} bytes), ${ITERATIONS.toLocaleString('en')} parses x ${ROUNDS} rounds per run`);
  console.log(`kubepath parseProxyHeader           median ${ours.toFixed(0)} ns/op`);
  console.log(`proxy-protocol-js V2ProxyProtocol   median ${theirs.toFixed(0)} ns/op`);
  console.log(`speed-up median ${speedup.toFixed(1)}x, round by round  (target >= 2x)  ${speedup >= 2 ? 'ok' : 'MISSED'}`);
  console.log(`kubepath, reading the 3 TLVs too    median ${withTlvs.toFixed(0)} ns/op (proxy-protocol-js has no TLV parser)`);
  console.log(`kubepath, AWS NLB-style header with CRC32C verified (${NLB.length} bytes)  median ${crc.toFixed(0)} ns/op`);
}
