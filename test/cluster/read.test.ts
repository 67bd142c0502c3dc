/**
 * kubepath/cluster reading: YAML and JSON, multi-document files, Lists, each modelled kind, ignored kinds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCluster } from '../../src/cluster/index.js';
import { load, pod, service } from './helpers.js';

test('multi-document YAML: every document is read, empty ones skipped', () => {
  const c = load(`---\n${service('a', '{ports: [{port: 80}]}')}---\n${service('b', '{ports: [{port: 81}]}')}---\n`);
  assert.deepEqual(c.services.map((s) => s.metadata.name), ['a', 'b']);
});

test('YAML merge keys and anchors are read, as kubectl reads them', () => {
  const c = load('apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  ports:\n    - &p {name: http, port: 80, targetPort: 8080}\n    - <<: *p\n      name: alt\n      port: 81\n');
  assert.deepEqual(c.services[0]!.spec.ports, [
    { name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' },
    { name: 'alt', port: 81, targetPort: 8080, protocol: 'TCP' },
  ]);
});

test('JSON is read like YAML', () => {
  const text = JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'j', namespace: 'x' }, spec: { ports: [{ port: 53, protocol: 'UDP' }] } });
  const c = loadCluster([{ file: 'svc.json', text }]);
  assert.equal(c.services[0]!.spec.ports![0]!.protocol, 'UDP');
  assert.equal(c.services[0]!.metadata.namespace, 'x');
});

test('kind: List (kubectl get -o yaml) and typed lists (ServiceList) are read item by item', () => {
  const list = {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a' }, spec: { ports: [{ port: 80 }] } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } },
    ],
  };
  const typed = { apiVersion: 'v1', kind: 'ServiceList', items: [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'b' }, spec: { ports: [{ port: 80 }] } }] };
  const c = loadCluster([{ file: 'list.json', text: JSON.stringify(list) }, { file: 'typed.json', text: JSON.stringify(typed) }]);
  assert.deepEqual(c.services.map((s) => s.metadata.name), ['a', 'b']);
  assert.ok(c.namespaces.some((n) => n.metadata.name === 'team'));
  const a = c.assumptions.find((x) => x.object === 'Service default/a' && x.field === 'spec.type');
  assert.deepEqual(a?.source, { file: 'list.json', document: 1, path: 'items[0]' });
});

test('unknown kinds, and known kind names of other API groups, are ignored with where they were', () => {
  const c = load([
    'apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: shop}\n',
    'apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: hello}\nspec: {template: {}}\n',
    'apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: settings}\n',
    'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n',
  ]);
  assert.deepEqual(
    c.ignored.map((i) => [i.kind, i.apiVersion, i.name, i.source.file]),
    [
      ['Ingress', 'extensions/v1beta1', 'shop', 'f1.yaml'],
      ['Service', 'serving.knative.dev/v1', 'hello', 'f2.yaml'],
      ['PodDisruptionBudget', 'policy/v1', 'settings', 'f3.yaml'],
      ['Kustomization', 'kustomize.config.k8s.io/v1beta1', '', 'f4.yaml'],
    ],
  );
  assert.equal(c.services.length, 0);
});

test('Namespace: given ones kept, those objects live in added, all labelled with their name', () => {
  const c = load(['apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {team: a}}\n', service('web', '{ports: [{port: 80}]}')]);
  assert.deepEqual(
    c.namespaces.map((n) => [n.metadata.name, n.metadata.labels]),
    [
      ['shop', { team: 'a', 'kubernetes.io/metadata.name': 'shop' }],
      ['default', { 'kubernetes.io/metadata.name': 'default' }],
    ],
  );
});

test('Node: addresses, podCIDRs, zone label, unschedulable', () => {
  const c = load(`apiVersion: v1
kind: Node
metadata:
  name: worker-1
  labels: {topology.kubernetes.io/zone: eu-1a, kubernetes.io/os: linux}
spec: {podCIDR: 10.244.7.0/24, podCIDRs: [10.244.7.0/24], unschedulable: true}
status:
  addresses:
    - {type: InternalIP, address: 10.0.0.7}
    - {type: ExternalIP, address: 203.0.113.7}
    - {type: Hostname, address: worker-1}
`);
  const n = c.nodes[0]!;
  assert.equal(n.name, 'worker-1');
  assert.deepEqual(n.internalIPs, ['10.0.0.7']);
  assert.deepEqual(n.externalIPs, ['203.0.113.7']);
  assert.deepEqual(n.podCIDRs, ['10.244.7.0/24']);
  assert.equal(n.zone, 'eu-1a');
  assert.equal(n.labels['kubernetes.io/os'], 'linux');
  assert.equal(n.object.spec?.unschedulable, true);
});

test('Pod: IPs, node, labels, ports, readiness, hostNetwork and deletionTimestamp are kept as given', () => {
  const c = load([
    `apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nspec: {podCIDR: 10.244.1.0/24}\nstatus: {addresses: [{type: InternalIP, address: 10.0.0.1}]}\n`,
    `apiVersion: v1
kind: Pod
metadata: {name: web-1, labels: {app: web}, deletionTimestamp: "2025-01-01T00:00:00Z"}
spec:
  nodeName: n1
  containers: [{name: web, ports: [{name: http, containerPort: 8080, protocol: TCP}]}]
status:
  phase: Running
  podIP: 10.244.1.9
  podIPs: [{ip: 10.244.1.9}]
  conditions: [{type: Ready, status: "False"}]
`,
    pod('agent', '{app: agent}', 'spec:\n  nodeName: n1\n  hostNetwork: true\n  containers: [{name: agent}]\n'),
  ]);
  const [web, agent] = c.pods;
  assert.equal(web!.metadata.deletionTimestamp, '2025-01-01T00:00:00Z');
  assert.equal(web!.status?.podIP, '10.244.1.9');
  assert.deepEqual(web!.status?.conditions, [{ type: 'Ready', status: 'False' }]);
  assert.equal(web!.spec.containers[0]!.ports![0]!.name, 'http');
  assert.equal(agent!.status?.podIP, '10.0.0.1');
  assert.equal(agent!.status?.hostIP, '10.0.0.1');
});

test('Service: every field kube-proxy reads is kept', () => {
  const c = load(`apiVersion: v1
kind: Service
metadata: {name: lb, namespace: shop}
spec:
  type: LoadBalancer
  selector: {app: lb}
  clusterIP: 10.96.5.5
  clusterIPs: [10.96.5.5]
  ipFamilies: [IPv4]
  ipFamilyPolicy: SingleStack
  externalIPs: [192.0.2.10]
  loadBalancerSourceRanges: [203.0.113.0/24]
  externalTrafficPolicy: Local
  internalTrafficPolicy: Local
  healthCheckNodePort: 31000
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
  publishNotReadyAddresses: true
  trafficDistribution: PreferClose
  ports:
    - {name: https, protocol: TCP, appProtocol: https, port: 443, targetPort: 8443, nodePort: 30443}
status:
  loadBalancer:
    ingress: [{ip: 198.51.100.1, ipMode: Proxy}, {hostname: lb.example.com}]
`);
  const s = c.services[0]!;
  assert.deepEqual(s.spec, {
    type: 'LoadBalancer',
    selector: { app: 'lb' },
    ports: [{ name: 'https', protocol: 'TCP', appProtocol: 'https', port: 443, targetPort: 8443, nodePort: 30443 }],
    clusterIP: '10.96.5.5',
    clusterIPs: ['10.96.5.5'],
    ipFamilies: ['IPv4'],
    ipFamilyPolicy: 'SingleStack',
    externalIPs: ['192.0.2.10'],
    loadBalancerSourceRanges: ['203.0.113.0/24'],
    externalTrafficPolicy: 'Local',
    internalTrafficPolicy: 'Local',
    healthCheckNodePort: 31000,
    sessionAffinity: 'ClientIP',
    sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
    publishNotReadyAddresses: true,
    trafficDistribution: 'PreferClose',
    allocateLoadBalancerNodePorts: true,
  });
  assert.deepEqual(s.status?.loadBalancer?.ingress, [{ ip: '198.51.100.1', ipMode: 'Proxy' }, { hostname: 'lb.example.com' }]);
});

test('EndpointSlice: all conditions, hints, nodeName, zone; a Service with given slices gets none derived', () => {
  const c = load([
    service('web', '{selector: {app: web}, ports: [{name: http, port: 80}]}'),
    pod('web-1', '{app: web}'),
    `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
  - addresses: [10.244.0.50]
    conditions: {ready: false, serving: true, terminating: true}
    nodeName: node-1
    zone: z1
    hints: {forZones: [{name: z1}], forNodes: [{name: node-1}]}
    targetRef: {kind: Pod, namespace: default, name: web-1}
ports: [{name: http, protocol: TCP, port: 8080}]
`,
  ]);
  assert.equal(c.endpointSlices.length, 1);
  assert.deepEqual(c.endpointSlices[0]!.endpoints[0], {
    addresses: ['10.244.0.50'],
    conditions: { ready: false, serving: true, terminating: true },
    nodeName: 'node-1',
    zone: 'z1',
    hints: { forZones: [{ name: 'z1' }], forNodes: [{ name: 'node-1' }] },
    targetRef: { kind: 'Pod', namespace: 'default', name: 'web-1' },
  });
});

test('Endpoints (legacy) are converted into EndpointSlices as the mirroring controller does', () => {
  const c = load([
    service('db', '{ports: [{name: pg, port: 5432}]}'),
    `apiVersion: v1
kind: Endpoints
metadata: {name: db}
subsets:
  - addresses: [{ip: 10.0.9.2, nodeName: node-1}, {ip: 10.0.9.1}, {ip: "fd00::5"}]
    notReadyAddresses: [{ip: 10.0.9.3, targetRef: {kind: Pod, name: db-3}}]
    ports: [{name: pg, port: 5432}]
`,
  ]);
  const slices = c.endpointSlices.map((s) => ({
    type: s.addressType,
    labels: s.metadata.labels,
    ports: s.ports,
    endpoints: s.endpoints.map((e) => [e.addresses[0], e.conditions?.ready]),
  }));
  const labels = { 'kubernetes.io/service-name': 'db', 'endpointslice.kubernetes.io/managed-by': 'endpointslicemirroring-controller.k8s.io' };
  const ports = [{ name: 'pg', protocol: 'TCP', port: 5432 }];
  assert.deepEqual(slices, [
    { type: 'IPv4', labels, ports, endpoints: [['10.0.9.1', true], ['10.0.9.2', true], ['10.0.9.3', false]] },
    { type: 'IPv6', labels, ports, endpoints: [['fd00::5', true]] },
  ]);
  assert.match(c.assumptions.find((a) => a.object === 'Endpoints default/db' && a.field === 'subsets')!.value, /^converted into db-\w{5}, db-\w{5}, as the EndpointSlice mirroring controller does$/);
});

test('Endpoints of a Service that also has slices are not converted; without a Service, a warning', () => {
  const c = load([
    service('db', '{ports: [{port: 5432}]}'),
    'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: db-x, labels: {kubernetes.io/service-name: db}}\naddressType: IPv4\nendpoints: [{addresses: [10.0.0.1]}]\n',
    'apiVersion: v1\nkind: Endpoints\nmetadata: {name: db}\nsubsets: [{addresses: [{ip: 10.0.0.2}], ports: [{port: 5432}]}]\n',
    'apiVersion: v1\nkind: Endpoints\nmetadata: {name: gone}\nsubsets: [{addresses: [{ip: 10.0.0.3}], ports: [{port: 1}]}]\n',
  ]);
  assert.deepEqual(c.endpointSlices.map((s) => s.metadata.name), ['db-x']);
  assert.deepEqual(c.warnings?.map((w) => `${w.source.file} ${w.message}`), ['f4.yaml no Service default/gone was given: not converted into EndpointSlices']);
});

test('Deployment, ReplicaSet, StatefulSet and DaemonSet make the pods their controllers would', () => {
  const template = (app: string) => `  selector: {matchLabels: {app: ${app}}}\n  template:\n    metadata: {labels: {app: ${app}}}\n    spec: {containers: [{name: c}]}\n`;
  const input = [
    'apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: n2}\n',
    `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 2\n${template('web')}`,
    `apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: rs}\nspec:\n${template('rs')}`,
    `apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  serviceName: db\n  replicas: 2\n${template('db')}`,
    `apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n${template('agent')}`,
  ];
  const c = load(input);
  const names = c.pods.map((p) => p.metadata.name);
  assert.equal(names.length, 7);
  assert.match(names[0]!, /^web-[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  const hash = c.pods[0]!.metadata.labels!['pod-template-hash']!;
  assert.ok(names[0]!.startsWith(`web-${hash}-`) && names[1]!.startsWith(`web-${hash}-`) && names[0] !== names[1]);
  assert.deepEqual(c.pods[0]!.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `web-${hash}`, controller: true }]);
  assert.match(names[2]!, /^rs-\w{5}$/);
  assert.deepEqual(names.slice(3, 5), ['db-0', 'db-1']);
  assert.deepEqual([c.pods[3]!.spec.hostname, c.pods[3]!.spec.subdomain], ['db-0', 'db']);
  assert.equal(c.pods[3]!.metadata.labels!['statefulset.kubernetes.io/pod-name'], 'db-0');
  assert.deepEqual(c.pods.slice(5).map((p) => p.spec.nodeName), ['n1', 'n2']);
  assert.match(c.assumptions.find((a) => a.object === 'Deployment default/web' && a.field === 'pods')!.value, /\(2 replicas; no pods of it were given\)$/);
  assert.equal(c.assumptions.find((a) => a.object === 'ReplicaSet default/rs' && a.field === 'spec.replicas')?.value, '1 (the default)');
  // The same input gives the same names.
  assert.deepEqual(load(input).pods.map((p) => p.metadata.name), names);
});

test('a workload whose pods are given makes none; nor does a Deployment whose ReplicaSet is given', () => {
  const c = load([
    `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 3\n  selector: {matchLabels: {app: web}}\n  template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c}]}}\n`,
    pod('web-abc-1', '{app: web}'),
    `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  selector: {matchLabels: {app: api}}\n  template: {metadata: {labels: {app: api}}, spec: {containers: [{name: c}]}}\n`,
    `apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: api-1, ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: api}]}\nspec:\n  replicas: 0\n  selector: {matchLabels: {app: api}}\n  template: {metadata: {labels: {app: api}}, spec: {containers: [{name: c}]}}\n`,
  ]);
  assert.deepEqual(c.pods.map((p) => p.metadata.name), ['web-abc-1']);
});

test('workloadPods: false makes no pods', () => {
  const c = load(`apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c}]}}\n`, { workloadPods: false });
  assert.equal(c.pods.length, 0);
});

test('kube-proxy ConfigMap (config.conf) and a bare KubeProxyConfiguration; Environment overrides per node', () => {
  const cm = `apiVersion: v1
kind: ConfigMap
metadata: {name: kube-proxy, namespace: kube-system}
data:
  kubeconfig.conf: "ignored"
  config.conf: |
    apiVersion: kubeproxy.config.k8s.io/v1alpha1
    kind: KubeProxyConfiguration
    mode: iptables
    clusterCIDR: 10.42.0.0/16
    detectLocalMode: NodeCIDR
    nodePortAddresses: [primary]
    iptables: {masqueradeAll: false, localhostNodePorts: false}
`;
  const env = `apiVersion: kubepath.dev/v1alpha1
kind: Environment
serviceCIDRs: [10.43.0.0/16]
nodes:
  - name: a
  - name: b
    kubeProxy: {iptables: {masqueradeAll: true}}
`;
  const c = load([cm, env]);
  const [a, b] = c.nodes;
  assert.deepEqual(a!.kubeProxy, {
    mode: 'iptables',
    clusterCIDR: '10.42.0.0/16',
    detectLocalMode: 'NodeCIDR',
    nodePortAddresses: ['primary'],
    iptables: { masqueradeAll: false, localhostNodePorts: false, masqueradeBit: 14 },
  });
  assert.equal(b!.kubeProxy.iptables?.masqueradeAll, true);
  assert.equal(b!.kubeProxy.iptables?.localhostNodePorts, false);
  // The pod network is kube-proxy's clusterCIDR; the nodes' podCIDRs come from it.
  assert.deepEqual(c.podNetwork, { type: 'routed', cidrs: ['10.42.0.0/16'] });
  assert.deepEqual(c.nodes.map((n) => n.podCIDRs), [['10.42.0.0/24'], ['10.42.1.0/24']]);

  const bare = load('apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\nclusterCIDR: 10.1.0.0/16\n');
  assert.equal(bare.nodes[0]!.kubeProxy.clusterCIDR, '10.1.0.0/16');
  assert.equal(bare.ignored.length, 0);
});

test('Environment: networks, nodes with addresses and zones, external clients', () => {
  const c = load(`apiVersion: kubepath.dev/v1alpha1
kind: Environment
serviceCIDRs: [10.100.0.0/16, "fd00:100::/112"]
podNetwork: {type: routed, cidrs: [10.200.0.0/16, "fd00:200::/56"], nodeCIDRMaskSizeIPv4: 25}
nodes:
  - {name: a, internalIPs: [172.16.0.10, "fd00:1::10"], externalIPs: [198.51.100.10], zone: z1, labels: {role: edge}}
  - {name: b, podCIDRs: [10.200.9.0/25, "fd00:200:0:9::/64"]}
externalClients: [{name: office, address: 203.0.113.7}]
`);
  assert.deepEqual(c.serviceCIDRs, ['10.100.0.0/16', 'fd00:100::/112']);
  assert.deepEqual(c.ipFamilies, ['IPv4', 'IPv6']);
  assert.deepEqual(c.externalClients, [{ name: 'office', address: '203.0.113.7' }]);
  const [a, b] = c.nodes;
  assert.deepEqual([a!.internalIPs, a!.externalIPs, a!.zone, a!.labels.role], [['172.16.0.10', 'fd00:1::10'], ['198.51.100.10'], 'z1', 'edge']);
  assert.deepEqual(a!.podCIDRs, ['10.200.0.0/25', 'fd00:200::/64']);
  assert.deepEqual(b!.podCIDRs, ['10.200.9.0/25', 'fd00:200:0:9::/64']);
  assert.deepEqual(b!.internalIPs, ['192.168.0.2', 'fd00:192:168::2']);
  assert.equal(a!.object.metadata.labels!['topology.kubernetes.io/zone'], 'z1');
});

test('an Environment node completes the Node object of the same name', () => {
  const c = load([
    'apiVersion: v1\nkind: Node\nmetadata: {name: a}\nstatus: {addresses: [{type: InternalIP, address: 10.0.0.5}]}\n',
    'apiVersion: kubepath.dev/v1alpha1\nkind: Environment\nnodes: [{name: a, internalIPs: [10.0.0.5], externalIPs: [192.0.2.5], zone: z9, podCIDRs: [10.244.5.0/24]}]\n',
  ]);
  assert.equal(c.nodes.length, 1);
  assert.deepEqual([c.nodes[0]!.internalIPs, c.nodes[0]!.externalIPs, c.nodes[0]!.zone, c.nodes[0]!.podCIDRs], [['10.0.0.5'], ['192.0.2.5'], 'z9', ['10.244.5.0/24']]);
});
