/**
 * `npm run bench` (part 3): a synthetic cluster of 1,000 nodes, 10,000 Services and 50,000
 * endpoints, given as one JSON List (as `kubectl get -o json` prints it). Load it, then trace an
 * external client to LoadBalancer Services (externalTrafficPolicy Local: the journey touches the
 * nodes the load balancer finds healthy, and only those are compiled).
 * Targets: load under 3 s; one trace under 50 ms median; peak RSS under 1 GB.
 * Also printed, without a target: the same for externalTrafficPolicy Cluster (every node a branch).
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadCluster } from '../src/cluster/index.js';
import { traceFromPlan } from '../src/trace/listeners.js';
import { planJourney } from '../src/trace/plan.js';
import { buildWorld } from '../src/trace/world.js';
import { median, runAsChild, runInChildren } from './runner.js';

const NODES = Number(process.env['BENCH_NODES'] ?? 1_000);
const SERVICES = Number(process.env['BENCH_SERVICES'] ?? 10_000);
const ENDPOINTS = Number(process.env['BENCH_ENDPOINTS'] ?? 5);
const TRACES = Number(process.env['BENCH_TRACES'] ?? 50);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);

interface RunResult {
  megabytes: number;
  loadMs: number;
  worldMs: number;
  traceMedianMs: number;
  traceP90Ms: number;
  clusterTraceMs: number;
  clusterBranches: number;
  peakRssMb: number;
}

function ip(base: number, n: number): string {
  const v = base + n;
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** Service i: every 10th a LoadBalancer (odd tens Local, even tens Cluster), the rest ClusterIP. */
function manifests(): string {
  const items: unknown[] = [];
  items.push({
    apiVersion: 'kubepath.dev/v1alpha1',
    kind: 'Environment',
    metadata: { name: 'bench' },
    serviceCIDRs: ['10.96.0.0/12'],
    podNetwork: { type: 'routed', cidrs: ['10.128.0.0/9'] },
    nodeNetwork: { cidrs: ['10.0.0.0/16'] },
    serviceNodePortRange: '30000-32767',
    loadBalancer: { delivery: 'NodePort' },
    nodes: Array.from({ length: NODES }, (_, n) => ({ name: `node-${n}`, internalIPs: [ip(0x0a000000, n + 2)], podCIDRs: [`${ip(0x0a800000, n * 256)}/24`] })),
  });
  for (let i = 0; i < SERVICES; i++) {
    const lb = i % 10 === 0;
    const local = lb && i % 20 === 10;
    items.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `svc-${i}`, namespace: `ns-${i % 100}` },
      spec: {
        type: lb ? 'LoadBalancer' : 'ClusterIP',
        clusterIP: ip(0x0a600000, i + 10),
        ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080, ...(lb ? { nodePort: 30000 + i / 10 } : {}) }],
        ...(local ? { externalTrafficPolicy: 'Local', healthCheckNodePort: 31500 + (i - 10) / 20 } : {}),
      },
      ...(lb ? { status: { loadBalancer: { ingress: [{ ip: ip(0xc6120000, i / 10) }] } } } : {}),
    });
    items.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `svc-${i}-abcde`, namespace: `ns-${i % 100}`, labels: { 'kubernetes.io/service-name': `svc-${i}` } },
      addressType: 'IPv4',
      endpoints: Array.from({ length: ENDPOINTS }, (_, e) => {
        const node = (i * 7 + e * 13) % NODES;
        return { addresses: [ip(0x0a800000, node * 256 + 2 + ((i * ENDPOINTS + e) % 250))], conditions: { ready: true }, nodeName: `node-${node}` };
      }),
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });
  }
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
}

function runOnce(): RunResult {
  const text = manifests();
  const t0 = performance.now();
  const cluster = loadCluster([{ file: 'bench.json', text }], { deriveEndpointSlices: false });
  const t1 = performance.now();
  const world = buildWorld(cluster);
  const t2 = performance.now();
  const times: number[] = [];
  for (let k = 0; k < TRACES; k++) {
    const i = 10 + 20 * ((k * 37) % Math.floor(SERVICES / 20));
    const s = performance.now();
    const plan = planJourney(world, { from: 'external:203.0.113.7', to: `lb/ns-${i % 100}/svc-${i}` });
    const outcomes = traceFromPlan(world, plan, { http: { method: 'GET', host: plan.httpHost, path: '/', scheme: 'http', headers: [['Host', plan.httpHost]] } });
    times.push(performance.now() - s);
    if (outcomes.length === 0 || outcomes.some((o) => o.disposition !== "deliver" || o.app.client_address !== "203.0.113.7")) throw new Error(`svc-${i}: unexpected outcomes: ${JSON.stringify(outcomes.map((o) => [o.disposition, o.reason, o.app.client_address]))}`);
  }
  const c0 = performance.now();
  const plan0 = planJourney(world, { from: 'external:203.0.113.7', to: 'lb/ns-20/svc-20' });
  const cluster0 = traceFromPlan(world, plan0, { http: { method: 'GET', host: plan0.httpHost, path: '/', scheme: 'http', headers: [['Host', plan0.httpHost]] } });
  const c1 = performance.now();
  const sorted = [...times].sort((a, b) => a - b);
  return {
    megabytes: text.length / 1e6,
    loadMs: t1 - t0,
    worldMs: t2 - t1,
    traceMedianMs: sorted[Math.floor(sorted.length / 2)]!,
    traceP90Ms: sorted[Math.floor(sorted.length * 0.9)]!,
    clusterTraceMs: c1 - c0,
    clusterBranches: cluster0.length,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

if (!runAsChild(runOnce)) {
  const runs = runInChildren<RunResult>(fileURLToPath(import.meta.url), RUNS, (r) =>
    `load ${r.loadMs.toFixed(0)} ms + network ${r.worldMs.toFixed(0)} ms; trace median ${r.traceMedianMs.toFixed(1)} ms (p90 ${r.traceP90Ms.toFixed(1)}); Cluster-policy LB trace ${r.clusterTraceMs.toFixed(0)} ms (${r.clusterBranches} branches); peak RSS ${r.peakRssMb.toFixed(0)} MB`,
  );
  const load = median(runs.map((r) => r.loadMs + r.worldMs));
  const trace = median(runs.map((r) => r.traceMedianMs));
  const rss = Math.max(...runs.map((r) => r.peakRssMb));
  console.log('');
  console.log(`cluster: ${NODES} nodes, ${SERVICES} Services, ${SERVICES * ENDPOINTS} endpoints (${runs[0]!.megabytes.toFixed(1)} MB of JSON); ${TRACES} external -> LoadBalancer (Local) traces`);
  console.log(`load         median ${load.toFixed(0)} ms            (target < 3000 ms)  ${load < 3000 ? 'ok' : 'MISSED'}`);
  console.log(`trace        median ${trace.toFixed(1)} ms             (target < 50 ms)    ${trace < 50 ? 'ok' : 'MISSED'}`);
  console.log(`peak RSS     ${rss.toFixed(0)} MB               (target < 1024 MB)  ${rss < 1024 ? 'ok' : 'MISSED'}`);
  console.log(`(no target)  a Cluster-policy LB trace: ${median(runs.map((r) => r.clusterTraceMs)).toFixed(0)} ms for ${runs[0]!.clusterBranches} branches (every node a backend)`);
}
