/**
 * The settings one iptables proxier runs with (one per node and IP family): what kube-proxy's
 * flags and KubeProxyConfiguration, the Node and the host's interfaces decide.
 *
 * @module
 */
import { type IPNetwork, isLoopback, networkContains, parseCIDRSloppy, parseIPSloppy, formatIP } from '../net/index.js';
import type { ProxyFamily } from './service-port.js';

/** How kube-proxy tells traffic from local pods (`--detect-local-mode`). */
export type LocalDetector =
  | { mode: 'ClusterCIDR' | 'NodeCIDR'; cidr: string }
  | { mode: 'BridgeInterface'; interface: string }
  | { mode: 'InterfaceNamePrefix'; prefix: string }
  /** No detector (e.g. ClusterCIDR mode without a clusterCIDR): no short-circuit, no masquerade of off-cluster traffic. */
  | { mode: 'None' };

/** `-s CIDR` / `-i IFACE` words matching traffic from local pods. */
export function ifLocal(d: LocalDetector): string[] {
  switch (d.mode) {
    case 'ClusterCIDR':
    case 'NodeCIDR':
      return ['-s', d.cidr];
    case 'BridgeInterface':
      return ['-i', d.interface];
    case 'InterfaceNamePrefix':
      return ['-i', `${d.prefix}+`];
    case 'None':
      return [];
  }
}

/** The negation of {@link ifLocal}. */
export function ifNotLocal(d: LocalDetector): string[] {
  const words = ifLocal(d);
  return words.length === 0 ? [] : ['!', ...words];
}

export interface ProxierConfig {
  family: ProxyFamily;
  nodeName: string;
  /** The node's primary IP (of either family; kube-proxy compares it with LB source ranges). */
  nodeIP: string;
  /** The node's labels (its zone decides topology hints). */
  nodeLabels: Record<string, string>;
  localDetector: LocalDetector;
  masqueradeAll: boolean;
  /** `--or-mark` value, as kube-proxy prints it: `%#08x` of 1 << masqueradeBit (0x00004000). */
  masqueradeMark: string;
  localhostNodePorts: boolean;
  /** `--nodeport-addresses` CIDRs as given (other family's are ignored); empty means every local address. */
  nodePortAddresses: string[];
  /** Addresses on the node's interfaces (`IP/LEN` or IP), for nodePortAddresses. */
  interfaceAddresses: string[];
  /** nf_conntrack_tcp_be_liberal is set: no DROP of INVALID packets in KUBE-FORWARD. */
  conntrackTCPLiberal: boolean;
  /** nfacct counters kube-proxy could create (they add `-m nfacct` matches). */
  nfacctCounters: { ctStateInvalidDroppedPkts: boolean; localhostNodePortsAcceptedPkts: boolean };
  /** iptables supports `--random-fully` (MASQUERADE gets it). */
  randomFully: boolean;
  featureGates: { loadBalancerIPMode: boolean; preferSameTrafficDistribution: boolean };
  /**
   * Large-cluster mode (no per-endpoint comments) as decided elsewhere: set when the proxier is
   * fed only part of the cluster (a slice for one destination) and must write what the whole would.
   */
  largeClusterMode?: boolean;
}

/** `%#08x` as Go prints it: 0x and at least 8 hex digits. */
export function masqueradeMarkOf(bit: number): string {
  return `0x${(2 ** bit).toString(16).padStart(8, '0')}`;
}

/** A ProxierConfig with kube-proxy's defaults for the family; fields given override them. */
export function proxierConfig(family: ProxyFamily, fields: Partial<ProxierConfig> = {}): ProxierConfig {
  return {
    family,
    nodeName: '',
    nodeIP: '',
    nodeLabels: {},
    localDetector: { mode: 'None' },
    masqueradeAll: false,
    masqueradeMark: masqueradeMarkOf(14),
    localhostNodePorts: family === 'IPv4',
    nodePortAddresses: [],
    interfaceAddresses: [],
    conntrackTCPLiberal: false,
    nfacctCounters: { ctStateInvalidDroppedPkts: true, localhostNodePortsAcceptedPkts: true },
    randomFully: true,
    featureGates: { loadBalancerIPMode: true, preferSameTrafficDistribution: true },
    ...fields,
  };
}

/** proxyutil.NodePortAddresses for one family. */
export interface NodePortAddresses {
  /** Zero CIDR given (or nothing): NodePorts on every local address (`-m addrtype --dst-type LOCAL`). */
  matchAll: boolean;
  cidrs: IPNetwork[];
  containsIPv4Loopback: boolean;
}

export function nodePortAddresses(family: ProxyFamily, given: readonly string[]): NodePortAddresses {
  const v4 = family === 'IPv4';
  let texts = given.filter((s) => !s.includes(':') === v4);
  if (texts.length === 0) texts = [v4 ? '0.0.0.0/0' : '::/0'];
  const out: NodePortAddresses = { matchAll: false, cidrs: [], containsIPv4Loopback: false };
  for (const text of texts) {
    const net = parseCIDRSloppy(text);
    if (!net) continue;
    if (net.family === 4 && (isLoopback(net.network) || networkContains(net, { family: 4, value: 0x7f000001 }))) {
      out.containsIPv4Loopback = true;
    }
    if (net.prefixLength === 0) {
      out.matchAll = true;
      break;
    }
    out.cidrs.push(net);
  }
  return out;
}

/** Local addresses inside the nodePortAddresses CIDRs (NodePortAddresses.GetNodeIPs), sorted, each once. */
export function nodePortIPs(npa: NodePortAddresses, interfaceAddresses: readonly string[]): string[] {
  const found = new Map<string, { family: number; key: number | bigint }>();
  for (const net of npa.cidrs) {
    for (const text of interfaceAddresses) {
      const ip = parseIPSloppy(text.split('/')[0]!);
      if (ip && networkContains(net, ip)) found.set(formatIP(ip), { family: ip.family, key: ip.value });
    }
  }
  return [...found.entries()].sort((a, b) => a[1].family - b[1].family || (a[1].key < b[1].key ? -1 : 1)).map(([t]) => t);
}
