/**
 * kubeproxy/ beyond kube-proxy's own scenarios: a Cluster compiled per node (settings from the
 * KubeProxyConfiguration and the Node), the loadable ruleset parsed back by our netfilter
 * engine, Go's number and address formats, and the health check answers (model and a real
 * HTTP server on loopback).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Cluster, ClusterNode } from '../../src/cluster/model.js';
import type { EndpointSlice, KubeProxyConfiguration, Service } from '../../src/cluster/objects.js';
import { compileNodeRules, healthCheckResponse, masqueradeMarkOf, nodeFamilies, probabilityText, UnknownNodeError } from '../../src/kubeproxy/index.js';
import { startHealthChecks } from '../../src/lab/healthcheck-server.js';
import { parseCIDRSloppy, parseIPSloppy, formatIP, parseIP } from '../../src/net/index.js';
import { buildHost, parseRuleset, tracePacket } from '../../src/netfilter/index.js';

function node(name: string, ip: string, kubeProxy: KubeProxyConfiguration = {}, zone = 'a'): ClusterNode {
  return {
    name,
    internalIPs: [ip],
    externalIPs: [],
    podCIDRs: [`10.244.${ip.split('.')[3]}.0/24`],
    zone,
    labels: { 'topology.kubernetes.io/zone': zone },
    kubeProxy,
    object: { metadata: { name } },
  };
}

const web: Service = {
  metadata: { name: 'web', namespace: 'shop' },
  spec: {
    type: 'LoadBalancer',
    clusterIP: '10.96.0.10',
    externalTrafficPolicy: 'Local',
    healthCheckNodePort: 32000,
    ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080, nodePort: 30080 }],
  },
  status: { loadBalancer: { ingress: [{ ip: '203.0.113.50' }] } },
};

const webSlice: EndpointSlice = {
  metadata: { name: 'web-1', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
  addressType: 'IPv4',
  endpoints: [
    { addresses: ['10.244.2.5'], conditions: { ready: true }, nodeName: 'node-2' },
    { addresses: ['10.244.3.7'], conditions: { ready: true }, nodeName: 'node-3' },
    { addresses: ['10.244.3.8'], conditions: { ready: false, serving: true, terminating: true }, nodeName: 'node-3' },
  ],
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
};

function cluster(kubeProxy: KubeProxyConfiguration = {}): Cluster {
  return {
    namespaces: [],
    nodes: [node('node-1', '192.168.0.11', kubeProxy), node('node-2', '192.168.0.12', kubeProxy), node('node-3', '192.168.0.13', kubeProxy)],
    pods: [],
    services: [web],
    endpointSlices: [webSlice],
    ingresses: [],
    ingressClasses: [],
    configMaps: [],
    serviceCIDRs: ['10.96.0.0/12'],
    podNetwork: { type: 'routed', cidrs: ['10.244.0.0/16'] },
    ipFamilies: ['IPv4'],
    externalClients: [],
    assumptions: [],
    ignored: [],
  };
}

test('a node compiles with its own endpoints: Local policy keeps node-2 on its own pod only', () => {
  const rules = compileNodeRules(cluster(), 'node-2', 'IPv4');
  const text = rules.sync.restore;
  assert.match(text, /-A KUBE-SVC-\S+ .*! -s 10\.244\.0\.0\/16 -j KUBE-MARK-MASQ/, 'ClusterCIDR detector from the pod network');
  assert.match(text, /-A KUBE-SVL-\S+ -m comment --comment "shop\/web:http -> 10\.244\.2\.5:8080" -j KUBE-SEP-/);
  assert.doesNotMatch(text, /KUBE-SVL-\S+ .*10\.244\.3\.7/, 'remote endpoint not in the Local chain');
  assert.match(text, /-A KUBE-POSTROUTING .* -j MASQUERADE --random-fully/);
  assert.match(text, /-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000/);
  assert.deepEqual(rules.healthChecks, [{ namespace: 'shop', name: 'web', port: 32000, localEndpoints: 1 }]);
  // node-1 has no local endpoint: the external IPs DROP, the health check says 503.
  const n1 = compileNodeRules(cluster(), 'node-1', 'IPv4');
  assert.match(n1.sync.restore, /-A KUBE-EXTERNAL-SERVICES -m comment --comment "shop\/web:http has no local endpoints" -m tcp -p tcp -d 203\.0\.113\.50 --dport 80 -j DROP/);
  assert.equal(n1.healthChecks[0]!.localEndpoints, 0);
  // node-3: the terminating pod does not count for health checks.
  assert.equal(compileNodeRules(cluster(), 'node-3', 'IPv4').healthChecks[0]!.localEndpoints, 1);
});

test('KubeProxyConfiguration settings reach the rules', () => {
  const nodeCIDR = compileNodeRules(cluster({ detectLocalMode: 'NodeCIDR' }), 'node-2', 'IPv4').sync.restore;
  assert.match(nodeCIDR, /! -s 10\.244\.12\.0\/24 -j KUBE-MARK-MASQ/);
  const bridge = compileNodeRules(cluster({ detectLocalMode: 'BridgeInterface', detectLocal: { bridgeInterface: 'cbr0' } }), 'node-2', 'IPv4').sync.restore;
  assert.match(bridge, /! -i cbr0 -j KUBE-MARK-MASQ/);
  assert.match(bridge, /"pod traffic for shop\/web:http external destinations" -i cbr0 -j KUBE-SVC-/);
  const prefix = compileNodeRules(cluster({ detectLocalMode: 'InterfaceNamePrefix', detectLocal: { interfaceNamePrefix: 'veth' } }), 'node-2', 'IPv4').sync.restore;
  assert.match(prefix, /! -i veth\+ -j KUBE-MARK-MASQ/);
  const all = compileNodeRules(cluster({ iptables: { masqueradeAll: true, masqueradeBit: 15 } }), 'node-2', 'IPv4').sync.restore;
  assert.match(all, /--dport 80 -j KUBE-MARK-MASQ/);
  assert.match(all, /--or-mark 0x00008000/);
  // nodePortAddresses without loopback turns localhost NodePorts off and lists node IPs.
  const primary = compileNodeRules(cluster({ nodePortAddresses: ['primary'] }), 'node-2', 'IPv4');
  assert.equal(primary.config.localhostNodePorts, false);
  assert.match(primary.sync.restore, /NOTE: this must be the last rule in this chain" -d 192\.168\.0\.12 -j KUBE-NODEPORTS/);
  assert.doesNotMatch(primary.sync.restore, /KUBE-FIREWALL/);
  const liberal = compileNodeRules(cluster({ conntrack: { tcpBeLiberal: true } }), 'node-2', 'IPv4').sync.restore;
  assert.doesNotMatch(liberal, /--ctstate INVALID/);
});

test('an unknown node names the known ones', () => {
  assert.throws(() => compileNodeRules(cluster(), 'node-9', 'IPv4'), (e: unknown) => e instanceof UnknownNodeError && /nodes: node-1, node-2, node-3/.test(e.message));
  assert.deepEqual(nodeFamilies(cluster(), 'node-1'), ['IPv4']);
});

test('the loadable ruleset parses and traces: external client to the LB IP on node-2 reaches the local pod unmasqueraded', () => {
  const rules = compileNodeRules(cluster(), 'node-2', 'IPv4');
  const ruleset = parseRuleset(rules.loadable, { file: 'node-2.rules', family: 4 });
  const host = buildHost({
    interfaces: [
      { name: 'eth0', addresses: ['192.168.0.12/24'] },
      { name: 'cni0', addresses: ['10.244.2.1/24'] },
    ],
    routes: ['default via 192.168.0.1 dev eth0'],
  });
  const trace = tracePacket(ruleset, host, {
    packet: { family: 4, protocol: 6, source: parseIP('198.51.100.7'), destination: parseIP('203.0.113.50'), sourcePort: 40000, destinationPort: 80, tcpFlags: undefined, icmpType: undefined, icmpCode: undefined, length: undefined },
    entry: { kind: 'incoming', interface: 'eth0' },
  });
  assert.equal(trace.outcomes.length, 1);
  const o = trace.outcomes[0]!;
  assert.equal(o.disposition, 'forward');
  assert.ok(!o.nat.some((n) => n.kind === 'MASQUERADE'), 'Local policy keeps the client address');
  assert.ok(o.nat.some((n) => n.kind === 'DNAT' && n.after.includes('10.244.2.5:8080')));
  // The built-in chains carry kube-proxy's jumps, last ensured first.
  assert.match(rules.loadable, /:INPUT ACCEPT \[0:0\]\n:FORWARD ACCEPT \[0:0\]\n:OUTPUT ACCEPT \[0:0\]/);
  assert.match(rules.loadable, /-A INPUT -j KUBE-FIREWALL\n-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL\n-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS\n/);
  assert.match(rules.loadable, /-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES/);
});

test('Go formats: %0.10f rounds half to even; sloppy addresses read leading zeros as decimal', () => {
  assert.equal(probabilityText(3), '0.3333333333');
  assert.equal(probabilityText(7), '0.1428571429');
  assert.equal(probabilityText(2048), '0.0004882812'); // exact tie: Go keeps the even digit, toFixed would round up
  assert.equal(probabilityText(1), '1.0000000000');
  assert.equal(masqueradeMarkOf(14), '0x00004000');
  assert.equal(formatIP(parseIPSloppy('172.30.0.041')!), '172.30.0.41');
  assert.equal(formatIP(parseIPSloppy('010.0.0.1')!), '10.0.0.1');
  assert.equal(parseIPSloppy('256.0.0.1'), undefined);
  const net = parseCIDRSloppy('203.0.113.000/025')!;
  assert.equal(`${formatIP(net.network)}/${net.prefixLength}`, '203.0.113.0/25');
});

test('health check answers as kube-proxy does, and a real server says so over HTTP', async () => {
  const ok = healthCheckResponse({ namespace: 'shop', name: 'web', port: 32000, localEndpoints: 2 });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['X-Load-Balancing-Endpoint-Weight'], '2');
  assert.equal(ok.body, '{\n\t"service": {\n\t\t"namespace": "shop",\n\t\t"name": "web"\n\t},\n\t"localEndpoints": 2,\n\t"serviceProxyHealthy": true\n}');
  assert.equal(healthCheckResponse({ namespace: 'shop', name: 'web', port: 32000, localEndpoints: 0 }).status, 503);
  const running = await startHealthChecks(compileNodeRules(cluster(), 'node-1', 'IPv4').healthChecks, { host: '127.0.0.1', portOverride: () => 0 });
  try {
    const port = running.ports.get('shop/web')!;
    const first = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(first.status, 503);
    assert.equal(first.headers.get('x-load-balancing-endpoint-weight'), '0');
    assert.match(await first.text(), /"localEndpoints": 0/);
    running.update([{ namespace: 'shop', name: 'web', port: 32000, localEndpoints: 1 }]);
    const second = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(second.status, 200);
    assert.equal(second.headers.get('content-type'), 'application/json');
  } finally {
    await running.close();
  }
});
