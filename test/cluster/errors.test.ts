/**
 * kubepath/cluster errors: every problem of a load named by file, document and field path, all of
 * them together, nothing half-loaded.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClusterLoadError, loadCluster } from '../../src/cluster/index.js';
import { errorsOf, load, pod, service } from './helpers.js';

test('YAML syntax errors name the document, line and column; other documents are still checked', () => {
  const text = `${service('ok', '{ports: [{port: 80}]}')}---\nkind: Service\nmetadata: {name: x\nspec: {}\n---\n${service('bad', '{ports: [{port: 0}]}')}`;
  assert.deepEqual(errorsOf(text), [
    'test.yaml#2: line 8, column 1: YAML syntax error: Flow map in block collection must be sufficiently indented and end with a }',
    'test.yaml#3 spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
  ]);
});

test('apiVersion, kind and metadata.name are required', () => {
  assert.deepEqual(errorsOf(['kind: Service\nmetadata: {name: a}\n', 'apiVersion: v1\nmetadata: {name: a}\n', 'apiVersion: v1\nkind: Service\nspec: {}\n', 'apiVersion: v1\nkind: Pod\nmetadata: {labels: {a: b}}\n', '- a\n- b\n']), [
    'f1.yaml#1 apiVersion: Required value',
    'f2.yaml#1 kind: Required value',
    'f3.yaml#1 metadata: Required value',
    'f4.yaml#1 metadata.name: Required value',
    'f5.yaml#1: Invalid value: ["a","b"]: must be an object',
  ]);
});

test("names Kubernetes would refuse, and an API version of a modelled group it does not serve", () => {
  assert.deepEqual(errorsOf([service('Web_1', '{ports: [{port: 80}]}'), 'apiVersion: apps/v1beta1\nkind: Deployment\nmetadata: {name: web}\n']), [
    "f1.yaml#1 metadata.name: Invalid value: \"Web_1\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
    'f2.yaml#1 apiVersion: Unsupported value: "apps/v1beta1": supported values: "apps/v1"',
  ]);
});

test('duplicate objects: same kind, namespace and name', () => {
  const errors = errorsOf([
    service('web', '{ports: [{port: 80}]}'),
    `${service('web', '{ports: [{port: 80}]}')}---\n${service('web', '{ports: [{port: 80}]}').replace('{name: web}', '{name: web, namespace: other}')}`,
    pod('web', '{a: b}'),
  ]);
  assert.deepEqual(errors, ['f2.yaml#1 metadata.name: Duplicate value: "web": Service default/web is also defined in f1.yaml#1']);
});

test('one Environment and one kube-proxy configuration per load', () => {
  const kp = 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\n';
  const cm = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kube-proxy, namespace: kube-system}\ndata: {config.conf: "kind: KubeProxyConfiguration"}\n';
  const env = 'apiVersion: kubepath.dev/v1alpha1\nkind: Environment\n';
  assert.deepEqual(errorsOf([kp, cm, env, env]), [
    'f2.yaml#1 kind: Duplicate value: "ConfigMap": only one kube-proxy configuration may be given (also in f1.yaml#1)',
    'f4.yaml#1 kind: Duplicate value: "Environment": only one Environment may be given (also in f3.yaml#1)',
  ]);
});

test('wrong types are errors, not values', () => {
  assert.deepEqual(errorsOf(service('web', '{ports: [{port: "80"}], publishNotReadyAddresses: "yes", selector: [app]}')), [
    'test.yaml#1 spec.selector: Invalid value: ["app"]: must be an object',
    'test.yaml#1 spec.ports[0].port: Invalid value: "80": must be an integer',
    'test.yaml#1 spec.publishNotReadyAddresses: Invalid value: "yes": must be a boolean (true or false)',
  ]);
});

test('invalid IPs and CIDRs, strictly: leading zeros, host bits, wrong family', () => {
  const errors = errorsOf([
    service('web', '{clusterIP: 10.96.0.012, externalIPs: [192.0.2.300], ports: [{port: 80}]}'),
    'apiVersion: v1\nkind: Node\nmetadata: {name: n}\nspec: {podCIDR: 10.244.1.1/24}\nstatus: {addresses: [{type: InternalIP, address: 010.0.0.1}]}\n',
    'apiVersion: kubepath.dev/v1alpha1\nkind: Environment\nserviceCIDRs: [10.96.0.0]\n',
    'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s, labels: {kubernetes.io/service-name: web}}\naddressType: IPv6\nendpoints: [{addresses: [10.0.0.1]}]\n',
  ]);
  assert.deepEqual(errors, [
    'f1.yaml#1 spec.clusterIP: Invalid value: "10.96.0.012": must not have leading zeros (they are octal to some parsers)',
    'f1.yaml#1 spec.externalIPs[0]: Invalid value: "192.0.2.300": must be a valid IP address (e.g. 10.9.8.7 or 2001:db8::ffff)',
    'f2.yaml#1 spec.podCIDR: Invalid value: "10.244.1.1/24": must have no bits set beyond the prefix length (the network is 10.244.1.0/24)',
    'f2.yaml#1 status.addresses[0].address: Invalid value: "010.0.0.1": must not have leading zeros (they are octal to some parsers)',
    'f3.yaml#1 serviceCIDRs[0]: Invalid value: "10.96.0.0": must be a valid CIDR value (e.g. 10.9.8.0/24 or 2001:db8::/64)',
    'f4.yaml#1 endpoints[0].addresses[0]: Invalid value: "10.0.0.1": must be an IPv6 address (addressType is IPv6)',
  ]);
});

test('ports out of range', () => {
  const errors = errorsOf([
    service('web', '{ports: [{port: 70000, targetPort: 0}, {name: b, port: 80, targetPort: 65536}]}'),
    pod('p', '{a: b}', 'spec: {containers: [{name: c, ports: [{containerPort: 0}]}]}\n'),
  ]);
  assert.deepEqual(errors, [
    'f1.yaml#1 spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive',
    'f1.yaml#1 spec.ports[1].targetPort: Invalid value: 65536: must be between 0 and 65535, inclusive',
    'f2.yaml#1 spec.containers[0].ports[0].containerPort: Invalid value: 0: must be between 1 and 65535, inclusive',
  ]);
});

test('ServicePort names: required when there are several, unique, and no port/protocol twice', () => {
  assert.deepEqual(errorsOf(service('web', '{ports: [{name: http, port: 80}, {name: http, port: 81}, {port: 80}]}')), [
    'test.yaml#1 spec.ports[1].name: Duplicate value: "http"',
    'test.yaml#1 spec.ports[2].name: Required value',
    'test.yaml#1 spec.ports[2]: Duplicate value: {"port":80,"protocol":"TCP"}',
  ]);
});

test('unknown enum values: type, protocol, traffic policies, affinity, ipFamilies', () => {
  const errors = errorsOf(service('web', '{type: Nodeport, externalTrafficPolicy: Global, internalTrafficPolicy: local, sessionAffinity: Sticky, ipFamilies: [IPv5], ports: [{port: 80, protocol: tcp}]}'));
  assert.deepEqual(errors, [
    'test.yaml#1 spec.type: Unsupported value: "Nodeport": supported values: "ClusterIP", "NodePort", "LoadBalancer", "ExternalName"',
    'test.yaml#1 spec.ports[0].protocol: Unsupported value: "tcp": supported values: "TCP", "UDP", "SCTP"',
    'test.yaml#1 spec.ipFamilies[0]: Unsupported value: "IPv5": supported values: "IPv4", "IPv6"',
    'test.yaml#1 spec.externalTrafficPolicy: Unsupported value: "Global": supported values: "Cluster", "Local"',
    'test.yaml#1 spec.internalTrafficPolicy: Unsupported value: "local": supported values: "Cluster", "Local"',
    'test.yaml#1 spec.sessionAffinity: Unsupported value: "Sticky": supported values: "None", "ClientIP"',
  ]);
});

test('a ClusterIP outside the service CIDR, or already allocated', () => {
  assert.deepEqual(errorsOf([service('a', '{clusterIP: 10.0.0.5, ports: [{port: 80}]}'), service('b', '{clusterIP: 10.96.0.7, ports: [{port: 80}]}'), service('c', '{clusterIP: 10.96.0.7, ports: [{port: 80}]}')]), [
    "f1.yaml#1 spec.clusterIP: Invalid value: \"10.0.0.5\": provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12 (kubepath's default: give the cluster's serviceCIDRs in an Environment)",
    'f3.yaml#1 spec.clusterIP: Invalid value: "10.96.0.7": provided IP is already allocated (by Service default/b)',
  ]);
  const env = 'apiVersion: kubepath.dev/v1alpha1\nkind: Environment\nserviceCIDRs: [10.43.0.0/16]\n';
  assert.deepEqual(errorsOf([env, service('a', '{clusterIPs: ["10.96.0.5"], ports: [{port: 80}]}')]), [
    'f2.yaml#1 spec.clusterIPs[0]: Invalid value: "10.96.0.5": provided IP is not in the valid range. The range of valid IPs is 10.43.0.0/16',
  ]);
});

test('dual-stack asked of a single-stack cluster, families that disagree with the IPs', () => {
  assert.deepEqual(errorsOf([service('a', '{ipFamilyPolicy: RequireDualStack, ports: [{port: 80}]}'), service('b', '{clusterIP: 10.96.0.9, ipFamilies: [IPv6], ports: [{port: 80}]}')]), [
    'f1.yaml#1 spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services',
    'f2.yaml#1 spec.clusterIP: Invalid value: "10.96.0.9": expected an IPv6 value as indicated by `ipFamilies[0]`',
    'f2.yaml#1 spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster',
  ]);
});

test('NodePorts outside the range or used twice; a nodePort on a ClusterIP Service', () => {
  assert.deepEqual(
    errorsOf([
      service('a', '{type: NodePort, ports: [{port: 80, nodePort: 8080}]}'),
      service('b', '{type: NodePort, ports: [{port: 80, nodePort: 30080}]}'),
      service('c', '{type: LoadBalancer, ports: [{port: 80, nodePort: 30080}]}'),
      service('d', '{ports: [{port: 80, nodePort: 30081}]}'),
      service('e', '{type: NodePort, ports: [{name: a, port: 80, nodePort: 30090}, {name: b, port: 81, nodePort: 30090}]}'),
    ]),
    [
      'f1.yaml#1 spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767',
      'f3.yaml#1 spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated (by Service default/b)',
      "f4.yaml#1 spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
      'f5.yaml#1 spec.ports[1].nodePort: Duplicate value: 30090',
    ],
  );
});

test('ExternalName with a clusterIP; headless is valid but not for NodePort; type-dependent fields', () => {
  assert.deepEqual(
    errorsOf([
      service('a', '{type: ExternalName, externalName: db.example.com, clusterIP: 10.96.0.5}'),
      service('b', '{type: ExternalName}'),
      service('c', '{type: NodePort, clusterIP: None, ports: [{port: 80}]}'),
      service('d', '{externalTrafficPolicy: Local, healthCheckNodePort: 30100, loadBalancerSourceRanges: [10.0.0.0/8], ports: [{port: 80}]}'),
      service('e', '{selector: {app: e}}'),
    ]),
    [
      'f1.yaml#1 spec.clusterIP: Forbidden: may not be set for ExternalName services',
      'f2.yaml#1 spec.externalName: Required value',
      "f3.yaml#1 spec.clusterIP: Invalid value: \"None\": may not be set to 'None' for NodePort services",
      'f4.yaml#1 spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services',
      "f4.yaml#1 spec.healthCheckNodePort: Invalid value: 30100: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
      "f4.yaml#1 spec.loadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'",
      'f5.yaml#1 spec.ports: Required value',
    ],
  );
  const ok = load(service('h', '{clusterIP: None, selector: {app: h}}'));
  assert.equal(ok.services[0]!.spec.clusterIP, 'None');
});

test('an EndpointSlice without its kubernetes.io/service-name label', () => {
  assert.deepEqual(errorsOf('apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s}\naddressType: IPv4\nendpoints: [{addresses: [10.0.0.1]}]\n'), [
    'test.yaml#1 metadata.labels[kubernetes.io/service-name]: Required value: kube-proxy reads only EndpointSlices that name their Service',
  ]);
});

test('a pod on a node that does not exist; two pods with one IP', () => {
  assert.deepEqual(
    errorsOf([
      'apiVersion: kubepath.dev/v1alpha1\nkind: Environment\nnodes: [{name: a}, {name: b}]\n',
      pod('p', '{x: y}', 'spec: {nodeName: c, containers: []}\n'),
      pod('q', '{x: y}', 'status: {podIP: 10.244.0.9}\n'),
      pod('r', '{x: y}', 'status: {podIP: 10.244.0.9}\n'),
      pod('s', '{x: y}', 'status: {podIP: 10.244.0.9, phase: Succeeded}\n'),
    ]),
    [
      'f2.yaml#1 spec.nodeName: Not found: "c": the nodes are a, b',
      'f4.yaml#1 status.podIPs[0].ip: Duplicate value: "10.244.0.9": also the IP of Pod default/q (f3.yaml#1)',
    ],
  );
});

test('a named targetPort not found on any selected pod', () => {
  assert.deepEqual(errorsOf(['apiVersion: v1\nkind: List\nitems: []\n', `${service('x', '{ports: [{port: 80}]}')}---\n${service('web', '{selector: {app: web}, ports: [{port: 80, targetPort: http}]}')}`, pod('w', '{app: web}', 'spec: {containers: [{name: c, ports: [{name: web, containerPort: 80}]}]}\n')]), [
    'f2.yaml#2 spec.ports[0].targetPort: named port "http" not found on any selected pod',
  ]);
});

test('the Environment: contradicting a Node, duplicate nodes, families that differ, a bad NodePort range', () => {
  assert.deepEqual(
    errorsOf([
      'apiVersion: v1\nkind: Node\nmetadata: {name: a}\nstatus: {addresses: [{type: InternalIP, address: 10.0.0.1}]}\n',
      `apiVersion: kubepath.dev/v1alpha1
kind: Environment
serviceCIDRs: [10.96.0.0/12]
podNetwork: {cidrs: ["fd00::/56"]}
serviceNodePortRange: 32767-30000
nodes: [{name: a, internalIPs: [10.0.0.2]}, {name: a}]
`,
    ]),
    [
      'f2.yaml#1 nodes[1].name: Duplicate value: "a"',
      "f2.yaml#1 podNetwork.cidrs: Invalid value: IPv6: the pod network must have the service CIDRs' IP families, in the same order (IPv4)",
      'f2.yaml#1 serviceNodePortRange: Invalid value: "32767-30000": must be a port range FROM-TO within 1-65535, e.g. 30000-32767',
      'f2.yaml#1 nodes[0].internalIPs: Invalid value: ["10.0.0.2"]: contradicts Node a (["10.0.0.1"])',
    ],
  );
});

test("kube-proxy's ConfigMap: its embedded document is checked too", () => {
  const cm = (conf: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kube-proxy, namespace: kube-system}\ndata:\n  config.conf: |\n${conf.replace(/^/gm, '    ')}`;
  assert.deepEqual(errorsOf(cm('kind: KubeProxyConfiguration\nmode: [iptables\n')), [
    'test.yaml#1 data[config.conf]: line 3, column 1 of the embedded document: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
  ]);
  assert.deepEqual(errorsOf(cm('kind: KubeProxyConfiguration\nmode: userspace\ndetectLocalMode: BridgeInterface\n')), [
    'test.yaml#1 data[config.conf].mode: Unsupported value: "userspace": supported values: "", "iptables", "ipvs", "nftables"',
    'test.yaml#1 data[config.conf].detectLocal.bridgeInterface: Required value: detectLocalMode BridgeInterface needs it',
  ]);
});

test('a workload whose selector does not select its own template', () => {
  assert.deepEqual(errorsOf('apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template: {metadata: {labels: {app: api}}, spec: {containers: [{name: c}]}}\n'), [
    'test.yaml#1 spec.template.metadata.labels: Invalid value: {"app":"api"}: `selector` does not match template `labels`',
  ]);
});

test('all errors of a load come together, in file order, and nothing is returned', () => {
  const files = [
    { file: 'b.yaml', text: service('b', '{ports: [{port: 0}]}') },
    { file: 'a.yaml', text: `${service('ok', '{ports: [{port: 80}]}')}---\n${service('a', '{type: Foo, ports: [{port: 80}]}')}` },
    { file: 'c.yaml', text: 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s}\naddressType: IPv4\n' },
  ];
  let caught: unknown;
  try {
    loadCluster(files);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ClusterLoadError);
  assert.equal(
    caught.message,
    [
      'cannot load the cluster: 3 errors',
      '  b.yaml#1 spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
      '  a.yaml#2 spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "NodePort", "LoadBalancer", "ExternalName"',
      '  c.yaml#1 metadata.labels[kubernetes.io/service-name]: Required value: kube-proxy reads only EndpointSlices that name their Service',
    ].join('\n'),
  );
  assert.deepEqual(caught.issues[1]!.source, { file: 'a.yaml', document: 2, path: 'spec.type' });
});

test('warnings do not stop a load: pod IP outside its node podCIDR, a slice of a Service not given', () => {
  const c = load([
    pod('p', '{x: y}', 'status: {podIP: 10.1.2.3}\n'),
    'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s, labels: {kubernetes.io/service-name: gone}}\naddressType: IPv4\nendpoints: []\n',
  ]);
  assert.deepEqual(c.warnings?.map((w) => `${w.source.file}#${w.source.document} ${w.source.path}: ${w.message}`), [
    "f1.yaml#1 status.podIPs[0].ip: 10.1.2.3 is not in node node-1's podCIDRs (10.244.0.0/24)",
    'f2.yaml#1 metadata.labels[kubernetes.io/service-name]: no Service default/gone was given; the slice is kept but nothing uses it',
  ]);
});

test('nodes: podCIDRs overlapping or two of one family; networks too small to allocate from', () => {
  assert.deepEqual(
    errorsOf([
      'apiVersion: v1\nkind: Node\nmetadata: {name: a}\nspec: {podCIDRs: [10.244.0.0/24, 10.244.9.0/24]}\nstatus: {addresses: [{type: InternalIP, address: 10.0.0.1}]}\n',
      'apiVersion: v1\nkind: Node\nmetadata: {name: b}\nspec: {podCIDR: 10.244.0.0/23}\nstatus: {addresses: [{type: InternalIP, address: 10.0.0.2}]}\n',
      'apiVersion: kubepath.dev/v1alpha1\nkind: Environment\nnodeNetwork: {cidrs: [10.0.0.0/30]}\nnodes: [{name: c}, {name: d}]\n',
    ]),
    [
      'f1.yaml#1 spec.podCIDRs[1]: Invalid value: "10.244.9.0/24": may specify no more than one CIDR for each IP family',
      'f2.yaml#1 spec.podCIDRs[0]: Duplicate value: "10.244.0.0/23": overlaps the podCIDR of Node a',
      // 10.0.0.2, the /30's one address after the gateway, is node b's.
      'f3.yaml#1 nodes[0].internalIPs: cannot allocate an InternalIP: the node network 10.0.0.0/30 is full',
      'f3.yaml#1 nodes[1].internalIPs: cannot allocate an InternalIP: the node network 10.0.0.0/30 is full',
    ],
  );
});
