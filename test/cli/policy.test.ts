/**
 * `kubepath policy`, `policy matrix` and `policy lint` as a user runs them: the built binary on
 * examples/policy/seed-003, each output format, and one-line errors for bad input.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../support/shared.js';

const BIN = resolve(projectRoot, 'dist', 'src', 'cli', 'bin.js');
const DIR = 'examples/policy/seed-003';

function kubepath(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: projectRoot, input, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('policy: the verdict, each direction and each rule considered, as an aligned table', () => {
  const r = kubepath(['policy', '-f', `${DIR}/cluster.yaml`, '-f', `${DIR}/deny-all-ingress.yaml`, '-f', `${DIR}/allow-80-ingress.yaml`, '--from', 'prod/pod1', '--to', 'dev/pod1:8080']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^DENIED {2}TCP prod\/pod1 → dev\/pod1:8080/);
  assert.match(r.stdout, /^egress at prod\/pod1: allow, no NetworkPolicy selects prod\/pod1 for egress/m);
  assert.match(r.stdout, /^ingress at dev\/pod1: deny, dev\/pod1 is isolated for ingress by dev\/deny-all-ingress, dev\/allow-80-ingress/m);
  assert.match(r.stdout, /^ {2}dev\/allow-80-ingress +Ingress +ingress\[0\] +ipBlock 10\.244\.0\.0\/16 except 10\.244\.1\.2\/32 ✓ +TCP 80,443 +no: port$/m);
  assert.doesNotMatch(r.stdout, /\u001b\[/, 'no colour when not a TTY');
});

test('policy check is the same command; workloads and IPs name the ends', () => {
  const r = kubepath(['policy', 'check', '-f', DIR, '--from', '10.244.1.3', '--to', 'pod/dev/pod1:443', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.from.pod, 'dev/client');
  assert.equal(doc.to.port, 443);
  assert.equal(doc.allowed, true);
  assert.equal(doc.ingress.allowedBy.policy, 'dev/allow-80-ingress');
});

test('policy matrix: every ordered pair in JSON with np-guard names; txt, md and csv list the pairs with connections', () => {
  const json = kubepath(['policy', 'matrix', '-f', DIR, '--format', 'json']);
  assert.equal(json.code, 0, json.stderr);
  const doc = JSON.parse(json.stdout) as { pairs: { src: string; dst: string; conn: string }[]; external: { src: string; dst: string; conn: string }[] };
  assert.equal(doc.pairs.length, 6, '3 pods, every ordered pair');
  assert.deepEqual(doc.pairs.find((p) => p.src === 'prod/pod1[Pod]' && p.dst === 'dev/pod1[Pod]'), { src: 'prod/pod1[Pod]', dst: 'dev/pod1[Pod]', conn: 'No Connections' });
  assert.equal(doc.pairs.find((p) => p.src === 'dev/client[Pod]' && p.dst === 'dev/pod1[Pod]')?.conn, 'TCP 80,443');
  assert.ok(doc.external.some((e) => e.src === '10.244.1.2-10.244.1.2[External]' && e.dst === 'dev/pod1[Pod]' && e.conn === 'No Connections'));
  const csv = kubepath(['policy', 'matrix', '-f', DIR, '--format', 'csv', '--port', '443']);
  assert.match(csv.stdout, /^src,dst,conn\ndev\/client\[Pod\],dev\/pod1\[Pod\],TCP 443\n/);
  const md = kubepath(['policy', 'matrix', '-f', DIR, '--format', 'md']);
  assert.match(md.stdout, /^\| src \| dst \| conn \|\n\|-----\|-----\|------\|\n\| dev\/client\[Pod\] \| dev\/pod1\[Pod\] \| TCP 80,443 \|$/m);
  const txt = kubepath(['policy', 'matrix', '-f', DIR]);
  assert.match(txt.stdout, /^SRC +DST +CONNECTIONS$/m);
  assert.match(txt.stdout, /^3 pods, 6 ordered pairs: 3 with connections, 3 with none \(not listed\)$/m);
});

test('policy lint: an egress policy that blocks DNS, a policy that selects nothing, a named port no pod has', () => {
  const extra = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-only, namespace: dev}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {app: nobody}}}], ports: [{port: metrics}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: named, namespace: dev}
spec:
  podSelector: {matchLabels: {app: myapp}}
  ingress: [{ports: [{port: metrics}]}]
`;
  const r = kubepath(['policy', 'lint', '-f', DIR, '-f', '-', '--json'], extra);
  assert.equal(r.code, 0, r.stderr);
  const kinds = (JSON.parse(r.stdout).findings as { kind: string; policy: string; field: string }[]).map((f) => `${f.policy} ${f.field} ${f.kind}`);
  assert.ok(kinds.includes('prod/deny-all-egress spec.egress blocks-dns'), kinds.join('\n'));
  assert.ok(kinds.includes('dev/web-only spec.podSelector selects-nothing'));
  assert.ok(kinds.includes('dev/web-only spec.ingress[0].from[0] peer-selects-nothing'));
  assert.ok(kinds.includes('dev/web-only spec.ingress[0] rule-never-matches'));
  assert.ok(kinds.includes('dev/named spec.ingress[0].ports[0] unknown-named-port'));
  const text = kubepath(['policy', 'lint', '-f', DIR]);
  assert.match(text.stdout, /^POLICY +FIELD +FINDING +WHY$/m);
});

test('errors: one line naming the file and field, or the flag; exit 1; no stack', () => {
  const bad = `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: dev}\nspec: {podSelector: {}, ingress: [{ports: [{port: 80, protocol: ICMP}]}]}\n`;
  const r = kubepath(['policy', 'lint', '-f', '-'], bad);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /-#1 spec\.ingress\[0\]\.ports\[0\]\.protocol: Unsupported value: "ICMP"/);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
  const who = kubepath(['policy', '-f', DIR, '--from', 'dev/nobody', '--to', 'dev/pod1:80']);
  assert.equal(who.code, 1);
  assert.match(who.stderr, /^kubepath: error: --from "dev\/nobody": no such pod or workload; pods: /);
  assert.equal(who.stderr.trim().split('\n').length, 1);
  const port = kubepath(['policy', '-f', DIR, '--from', 'dev/client', '--to', 'dev/pod1:http']);
  assert.equal(port.code, 1);
  assert.match(port.stderr, /--to "dev\/pod1:http": the port must be a number from 1 to 65535/);
});
