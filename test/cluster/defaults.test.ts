/**
 * kubepath/cluster defaults: what the cluster would fill in, filled the same way and reported.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assumption, load, pod, service } from './helpers.js';

const NODE = (name: string, ip: string, cidr: string, extra = '') =>
  `apiVersion: v1\nkind: Node\nmetadata: {name: ${name}}\nspec: {podCIDR: ${cidr}${extra}}\nstatus: {addresses: [{type: InternalIP, address: ${ip}}]}\n`;

test('without an Environment: the defaults of the networks, one node, kube-proxy, each an assumption', () => {
  const c = load(service('web', '{ports: [{port: 80}]}'));
  assert.deepEqual(c.serviceCIDRs, ['10.96.0.0/12']);
  assert.deepEqual(c.podNetwork, { type: 'routed', cidrs: ['10.244.0.0/16'] });
  assert.deepEqual(c.ipFamilies, ['IPv4']);
  assert.deepEqual(c.nodes.map((n) => [n.name, n.internalIPs, n.podCIDRs]), [['node-1', ['192.168.0.2'], ['10.244.0.0/24']]]);
  const env = c.assumptions.filter((a) => a.object === 'Environment' || a.object === 'KubeProxyConfiguration' || a.object === 'Node node-1');
  assert.deepEqual(
    env.map((a) => `${a.object} ${a.field}: ${a.value}`),
    [
      "Environment serviceCIDRs: 10.96.0.0/12 (kubeadm's default --service-cluster-ip-range)",
      'Environment podNetwork.cidrs: 10.244.0.0/16 (a routed pod network, as flannel configures by default)',
      "Environment serviceNodePortRange: 30000-32767 (the API server's default --service-node-port-range)",
      'KubeProxyConfiguration clusterCIDR: 10.244.0.0/16 (the pod network, as kubeadm configures kube-proxy)',
      "KubeProxyConfiguration mode: iptables (kube-proxy's default on Linux)",
      "KubeProxyConfiguration detectLocalMode: ClusterCIDR (kube-proxy's default)",
      "KubeProxyConfiguration iptables.masqueradeAll: false (kube-proxy's default)",
      "KubeProxyConfiguration iptables.masqueradeBit: 14 (kube-proxy's default)",
      "KubeProxyConfiguration iptables.localhostNodePorts: true (kube-proxy's default)",
      'Environment nodes: node-1 (no Node objects or Environment nodes were given: one node)',
      'Node node-1 status.addresses: InternalIP 192.168.0.2 (first free after the gateway in the node network 192.168.0.0/24, a default)',
      'Node node-1 spec.podCIDRs: 10.244.0.0/24 (next free /24 of the pod network, as the node IPAM controller allocates)',
      "Environment dns.clusterDomain: cluster.local (kubelet's --cluster-domain as kubeadm sets it)",
      "Environment dns.clusterDNS: 10.96.0.10 (kubelet's --cluster-dns: the tenth address of the service CIDR, where kubeadm puts kube-system/kube-dns)",
      "Environment dns.node.nameservers: 192.168.0.1 (the node network's gateway as the nodes' resolver)",
      "Environment dns.pods: insecure (kubeadm's Corefile)",
    ],
  );
  assert.deepEqual(c.nodes[0]!.kubeProxy, {
    clusterCIDR: '10.244.0.0/16',
    mode: 'iptables',
    detectLocalMode: 'ClusterCIDR',
    iptables: { masqueradeAll: false, masqueradeBit: 14, localhostNodePorts: true },
  });
});

test('an IPv6 Environment gets IPv6 defaults for the networks it does not give', () => {
  const c = load('apiVersion: kubepath.dev/v1alpha1\nkind: Environment\nserviceCIDRs: ["fd00:10:96::/112"]\n');
  assert.deepEqual(c.podNetwork.cidrs, ['fd00:10:244::/56']);
  assert.deepEqual(c.nodes.map((n) => [n.internalIPs, n.podCIDRs]), [[['fd00:192:168::2'], ['fd00:10:244::/64']]]);
});

test('namespaced objects without a namespace are in default', () => {
  const c = load(service('web', '{ports: [{port: 80}]}'));
  assert.equal(c.services[0]!.metadata.namespace, 'default');
  assert.equal(assumption(c, 'Service default/web', 'metadata.namespace'), 'default');
});

test("Service defaults are the API server's: type, protocol, targetPort, affinity, traffic policies", () => {
  const c = load([
    service('plain', '{ports: [{port: 80}, {name: b, port: 81, targetPort: 0}]}'.replace('{port: 80}', '{name: a, port: 80}')),
    service('sticky', '{sessionAffinity: ClientIP, ports: [{port: 80}]}'),
    service('np', '{type: NodePort, ports: [{port: 80}]}'),
    service('ext', '{externalIPs: [192.0.2.1], ports: [{port: 80}]}'),
    service('lb', '{type: LoadBalancer, ports: [{port: 80}]}\nstatus: {loadBalancer: {ingress: [{ip: 198.51.100.1}]}}'),
    service('name', '{type: ExternalName, externalName: db.example.com}'),
  ]);
  const [plain, sticky, np, ext, lb, name] = c.services.map((s) => s.spec);
  assert.deepEqual(plain!.ports, [
    { name: 'a', port: 80, protocol: 'TCP', targetPort: 80 },
    { name: 'b', port: 81, protocol: 'TCP', targetPort: 81 },
  ]);
  assert.equal(plain!.type, 'ClusterIP');
  assert.equal(plain!.sessionAffinity, 'None');
  assert.equal(plain!.externalTrafficPolicy, undefined);
  assert.equal(plain!.internalTrafficPolicy, 'Cluster');
  assert.deepEqual(sticky!.sessionAffinityConfig, { clientIP: { timeoutSeconds: 10800 } });
  assert.equal(np!.externalTrafficPolicy, 'Cluster');
  assert.equal(ext!.externalTrafficPolicy, 'Cluster');
  assert.equal(lb!.externalTrafficPolicy, 'Cluster');
  assert.equal(lb!.allocateLoadBalancerNodePorts, true);
  assert.equal(c.services[4]!.status?.loadBalancer?.ingress?.[0]?.ipMode, 'VIP');
  assert.equal(name!.internalTrafficPolicy, undefined);
  assert.equal(name!.clusterIP, undefined);
  const s = (n: string) => `Service default/${n}`;
  assert.equal(assumption(c, s('plain'), 'spec.type'), 'ClusterIP');
  assert.equal(assumption(c, s('plain'), 'spec.ports[0].protocol'), 'TCP');
  assert.equal(assumption(c, s('plain'), 'spec.ports[1].targetPort'), '81 (the port)');
  assert.equal(assumption(c, s('plain'), 'spec.sessionAffinity'), 'None');
  assert.equal(assumption(c, s('sticky'), 'spec.sessionAffinityConfig.clientIP.timeoutSeconds'), '10800 (3 hours)');
  assert.equal(assumption(c, s('np'), 'spec.externalTrafficPolicy'), 'Cluster');
  assert.equal(assumption(c, s('plain'), 'spec.internalTrafficPolicy'), 'Cluster');
  assert.equal(assumption(c, s('lb'), 'spec.allocateLoadBalancerNodePorts'), 'true');
  assert.equal(assumption(c, s('lb'), 'status.loadBalancer.ingress[0].ipMode'), 'VIP');
});

test('ClusterIPs: kubernetes at .1, kube-dns at .10, the rest lowest free in namespace/name order, given ones skipped', () => {
  const files = [
    service('zeta', '{ports: [{port: 80}]}'),
    service('alpha', '{clusterIP: 10.96.0.2, ports: [{port: 80}]}'),
    service('beta', '{ports: [{port: 80}]}'),
    'apiVersion: v1\nkind: Service\nmetadata: {name: kube-dns, namespace: kube-system}\nspec: {ports: [{name: dns, port: 53, protocol: UDP}]}\n',
    service('kubernetes', '{ports: [{name: https, port: 443, targetPort: 6443}]}'),
  ];
  const ips = (c: ReturnType<typeof load>) => Object.fromEntries(c.services.map((s) => [s.metadata.name, s.spec.clusterIP]));
  const c = load(files);
  assert.deepEqual(ips(c), { zeta: '10.96.0.4', alpha: '10.96.0.2', beta: '10.96.0.3', 'kube-dns': '10.96.0.10', kubernetes: '10.96.0.1' });
  assert.deepEqual(c.services[0]!.spec.clusterIPs, ['10.96.0.4']);
  assert.equal(assumption(c, 'Service default/zeta', 'spec.clusterIPs'), '10.96.0.4 (lowest free address of the service CIDR)');
  assert.equal(assumption(c, 'Service default/kubernetes', 'spec.clusterIPs'), '10.96.0.1 (the address the cluster gives this Service)');
  assert.equal(assumption(c, 'Service default/alpha', 'spec.clusterIPs'), undefined);
  // The order of the files does not change what each Service gets.
  assert.deepEqual(ips(load([...files].reverse())), ips(c));
});

test('IP families: inferred from the ClusterIPs, SingleStack by default, dual-stack as asked', () => {
  const env = 'apiVersion: kubepath.dev/v1alpha1\nkind: Environment\nserviceCIDRs: [10.96.0.0/16, "fd00:96::/112"]\n';
  const c = load([
    env,
    service('v6', '{clusterIP: "fd00:96::20", ports: [{port: 80}]}'),
    service('prefer', '{ipFamilyPolicy: PreferDualStack, ports: [{port: 80}]}'),
    service('require6', '{ipFamilyPolicy: RequireDualStack, ipFamilies: [IPv6], ports: [{port: 80}]}'),
    service('single', '{ports: [{port: 80}]}'),
    service('two', '{ipFamilies: [IPv4, IPv6], ports: [{port: 80}]}'),
  ]);
  const spec = (n: string) => c.services.find((s) => s.metadata.name === n)!.spec;
  assert.deepEqual([spec('v6').ipFamilies, spec('v6').ipFamilyPolicy, spec('v6').clusterIPs], [['IPv6'], 'SingleStack', ['fd00:96::20']]);
  assert.deepEqual([spec('prefer').ipFamilies, spec('prefer').clusterIPs], [['IPv4', 'IPv6'], ['10.96.0.2', 'fd00:96::2']]);
  assert.deepEqual([spec('require6').ipFamilies, spec('require6').clusterIPs], [['IPv6', 'IPv4'], ['fd00:96::3', '10.96.0.3']]);
  assert.deepEqual([spec('single').ipFamilies, spec('single').ipFamilyPolicy], [['IPv4'], 'SingleStack']);
  assert.deepEqual([spec('two').ipFamilyPolicy, spec('two').ipFamilies], ['RequireDualStack', ['IPv4', 'IPv6']]);
  assert.equal(assumption(c, 'Service default/prefer', 'spec.ipFamilies'), 'IPv4, IPv6');
  assert.equal(assumption(c, 'Service default/single', 'spec.ipFamilyPolicy'), 'SingleStack');

  // PreferDualStack on a single-stack cluster is single-stack.
  const one = load(service('prefer', '{ipFamilyPolicy: PreferDualStack, ports: [{port: 80}]}'));
  assert.deepEqual(one.services[0]!.spec.ipFamilies, ['IPv4']);
});

test('headless: no ClusterIP; without a selector it is dual-stack by default, even on a single-stack cluster', () => {
  const c = load([service('sel', '{clusterIP: None, selector: {app: a}, ports: [{port: 80}]}'), service('bare', '{clusterIP: None}')]);
  const [sel, bare] = c.services.map((s) => s.spec);
  assert.deepEqual([sel!.clusterIP, sel!.clusterIPs, sel!.ipFamilies, sel!.ipFamilyPolicy], ['None', ['None'], ['IPv4'], 'SingleStack']);
  assert.deepEqual([bare!.clusterIPs, bare!.ipFamilies, bare!.ipFamilyPolicy], [['None'], ['IPv4', 'IPv6'], 'RequireDualStack']);
});

test('NodePorts: lowest free, given ones skipped, one number shared by TCP and UDP; none when allocateLoadBalancerNodePorts is false', () => {
  const c = load([
    service('a', '{type: NodePort, ports: [{name: x, port: 80, nodePort: 30000}, {name: y, port: 81}]}'),
    service('b', '{type: NodePort, ports: [{name: tcp, port: 53}, {name: udp, port: 53, protocol: UDP}]}'),
    service('c', '{type: LoadBalancer, allocateLoadBalancerNodePorts: false, ports: [{port: 80}]}'),
    service('d', '{type: LoadBalancer, ports: [{port: 80, nodePort: 30002}]}'),
  ]);
  const ports = c.services.map((s) => s.spec.ports!.map((p) => p.nodePort));
  assert.deepEqual(ports, [[30000, 30001], [30003, 30003], [undefined], [30002]]);
  assert.equal(assumption(c, 'Service default/a', 'spec.ports[1].nodePort'), '30001 (lowest free in 30000-32767)');
  assert.equal(assumption(c, 'Service default/b', 'spec.ports[1].nodePort'), '30003 (shared with the TCP port of the same number)');
});

test('healthCheckNodePort: for a LoadBalancer with externalTrafficPolicy Local, not for Cluster nor for NodePort', () => {
  const c = load([
    'apiVersion: kubepath.dev/v1alpha1\nkind: Environment\nserviceNodePortRange: 31000-31010\n',
    service('local', '{type: LoadBalancer, externalTrafficPolicy: Local, ports: [{port: 80}]}'),
    service('np', '{type: NodePort, externalTrafficPolicy: Local, ports: [{port: 80}]}'),
    service('cluster', '{type: LoadBalancer, ports: [{port: 80}]}'),
  ]);
  const hc = Object.fromEntries(c.services.map((s) => [s.metadata.name, [s.spec.ports![0]!.nodePort, s.spec.healthCheckNodePort]]));
  assert.deepEqual(hc, { local: [31001, 31002], np: [31003, undefined], cluster: [31000, undefined] });
  assert.equal(assumption(c, 'Service default/local', 'spec.healthCheckNodePort'), '31002 (lowest free in 31000-31010; LoadBalancer with externalTrafficPolicy Local)');
});

test('pods: nodeName round-robin over schedulable nodes, IPs from the node podCIDR after given ones, hostNetwork uses the node IP', () => {
  const c = load([
    NODE('n1', '10.0.0.1', '10.244.1.0/24'),
    NODE('n2', '10.0.0.2', '10.244.2.0/24', ', unschedulable: true'),
    NODE('n3', '10.0.0.3', '10.244.3.0/24'),
    pod('p1', '{app: a}'),
    pod('p2', '{app: a}'),
    pod('p3', '{app: a}', 'spec: {nodeName: n1, containers: []}\nstatus: {podIP: 10.244.1.2}\n'),
    pod('p4', '{app: a}'),
    pod('host', '{app: h}', 'spec: {hostNetwork: true, containers: []}\n'),
  ]);
  assert.deepEqual(
    c.pods.map((p) => [p.metadata.name, p.spec.nodeName, p.status?.podIP, p.status?.hostIP]),
    [
      ['p1', 'n1', '10.244.1.3', '10.0.0.1'],
      ['p2', 'n3', '10.244.3.2', '10.0.0.3'],
      ['p3', 'n1', '10.244.1.2', '10.0.0.1'],
      ['p4', 'n1', '10.244.1.4', '10.0.0.1'],
      ['host', 'n3', '10.0.0.3', '10.0.0.3'],
    ],
  );
  assert.equal(assumption(c, 'Pod default/p2', 'spec.nodeName'), 'n3 (round-robin over the schedulable nodes)');
  assert.equal(assumption(c, 'Pod default/p1', 'status.podIPs'), "10.244.1.3 (first free in node n1's podCIDR 10.244.1.0/24 after the gateway)");
  assert.equal(assumption(c, 'Pod default/host', 'status.podIPs'), "10.0.0.3 (hostNetwork: node n3's InternalIPs)");
  assert.equal(assumption(c, 'Pod default/p3', 'status.podIPs'), undefined);
});

test('pods without status are Running and Ready; given conditions are kept', () => {
  const c = load([pod('a', '{x: y}'), pod('b', '{x: y}', 'status: {phase: Pending, conditions: [{type: Ready, status: "False"}]}\n')]);
  assert.deepEqual(c.pods.map((p) => [p.status?.phase, p.status?.conditions]), [
    ['Running', [{ type: 'Ready', status: 'True' }]],
    ['Pending', [{ type: 'Ready', status: 'False' }]],
  ]);
  assert.equal(assumption(c, 'Pod default/a', 'status.conditions'), 'Ready=True (no conditions given: the pod is taken as ready)');
  assert.equal(assumption(c, 'Pod default/a', 'status.phase'), 'Running');
  assert.equal(assumption(c, 'Pod default/b', 'status.conditions'), undefined);
});

test('node podCIDRs and InternalIPs are allocated around the given ones', () => {
  const c = load([
    NODE('given', '192.168.0.2', '10.244.0.0/24'),
    'apiVersion: kubepath.dev/v1alpha1\nkind: Environment\nnodes: [{name: a}, {name: b, podCIDRs: [10.244.1.0/24]}, {name: c}]\n',
  ]);
  assert.deepEqual(
    c.nodes.map((n) => [n.name, n.internalIPs, n.podCIDRs]),
    [
      ['given', ['192.168.0.2'], ['10.244.0.0/24']],
      ['a', ['192.168.0.3'], ['10.244.2.0/24']],
      ['b', ['192.168.0.4'], ['10.244.1.0/24']],
      ['c', ['192.168.0.5'], ['10.244.3.0/24']],
    ],
  );
});
