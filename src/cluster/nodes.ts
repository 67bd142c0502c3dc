/**
 * The cluster's nodes: Node objects completed by the Environment's nodes (or made from them), one
 * default node when there are none, InternalIPs and podCIDRs allocated where missing, and each
 * node's kube-proxy configuration.
 *
 * @module
 */
import { formatIP, formatNetwork, type IPNetwork, networkContains, parseNetwork, tryParseIP } from '../net/index.js';
import type { ClusterNode } from './model.js';
import { type KubeProxyConfiguration, type Node, type NodeAddress, ZONE_LABEL } from './objects.js';
import { AddressPool, overlaps, SubnetPool } from './allocate.js';
import { Assumptions, DEFAULTS_SOURCE, objectName } from './assumptions.js';
import { type EnvironmentNode, familyOf, type Settings } from './environment.js';
import { duplicate, invalid, type Issues, type Reporter } from './issues.js';
import { kubeProxyProblems, mergeKubeProxy } from './kube-proxy-config.js';

/** A decoded object and where to report about it. */
export interface Item<T> {
  object: T;
  report: Reporter;
}

/** Inputs to node building. */
export interface NodeInputs {
  nodes: Item<Node>[];
  environmentNodes: Item<EnvironmentNode>[];
  settings: Settings;
  kubeProxy: KubeProxyConfiguration;
  issues: Issues;
  assumptions: Assumptions;
}

function addressesOf(node: Node, type: NodeAddress['type']): string[] {
  return (node.status?.addresses ?? []).filter((a) => a.type === type).map((a) => a.address);
}

function podCIDRsOf(node: Node, report: Reporter): string[] {
  const { podCIDR, podCIDRs } = node.spec ?? {};
  if (podCIDR && podCIDRs?.length && podCIDRs[0] !== podCIDR) {
    report.error('spec.podCIDRs[0]', invalid(podCIDRs[0], `must match spec.podCIDR ${JSON.stringify(podCIDR)}`));
  }
  return podCIDRs?.length ? podCIDRs : podCIDR ? [podCIDR] : [];
}

/** Lay an Environment node over a Node: fill what the Node lacks, report what contradicts it. */
function complete(node: Node, env: Item<EnvironmentNode>): void {
  const e = env.object;
  const conflict = (field: string, envValue: unknown, nodeValue: unknown) =>
    env.report.error(field, invalid(envValue, `contradicts Node ${node.metadata.name} (${JSON.stringify(nodeValue)})`));
  const fillAddresses = (type: 'InternalIP' | 'ExternalIP', given: string[] | undefined, field: string) => {
    if (!given?.length) return;
    const have = addressesOf(node, type);
    if (have.length === 0) {
      node.status = { ...node.status, addresses: [...(node.status?.addresses ?? []), ...given.map((address) => ({ type, address }))] };
    } else if (have.join() !== given.join()) conflict(field, given, have);
  };
  fillAddresses('InternalIP', e.internalIPs, 'internalIPs');
  fillAddresses('ExternalIP', e.externalIPs, 'externalIPs');
  if (e.podCIDRs?.length) {
    const have = node.spec?.podCIDRs ?? (node.spec?.podCIDR ? [node.spec.podCIDR] : []);
    if (have.length === 0) node.spec = { ...node.spec, podCIDR: e.podCIDRs[0]!, podCIDRs: [...e.podCIDRs] };
    else if (have.join() !== e.podCIDRs.join()) conflict('podCIDRs', e.podCIDRs, have);
  }
  const labels = (node.metadata.labels ??= {});
  const addLabel = (key: string, value: string, field: string) => {
    if (labels[key] === undefined) labels[key] = value;
    else if (labels[key] !== value) conflict(field, value, labels[key]);
  };
  for (const [k, v] of Object.entries(e.labels ?? {})) addLabel(k, v, `labels[${k}]`);
  if (e.zone !== undefined) addLabel(ZONE_LABEL, e.zone, 'zone');
  if (e.unschedulable !== undefined) node.spec = { ...node.spec, unschedulable: e.unschedulable };
}

/** A Node made from an Environment node (or the default one). */
function nodeFrom(name: string): Node {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: {} }, spec: {}, status: { addresses: [] } };
}

/** Build the nodes; every problem goes to `inputs.issues`. */
export function buildNodes(inputs: NodeInputs): ClusterNode[] {
  const { settings, assumptions } = inputs;
  // `made`: the node comes from the Environment (or the default), so issues name its Environment fields.
  const entries: { node: Node; report: Reporter; env?: Item<EnvironmentNode>; made?: boolean }[] = inputs.nodes.map((n) => ({ node: structuredClone(n.object), report: n.report }));
  for (const env of inputs.environmentNodes) {
    const given = entries.find((e) => e.node.metadata.name === env.object.name);
    if (given) {
      complete(given.node, env);
      given.env = env;
    } else {
      const node = nodeFrom(env.object.name);
      complete(node, env);
      entries.push({ node, report: env.report, env, made: true });
    }
  }
  if (entries.length === 0) {
    entries.push({ node: nodeFrom('node-1'), report: inputs.issues.reporter(DEFAULTS_SOURCE), made: true });
    assumptions.add('Environment', 'nodes', 'node-1 (no Node objects or Environment nodes were given: one node)', DEFAULTS_SOURCE);
  }

  // What was given is reserved first, so allocation never hands it out again.
  const ipPools = settings.nodeNetwork.map((net) => new AddressPool(net, 2));
  const subnetPools = settings.podCIDRs.map((net) => new SubnetPool(net, settings.nodeCIDRMaskSize[familyOf(net)]));
  const givenCIDRs: { net: IPNetwork; owner: string }[] = [];
  for (const { node, report } of entries) {
    for (const a of node.status?.addresses ?? []) {
      const ip = a.type === 'InternalIP' ? tryParseIP(a.address) : undefined;
      if (ip) ipPools.forEach((p) => p.contains(ip) && p.reserve(ip));
    }
    const mine: IPNetwork[] = [];
    podCIDRsOf(node, report).forEach((text, i) => {
      const net = parseNetwork(text);
      const field = `spec.podCIDRs[${i}]`;
      if (mine.some((m) => m.family === net.family)) return report.error(field, invalid(text, 'may specify no more than one CIDR for each IP family'));
      mine.push(net);
      const clash = givenCIDRs.find((g) => overlaps(g.net, net));
      if (clash) report.error(field, duplicate(text, `overlaps the podCIDR of Node ${clash.owner}`));
      givenCIDRs.push({ net, owner: node.metadata.name });
      subnetPools.forEach((p) => p.reserve(net));
      if (!settings.podCIDRs.some((pod) => networkContains(pod, net.network))) {
        const why = `not within the pod network (${settings.podNetwork.cidrs.join(', ')})`;
        if (settings.podNetworkAssumed) report.warn(field, `${text} is ${why}, which is kubepath's default: give podNetwork.cidrs in an Environment`);
        else report.error(field, invalid(text, `must be ${why}`));
      }
    });
  }

  return entries.map(({ node, report, env, made }) => {
    const name = node.metadata.name;
    const object = objectName('Node', node.metadata);
    if (addressesOf(node, 'InternalIP').length === 0) {
      const addresses = ipPools.map((p) => p.next()).filter((ip) => ip !== undefined);
      if (addresses.length < ipPools.length) report.error(made ? 'internalIPs' : 'status.addresses', `cannot allocate an InternalIP: the node network ${settings.nodeNetwork.map(formatNetwork).join(', ')} is full`);
      for (const ip of addresses) node.status = { ...node.status, addresses: [...(node.status?.addresses ?? []), { type: 'InternalIP', address: formatIP(ip) }] };
      const from = settings.nodeNetwork.map(formatNetwork).join(', ');
      assumptions.add(object, 'status.addresses', `InternalIP ${addresses.map(formatIP).join(', ')} (first free after the gateway in the node network ${from}${settings.nodeNetworkAssumed ? ', a default' : ''})`, report.source);
    }
    if (podCIDRsOf(node, report).length === 0) {
      const cidrs = subnetPools.map((p) => p.next()).filter((n) => n !== undefined).map(formatNetwork);
      if (cidrs.length < subnetPools.length) report.error(made ? 'podCIDRs' : 'spec.podCIDR', `cannot allocate a podCIDR: the pod network ${settings.podNetwork.cidrs.join(', ')} is full`);
      if (cidrs[0] !== undefined) node.spec = { ...node.spec, podCIDR: cidrs[0], podCIDRs: cidrs };
      assumptions.add(object, 'spec.podCIDRs', `${cidrs.join(', ')} (next free /${subnetPools.map((p) => p.prefixLength).join(', /')} of the pod network, as the node IPAM controller allocates)`, report.source);
    }
    const kubeProxy = mergeKubeProxy(inputs.kubeProxy, env?.object.kubeProxy);
    if (env?.object.kubeProxy) {
      for (const p of kubeProxyProblems(kubeProxy)) (p.warning ? env.report.warn : env.report.error)(`kubeProxy.${p.field}`, p.message);
    }
    const labels = node.metadata.labels ?? {};
    const zone = labels[ZONE_LABEL];
    return {
      name,
      internalIPs: addressesOf(node, 'InternalIP'),
      externalIPs: addressesOf(node, 'ExternalIP'),
      podCIDRs: podCIDRsOf(node, report),
      ...(zone !== undefined ? { zone } : {}),
      labels,
      kubeProxy,
      object: node,
    };
  });
}
