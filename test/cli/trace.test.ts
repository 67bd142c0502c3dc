/**
 * `kubepath trace` and `kubepath demo` as a user runs them: the built binary, human and JSON
 * output, what-if, the reply, and the errors for names that do not exist.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../support/shared.js';

const BIN = resolve(projectRoot, 'dist', 'src', 'cli', 'bin.js');

function kubepath(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: projectRoot, input, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const SEED3 = ['-f', 'examples/seeds/03-nodeport-cluster'];

test('human output: the steps, the path drawn, what the app sees, the finding and its fix', () => {
  const r = kubepath(['trace', ...SEED3, '--from', 'external:104.132.1.79', '--to', 'nodeport/kubernetes-node-cx31/30080']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /START_FROM_INTERNET .*104\.132\.1\.79:40000 -> 10\.240\.0\.5:30080/);
  assert.match(r.stdout, /APPLY_IPTABLES_RULE  node\/kubernetes-node-cx31  nat KUBE-NODEPORTS: -A KUBE-NODEPORTS .*--dport 30080 -j KUBE-EXT-/);
  assert.match(r.stdout, /NAT  node\/kubernetes-node-cx31  MASQUERADE in POSTROUTING: 104\.132\.1\.79:40000 -> 10\.180\.1\.136:8080 ⇒ 10\.240\.0\.5:40000 -> 10\.180\.1\.136:8080/);
  assert.match(r.stdout, /path: client\/\S+ → router → node\/kubernetes-node-cx31 \[DNAT → 10\.180\.1\.136:8080, MASQUERADE → 10\.240\.0\.5:40000\] → node\/kubernetes-node-6jst → pod\/default\/source-ip-app-826191075-qehz4/);
  assert.match(r.stdout, /the app sees client_address = 10\.240\.0\.5/);
  assert.match(r.stdout, /fix: --set 'svc\/default\/\S+\.spec\.externalTrafficPolicy=Local'/);
});

test('what-if: --set externalTrafficPolicy=Local keeps the client address on the endpoint node and drops elsewhere', () => {
  const svc = kubepath(['trace', ...SEED3, '--from', 'external:104.132.1.79', '--to', 'nodeport/kubernetes-node-cx31/30080', '--json']);
  const name = (JSON.parse(svc.stdout) as { findings: { fix?: string }[] }).findings[0]!.fix!.split('.spec')[0]!;
  const set = ['--set', `${name}.spec.externalTrafficPolicy=Local`];
  const on = JSON.parse(kubepath(['trace', ...SEED3, ...set, '--from', 'external:104.132.1.79', '--to', 'nodeport/kubernetes-node-6jst/30080', '--json']).stdout) as {
    outcomes: { disposition: string; app: { client_address: string } }[];
    notes: string[];
  };
  assert.deepEqual(on.outcomes.map((o) => [o.disposition, o.app.client_address]), [['deliver', '104.132.1.79']]);
  assert.ok(on.notes.some((n) => n.startsWith('what-if: ')));
  const off = JSON.parse(kubepath(['trace', ...SEED3, ...set, '--from', 'external:104.132.1.79', '--to', 'nodeport/kubernetes-node-cx31/30080', '--json']).stdout) as {
    outcomes: { disposition: string; endpoint: string | null; app: { client_address: string | null } }[];
  };
  assert.deepEqual(off.outcomes.map((o) => [o.disposition, o.endpoint, o.app.client_address]), [['drop', null, null]]);
});

test('--round-trip: the reply goes back through conntrack to the client; without the SNAT it would be lost', () => {
  const r = kubepath(['trace', ...SEED3, '--from', 'external:104.132.1.79', '--to', 'nodeport/kubernetes-node-cx31/30080', '--round-trip', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const o = (JSON.parse(r.stdout) as { outcomes: { reply: { accepted: boolean; reason: string; withoutSnat: { accepted: boolean; reason: string } } }[] }).outcomes[0]!;
  assert.equal(o.reply.accepted, true, o.reply.reason);
  assert.equal(o.reply.withoutSnat.accepted, false);
  assert.match(o.reply.withoutSnat.reason, /the answer comes from 10\.180\.1\.136:8080/);
});

test('JSON: the stable names scripts rely on', () => {
  const r = kubepath(['trace', '-f', 'examples/seeds/05-loadbalancer-cluster', '--from', 'external:104.132.1.79', '--to', 'lb/default/loadbalancer', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { schema: string; outcomes: { probability: number; disposition: string; endpoint: string | null; app: { client_address: string | null } }[] };
  assert.equal(doc.schema, 'kubepath.dev/trace/v1');
  assert.equal(doc.outcomes.length, 3);
  for (const o of doc.outcomes) {
    assert.ok(Math.abs(o.probability - 1 / 3) < 1e-12);
    assert.equal(o.disposition, 'deliver');
    assert.match(o.endpoint!, /^pod\/default\//);
    assert.match(o.app.client_address!, /^10\.(180\.1\.1|240\.0\.\d)$/);
  }
});

test('bad names list what exists; exit 1, one line, no stack', () => {
  const pod = kubepath(['trace', ...SEED3, '--from', 'pod/default/nope', '--to', 'svc/default/nodeport']);
  assert.equal(pod.code, 1);
  assert.match(pod.stderr, /^kubepath: error: no pod default\/nope; pods: default\/source-ip-app-826191075-qehz4\n$/);
  const svc = kubepath(['trace', ...SEED3, '--from', 'external:1.2.3.4', '--to', 'svc/default/nope']);
  assert.equal(svc.code, 1);
  assert.match(svc.stderr, /no Service default\/nope; Services: /);
  const node = kubepath(['trace', ...SEED3, '--from', 'external:1.2.3.4', '--to', 'nodeport/node-9/30080']);
  assert.match(node.stderr, /no node node-9; nodes: kubernetes-node-6jst, kubernetes-node-cx31, kubernetes-node-jj1t/);
  const set = kubepath(['trace', ...SEED3, '--set', 'svc/default/nope.spec.type=NodePort', '--from', 'external:1.2.3.4', '--to', 'nodeport/kubernetes-node-6jst/30080']);
  assert.equal(set.code, 1);
  assert.match(set.stderr, /--set svc\/default\/nope\.spec\.type=NodePort: no Service default\/nope in the manifests; Services: /);
  const bad = kubepath(['trace', ...SEED3, '--from', 'somewhere', '--to', 'svc/default/nodeport']);
  assert.match(bad.stderr, /--from somewhere: expected external:IP, pod\/NS\/NAME, node\/NAME or a client of the Environment/);
  for (const r of [pod, svc, node, set, bad]) assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
});

test('kubepath demo: one table of the seeds scenarios on the built-in cluster', () => {
  const r = kubepath(['demo']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /NodePort \(Cluster\), on the endpoint's node +user → node-1 \[DNAT, SNAT\] → echo +10\.180\.0\.1 +masqueraded by kube-proxy \(Cluster\)/);
  assert.match(r.stdout, /NodePort \(Cluster\), on another node +user → node-2 \[DNAT, SNAT\] → node-1 → echo +10\.240\.0\.4 /);
  assert.match(r.stdout, /NodePort \(Local\), on another node +user → node-2 +- +dropped: no local endpoint \(Local\)/);
  assert.match(r.stdout, /LoadBalancer \(Local\) +user → LB → node-1 \[DNAT\] → echo +198\.51\.100\.7 +client address kept/);
  const json = JSON.parse(kubepath(['demo', '--json']).stdout) as { scenario: string; outcomes: { probability: number }[] }[];
  assert.equal(json.length, 15);
  for (const s of json) assert.ok(Math.abs(s.outcomes.reduce((a, o) => a + o.probability, 0) - 1) < 1e-9, s.scenario);
});

test('kubepath demo across proxies: ULB7, ingress-nginx (Local, Cluster, forged), Istio REDIRECT/TPROXY and the gateway, by what the app receives', () => {
  type Demo = { scenario: string; outcomes: { disposition: string; hops: string[]; app: { client_address: string | null; headers?: [string, string][] } }[] }[];
  const json = JSON.parse(kubepath(['demo', '--json']).stdout) as Demo;
  const row = (name: string) => json.find((s) => s.scenario === name)!.outcomes;
  const xff = (o: Demo[number]['outcomes'][number]) => (o.app.headers ?? []).filter(([n]) => n.toLowerCase() === 'x-forwarded-for').map(([, v]) => v).join(', ');
  const CLIENT = '198.51.100.7';
  for (const o of row('UCloud ULB7 (HTTP), Cluster')) {
    assert.equal(xff(o), CLIENT);
    assert.notEqual(o.app.client_address, CLIENT, 'the peer is a masqueraded address');
    assert.deepEqual(o.hops, ['UCloud ULB7']);
  }
  assert.deepEqual(row('ingress-nginx behind an LB (Local)').map(xff), [CLIENT]);
  const cluster = row('ingress-nginx behind an LB (Cluster)').map(xff);
  assert.equal(cluster.length, 3);
  assert.ok(cluster.every((x) => x !== CLIENT && x !== ''), cluster.join(' | '));
  assert.deepEqual(row('ingress-nginx, use-forwarded-headers, forged XFF').map(xff), ['1.2.3.4']);
  assert.deepEqual(row('Istio sidecars, REDIRECT').map((o) => o.app.client_address), ['127.0.0.6']);
  const sleep = row('Istio sidecars, TPROXY')[0]!;
  assert.match(sleep.app.client_address!, /^10\.180\.2\.\d+$/, 'the sleep pod on node-3');
  for (const o of row('Istio ingress gateway, PROXY v2 from the LB')) {
    assert.equal(o.app.client_address, '127.0.0.6');
    assert.equal(xff(o), CLIENT);
    assert.ok(o.hops.includes('Envoy "istio-ingressgateway" in pod/istio-system/gateway'), o.hops.join(', '));
  }
  const human = kubepath(['demo']).stdout;
  assert.match(human, /across proxies/);
  assert.match(human, /ingress-nginx, use-forwarded-headers, forged XFF +user → LB → node-2 \[DNAT\] → nginx → node-2 → node-1 → echo +10\.180\.1\.\d+ +1\.2\.3\.4 +ingress-nginx believed the X-Forwarded-For the client wrote itself \(forged\)/);
  assert.match(human, /Istio sidecars, REDIRECT +sleep \[REDIRECT\] → node-3 → node-1 → httpbin \[REDIRECT\] +127\.0\.0\.6 +- +the sidecar \(REDIRECT\) connects from 127\.0\.0\.6/);
});

test('across proxies: human output shows the app view; bad request flags and a bad ingress-nginx ConfigMap are one-line errors', () => {
  const ING = ['-f', 'examples/seeds/10-ingress-nginx-slb', '--from', 'browser', '--to', 'lb/ingress-nginx/ingress-nginx-controller'];
  const ok = kubepath(['trace', ...ING, '--host', 'app.example.com']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /APPLY_HTTP_HEADERS  pod\/ingress-nginx\/\S+  X-Forwarded-For: \(absent\) → "114\.248\.238\.236"/);
  assert.match(ok.stdout, /PROXY_CONNECTION  pod\/ingress-nginx\/\S+  ingress-nginx \S+ opens a new connection 10\.244\.1\.2:50200 -> 10\.244\.2\.2:8080/);
  assert.match(ok.stdout, /client IP by RightmostTrustedRange\(x-forwarded-for\): 114\.248\.238\.236/);
  const unknownHost = kubepath(['trace', ...ING, '--host', 'other.example.com', '--json']);
  const refused = JSON.parse(unknownHost.stdout) as { outcomes: { disposition: string; reason: string }[] };
  assert.deepEqual(refused.outcomes.map((o) => o.disposition), ['reject']);
  assert.match(refused.outcomes[0]!.reason, /answers 404/);
  for (const [args, message] of [
    [['-H', 'no colon here'], /--header "no colon here": expected NAME: VALUE/],
    [['--path', 'cart'], /--path cart: must start with \//],
    [['--set', 'cm/ingress-nginx/ingress-nginx-controller.data.use-forwarded-headers=maybe'], /use-forwarded-headers/],
  ] as const) {
    const r = kubepath(['trace', ...ING, ...args]);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length <= 2, true, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});
