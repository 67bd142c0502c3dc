/**
 * kube-proxy's rules, as kubepath compiles them for a node, in the kernel: the loadable text goes
 * through iptables-restore unchanged (every chain and rule comes back from iptables-save), and
 * real TCP and UDP packets from a client, a pod and the node itself take the paths the engine
 * predicts over the same text (endpoint chosen, masquerade or client address kept, REJECT for a
 * service without endpoints, DROP by loadBalancerSourceRanges).
 *
 * The lab's node routes between a client (10.1.0.0/24) and a server namespace whose addresses
 * play the pods (10.2.0.0/24, this node's podCIDR).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Cluster } from '../../src/cluster/model.js';
import type { EndpointSlice, Service } from '../../src/cluster/objects.js';
import { compileNodeRules } from '../../src/kubeproxy/index.js';
import { parseRuleset, type Ruleset } from '../../src/netfilter/index.js';
import { runGenerated } from './compare.js';
import type { DiffCase } from './generate.js';
import { createKernelLab, type KernelLab, kernelLabAvailable, type Probe } from './lab.js';

const availability = kernelLabAvailable();
const skip = availability.ok ? false : `kernel lab unavailable: ${availability.reason}`;

function service(name: string, spec: Service['spec'], status?: Service['status']): Service {
  return { metadata: { name, namespace: 'lab' }, spec, ...(status ? { status } : {}) };
}

function slice(svc: string, port: { name: string; port: number; protocol?: 'TCP' | 'UDP' }[], endpoints: [string, string][]): EndpointSlice {
  return {
    metadata: { name: `${svc}-1`, namespace: 'lab', labels: { 'kubernetes.io/service-name': svc } },
    addressType: 'IPv4',
    endpoints: endpoints.map(([ip, node]) => ({ addresses: [ip], conditions: { ready: true }, nodeName: node })),
    ports: port,
  };
}

/** A one-node cluster shaped to the lab: node-1 is the lab's node, pods are the server's addresses. */
export function labCluster(): Cluster {
  const services: Service[] = [
    service('web', { type: 'ClusterIP', clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] }),
    service('dns', {
      type: 'ClusterIP',
      clusterIP: '10.96.0.53',
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP' },
      ],
    }),
    service('np', { type: 'NodePort', clusterIP: '10.96.0.11', ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 9000, nodePort: 31080 }] }),
    service('local', {
      type: 'NodePort',
      clusterIP: '10.96.0.12',
      externalTrafficPolicy: 'Local',
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 9001, nodePort: 31081 }],
    }),
    service('empty', { type: 'ClusterIP', clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }),
    service(
      'lb',
      {
        type: 'LoadBalancer',
        clusterIP: '10.96.0.30',
        loadBalancerSourceRanges: ['10.1.0.2/32'],
        ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 9002, nodePort: 31082 }],
      },
      { loadBalancer: { ingress: [{ ip: '198.51.100.10' }] } },
    ),
    service('ext', { type: 'ClusterIP', clusterIP: '10.96.0.31', externalIPs: ['192.168.0.2'], ports: [{ name: 'http', port: 8081, protocol: 'TCP', targetPort: 8081 }] }),
  ];
  const slices = [
    slice('web', [{ name: 'http', port: 8080 }], [['10.2.0.2', 'node-1'], ['10.2.0.3', 'node-1']]),
    slice('dns', [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }], [['10.2.0.4', 'node-1']]),
    slice('np', [{ name: 'http', port: 9000 }], [['10.2.0.5', 'node-2']]),
    slice('local', [{ name: 'http', port: 9001 }], [['10.2.0.2', 'node-1'], ['10.2.0.3', 'node-2']]),
    slice('lb', [{ name: 'http', port: 9002 }], [['10.2.0.4', 'node-1']]),
    slice('ext', [{ name: 'http', port: 8081 }], [['10.2.0.5', 'node-1']]),
  ];
  return {
    namespaces: [],
    nodes: [
      {
        name: 'node-1',
        internalIPs: ['10.1.0.1'],
        externalIPs: [],
        podCIDRs: ['10.2.0.0/24'],
        labels: {},
        kubeProxy: {},
        object: { metadata: { name: 'node-1' } },
      },
    ],
    pods: [],
    services,
    endpointSlices: slices,
    ingresses: [],
    ingressClasses: [],
    configMaps: [],
    serviceCIDRs: ['10.96.0.0/12'],
    podNetwork: { type: 'routed', cidrs: ['10.2.0.0/16'] },
    ipFamilies: ['IPv4'],
    externalClients: [],
    assumptions: [],
    ignored: [],
  };
}

const PROBES: [string, Probe][] = [
  ['client to ClusterIP (masqueraded, one of two endpoints)', { from: 'client', proto: 'tcp', src: '10.1.0.2', dst: '10.96.0.10', dport: 80 }],
  ['pod to ClusterIP (pod source kept, or hairpin masqueraded)', { from: 'server', proto: 'tcp', src: '10.2.0.5', dst: '10.96.0.10', dport: 80 }],
  ['node to ClusterIP', { from: 'node', proto: 'tcp', src: '10.1.0.1', dst: '10.96.0.10', dport: 80 }],
  ['client to DNS over UDP', { from: 'client', proto: 'udp', src: '10.1.0.3', dst: '10.96.0.53', dport: 53 }],
  ['pod to DNS over TCP', { from: 'server', proto: 'tcp', src: '10.2.0.2', dst: '10.96.0.53', dport: 53 }],
  ['client to NodePort, Cluster policy (masqueraded)', { from: 'client', proto: 'tcp', src: '10.1.0.2', dst: '10.1.0.1', dport: 31080 }],
  ['client to NodePort, Local policy (client address kept)', { from: 'client', proto: 'tcp', src: '10.1.0.2', dst: '10.1.0.1', dport: 31081 }],
  ['client to a Service without endpoints (REJECT)', { from: 'client', proto: 'tcp', src: '10.1.0.2', dst: '10.96.0.20', dport: 80 }],
  ['client to a Service without endpoints over UDP (REJECT)', { from: 'client', proto: 'udp', src: '10.1.0.2', dst: '10.96.0.20', dport: 80 }],
  ['allowed client to LB IP', { from: 'client', proto: 'tcp', src: '10.1.0.2', dst: '198.51.100.10', dport: 80 }],
  ['client outside loadBalancerSourceRanges (DROP)', { from: 'client', proto: 'tcp', src: '10.1.0.3', dst: '198.51.100.10', dport: 80 }],
  ['client to the LB NodePort (source ranges do not apply)', { from: 'client', proto: 'tcp', src: '10.1.0.3', dst: '10.1.0.1', dport: 31082 }],
  ['client to an external IP on the node', { from: 'client', proto: 'tcp', src: '10.1.0.4', dst: '192.168.0.2', dport: 8081 }],
  ['client to a ClusterIP port no Service has', { from: 'client', proto: 'tcp', src: '10.1.0.2', dst: '10.96.0.10', dport: 81 }],
];

/** Chains and rule counts per table, to check that what was loaded is what we wrote. */
function shape(r: Ruleset): string[] {
  const out: string[] = [];
  for (const [table, t] of r.tables) for (const [chain, c] of t.chains) if (c.rules.length > 0 || chain.startsWith('KUBE-')) out.push(`${table}/${chain}: ${c.rules.length}`);
  return out.sort();
}

describe('kube-proxy rules in the kernel', { skip, concurrency: 1 }, () => {
  let lab: KernelLab;
  before(async () => {
    lab = await createKernelLab({ name: 'kproxy' });
  });
  after(async () => {
    await lab?.close();
  });

  test('iptables-restore takes the compiled rules unchanged, and packets go where the engine says', async () => {
    const rules = compileNodeRules(labCluster(), 'node-1', 'IPv4');
    const ours = parseRuleset(rules.loadable, { file: 'node-1.rules', family: 4 });
    await lab.loadRules(rules.loadable);
    const saved = parseRuleset(await lab.exec('node', 'iptables-save'), { file: 'iptables-save', family: 4 });
    const kernelShape = shape(saved).filter((l) => !l.startsWith('raw/'));
    assert.deepEqual(kernelShape, shape(ours), 'every chain and rule loaded as written');

    const cases: DiffCase[] = PROBES.map(([name, probe]) => ({ name, group: 'kubeproxy', rules: rules.loadable, probe, varies: ['sourcePort'] }));
    const r = await runGenerated(lab, cases, 4);
    console.log(`kube-proxy rules in the kernel: ${r.passed} passed, ${r.failures.length} failed (iptables-save traced alike: ${r.resaved}/${cases.length})`);
    assert.deepEqual(r.failures, []);
  });
});
