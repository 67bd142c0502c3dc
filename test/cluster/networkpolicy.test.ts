/**
 * kubepath/cluster: NetworkPolicy read and checked as the API server's ValidateNetworkPolicy does,
 * each error with its field path and the API server's words.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorsOf, load } from './helpers.js';

function np(spec: string, name = 'p'): string {
  return `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: ${name}, namespace: shop}\nspec: ${spec}\n`;
}

test('a NetworkPolicy is kept in cluster.networkPolicies as given, absent and {} selectors apart', () => {
  const c = load(np('{podSelector: {matchLabels: {app: web}}, ingress: [{from: [{namespaceSelector: {}, podSelector: {matchExpressions: [{key: tier, operator: In, values: [a]}]}}, {ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}], ports: [{port: http}, {port: 9000, endPort: 9100, protocol: UDP}]}], egress: [{}]}'));
  assert.equal(c.networkPolicies?.length, 1);
  const spec = c.networkPolicies![0]!.spec;
  assert.deepEqual(spec.ingress![0]!.from![0], { namespaceSelector: {}, podSelector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['a'] }] } });
  assert.deepEqual(spec.ingress![0]!.from![1], { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } });
  assert.deepEqual(spec.ingress![0]!.ports, [{ port: 'http' }, { port: 9000, endPort: 9100, protocol: 'UDP' }]);
  assert.deepEqual(spec.egress, [{}]);
  assert.equal(spec.policyTypes, undefined, 'defaults are the engine\'s to apply');
  assert.equal(c.namespaces.find((n) => n.metadata.name === 'shop')?.metadata.labels?.['kubernetes.io/metadata.name'], 'shop');
});

test('ipBlock: a valid CIDR, excepts strictly inside it, nothing else in the same peer', () => {
  assert.deepEqual(errorsOf(np('{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/33}}, {ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16, 10.0.0.0/8, 10.1.0.0/16]}}, {ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}, {ipBlock: {}}, {}]}]}')), [
    'test.yaml#1 spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
    'test.yaml#1 spec.ingress[0].from[1].ipBlock.except[0]: Invalid value: "11.0.0.0/16": must be a strict subset of `cidr`',
    'test.yaml#1 spec.ingress[0].from[1].ipBlock.except[1]: Invalid value: "10.0.0.0/8": must be a strict subset of `cidr`',
    'test.yaml#1 spec.ingress[0].from[2]: Forbidden: may not specify both ipBlock and another peer',
    'test.yaml#1 spec.ingress[0].from[3].ipBlock.cidr: Required value',
    'test.yaml#1 spec.ingress[0].from[4]: Required value: must specify a peer',
  ]);
});

test('ipBlock CIDRs with host bits are taken (as the API server takes them) with a warning; IPv6 too', () => {
  const c = load(np('{podSelector: {}, egress: [{to: [{ipBlock: {cidr: 10.0.0.1/8}}, {ipBlock: {cidr: "2001:db8::/32", except: ["2001:db8:1::/48"]}}]}]}'));
  assert.match(c.warnings!.map((w) => w.message).join('\n'), /"10\.0\.0\.1\/8" has host bits set: it means 10\.0\.0\.0\/8/);
});

test('ports: numbers in range, names as IANA service names, endPort only after a number and not below it, protocols', () => {
  assert.deepEqual(errorsOf(np('{podSelector: {}, ingress: [{ports: [{port: 0}, {port: Http_1}, {port: http, endPort: 90}, {endPort: 90}, {port: 90, endPort: 80}, {port: 80, endPort: 70000}, {port: 80, protocol: ICMP}]}]}')), [
    'test.yaml#1 spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
    'test.yaml#1 spec.ingress[0].ports[1].port: Invalid value: "Http_1": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
    'test.yaml#1 spec.ingress[0].ports[2].endPort: Invalid value: 90: may not be specified when `port` is non-numeric',
    'test.yaml#1 spec.ingress[0].ports[3].endPort: Invalid value: 90: may not be specified when `port` is not specified',
    'test.yaml#1 spec.ingress[0].ports[4].endPort: Invalid value: 90: must be greater than or equal to `port`',
    'test.yaml#1 spec.ingress[0].ports[5].endPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
    'test.yaml#1 spec.ingress[0].ports[6].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"',
  ]);
});

test('selectors: operators, values required or forbidden by operator, label keys and values; policyTypes', () => {
  assert.deepEqual(errorsOf(np('{podSelector: {matchLabels: {"bad key!": x}, matchExpressions: [{key: a, operator: In}, {key: b, operator: Exists, values: [x]}, {key: c, operator: Equals, values: [x]}]}, policyTypes: [Ingress, Outgress]}')), [
    'test.yaml#1 spec.podSelector.matchLabels: Invalid value: "bad key!": name part must consist of alphanumeric characters, \'-\', \'_\' or \'.\', and must start and end with an alphanumeric character (e.g. \'MyName\',  or \'my.name\',  or \'123-abc\', regex used for validation is \'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\')',
    "test.yaml#1 spec.podSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
    "test.yaml#1 spec.podSelector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
    'test.yaml#1 spec.podSelector.matchExpressions[2].operator: Invalid value: "Equals": not a valid selector operator',
    'test.yaml#1 spec.policyTypes[1]: Unsupported value: "Outgress": supported values: "Ingress", "Egress"',
  ]);
  assert.deepEqual(errorsOf(np('{podSelector: {}, policyTypes: [Ingress, Egress, Ingress]}')), [
    'test.yaml#1 spec.policyTypes: Invalid value: ["Ingress","Egress","Ingress"]: may not specify more than two policyTypes',
  ]);
});
