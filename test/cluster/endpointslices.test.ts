/**
 * kubepath/cluster EndpointSlices derived from Services and pods, as the EndpointSlice controller makes them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EndpointSlice } from '../../src/cluster/index.js';
import { assumption, errorsOf, load, pod, service } from './helpers.js';

const ENV = `apiVersion: kubepath.dev/v1alpha1
kind: Environment
nodes:
  - {name: a, internalIPs: [10.0.0.1], podCIDRs: [10.244.1.0/24], zone: z1}
  - {name: b, internalIPs: [10.0.0.2], podCIDRs: [10.244.2.0/24]}
`;

/** A pod on `node` with `ip`, labels app=web, and extra YAML under metadata/spec/status. */
function webPod(name: string, node: string, ip: string, o: { meta?: string; ports?: string; status?: string; spec?: string } = {}): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: {app: web}${o.meta ?? ''}}
spec: {nodeName: ${node}${o.spec ?? ''}, containers: [{name: c, ports: [${o.ports ?? '{name: http, containerPort: 8080}'}]}]}
status: {podIP: ${ip}${o.status ?? ''}}
`;
}

const brief = (s: EndpointSlice) => ({
  addressType: s.addressType,
  ports: s.ports,
  endpoints: s.endpoints.map((e) => [e.addresses.join(), e.conditions, e.nodeName, e.zone ?? null, e.targetRef?.name]),
});

test('one slice of the selected pods: ready, serving, terminating, nodeName, zone, targetRef, labels', () => {
  const c = load([
    ENV,
    service('web', '{selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}]}'),
    webPod('w1', 'a', '10.244.1.5'),
    webPod('w2', 'b', '10.244.2.5', { status: ', conditions: [{type: Ready, status: "False"}]' }),
    webPod('w3', 'a', '10.244.1.6', { meta: ', deletionTimestamp: "2025-01-01T00:00:00Z"' }),
    webPod('done', 'a', '10.244.1.7', { status: ', phase: Succeeded' }),
    webPod('other', 'a', '10.244.1.8').replace('app: web', 'app: other'),
  ]);
  assert.equal(c.endpointSlices.length, 1);
  const slice = c.endpointSlices[0]!;
  assert.match(slice.metadata.name, /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  assert.equal(slice.metadata.namespace, 'default');
  assert.deepEqual(slice.metadata.labels, { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' });
  assert.deepEqual(brief(slice), {
    addressType: 'IPv4',
    ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
    endpoints: [
      ['10.244.1.5', { ready: true, serving: true, terminating: false }, 'a', 'z1', 'w1'],
      ['10.244.1.6', { ready: false, serving: true, terminating: true }, 'a', 'z1', 'w3'],
      ['10.244.2.5', { ready: false, serving: false, terminating: false }, 'b', null, 'w2'],
    ],
  });
  assert.match(assumption(c, 'Service default/web', 'endpointSlices')!, /^web-\w{5} \(IPv4, 3 endpoints\): derived from the selector and pods, as the EndpointSlice controller would$/);
});

test('publishNotReadyAddresses makes every endpoint ready', () => {
  const c = load([
    ENV,
    service('web', '{selector: {app: web}, publishNotReadyAddresses: true, ports: [{port: 80, targetPort: 8080}]}'),
    webPod('w2', 'b', '10.244.2.5', { status: ', conditions: [{type: Ready, status: "False"}]' }),
    webPod('w3', 'a', '10.244.1.6', { meta: ', deletionTimestamp: "2025-01-01T00:00:00Z"' }),
  ]);
  assert.deepEqual(c.endpointSlices[0]!.endpoints.map((e) => e.conditions), [
    { ready: true, serving: true, terminating: true },
    { ready: true, serving: false, terminating: false },
  ]);
});

test('a named targetPort is resolved per pod: pods with different numbers for the name go to different slices', () => {
  const c = load([
    ENV,
    service('web', '{selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}, {name: metrics, port: 9090, targetPort: 9090}]}'),
    webPod('old', 'a', '10.244.1.5', { ports: '{name: http, containerPort: 8080}' }),
    webPod('new', 'b', '10.244.2.5', { ports: '{name: http, containerPort: 8081}' }),
    webPod('new2', 'a', '10.244.1.6', { ports: '{name: http, containerPort: 8081}' }),
    webPod('udp', 'a', '10.244.1.9', { ports: '{name: http, containerPort: 7000, protocol: UDP}' }),
  ]);
  const slices = c.endpointSlices.map((s) => [s.ports, s.endpoints.map((e) => e.targetRef?.name)]);
  assert.deepEqual(slices, [
    [[{ name: 'http', protocol: 'TCP', port: 8080 }, { name: 'metrics', protocol: 'TCP', port: 9090 }], ['old']],
    [[{ name: 'http', protocol: 'TCP', port: 8081 }, { name: 'metrics', protocol: 'TCP', port: 9090 }], ['new2', 'new']],
    // The UDP container port does not serve a TCP ServicePort: that pod has only the numbered port.
    [[{ name: 'metrics', protocol: 'TCP', port: 9090 }], ['udp']],
  ]);
  assert.equal(new Set(c.endpointSlices.map((s) => s.metadata.name)).size, 3);
});

test('sidecar ports count (init containers with restartPolicy Always), other init containers do not', () => {
  const text = `apiVersion: v1
kind: Pod
metadata: {name: p, labels: {app: web}}
spec:
  nodeName: a
  initContainers:
    - {name: setup, ports: [{name: admin, containerPort: 9000}]}
    - {name: proxy, restartPolicy: Always, ports: [{name: http, containerPort: 15001}]}
  containers: [{name: c}]
status: {podIP: 10.244.1.5}
`;
  const c = load([ENV, service('web', '{selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}]}'), text]);
  assert.deepEqual(c.endpointSlices[0]!.ports, [{ name: 'http', protocol: 'TCP', port: 15001 }]);
  const admin = errorsOf([ENV, service('web', '{selector: {app: web}, ports: [{name: admin, port: 9000, targetPort: admin}]}'), text]);
  assert.deepEqual(admin, ['f2.yaml#1 spec.ports[0].targetPort: named port "admin" not found on any selected pod']);
});

test('more than 100 endpoints are split into slices of 100', () => {
  const pods = Array.from({ length: 205 }, (_, i) => webPod(`w${i}`, 'a', `10.244.1.${i + 2}`)).join('---\n');
  const c = load([ENV, service('web', '{selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}'), pods]);
  assert.deepEqual(c.endpointSlices.map((s) => s.endpoints.length), [100, 100, 5]);
  assert.equal(c.endpointSlices[0]!.endpoints[0]!.addresses[0], '10.244.1.2');
  assert.equal(new Set(c.endpointSlices.map((s) => s.metadata.name)).size, 3);
});

test('dual-stack: one slice per family, each with the pod IP of its family', () => {
  const env = `apiVersion: kubepath.dev/v1alpha1
kind: Environment
serviceCIDRs: [10.96.0.0/16, "fd00:96::/112"]
nodes: [{name: a}]
`;
  const c = load([
    env,
    service('web', '{ipFamilyPolicy: PreferDualStack, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}'),
    pod('p', '{app: web}'),
  ]);
  assert.deepEqual(c.endpointSlices.map((s) => [s.addressType, s.endpoints.map((e) => e.addresses)]), [
    ['IPv4', [['10.244.0.2']]],
    ['IPv6', [['fd00:10:244::2']]],
  ]);
});

test('hostNetwork pods are endpoints at their node IP; StatefulSet pods carry their hostname for their headless Service', () => {
  const c = load([
    ENV,
    service('agent', '{selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}'),
    webPod('h', 'b', '10.0.0.2', { spec: ', hostNetwork: true' }),
    service('db', '{clusterIP: None, selector: {app: db}, ports: [{port: 5432}]}'),
    'apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  serviceName: db\n  replicas: 1\n  selector: {matchLabels: {app: db}}\n  template: {metadata: {labels: {app: db}}, spec: {containers: [{name: c}]}}\n',
  ]);
  const agent = c.endpointSlices.find((s) => s.metadata.labels!['kubernetes.io/service-name'] === 'agent')!;
  assert.deepEqual(agent.endpoints.map((e) => e.addresses), [['10.0.0.2']]);
  const db = c.endpointSlices.find((s) => s.metadata.labels!['kubernetes.io/service-name'] === 'db')!;
  assert.deepEqual(db.endpoints.map((e) => [e.hostname, e.targetRef?.name]), [['db-0', 'db-0']]);
});

test('no selected pods: one empty slice; no selector or ExternalName: no slice; deriveEndpointSlices false: none', () => {
  const c = load([
    ENV,
    service('empty', '{selector: {app: none}, ports: [{port: 80}]}'),
    service('manual', '{ports: [{port: 80}]}'),
    service('ext', '{type: ExternalName, externalName: example.com, selector: {app: web}}'),
    webPod('w', 'a', '10.244.1.5'),
  ]);
  assert.deepEqual(c.endpointSlices.map((s) => [s.metadata.labels!['kubernetes.io/service-name'], s.endpoints.length, s.ports]), [['empty', 0, []]]);
  const none = load([ENV, service('web', '{selector: {app: web}, ports: [{port: 80}]}'), webPod('w', 'a', '10.244.1.5')], { deriveEndpointSlices: false });
  assert.equal(none.endpointSlices.length, 0);
});

test('pods of another namespace are not selected', () => {
  const c = load([ENV, service('web', '{selector: {app: web}, ports: [{port: 80}]}'), webPod('w', 'a', '10.244.1.5').replace('{name: w,', '{name: w, namespace: other,')]);
  assert.deepEqual(c.endpointSlices.map((s) => s.endpoints.length), [0]);
});
