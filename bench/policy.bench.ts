/**
 * `npm run bench` (policy): the reachability matrix of 1,000 pods in 50 namespaces under 300
 * NetworkPolicies (selectors with matchLabels and matchExpressions, namespaceSelectors, ipBlocks,
 * port ranges and named ports), and single verdicts with their explanation, as `kubepath policy`
 * computes them after load. Targets (issue 8): matrix under 2 s; one verdict under 10 ms.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { median, runAsChild, runInChildren } from './runner.js';
import type { Cluster, NetworkPolicy, Pod } from '../src/cluster/index.js';
import { parseIP } from '../src/net/index.js';
import { compilePolicies, evaluatePacket, policyMatrix } from '../src/policy/index.js';

const PODS = Number(process.env['BENCH_PODS'] ?? 1000);
const NAMESPACES = Number(process.env['BENCH_NAMESPACES'] ?? 50);
const POLICIES = Number(process.env['BENCH_POLICIES'] ?? 300);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);

interface RunResult {
  compileMs: number;
  matrixMs: number;
  pairs: number;
  allowedPairs: number;
  verdictMs: number;
  peakRssMb: number;
}

const APPS = ['web', 'api', 'db', 'cache', 'worker'];

function cluster(): Cluster {
  const pods: Pod[] = [];
  for (let i = 0; i < PODS; i++) {
    const app = APPS[i % APPS.length]!;
    pods.push({
      metadata: { name: `${app}-${i}`, namespace: `ns-${i % NAMESPACES}`, labels: { app, tier: i % 3 === 0 ? 'front' : 'back', ...(i % 7 === 0 ? { legacy: 'true' } : {}) } },
      spec: { containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 + (i % 4) }, { name: 'metrics', containerPort: 9100 }] }] },
      status: { podIP: `10.244.${i >> 8}.${i & 255}` },
    });
  }
  const policies: NetworkPolicy[] = [];
  for (let p = 0; p < POLICIES; p++) {
    const ns = `ns-${p % NAMESPACES}`;
    const app = APPS[p % APPS.length]!;
    const other = APPS[(p + 1) % APPS.length]!;
    policies.push({
      metadata: { name: `pol-${p}`, namespace: ns },
      spec: {
        podSelector: p % 6 === 0 ? {} : { matchLabels: { app } },
        policyTypes: p % 4 === 0 ? ['Ingress', 'Egress'] : ['Ingress'],
        ingress: [
          { from: [{ podSelector: { matchLabels: { app: other } } }, { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [`ns-${(p + 1) % NAMESPACES}`, `ns-${(p + 2) % NAMESPACES}`] }] }, podSelector: { matchExpressions: [{ key: 'legacy', operator: 'DoesNotExist' }] } }], ports: [{ port: 'http' }, { port: 9000, endPort: 9010 }] },
          { from: [{ ipBlock: { cidr: '10.0.0.0/8', except: [`10.244.${p % 4}.0/24`] } }], ports: [{ port: 443 }] },
        ],
        egress: p % 4 === 0 ? [{ to: [{ namespaceSelector: {} }], ports: [{ port: 53, protocol: 'UDP' }] }, { to: [{ podSelector: { matchLabels: { app: 'db' } } }] }] : [],
      },
    });
  }
  return {
    namespaces: Array.from({ length: NAMESPACES }, (_, i) => ({ metadata: { name: `ns-${i}`, labels: { 'kubernetes.io/metadata.name': `ns-${i}` } } })),
    nodes: [],
    pods,
    services: [],
    endpointSlices: [],
    ingresses: [],
    ingressClasses: [],
    networkPolicies: policies,
    configMaps: [],
    serviceCIDRs: ['10.96.0.0/12'],
    podNetwork: { type: 'routed', cidrs: ['10.244.0.0/16'] },
    ipFamilies: ['IPv4'],
    externalClients: [],
    assumptions: [],
    ignored: [],
  };
}

function runOnce(): RunResult {
  const c = cluster();
  const t0 = performance.now();
  const index = compilePolicies(c);
  const t1 = performance.now();
  const matrix = policyMatrix(c, index);
  const t2 = performance.now();
  // Verdicts on a fresh index, as one `kubepath policy --from --to` does after load.
  const fresh = compilePolicies(c);
  const n = 200;
  const t3 = performance.now();
  for (let k = 0; k < n; k++) {
    const s = c.pods[(k * 37) % PODS]!.status!.podIP!;
    const d = c.pods[(k * 91 + 5) % PODS]!.status!.podIP!;
    evaluatePacket(fresh, { source: parseIP(s), destination: parseIP(d), protocol: 6, destinationPort: 8080 });
  }
  const t4 = performance.now();
  return {
    compileMs: t1 - t0,
    matrixMs: t2 - t1,
    pairs: matrix.pairs.length,
    allowedPairs: matrix.pairs.filter((p) => p.conn !== 'No Connections').length,
    verdictMs: (t4 - t3) / n,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

if (!runAsChild(runOnce)) {
  const runs = runInChildren<RunResult>(fileURLToPath(import.meta.url), RUNS, (r) => `compile ${r.compileMs.toFixed(1)} ms; matrix ${r.matrixMs.toFixed(0)} ms (${r.pairs} pairs, ${r.allowedPairs} with connections); one verdict ${r.verdictMs.toFixed(3)} ms; peak RSS ${r.peakRssMb.toFixed(0)} MB`);
  const matrix = median(runs.map((r) => r.matrixMs));
  const verdict = median(runs.map((r) => r.verdictMs));
  console.log('');
  console.log(`NetworkPolicy: ${PODS} pods in ${NAMESPACES} namespaces under ${POLICIES} policies`);
  console.log(`matrix       median ${matrix.toFixed(0)} ms            (target < 2000 ms)  ${matrix < 2000 ? 'ok' : 'MISSED'}`);
  console.log(`one verdict  median ${verdict.toFixed(3)} ms          (target < 10 ms)    ${verdict < 10 ? 'ok' : 'MISSED'}`);
}
