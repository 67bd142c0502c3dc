/**
 * NetworkPolicy in `kubepath trace --json`, as a user runs it: seed 003's policies judged at the
 * pods' nodes (egress at the source, ingress at the destination), the rule or the policies named,
 * replies let through, and the ipBlock trap behind a NodePort with externalTrafficPolicy: Cluster
 * (examples/policy/ipblock-behind-nodeport) with its finding and fix.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../support/shared.js';

const BIN = resolve(projectRoot, 'dist', 'src', 'cli', 'bin.js');
const SEED = join(projectRoot, 'examples', 'policy', 'seed-003');
const TRAP = join(projectRoot, 'examples', 'policy', 'ipblock-behind-nodeport');

interface Step {
  state: string;
  at: string;
  detail: string;
  cause?: string;
  networkPolicy?: { direction: string; verdict: string; source: string; policies: string[]; allowedBy?: string; clientWouldPass?: string };
}
interface Out {
  outcomes: { disposition: string; reason: string; app: { client_address: string | null }; steps: Step[]; reply?: { accepted: boolean; reason: string } }[];
  findings: { title: string; fix?: string }[];
}

function trace(files: string[], ...args: string[]): Out {
  const r = spawnSync(process.execPath, [BIN, 'trace', ...files.flatMap((f) => ['-f', f]), '--json', ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Out;
}

const seed = (...policies: string[]) => [join(SEED, 'cluster.yaml'), ...policies.map((p) => join(SEED, `${p}.yaml`))];
const policySteps = (o: Out['outcomes'][number]) => o.steps.filter((s) => /NETWORK_POLICY/.test(s.state));

test('seed 003, deny-all-ingress: the dev pod is isolated; the drop names every selecting policy, at the destination pod', () => {
  const [o] = trace(seed('deny-all-ingress'), '--from', 'pod/prod/pod1', '--to', 'pod/dev/pod1:80').outcomes;
  assert.equal(o!.disposition, 'drop');
  const [egress, ingress] = policySteps(o!);
  assert.equal(egress!.state, 'APPLY_EGRESS_NETWORK_POLICY');
  assert.equal(egress!.at, 'pod/prod/pod1');
  assert.equal(egress!.networkPolicy!.verdict, 'allow');
  assert.equal(ingress!.state, 'APPLY_INGRESS_NETWORK_POLICY');
  assert.deepEqual(ingress!.networkPolicy, { direction: 'ingress', verdict: 'deny', source: '10.244.2.2', policies: ['dev/deny-all-ingress'] });
  const drop = o!.steps[o!.steps.length - 1]!;
  assert.deepEqual([drop.state, drop.at, drop.cause], ['DROP', 'pod/dev/pod1', 'NETWORK_POLICY']);
  assert.match(o!.reason, /^NETWORK_POLICY: ingress of dev\/pod1 denies 10\.244\.2\.2 -> 10\.244\.1\.2:80; selecting: dev\/deny-all-ingress$/);
});

test('seed 003, allow-80-ingress: port 80 from the pod network is allowed by its rule; its except (10.244.1.2) and other ports are not', () => {
  const files = seed('deny-all-ingress', 'allow-80-ingress');
  const [ok] = trace(files, '--from', 'pod/prod/pod1', '--to', 'pod/dev/pod1:80').outcomes;
  assert.equal(ok!.disposition, 'deliver');
  assert.equal(policySteps(ok!)[1]!.networkPolicy!.allowedBy, 'dev/allow-80-ingress ingress[0]');
  const [otherPort] = trace(files, '--from', 'pod/prod/pod1', '--to', 'pod/dev/pod1:8080').outcomes;
  assert.equal(otherPort!.disposition, 'drop');
  assert.deepEqual(policySteps(otherPort!)[1]!.networkPolicy!.policies.sort(), ['dev/allow-80-ingress', 'dev/deny-all-ingress']);
});

test('seed 003, deny-all-egress: prod/pod1 cannot open connections (egress denied at its own node), but replies of connections to it pass', () => {
  const [out] = trace(seed('deny-all-egress'), '--from', 'pod/prod/pod1', '--to', 'pod/dev/pod1:80').outcomes;
  assert.equal(out!.disposition, 'drop');
  assert.equal(policySteps(out!)[0]!.state, 'APPLY_EGRESS_NETWORK_POLICY');
  assert.equal(policySteps(out!)[0]!.networkPolicy!.verdict, 'deny');
  const [inbound] = trace(seed('deny-all-egress'), '--from', 'pod/dev/client', '--to', 'pod/prod/pod1:80', '--round-trip').outcomes;
  assert.equal(inbound!.disposition, 'deliver');
  assert.equal(inbound!.reply!.accepted, true, inbound!.reply!.reason);
});

test('the ipBlock trap: entered on another node the packet arrives masqueraded and is denied; the finding says so and Local is the fix', () => {
  const other = trace([TRAP], '--from', 'office', '--to', 'svc/shop/web', '--via', 'node/node-2');
  const [o] = other.outcomes;
  assert.equal(o!.disposition, 'drop');
  const denied = policySteps(o!).find((s) => s.networkPolicy?.verdict === 'deny')!;
  assert.match(denied.detail, /^192\.168\.10\.12:\d+ -> 10\.244\.1\.2:8080: denied/);
  assert.equal(denied.networkPolicy!.clientWouldPass, 'shop/office-only ingress[0]');
  assert.equal(denied.networkPolicy!.source, '192.168.10.12');
  const finding = other.findings.find((f) => f.fix === 'svc/shop/web.spec.externalTrafficPolicy=Local');
  assert.ok(finding, JSON.stringify(other.findings));
  assert.match(finding.title, /shop\/office-only ingress\[0\] would let 198\.51\.100\.20 in, but the packet arrives from 192\.168\.10\.12/);
  // On the pod's own node, the agent judges before that node's SNAT: the office's address passes.
  const [own] = trace([TRAP], '--from', 'office', '--to', 'svc/shop/web', '--via', 'node/node-1').outcomes;
  assert.equal(own!.disposition, 'deliver');
  assert.match(policySteps(own!)[0]!.detail, /^198\.51\.100\.20:\d+ -> 10\.244\.1\.2:8080: allowed/);
  assert.equal(own!.app.client_address, '10.244.1.1', 'the app still sees the bridge after MASQUERADE');
  const [fixed] = trace([TRAP], '--from', 'office', '--to', 'svc/shop/web', '--via', 'node/node-1', '--set', finding.fix!).outcomes;
  assert.equal(fixed!.app.client_address, '198.51.100.20');
});

test('without NetworkPolicies a trace has no policy steps', () => {
  const [o] = trace([join(projectRoot, 'examples', 'seeds', '01-pod-to-pod')], '--from', 'pod/default/busybox', '--to', 'pod/default/source-ip-app-826191075-7xk2p:8080').outcomes;
  assert.ok(o, 'traced');
  assert.deepEqual(policySteps(o), []);
});
