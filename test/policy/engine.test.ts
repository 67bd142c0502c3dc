/**
 * The NetworkPolicy engine, feature by feature: each test builds a small cluster, and asserts the
 * verdicts a packet gets (allowed or not, which policy and rule, why a check was skipped).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseIP } from '../../src/net/index.js';
import { allowedConnections, Connections, evaluateIngress, evaluateEgress } from '../../src/policy/index.js';
import { index, judge, namespace, pod, policy } from './helpers.js';

const WEB = pod('shop/web', '{app: web}', '10.244.1.10', 'ports: [{name: http, containerPort: 8080}, {name: dns, containerPort: 53, protocol: UDP}]');
const API = pod('shop/api', '{app: api}', '10.244.1.11');
const OTHER = pod('team/tool', '{app: tool}', '10.244.1.20');
const NS = [namespace('shop', '{team: shop}'), namespace('team', '{team: tools}')];

test('no policy: every pod is reachable, and not isolated', () => {
  const v = judge(index([WEB, API]), '10.244.1.11', '10.244.1.10', 8080);
  assert.equal(v.allowed, true);
  assert.equal(v.ingress.verdict, 'allow');
  assert.equal(v.ingress.isolated, false);
  assert.deepEqual(v.ingress.policies, []);
});

test('deny-all ingress: podSelector {} isolates every pod of its namespace, and only those', () => {
  const ix = index([...NS, WEB, API, OTHER, policy('shop/deny', '{podSelector: {}, policyTypes: [Ingress]}')]);
  const v = judge(ix, '10.244.1.20', '10.244.1.10', 8080);
  assert.equal(v.allowed, false);
  assert.equal(v.ingress.verdict, 'deny');
  assert.deepEqual(v.ingress.policies.map((p) => p.policy), ['shop/deny']);
  assert.equal(judge(ix, '10.244.1.10', '10.244.1.20', 80).allowed, true, 'team/tool is in another namespace');
  assert.equal(v.egress.verdict, 'allow', 'egress is not controlled');
});

test('policyTypes implied: Ingress alone, plus Egress when the policy has egress rules', () => {
  const ix = index([WEB, API, policy('shop/both', '{podSelector: {matchLabels: {app: web}}, egress: [{to: [{podSelector: {matchLabels: {app: api}}}]}]}')]);
  const out = judge(ix, '10.244.1.10', '10.244.1.11', 80);
  assert.equal(out.egress.verdict, 'allow');
  assert.equal(out.egress.allowedBy?.policy, 'shop/both');
  assert.deepEqual(out.egress.policies[0]!.policyTypes, ['Ingress', 'Egress']);
  assert.equal(out.egress.policies[0]!.implied, true);
  assert.equal(judge(ix, '10.244.1.11', '10.244.1.10', 8080).ingress.verdict, 'deny', 'implied Ingress with no ingress rules isolates');
  assert.equal(judge(ix, '10.244.1.10', '8.8.8.8', 53, 'UDP').egress.verdict, 'deny', 'egress only to api');
});

test('explicit policyTypes [Egress] leaves ingress open even with ingress rules absent', () => {
  const ix = index([WEB, API, policy('shop/e', '{podSelector: {}, policyTypes: [Egress]}')]);
  const v = judge(ix, '10.244.1.11', '10.244.1.10', 8080);
  assert.equal(v.egress.verdict, 'deny');
  assert.equal(v.ingress.verdict, 'allow');
  assert.equal(v.ingress.isolated, false);
});

test('podSelector and namespaceSelector: absent vs {}, both in one peer, matchExpressions', () => {
  const docs = [...NS, WEB, API, OTHER];
  const ingressFrom = (peers: string) => index([...docs, policy('shop/p', `{podSelector: {matchLabels: {app: web}}, ingress: [{from: [${peers}]}]}`)]);
  // podSelector alone: pods of the policy's namespace.
  let ix = ingressFrom('{podSelector: {}}');
  assert.equal(judge(ix, '10.244.1.11', '10.244.1.10', 1).allowed, true);
  assert.equal(judge(ix, '10.244.1.20', '10.244.1.10', 1).allowed, false, 'another namespace');
  // namespaceSelector {}: every pod of every namespace.
  ix = ingressFrom('{namespaceSelector: {}}');
  assert.equal(judge(ix, '10.244.1.20', '10.244.1.10', 1).allowed, true);
  // both in one peer: pods matching one in namespaces matching the other.
  ix = ingressFrom('{namespaceSelector: {matchLabels: {team: tools}}, podSelector: {matchLabels: {app: api}}}');
  assert.equal(judge(ix, '10.244.1.20', '10.244.1.10', 1).allowed, false, 'tool is not app=api');
  ix = ingressFrom('{namespaceSelector: {matchLabels: {team: tools}}, podSelector: {matchLabels: {app: tool}}}');
  assert.equal(judge(ix, '10.244.1.20', '10.244.1.10', 1).allowed, true);
  // the API server's own label on every namespace
  ix = ingressFrom('{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: team}}}');
  assert.equal(judge(ix, '10.244.1.20', '10.244.1.10', 1).allowed, true);
  // matchExpressions: In, NotIn, Exists, DoesNotExist
  const expr = (e: string) => ingressFrom(`{podSelector: {matchExpressions: [${e}]}}`);
  assert.equal(judge(expr('{key: app, operator: In, values: [api, x]}'), '10.244.1.11', '10.244.1.10', 1).allowed, true);
  assert.equal(judge(expr('{key: app, operator: NotIn, values: [api]}'), '10.244.1.11', '10.244.1.10', 1).allowed, false);
  assert.equal(judge(expr('{key: app, operator: Exists}'), '10.244.1.11', '10.244.1.10', 1).allowed, true);
  assert.equal(judge(expr('{key: app, operator: DoesNotExist}'), '10.244.1.11', '10.244.1.10', 1).allowed, false);
});

test('ipBlock with except, IPv4 and IPv6; ipBlocks match pod addresses unless told not to', () => {
  const docs = [WEB, API, policy('shop/ip', '{podSelector: {matchLabels: {app: web}}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.244.1.11/32]}}, {ipBlock: {cidr: "2001:db8::/32", except: ["2001:db8:1::/48"]}}]}]}')];
  const ix = index(docs);
  assert.equal(judge(ix, '10.1.2.3', '10.244.1.10', 8080).allowed, true);
  assert.equal(judge(ix, '11.1.2.3', '10.244.1.10', 8080).allowed, false);
  const except = judge(ix, '10.244.1.11', '10.244.1.10', 8080);
  assert.equal(except.allowed, false, 'the except');
  assert.equal(evaluateIngress(ix, { source: parseIP('2001:db8:2::1'), destination: parseIP('10.244.1.10'), protocol: 6, destinationPort: 1 }).verdict, 'allow');
  assert.equal(evaluateIngress(ix, { source: parseIP('2001:db8:1::1'), destination: parseIP('10.244.1.10'), protocol: 6, destinationPort: 1 }).verdict, 'deny');
  assert.equal(judge(ix, '10.244.1.12', '10.244.1.10', 8080).allowed, true, 'an address in the pod network that is no pod');
  const cilium = index([...docs, pod('shop/x', '{}', '10.244.1.13')], { ipBlockMatchesPods: false });
  assert.equal(judge(cilium, '10.244.1.13', '10.244.1.10', 8080).allowed, false, 'a pod is matched by selectors only');
});

test('ports: protocol, default TCP, endPort ranges, protocols without ports', () => {
  const ix = index([WEB, API, policy('shop/ports', '{podSelector: {matchLabels: {app: web}}, ingress: [{ports: [{port: 8080}, {port: 53, protocol: UDP}, {port: 9000, endPort: 9010, protocol: SCTP}, {protocol: UDP, port: 7000, endPort: 7001}]}]}')]);
  assert.equal(judge(ix, '10.244.1.11', '10.244.1.10', 8080).allowed, true);
  assert.equal(judge(ix, '10.244.1.11', '10.244.1.10', 8080, 'UDP').allowed, false, 'TCP is the default protocol');
  assert.equal(judge(ix, '10.244.1.11', '10.244.1.10', 53, 'UDP').allowed, true);
  assert.equal(judge(ix, '10.244.1.11', '10.244.1.10', 9005, 'SCTP').allowed, true);
  assert.equal(judge(ix, '10.244.1.11', '10.244.1.10', 9011, 'SCTP').allowed, false);
  assert.equal(judge(ix, '10.244.1.11', '10.244.1.10', undefined, 'ICMP').allowed, false, 'a rule with ports allows no ICMP');
  const conns = allowedConnections(ix, { pod: ix.pod('shop/api'), address: parseIP('10.244.1.11') }, { pod: ix.pod('shop/web'), address: parseIP('10.244.1.10') });
  assert.equal(conns.toString(), 'SCTP 9000-9010,TCP 8080,UDP 53,7000-7001');
});

test('named ports resolve on the destination pod, with their protocol', () => {
  const docs = [WEB, API, pod('shop/web2', '{app: web}', '10.244.1.12', 'ports: [{name: http, containerPort: 9090}]')];
  const ix = index([...docs, policy('shop/named', '{podSelector: {matchLabels: {app: web}}, ingress: [{ports: [{port: http}, {port: dns}]}]}')]);
  assert.equal(judge(ix, '10.244.1.11', '10.244.1.10', 8080).allowed, true, 'web: http is 8080');
  assert.equal(judge(ix, '10.244.1.11', '10.244.1.12', 9090).allowed, true, 'web2: http is 9090');
  assert.equal(judge(ix, '10.244.1.11', '10.244.1.12', 8080).allowed, false);
  const dns = judge(ix, '10.244.1.11', '10.244.1.10', 53, 'UDP');
  assert.equal(dns.allowed, false, 'dns is UDP on the pod, the policy port is TCP');
  assert.deepEqual(dns.ingress.policies[0]!.rules[0]!.unresolved, ['TCP/dns'], 'web has dns only as UDP');
  assert.equal(dns.ingress.policies[0]!.rules[0]!.ports, 'TCP 8080');
  // egress: named on the destination pod
  const eg = index([...docs, policy('shop/out', '{podSelector: {matchLabels: {app: api}}, policyTypes: [Egress], egress: [{ports: [{port: http}]}]}')]);
  assert.equal(judge(eg, '10.244.1.11', '10.244.1.12', 9090).egress.verdict, 'allow');
  assert.equal(judge(eg, '10.244.1.11', '1.1.1.1', 8080).egress.verdict, 'deny', 'outside the cluster a name resolves to nothing');
});

test('the union of every selecting policy; the verdict names the rule that allowed it', () => {
  const ix = index([
    WEB,
    API,
    OTHER,
    ...NS,
    policy('shop/a', '{podSelector: {matchLabels: {app: web}}, ingress: [{from: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: 80}]}]}'),
    policy('shop/b', '{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {team: tools}}}]}, {ports: [{port: 8443}]}]}'),
  ]);
  const v = judge(ix, '10.244.1.20', '10.244.1.10', 8080);
  assert.equal(v.allowed, true);
  assert.deepEqual(v.ingress.allowedBy, { policy: 'shop/b', direction: 'ingress', rule: 0 });
  assert.deepEqual(v.ingress.policies.map((p) => p.policy), ['shop/a', 'shop/b']);
  assert.equal(judge(ix, '10.244.1.11', '10.244.1.10', 80).ingress.allowedBy?.policy, 'shop/a');
  const b1 = judge(ix, '10.244.1.11', '10.244.1.10', 8443).ingress;
  assert.deepEqual(b1.allowedBy, { policy: 'shop/b', direction: 'ingress', rule: 1 });
  assert.equal(judge(ix, '10.244.1.11', '10.244.1.10', 81).allowed, false);
});

test('egress at the source pod and ingress at the destination pod are judged on the packet as each sees it', () => {
  const ix = index([WEB, API, policy('shop/from-node', '{podSelector: {matchLabels: {app: web}}, ingress: [{from: [{ipBlock: {cidr: 203.0.113.0/24}}]}]}')]);
  // After kube-proxy's SNAT (externalTrafficPolicy: Cluster) the packet arrives from a node.
  const snat = evaluateIngress(ix, { source: parseIP('192.168.0.3'), destination: parseIP('10.244.1.10'), protocol: 6, destinationPort: 8080 });
  assert.equal(snat.verdict, 'deny');
  const kept = evaluateIngress(ix, { source: parseIP('203.0.113.7'), destination: parseIP('10.244.1.10'), protocol: 6, destinationPort: 8080 });
  assert.equal(kept.verdict, 'allow');
  const notPod = evaluateEgress(ix, { source: parseIP('192.168.0.3'), destination: parseIP('10.244.1.10'), protocol: 6, destinationPort: 8080 });
  assert.equal(notPod.verdict, 'skip');
  assert.equal(notPod.skip, 'not-a-pod');
  const toService = evaluateIngress(ix, { source: parseIP('10.244.1.11'), destination: parseIP('10.96.0.50'), protocol: 6, destinationPort: 80 });
  assert.equal(toService.skip, 'not-a-pod', 'a ClusterIP before DNAT is no pod');
});

test('hostNetwork pods are not selected (SKIP, and not matched by podSelectors); replies pass', () => {
  const host = pod('shop/agent', '{app: web}', '192.168.0.2', '') .replace('spec:\n', 'spec:\n  hostNetwork: true\n');
  const ix = index([WEB, API, host, policy('shop/deny', '{podSelector: {}, policyTypes: [Ingress, Egress]}')]);
  const at = evaluateIngress(ix, { source: parseIP('10.244.1.11'), destination: parseIP('192.168.0.2'), protocol: 6, destinationPort: 22 }, { destinationPod: 'shop/agent' });
  assert.equal(at.verdict, 'skip');
  assert.equal(at.skip, 'host-network');
  const reply = evaluateIngress(ix, { source: parseIP('10.244.1.11'), destination: parseIP('10.244.1.10'), protocol: 6, destinationPort: 40000 }, { established: true });
  assert.equal(reply.verdict, 'skip');
  assert.equal(reply.skip, 'established');
  const sel = index([WEB, host, policy('shop/allow-web', '{podSelector: {}, ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]}')]);
  assert.equal(judge(sel, '192.168.0.2', '10.244.1.10', 8080).allowed, false, 'the hostNetwork pod sends as its node, which no podSelector selects');
});

test('connections: union, intersection and np-guard text', () => {
  const a = Connections.ports('TCP', 80).union(Connections.ports('TCP', 81, 90)).union(Connections.ports('UDP', 53));
  assert.equal(a.toString(), 'TCP 80-90,UDP 53');
  assert.equal(a.intersect(Connections.ports('TCP', 85, 100)).toString(), 'TCP 85-90');
  assert.equal(a.intersect(Connections.ports('SCTP')).toString(), 'No Connections');
  assert.equal(Connections.ALL.intersect(a).equals(a), true);
  const everyPort = Connections.ports('TCP').union(Connections.ports('UDP')).union(Connections.ports('SCTP'));
  assert.equal(everyPort.toString(), 'All Connections');
  assert.equal(everyPort.has(undefined, undefined), false, 'but no ICMP');
});

test('the matrix computed row by row gives what allowedConnections gives for each pair', async () => {
  const { cluster } = await import('./helpers.js');
  const { compilePolicies, policyMatrix } = await import('../../src/policy/index.js');
  const c = cluster(
    ...NS,
    WEB,
    API,
    OTHER,
    pod('shop/web2', '{app: web}', '10.244.1.12', 'ports: [{name: http, containerPort: 9090}]'),
    policy('shop/a', '{podSelector: {matchLabels: {app: web}}, ingress: [{from: [{podSelector: {matchLabels: {app: api}}}, {ipBlock: {cidr: 10.244.1.16/28}}], ports: [{port: http}]}]}'),
    policy('shop/b', '{podSelector: {matchLabels: {app: api}}, policyTypes: [Egress], egress: [{to: [{podSelector: {}}], ports: [{port: http}, {port: 53, protocol: UDP}]}]}'),
    policy('team/c', '{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {team: shop}}}], ports: [{port: 22, endPort: 25}]}]}'),
  );
  const ix = compilePolicies(c);
  const m = policyMatrix(c, ix);
  assert.equal(m.pairs.length, 12);
  for (const pair of m.pairs) {
    const s = ix.pod(pair.src.replace('[Pod]', ''))!;
    const d = ix.pod(pair.dst.replace('[Pod]', ''))!;
    assert.equal(pair.conn, allowedConnections(ix, { pod: s, address: s.addresses[0] }, { pod: d, address: d.addresses[0] }).toString(), `${pair.src} => ${pair.dst}`);
  }
  assert.equal(m.pairs.find((p) => p.src === 'shop/api[Pod]' && p.dst === 'shop/web2[Pod]')?.conn, 'TCP 9090');
  assert.equal(m.pairs.find((p) => p.src === 'team/tool[Pod]' && p.dst === 'shop/web[Pod]')?.conn, 'TCP 8080', 'the ipBlock holds 10.244.1.20');
});
