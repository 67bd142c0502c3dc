/**
 * `npm run bench` (part 2): compile one node's kube-proxy rules for 10,000 Services x 10
 * endpoints, then recompile after one EndpointSlice change.
 * Targets: compile under 2 s; peak RSS under 1 GB; the recompile redoes one service, not all.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { median, runAsChild, runInChildren } from './runner.js';
import type { EndpointSlice, Service } from '../src/cluster/objects.js';
import { IptablesProxier, proxierConfig } from '../src/kubeproxy/index.js';

const SERVICES = Number(process.env['BENCH_SERVICES'] ?? 10_000);
const ENDPOINTS = Number(process.env['BENCH_ENDPOINTS'] ?? 10);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);

interface RunResult {
  compileMs: number;
  recompileMs: number;
  recomputed: number;
  lines: number;
  megabytes: number;
  peakRssMb: number;
}

function ip(n: number, base: number): string {
  const v = base + n;
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

function objects(): { services: Service[]; slices: EndpointSlice[] } {
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  for (let i = 0; i < SERVICES; i++) {
    const name = `svc-${i}`;
    const namespace = `ns-${i % 50}`;
    const nodePort = i % 5 === 0;
    services.push({
      metadata: { name, namespace },
      spec: {
        type: nodePort ? 'NodePort' : 'ClusterIP',
        clusterIP: ip(i + 10, 0x0a600000),
        ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080, ...(nodePort ? { nodePort: 30000 + (i / 5) } : {}) }],
        ...(i % 10 === 5 ? { type: 'NodePort', externalTrafficPolicy: 'Local' as const } : {}),
      },
    });
    if (i % 10 === 5) services[i]!.spec.ports![0]!.nodePort = 30000 + Math.floor(i / 5);
    slices.push({
      metadata: { name: `${name}-abcde`, namespace, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      endpoints: Array.from({ length: ENDPOINTS }, (_, e) => ({
        addresses: [ip(i * ENDPOINTS + e + 2, 0x0af40000)],
        conditions: { ready: true },
        nodeName: `node-${(i + e) % 100}`,
      })),
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });
  }
  return { services, slices };
}

function runOnce(): RunResult {
  const { services, slices } = objects();
  const t0 = performance.now();
  const proxier = new IptablesProxier(
    proxierConfig('IPv4', { nodeName: 'node-1', nodeIP: '192.168.0.2', localDetector: { mode: 'ClusterCIDR', cidr: '10.244.0.0/16' } }),
  );
  for (const s of services) proxier.onServiceAdd(s);
  for (const s of slices) proxier.onEndpointSliceAdd(s);
  const first = proxier.sync();
  const t1 = performance.now();
  const changed = structuredClone(slices[1234 % slices.length]!);
  changed.endpoints[0]!.conditions = { ready: false };
  proxier.onEndpointSliceUpdate(slices[1234 % slices.length], changed);
  const second = proxier.sync();
  const t2 = performance.now();
  return {
    compileMs: t1 - t0,
    recompileMs: t2 - t1,
    recomputed: second.recomputed,
    lines: first.restore.split('\n').length,
    megabytes: first.restore.length / 1e6,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

if (!runAsChild(runOnce)) {
  const runs = runInChildren<RunResult>(fileURLToPath(import.meta.url), RUNS, (r) => `compile ${r.compileMs.toFixed(0)} ms; recompile after one EndpointSlice change ${r.recompileMs.toFixed(0)} ms (${r.recomputed} service port recomputed); peak RSS ${r.peakRssMb.toFixed(0)} MB`);
  const compile = median(runs.map((r) => r.compileMs));
  const recompile = median(runs.map((r) => r.recompileMs));
  const rss = Math.max(...runs.map((r) => r.peakRssMb));
  const first = runs[0]!;
  console.log('');
  console.log(`kube-proxy rules: ${SERVICES} Services x ${ENDPOINTS} endpoints, one node: ${first.lines} lines (${first.megabytes.toFixed(1)} MB)`);
  console.log(`compile      median ${compile.toFixed(0)} ms            (target < 2000 ms)  ${compile < 2000 ? 'ok' : 'MISSED'}`);
  console.log(`recompile    median ${recompile.toFixed(0)} ms, ${first.recomputed} of ${SERVICES} service ports redone  ${first.recomputed === 1 ? 'ok' : 'MISSED'}`);
  console.log(`peak RSS     ${rss.toFixed(0)} MB               (target < 1024 MB)  ${rss < 1024 ? 'ok' : 'MISSED'}`);
}
