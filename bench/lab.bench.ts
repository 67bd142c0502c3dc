/**
 * `npm run bench` (lab): `kubepath lab up` of 3 nodes, 9 pods, 3 Services (ClusterIP, NodePort,
 * LoadBalancer with externalTrafficPolicy Local) and the load balancer, then `lab verify` and
 * `lab down`, each run as the built CLI, printing the phases of `up`.
 * Targets (2 cores): up under 3 s, down under 1 s; verify of a seed under 30 s.
 * Skipped (with the reason) when not root on Linux.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './runner.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const BIN = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', 'src', 'cli', 'bin.js');

function manifests(): string {
  const docs: string[] = [
    `apiVersion: kubepath.dev/v1alpha1
kind: Environment
metadata: {name: bench}
serviceCIDRs: [10.96.0.0/16]
podNetwork: {type: routed, cidrs: [10.244.0.0/16]}
nodeNetwork: {cidrs: [192.168.50.0/24]}
nodes:
${[1, 2, 3].map((i) => `  - {name: node-${i}, internalIPs: [192.168.50.${10 + i}], podCIDRs: [10.244.${i}.0/24]}`).join('\n')}
externalClients:
  - {name: user, address: 198.51.100.7}
loadBalancer: {delivery: VIP}`,
  ];
  const apps = ['web', 'api', 'shop'];
  apps.forEach((app, a) => {
    for (let i = 0; i < 3; i++) {
      docs.push(`apiVersion: v1
kind: Pod
metadata: {name: ${app}-${i}, namespace: default, labels: {app: ${app}}}
spec:
  nodeName: node-${((i + a) % 3) + 1}
  containers: [{name: ${app}, image: echo, ports: [{containerPort: 8080}]}]`);
    }
  });
  docs.push(`apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}`);
  docs.push(`apiVersion: v1
kind: Service
metadata: {name: api, namespace: default}
spec: {type: NodePort, selector: {app: api}, ports: [{port: 80, targetPort: 8080}]}`);
  docs.push(`apiVersion: v1
kind: Service
metadata: {name: shop, namespace: default}
spec: {type: LoadBalancer, externalTrafficPolicy: Local, selector: {app: shop}, ports: [{port: 80, targetPort: 8080}]}
status: {loadBalancer: {ingress: [{ip: 203.0.113.80}]}}`);
  return docs.join('\n---\n') + '\n';
}

function kubepath(args: string[], env: NodeJS.ProcessEnv): { ms: number; out: string; status: number | null; err: string } {
  const t = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env });
  return { ms: performance.now() - t, out: r.stdout, status: r.status, err: r.stderr };
}

function main(): void {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    console.log('lab bench: skipped (needs root on Linux)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'kp-labbench-'));
  const file = join(dir, 'cluster.yaml');
  writeFileSync(file, manifests());
  const env = { ...process.env, NO_COLOR: '1', KUBEPATH_LAB_DIR: join(dir, 'state') };
  const ups: number[] = [];
  const downs: number[] = [];
  const verifies: number[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const up = kubepath(['lab', 'up', '-f', file, '--name', 'kpbench', '--json'], env);
      if (up.status !== 0) throw new Error(`lab up failed: ${up.err}`);
      const doc = JSON.parse(up.out) as { ms: number; phases: { name: string; ms: number }[]; plan: { namespaces: unknown[] } };
      const verify = kubepath(['lab', 'verify', '--name', 'kpbench', '--json'], env);
      const v = JSON.parse(verify.out) as { ok: boolean; checks: unknown[] };
      const down = kubepath(['lab', 'down', '--name', 'kpbench'], env);
      if (down.status !== 0) throw new Error(`lab down failed: ${down.err}`);
      ups.push(up.ms);
      downs.push(down.ms);
      verifies.push(verify.ms);
      console.log(
        `run ${i + 1}: up ${up.ms.toFixed(0)} ms (${doc.plan.namespaces.length} namespaces; ${doc.phases.map((p) => `${p.name} ${p.ms}`).join(', ')} ms), verify ${verify.ms.toFixed(0)} ms (${v.checks.length} checks, ${v.ok ? 'all agree' : 'MISMATCH'}), down ${down.ms.toFixed(0)} ms`,
      );
    }
  } finally {
    kubepath(['lab', 'down', '--name', 'kpbench'], env);
    rmSync(dir, { recursive: true, force: true });
  }
  const up = median(ups);
  const down = median(downs);
  console.log(`lab (3 nodes, 9 pods, 3 Services + LB), median of ${RUNS}: up ${(up / 1000).toFixed(2)} s (target < 3 s) ${up < 3000 ? 'ok' : 'SLOW'}, down ${(down / 1000).toFixed(2)} s (target < 1 s) ${down < 1000 ? 'ok' : 'SLOW'}, verify ${(median(verifies) / 1000).toFixed(1)} s`);
}

main();
