/**
 * `kubepath rules` as a user runs it: the built binary on the example cluster, the text it
 * writes (which our engine parses and traces), JSON, and the errors for bad input.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { parseRuleset } from '../../src/netfilter/index.js';
import { projectRoot } from '../support/shared.js';

const BIN = resolve(projectRoot, 'dist', 'src', 'cli', 'bin.js');

function kubepath(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: projectRoot, input, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('rules for node-a of the example cluster: loadable text with kube-proxy chains, notes and assumptions as comments', () => {
  const r = kubepath(['rules', '-f', 'examples/cluster', '--node', 'node-a']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^# kube-proxy \(iptables mode, v1\.33 behaviour\) rules for node node-a, IPv4/);
  assert.match(r.stdout, /^# health check ingress-nginx\/ingress-nginx-controller on :\d+ answers (200|503)/m);
  assert.match(r.stdout, /^# assumed Service shop\/web spec\.clusterIPs = 10\.96\./m);
  assert.match(r.stdout, /^-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES$/m);
  assert.match(r.stdout, /^-A KUBE-SERVICES -m comment --comment "shop\/web:http cluster IP" -m tcp -p tcp -d 10\.96\.\S+ --dport 80 -j KUBE-SVC-/m);
  const ruleset = parseRuleset(r.stdout, { file: 'node-a.rules', family: 4 });
  const svcChains = [...ruleset.tables.get('nat')!.chains.keys()].filter((c) => c.startsWith('KUBE-SVC-'));
  assert.ok(svcChains.length >= 4, `service chains: ${svcChains.join(' ')}`);
});

test('the rules trace: the ingress LoadBalancer IP (externalTrafficPolicy Local) is dropped on node-a, which has no ingress pod, and keeps the client address on node-b', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kubepath-rules-'));
  try {
    const trace = (node: string, host: string[]) => {
      const file = join(dir, `${node}.rules`);
      writeFileSync(file, kubepath(['rules', '-f', 'examples/cluster', '--node', node]).stdout);
      const t = kubepath(['netfilter', 'trace', '--rules', file, ...host, '--in-iface', 'eth0', '--src', '203.0.113.7:51000', '--dst', '198.51.100.10:80', '--json']);
      assert.equal(t.code, 0, t.stderr);
      return JSON.parse(t.stdout) as { outcomes: { disposition: string; packet: { src: string; dst: string } }[] };
    };
    const a = trace('node-a', ['--host', 'examples/kube-proxy-node.host.json']);
    assert.deepEqual(a.outcomes.map((o) => o.disposition), ['drop']);
    const b = trace('node-b', ['--local-ip', '192.168.0.3/24@eth0', '--local-ip', '10.244.2.1/24@cni0', '--route', 'default via 192.168.0.1 dev eth0']);
    assert.ok(b.outcomes.length > 0);
    for (const o of b.outcomes) {
      assert.equal(o.disposition, 'forward');
      assert.equal(o.packet.src, '203.0.113.7:51000', 'the client address is kept');
      assert.match(o.packet.dst, /^10\.244\.2\.\d+:80$/, 'the ingress pod on node-b');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--json gives the rule IR, settings and the restore text', () => {
  const r = kubepath(['rules', '-f', 'examples/cluster', '--node', 'node-b', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    node: string;
    family: string;
    config: { nodeIP: string; localDetector: { mode: string } };
    restore: string;
    tables: { table: string; chains: { chain: string; rules: { text: string; target: string | null }[] }[] }[];
  };
  assert.equal(out.node, 'node-b');
  assert.equal(out.family, 'IPv4');
  assert.equal(out.config.nodeIP, '192.168.0.3');
  assert.equal(out.config.localDetector.mode, 'ClusterCIDR');
  assert.match(out.restore, /^\*filter\n/);
  const nat = out.tables.find((t) => t.table === 'nat')!;
  const prerouting = nat.chains.find((c) => c.chain === 'PREROUTING')!;
  assert.deepEqual(prerouting.rules.map((x) => x.target), ['KUBE-SERVICES']);
});

test('bad input: unknown node lists the nodes, a bad manifest names file, document and field, exit 1', () => {
  const unknown = kubepath(['rules', '-f', 'examples/cluster', '--node', 'node-z']);
  assert.equal(unknown.code, 1);
  assert.equal(unknown.stderr, 'kubepath: error: no node "node-z" in the cluster; nodes: node-a, node-b, node-c\n');
  const bad = kubepath(['rules', '-f', '-', '--node', 'node-1'], 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports: [{port: 70000}]\n');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /-#1 spec\.ports\[0\]\.port/);
  assert.doesNotMatch(bad.stderr, /at .*\.js:\d+/, 'no stack trace');
  const family = kubepath(['rules', '-f', 'examples/cluster', '--node', 'node-a', '--family', 'ipv6']);
  assert.equal(family.code, 1);
  assert.match(family.stderr, /node node-a has no IPv6 address; it has IPv4/);
  const missing = kubepath(['rules', '--node', 'node-a']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /-f\/--filename/);
});

test('dual-stack: --family ipv6 writes ip6tables text for the IPv6 ClusterIP and pod, and says the node has IPv4 rules too', () => {
  const manifests = `apiVersion: kubepath.dev/v1alpha1
kind: Environment
metadata: {name: ds}
serviceCIDRs: [10.96.0.0/16, "fd00:96::/112"]
podNetwork: {type: routed, cidrs: [10.244.0.0/16, "fd00:244::/56"]}
nodes:
  - name: n1
    internalIPs: [192.168.0.2, "2001:db8::2"]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: NodePort
  ipFamilyPolicy: RequireDualStack
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: default, labels: {app: web}}
spec:
  containers: [{name: web, ports: [{containerPort: 8080}]}]
`;
  const v6 = kubepath(['rules', '-f', '-', '--node', 'n1', '--family', 'ipv6'], manifests);
  assert.equal(v6.code, 0, v6.stderr);
  assert.match(v6.stdout, /^# this node also has IPv4 rules: --family ipv4$/m);
  assert.match(v6.stdout, /-A KUBE-SEP-\S+ -m comment --comment default\/web:http -m tcp -p tcp -j DNAT --to-destination \[fd00:244::[0-9a-f:]+\]:8080/);
  assert.match(v6.stdout, /! -s fd00:244::\/56 -j KUBE-MARK-MASQ/);
  assert.match(v6.stdout, /--dst-type LOCAL ! -d ::1\/128 -j KUBE-NODEPORTS/, 'no localhost NodePorts on IPv6');
  assert.doesNotMatch(v6.stdout, /127\.0\.0\.0\/8/);
  assert.equal(parseRuleset(v6.stdout, { file: 'n1.rules6' }).family, 6);
  const v4 = kubepath(['rules', '-f', '-', '--node', 'n1'], manifests);
  assert.equal(v4.code, 0, v4.stderr);
  assert.match(v4.stdout, /IPv4; written by kubepath/);
  assert.match(v4.stdout, /--to-destination 10\.244\.\d+\.\d+:8080/);
});

test('trafficDistribution PreferClose: the controller hints each endpoint for its zone, so each node keeps to its own zone', () => {
  const manifests = `apiVersion: kubepath.dev/v1alpha1
kind: Environment
metadata: {name: td}
nodes:
  - {name: n1, internalIPs: [192.168.0.2], zone: a}
  - {name: n2, internalIPs: [192.168.0.3], zone: b}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  trafficDistribution: PreferClose
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
`;
  const endpointsOn = (node: string) => {
    const r = kubepath(['rules', '-f', '-', '--node', node], manifests);
    assert.equal(r.code, 0, r.stderr);
    return [...r.stdout.matchAll(/^-A KUBE-SVC-\S+ .*"default\/web:http -> (\S+)"/gm)].map((m) => m[1]);
  };
  const n1 = endpointsOn('n1');
  const n2 = endpointsOn('n2');
  assert.equal(n1.length, 1);
  assert.equal(n2.length, 1);
  assert.notEqual(n1[0], n2[0]);
  const plain = kubepath(['rules', '-f', '-', '--node', 'n1'], manifests.replace('trafficDistribution: PreferClose', 'sessionAffinity: None'));
  assert.equal([...plain.stdout.matchAll(/^-A KUBE-SVC-\S+ .*"default\/web:http -> /gm)].length, 2, 'without it, both endpoints');
});
