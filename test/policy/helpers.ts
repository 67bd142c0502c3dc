/**
 * Small clusters for the policy tests: pods with labels and IPs in namespaces, policies as YAML.
 */
import { type Cluster, loadCluster } from '../../src/cluster/index.js';
import { parseIP } from '../../src/net/index.js';
import { compilePolicies, evaluatePacket, type PacketVerdict, type PolicyIndex, type PolicyOptions } from '../../src/policy/index.js';

export const ENV = `apiVersion: kubepath.dev/v1alpha1
kind: Environment
metadata: {name: policy-tests}
podNetwork: {type: routed, cidrs: [10.244.0.0/16, "fd00:10:244::/56"]}
nodes:
  - {name: node-1, internalIPs: [192.168.0.2, "fd00::2"], podCIDRs: [10.244.1.0/24, "fd00:10:244:1::/64"]}
`;

/** A pod manifest: `ns/name`, labels as a flow map, its IP, extra spec lines. */
export function pod(ref: string, labels: string, ip: string, spec = ''): string {
  const [ns, name] = ref.split('/');
  return `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: ${ns}, labels: ${labels}}\nspec:\n  nodeName: node-1\n  containers: [{name: c${spec ? `, ${spec}` : ''}}]\nstatus: {podIP: "${ip}"}\n`;
}

export function namespace(name: string, labels = '{}'): string {
  return `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${name}, labels: ${labels}}\n`;
}

/** A NetworkPolicy: `ns/name` and its spec as YAML (indented by the caller as a block under spec). */
export function policy(ref: string, spec: string): string {
  const [ns, name] = ref.split('/');
  return `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: ${name}, namespace: ${ns}}\nspec: ${spec}\n`;
}

export function cluster(...docs: string[]): Cluster {
  return loadCluster([ENV, ...docs].map((text, i) => ({ file: `d${i}.yaml`, text })));
}

export function index(docs: string[], options?: PolicyOptions): PolicyIndex {
  return compilePolicies(cluster(...docs), options);
}

const PROTO = { TCP: 6, UDP: 17, SCTP: 132, ICMP: 1 } as const;

/** The verdict for `PROTO SRC -> DST:PORT` given as addresses. */
export function judge(ix: PolicyIndex, src: string, dst: string, port?: number, proto: keyof typeof PROTO = 'TCP'): PacketVerdict {
  return evaluatePacket(ix, { source: parseIP(src), destination: parseIP(dst), protocol: PROTO[proto], destinationPort: port });
}
