/**
 * `npm run bench`: a kube-proxy-shaped dump of 10,000 Services x 5 endpoints.
 * Targets: parse and index under 1 s; one trace under 1 ms median; peak RSS under 500 MB.
 */
import { performance } from 'node:perf_hooks';
import { parseIP, type Packet } from '../src/net/index.js';
import { buildHost, indexRuleset, parseRuleset, tracePacket } from '../src/netfilter/index.js';
import { kubeProxyDump } from './kube-proxy-dump.js';

const SERVICES = Number(process.env['BENCH_SERVICES'] ?? 10_000);
const ENDPOINTS = Number(process.env['BENCH_ENDPOINTS'] ?? 5);
const TRACES = Number(process.env['BENCH_TRACES'] ?? 2_000);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const dump = kubeProxyDump(SERVICES, ENDPOINTS);
const lines = dump.text.split('\n').filter((l) => l.startsWith('-A')).length;
console.log(`dump: ${SERVICES} Services x ${ENDPOINTS} endpoints, ${lines} rules, ${(dump.text.length / 1e6).toFixed(1)} MB`);

const parseTimes: number[] = [];
let ruleset = parseRuleset(dump.text, { file: 'bench.rules', family: 4 });
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  ruleset = parseRuleset(dump.text, { file: 'bench.rules', family: 4 });
  const t1 = performance.now();
  indexRuleset(ruleset);
  const t2 = performance.now();
  parseTimes.push(t2 - t0);
  console.log(`parse ${(t1 - t0).toFixed(0)} ms + index ${(t2 - t1).toFixed(0)} ms`);
}

const host = buildHost({
  interfaces: [
    { name: 'eth0', addresses: ['192.168.0.2/24'] },
    { name: 'cni0', addresses: ['10.244.1.1/24'] },
  ],
  routes: ['default via 192.168.0.1 dev eth0'],
});

function packet(i: number): { packet: Packet; entry: 'pod' | 'nodeport' } {
  const nodeport = i % 5 === 4;
  return {
    entry: nodeport ? 'nodeport' : 'pod',
    packet: {
      family: 4,
      protocol: 6,
      source: parseIP(nodeport ? '203.0.113.7' : '10.244.1.9'),
      destination: parseIP(nodeport ? '192.168.0.2' : dump.clusterIPs[(i * 7919) % dump.clusterIPs.length]!),
      sourcePort: 40000 + (i % 20000),
      destinationPort: nodeport ? dump.nodePorts[i % dump.nodePorts.length]! : 80,
      tcpFlags: undefined,
      icmpType: undefined,
      icmpCode: undefined,
      length: undefined,
    },
  };
}

const times: number[] = [];
let outcomes = 0;
for (let i = 0; i < TRACES; i++) {
  const { packet: p, entry } = packet(i);
  const t0 = performance.now();
  const trace = tracePacket(ruleset, host, { packet: p, entry: { kind: 'incoming', interface: entry === 'pod' ? 'cni0' : 'eth0' } });
  times.push(performance.now() - t0);
  outcomes += trace.outcomes.length;
}
const rss = process.resourceUsage().maxRSS / 1024;
const parseMs = median(parseTimes);
const traceMs = median(times);
console.log(`traces: ${TRACES}, ${(outcomes / TRACES).toFixed(1)} outcomes each`);
console.log('');
console.log(`parse+index  median ${parseMs.toFixed(0)} ms   (target < 1000 ms)  ${parseMs < 1000 ? 'ok' : 'MISSED'}`);
console.log(`trace        median ${traceMs.toFixed(3)} ms, p99 ${[...times].sort((a, b) => a - b)[Math.floor(times.length * 0.99)]!.toFixed(3)} ms   (target < 1 ms)  ${traceMs < 1 ? 'ok' : 'MISSED'}`);
console.log(`peak RSS     ${rss.toFixed(0)} MB   (target < 500 MB)  ${rss < 500 ? 'ok' : 'MISSED'}`);
