/**
 * A Cluster compiled for one node: the settings kube-proxy would run with there (from its
 * KubeProxyConfiguration, the Node and the pod network), fed with every Service and
 * EndpointSlice, synced once per IP family.
 *
 * @module
 */
import type { Cluster, ClusterNode } from '../cluster/model.js';
import type { EndpointSlice, KubeProxyConfiguration, Service } from '../cluster/objects.js';
import { parseIPSloppy } from '../net/index.js';
import { type LocalDetector, masqueradeMarkOf, nodePortAddresses, type ProxierConfig, proxierConfig } from './config.js';
import type { HealthCheckService } from './healthcheck.js';
import { loadableRules } from './loadable.js';
import { IptablesProxier, LARGE_CLUSTER_ENDPOINTS_THRESHOLD, type SyncResult } from './proxier.js';
import type { ProxyFamily } from './service-port.js';

/** A request for a node the cluster does not have. */
export class UnknownNodeError extends Error {
  override readonly name = 'UnknownNodeError';
  constructor(
    readonly node: string,
    readonly known: readonly string[],
  ) {
    super(`no node "${node}" in the cluster; nodes: ${known.length > 0 ? known.join(', ') : '(none)'}`);
  }
}

/** A choice made for a setting the configuration leaves open, shown to the user. */
export interface ProxierNote {
  setting: string;
  value: string;
  why: string;
}

function familyOf(text: string): ProxyFamily | undefined {
  const ip = parseIPSloppy(text.split('/')[0]!);
  return ip ? (ip.family === 4 ? 'IPv4' : 'IPv6') : undefined;
}

function ofFamily(texts: readonly string[], family: ProxyFamily): string[] {
  return texts.filter((t) => familyOf(t) === family);
}

/** kube-proxy's local-traffic detector for the node and family (cmd/kube-proxy getLocalDetectors). */
function localDetector(kp: KubeProxyConfiguration, node: ClusterNode, cluster: Cluster, family: ProxyFamily, notes: ProxierNote[]): LocalDetector {
  const mode = kp.detectLocalMode || 'ClusterCIDR';
  switch (mode) {
    case 'ClusterCIDR': {
      const given = kp.clusterCIDR ? kp.clusterCIDR.split(',').map((s) => s.trim()) : cluster.podNetwork.cidrs;
      const cidr = ofFamily(given, family)[0];
      if (!cidr) {
        notes.push({ setting: 'detectLocalMode', value: 'none', why: `ClusterCIDR mode without an ${family} clusterCIDR: no local-traffic detection` });
        return { mode: 'None' };
      }
      return { mode: 'ClusterCIDR', cidr };
    }
    case 'NodeCIDR': {
      const cidr = ofFamily(node.podCIDRs, family)[0];
      if (!cidr) {
        notes.push({ setting: 'detectLocalMode', value: 'none', why: `NodeCIDR mode but node ${node.name} has no ${family} podCIDR` });
        return { mode: 'None' };
      }
      return { mode: 'NodeCIDR', cidr };
    }
    case 'BridgeInterface':
      return { mode: 'BridgeInterface', interface: kp.detectLocal?.bridgeInterface ?? '' };
    case 'InterfaceNamePrefix':
      return { mode: 'InterfaceNamePrefix', prefix: kp.detectLocal?.interfaceNamePrefix ?? '' };
  }
}

/** What the host kube-proxy runs on offers, which no manifest says. */
export interface HostCapabilities {
  /**
   * kube-proxy could create its nfacct counters (netlink), so its rules carry `-m nfacct`.
   * Default false: iptables-restore refuses those rules on a host without the counters.
   */
  nfacct?: boolean;
  /** iptables supports `--random-fully` (1.6.2 and later). Default true. */
  randomFully?: boolean;
}

/** The settings of the node's proxier for one family, and notes on what was chosen. */
export function nodeProxierConfig(
  cluster: Cluster,
  nodeName: string,
  family: ProxyFamily,
  host: HostCapabilities = {},
): { config: ProxierConfig; notes: ProxierNote[] } {
  const node = cluster.nodes.find((n) => n.name === nodeName);
  if (!node) throw new UnknownNodeError(nodeName, cluster.nodes.map((n) => n.name));
  const kp = node.kubeProxy;
  const notes: ProxierNote[] = [];
  const nodeIPs = [...node.internalIPs, ...node.externalIPs];
  const nodeIP = ofFamily(node.internalIPs, family)[0] ?? ofFamily(nodeIPs, family)[0] ?? '';
  // `primary` stands for the node's own IPs (kube-proxy resolves it at start).
  const npaGiven = (kp.nodePortAddresses ?? []).flatMap((a) => (a === 'primary' ? nodeIPs.map((ip) => (ip.includes(':') ? `${ip}/128` : `${ip}/32`)) : [a]));
  let localhostNodePorts = kp.iptables?.localhostNodePorts ?? true;
  if (family === 'IPv6') localhostNodePorts = false; // the dual-stack proxier never enables them for IPv6
  else if (localhostNodePorts && !nodePortAddresses(family, npaGiven).containsIPv4Loopback) localhostNodePorts = false;
  const config = proxierConfig(family, {
    nodeName,
    nodeIP,
    nodeLabels: node.labels,
    localDetector: localDetector(kp, node, cluster, family, notes),
    masqueradeAll: kp.iptables?.masqueradeAll ?? false,
    masqueradeMark: masqueradeMarkOf(kp.iptables?.masqueradeBit ?? 14),
    localhostNodePorts,
    nodePortAddresses: npaGiven,
    interfaceAddresses: ['127.0.0.1/8', '::1/128', ...nodeIPs],
    conntrackTCPLiberal: kp.conntrack?.tcpBeLiberal ?? false,
    nfacctCounters: { ctStateInvalidDroppedPkts: host.nfacct ?? false, localhostNodePortsAcceptedPkts: host.nfacct ?? false },
    randomFully: host.randomFully ?? true,
    featureGates: {
      loadBalancerIPMode: kp.featureGates?.['LoadBalancerIPMode'] ?? true,
      preferSameTrafficDistribution: kp.featureGates?.['PreferSameTrafficDistribution'] ?? false,
    },
  });
  notes.push({ setting: 'randomFully', value: String(config.randomFully), why: 'assumed: iptables 1.6.2 or later supports --random-fully' });
  notes.push({
    setting: 'nfacct',
    value: String(host.nfacct ?? false),
    why: host.nfacct ? 'kube-proxy created its nfacct counters: rules carry -m nfacct' : 'assumed no nfacct counters, so the rules load on any host (the matches only count packets)',
  });
  return { config, notes };
}

/** One node's kube-proxy rules for one family. */
export interface NodeRules {
  node: string;
  family: ProxyFamily;
  config: ProxierConfig;
  notes: ProxierNote[];
  /** The restore text of kube-proxy's first (full) sync. */
  sync: SyncResult;
  /** The same, with the ensured jumps and built-in chains: loads on an empty host. */
  loadable: string;
  healthChecks: HealthCheckService[];
}

/** The families the node serves: those of its addresses that the cluster uses. */
export function nodeFamilies(cluster: Cluster, nodeName: string): ProxyFamily[] {
  const node = cluster.nodes.find((n) => n.name === nodeName);
  if (!node) throw new UnknownNodeError(nodeName, cluster.nodes.map((n) => n.name));
  const have = new Set([...node.internalIPs, ...node.externalIPs].map(familyOf));
  return cluster.ipFamilies.filter((f) => have.has(f));
}

/**
 * Part of a cluster to compile: some Services and their slices, and the whole cluster's endpoint
 * count (it decides large-cluster mode). The rules of other Services only match packets to their
 * own addresses and ports, so for a packet to one of these the part behaves as the whole.
 */
export interface ClusterPart {
  services: readonly Service[];
  endpointSlices: readonly EndpointSlice[];
  totalEndpoints: number;
}

/** Compile the node's rules for a family: a fresh proxier, every object (or those of `part`) added, one sync. */
export function compileNodeRules(cluster: Cluster, nodeName: string, family: ProxyFamily, host: HostCapabilities = {}, part?: ClusterPart): NodeRules {
  const { config: base, notes } = nodeProxierConfig(cluster, nodeName, family, host);
  const config = part ? { ...base, largeClusterMode: part.totalEndpoints > LARGE_CLUSTER_ENDPOINTS_THRESHOLD } : base;
  const proxier = new IptablesProxier(config);
  for (const svc of part?.services ?? cluster.services) proxier.onServiceAdd(svc);
  for (const slice of part?.endpointSlices ?? cluster.endpointSlices) proxier.onEndpointSliceAdd(slice);
  const sync = proxier.sync();
  return { node: nodeName, family, config, notes, sync, loadable: loadableRules(sync.restore), healthChecks: proxier.healthChecks() };
}
