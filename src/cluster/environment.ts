/**
 * `kubepath.dev/v1alpha1 Environment`: what manifests cannot say (docs/environment.md) — the
 * service and pod networks, the nodes and their addresses when no Node objects are given,
 * per-node kube-proxy overrides, named external clients — and the defaults used without one.
 *
 * @module
 */
import { formatNetwork, type IPNetwork, parseNetwork } from '../net/index.js';
import type { AppSpec, ClientIPStrategySpec, CloudLoadBalancer, ExternalClient, PodNetwork, ReverseProxy, ServiceLoadBalancer } from './model.js';
import type { IPFamily, KubeProxyConfiguration } from './objects.js';
import { Assumptions, DEFAULTS_SOURCE } from './assumptions.js';
import { checkCIDR, compact, Fields } from './fields.js';
import { duplicate, invalid, type Reporter } from './issues.js';
import { decodeKubeProxyConfiguration } from './kube-proxy-config.js';
import { readProxyUpstream } from './reverse-proxies.js';
import { nameProblem } from './names.js';
import { decodeEnvironmentDNS, type EnvironmentDNS } from './dns-settings.js';

export const ENVIRONMENT_API_VERSION = 'kubepath.dev/v1alpha1';

/** A node as the Environment describes it: everything optional but the name. */
export interface EnvironmentNode {
  name: string;
  internalIPs?: string[];
  externalIPs?: string[];
  podCIDRs?: string[];
  /** Becomes the `topology.kubernetes.io/zone` label. */
  zone?: string;
  labels?: Record<string, string>;
  unschedulable?: boolean;
  /** This node's kube-proxy settings over the cluster-wide ones. */
  kubeProxy?: KubeProxyConfiguration;
}

/** The Environment document (docs/environment.md). */
export interface Environment {
  apiVersion: typeof ENVIRONMENT_API_VERSION;
  kind: 'Environment';
  metadata?: { name?: string };
  /** `--service-cluster-ip-range`: one CIDR per family, the first is the primary family. */
  serviceCIDRs?: string[];
  /** `--service-node-port-range`, `FROM-TO`. */
  serviceNodePortRange?: string;
  podNetwork?: {
    type?: 'routed';
    cidrs?: string[];
    /** `--node-cidr-mask-size-ipv4` (24) and `-ipv6` (64): the size of each node's podCIDR. */
    nodeCIDRMaskSizeIPv4?: number;
    nodeCIDRMaskSizeIPv6?: number;
  };
  /** Where nodes without an InternalIP get one (first free address after the gateway, `.1`). */
  nodeNetwork?: { cidrs?: string[] };
  nodes?: EnvironmentNode[];
  /** Cluster-wide kube-proxy settings, over the KubeProxyConfiguration or ConfigMap if one is given. */
  kubeProxy?: KubeProxyConfiguration;
  externalClients?: ExternalClient[];
  /** The cloud's load balancers: how they carry connections and hand them to the cluster. */
  loadBalancer?: CloudLoadBalancer;
  /** Per LoadBalancer Service, over `loadBalancer` and the Service's annotations. */
  loadBalancers?: ServiceLoadBalancer[];
  /** Reverse proxies running in the cluster (Envoy, HAProxy, an ingress gateway). */
  proxies?: ReverseProxy[];
  /** The applications: protocol, PROXY protocol, and how each finds the client's IP. */
  apps?: AppSpec[];
  /** DNS: cluster domain, DNS Service, the nodes' resolv.conf, CoreDNS pod records, names outside. */
  dns?: EnvironmentDNS;
}

const LB_FIELDS = ['delivery', 'mode', 'proxyProtocol', 'sourceAddress', 'product'];

function decodeLoadBalancer(f: Fields): CloudLoadBalancer {
  f.only(LB_FIELDS);
  return compact({
    delivery: f.oneOf('delivery', ['VIP', 'NodePort', 'Pod'] as const),
    mode: f.oneOf('mode', ['passthrough', 'proxy', 'http'] as const),
    proxyProtocol: proxyVersion(f, 'proxyProtocol'),
    sourceAddress: f.ip('sourceAddress'),
    product: f.string('product'),
  });
}

function proxyVersion(f: Fields, key: string): 1 | 2 | undefined {
  const v = f.raw(key);
  if (v === undefined) return undefined;
  if (v === 1 || v === 2 || v === 'v1' || v === 'v2') return v === 1 || v === 'v1' ? 1 : 2;
  f.report.error(key, invalid(v, 'must be v1 or v2 (the PROXY protocol version)'));
  return undefined;
}

/** `Deployment/NS/NAME` (StatefulSet, DaemonSet, ReplicaSet too) or `pod/NS/NAME`. */
function workloadRef(f: Fields, key: string): string {
  const v = f.string(key, { required: true }) ?? '';
  if (v && !/^(Deployment|StatefulSet|DaemonSet|ReplicaSet|pod)\/[^/]+\/[^/]+$/.test(v)) {
    f.report.error(key, invalid(v, 'must be KIND/NAMESPACE/NAME with KIND Deployment, StatefulSet, DaemonSet, ReplicaSet or pod'));
  }
  return v;
}

function decodeReverseProxy(f: Fields): ReverseProxy {
  f.only(['name', 'workload', 'port', 'type', 'mode', 'acceptProxyProtocol', 'useRemoteAddress', 'xffNumTrustedHops', 'forwardFor', 'sendProxyProtocol', 'upstream', 'upstreamEndpoints']);
  const type = f.oneOf('type', ['envoy', 'haproxy'] as const, { required: true }) ?? 'envoy';
  const p: ReverseProxy = compact({
    name: f.string('name', { required: true }) ?? '',
    workload: workloadRef(f, 'workload'),
    port: f.integer('port', { required: true, min: 1, max: 65535 }) ?? 0,
    type,
    mode: f.oneOf('mode', ['http', 'tcp'] as const) ?? 'http',
    acceptProxyProtocol: f.boolean('acceptProxyProtocol'),
    useRemoteAddress: f.boolean('useRemoteAddress'),
    xffNumTrustedHops: f.integer('xffNumTrustedHops', { min: 0, max: 64 }),
    forwardFor: f.boolean('forwardFor'),
    sendProxyProtocol: proxyVersion(f, 'sendProxyProtocol'),
    upstream: f.string('upstream', { required: true }) ?? '',
    upstreamEndpoints: f.boolean('upstreamEndpoints'),
  });
  if (type === 'haproxy' && (p.useRemoteAddress !== undefined || p.xffNumTrustedHops !== undefined)) f.report.error('type', invalid(type, 'useRemoteAddress and xffNumTrustedHops are Envoy settings'));
  if (p.mode === 'tcp' && p.forwardFor) f.report.error('forwardFor', invalid(true, 'option forwardfor needs mode http (HAProxy ignores it in mode tcp)'));
  if (type === 'envoy' && p.forwardFor !== undefined) f.report.error('forwardFor', invalid(p.forwardFor, "an HAProxy setting (option forwardfor); Envoy appends with useRemoteAddress"));
  if (p.upstream && !readProxyUpstream(p.upstream)) {
    f.report.error('upstream', invalid(p.upstream, 'must be svc/NS/NAME[:PORT] or IP:PORT'));
  }
  return p;
}

const STRATEGIES = ['RemoteAddr', 'RightmostNonPrivate', 'LeftmostNonPrivate', 'RightmostTrustedCount', 'RightmostTrustedRange', 'SingleIPHeader', 'ProxyProtocol'] as const;

/** A client IP strategy as the Environment writes it; also read by `--client-ip`. */
export function decodeClientIPStrategy(f: Fields): ClientIPStrategySpec {
  f.only(['strategy', 'header', 'trusted', 'count']);
  const s: ClientIPStrategySpec = compact({
    strategy: f.oneOf('strategy', STRATEGIES, { required: true }) ?? 'RemoteAddr',
    header: f.string('header'),
    trusted: f.cidrs('trusted'),
    count: f.integer('count', { min: 1, max: 64 }),
  });
  const needsHeader = !['RemoteAddr', 'ProxyProtocol'].includes(s.strategy);
  if (needsHeader && !s.header) f.report.error('header', `Required value: ${s.strategy} reads a header (X-Forwarded-For, Forwarded, X-Real-IP, …)`);
  if (!needsHeader && s.header) f.report.error('header', invalid(s.header, `${s.strategy} reads no header`));
  if (s.strategy === 'RightmostTrustedRange' && !s.trusted?.length) f.report.error('trusted', 'Required value: the trusted proxies\' CIDRs');
  if (s.strategy === 'RightmostTrustedCount' && s.count === undefined) f.report.error('count', 'Required value: the number of trusted proxies');
  return s;
}

function decodeApp(f: Fields): AppSpec {
  f.only(['workload', 'protocol', 'proxyProtocol', 'clientIP']);
  return compact({
    workload: workloadRef(f, 'workload'),
    protocol: f.oneOf('protocol', ['http', 'tcp'] as const),
    proxyProtocol: f.oneOf('proxyProtocol', ['none', 'optional', 'require'] as const),
    clientIP: f.object('clientIP', decodeClientIPStrategy),
  });
}

function decodeEnvironmentNode(f: Fields): EnvironmentNode {
  const name = f.string('name', { required: true }) ?? '';
  const why = name ? nameProblem(name, 'dns1123Subdomain') : undefined;
  if (why) f.report.error('name', invalid(name, why));
  return compact({
    name,
    internalIPs: f.ips('internalIPs'),
    externalIPs: f.ips('externalIPs'),
    podCIDRs: f.cidrs('podCIDRs'),
    zone: f.string('zone'),
    labels: f.stringMap('labels'),
    unschedulable: f.boolean('unschedulable'),
    kubeProxy: f.object('kubeProxy', decodeKubeProxyConfiguration),
  });
}

/** Read an Environment document's fields (apiVersion and kind are checked by the caller). */
export function decodeEnvironment(f: Fields): Environment {
  const env: Environment = compact({
    apiVersion: ENVIRONMENT_API_VERSION,
    kind: 'Environment' as const,
    metadata: f.object('metadata', (m) => compact({ name: m.string('name') })),
    serviceCIDRs: f.cidrs('serviceCIDRs'),
    serviceNodePortRange: f.string('serviceNodePortRange'),
    podNetwork: f.object('podNetwork', (p) =>
      compact({
        type: p.oneOf('type', ['routed'] as const),
        cidrs: p.cidrs('cidrs'),
        nodeCIDRMaskSizeIPv4: p.integer('nodeCIDRMaskSizeIPv4', { min: 1, max: 32 }),
        nodeCIDRMaskSizeIPv6: p.integer('nodeCIDRMaskSizeIPv6', { min: 1, max: 128 }),
      }),
    ),
    nodeNetwork: f.object('nodeNetwork', (n) => compact({ cidrs: n.cidrs('cidrs') })),
    nodes: f.objects('nodes', decodeEnvironmentNode),
    kubeProxy: f.object('kubeProxy', decodeKubeProxyConfiguration),
    loadBalancer: f.object('loadBalancer', decodeLoadBalancer),
    loadBalancers: f.objects('loadBalancers', (l) => {
      const service = l.string('service', { required: true }) ?? '';
      if (service && !/^[^/]+\/[^/]+$/.test(service)) l.report.error('service', invalid(service, 'must be NAMESPACE/NAME'));
      const rest = Fields.of(Object.fromEntries(l.keys().filter((k) => k !== 'service').map((k) => [k, l.raw(k)])), l.report);
      return { service, ...(rest ? decodeLoadBalancer(rest) : {}) };
    }),
    proxies: f.objects('proxies', decodeReverseProxy),
    apps: f.objects('apps', decodeApp),
    dns: f.object('dns', decodeEnvironmentDNS),
    externalClients: f.objects('externalClients', (c) => ({
      name: c.string('name', { required: true }) ?? '',
      address: c.ip('address', { required: true }) ?? '',
    })),
  });
  const seen = (key: 'nodes' | 'externalClients' | 'proxies' | 'loadBalancers' | 'apps', names: string[]) =>
    names.forEach((n, i) => names.indexOf(n) < i && f.report.error(`${key}[${i}].name`, duplicate(n)));
  f.only(['apiVersion', 'kind', 'metadata', 'serviceCIDRs', 'serviceNodePortRange', 'podNetwork', 'nodeNetwork', 'nodes', 'kubeProxy', 'externalClients', 'loadBalancer', 'loadBalancers', 'proxies', 'apps', 'dns']);
  seen('nodes', (env.nodes ?? []).map((n) => n.name));
  seen('externalClients', (env.externalClients ?? []).map((c) => c.name));
  seen('proxies', (env.proxies ?? []).map((p) => p.name));
  seen('loadBalancers', (env.loadBalancers ?? []).map((l) => l.service));
  seen('apps', (env.apps ?? []).map((a) => a.workload));
  return env;
}

/** The settings of a load: the Environment's, or the defaults (each an assumption). */
export interface Settings {
  /** The cluster's families, primary first (the service CIDRs' order). */
  families: IPFamily[];
  serviceCIDRs: IPNetwork[];
  /** True when the service CIDRs are kubepath's default, not given by the user. */
  serviceCIDRsAssumed: boolean;
  podNetwork: PodNetwork;
  podCIDRs: IPNetwork[];
  /** True when the pod network is kubepath's default, not given by the user. */
  podNetworkAssumed: boolean;
  nodeCIDRMaskSize: Record<IPFamily, number>;
  nodeNetwork: IPNetwork[];
  nodeNetworkAssumed: boolean;
  nodePortRange: { base: number; max: number };
  externalClients: ExternalClient[];
  /** Given in the Environment; without it, a trace assumes NodePort delivery and says so. */
  loadBalancer?: CloudLoadBalancer;
  loadBalancers?: ServiceLoadBalancer[];
  proxies?: ReverseProxy[];
  apps?: AppSpec[];
}

const DEFAULT_SERVICE_CIDR: Record<IPFamily, string> = { IPv4: '10.96.0.0/12', IPv6: 'fd00:10:96::/112' };
const DEFAULT_POD_CIDR: Record<IPFamily, string> = { IPv4: '10.244.0.0/16', IPv6: 'fd00:10:244::/56' };
const DEFAULT_NODE_CIDR: Record<IPFamily, string> = { IPv4: '192.168.0.0/24', IPv6: 'fd00:192:168::/64' };
const DEFAULT_NODE_PORT_RANGE = '30000-32767';

export function familyOf(net: IPNetwork): IPFamily {
  return net.family === 4 ? 'IPv4' : 'IPv6';
}

/** Parse a list of CIDRs that must hold at most one per family; reports and returns the valid ones. */
function perFamily(cidrs: readonly string[], report: Reporter): IPNetwork[] {
  const nets: IPNetwork[] = [];
  cidrs.forEach((text, i) => {
    const net = checkCIDR(text, report.at(`[${i}]`));
    if (!net) return;
    if (nets.some((n) => n.family === net.family)) report.error(`[${i}]`, invalid(text, `may specify no more than one CIDR for each IP family`));
    else nets.push(net);
  });
  if (cidrs.length > 2) report.error('', invalid(cidrs, 'may specify no more than two CIDRs (one per family)'));
  return nets;
}

/**
 * The settings from the Environment (if any), kube-proxy's clusterCIDR (as the pod network when the
 * Environment does not give one), and defaults, each default recorded as an assumption.
 */
export function resolveSettings(
  env: { value: Environment; report: Reporter } | undefined,
  clusterCIDR: { value: string; report: Reporter } | undefined,
  assumptions: Assumptions,
  fallback: Reporter,
): Settings {
  const e = env?.value;
  const envReport = env?.report ?? fallback;
  // Invalid CIDRs are reported here; with none valid left, the default stands in (the load fails anyway).
  const valid = (nets: IPNetwork[] | undefined) => (nets?.length ? nets : undefined);
  const given = {
    service: valid(e?.serviceCIDRs && perFamily(e.serviceCIDRs, envReport.at('serviceCIDRs'))),
    pod: valid(
      e?.podNetwork?.cidrs
        ? perFamily(e.podNetwork.cidrs, envReport.at('podNetwork.cidrs'))
        : clusterCIDR && perFamily(clusterCIDR.value.split(',').map((s) => s.trim()), clusterCIDR.report.at('clusterCIDR')),
    ),
  };
  const families: IPFamily[] = (given.service ?? given.pod)?.map(familyOf) ?? ['IPv4'];
  const defaulted = (field: string, table: Record<IPFamily, string>, why: string): IPNetwork[] => {
    const cidrs = families.map((f) => table[f]);
    assumptions.add('Environment', field, `${cidrs.join(', ')} (${why})`, DEFAULTS_SOURCE);
    return cidrs.map((c) => parseNetwork(c));
  };
  const serviceCIDRs = given.service ?? defaulted('serviceCIDRs', DEFAULT_SERVICE_CIDR, "kubeadm's default --service-cluster-ip-range");
  const podCIDRs = given.pod ?? defaulted('podNetwork.cidrs', DEFAULT_POD_CIDR, 'a routed pod network, as flannel configures by default');
  if (given.pod && !e?.podNetwork?.cidrs) {
    assumptions.add('Environment', 'podNetwork.cidrs', `${clusterCIDR!.value} (kube-proxy's clusterCIDR)`, clusterCIDR!.report.source);
  }
  const podFamilies = podCIDRs.map(familyOf).join(', ');
  if (given.pod && podFamilies !== families.join(', ')) {
    const where = e?.podNetwork?.cidrs ? envReport.at('podNetwork.cidrs') : clusterCIDR!.report.at('clusterCIDR');
    where.error('', `Invalid value: ${podFamilies}: the pod network must have the service CIDRs' IP families, in the same order (${families.join(', ')})`);
  }
  const nodePortRange = parseNodePortRange(e?.serviceNodePortRange, envReport.at('serviceNodePortRange'));
  if (!e?.serviceNodePortRange) assumptions.add('Environment', 'serviceNodePortRange', `${DEFAULT_NODE_PORT_RANGE} (the API server's default --service-node-port-range)`, DEFAULTS_SOURCE);
  const nodeNetwork = e?.nodeNetwork?.cidrs ? perFamily(e.nodeNetwork.cidrs, envReport.at('nodeNetwork.cidrs')) : families.map((f) => parseNetwork(DEFAULT_NODE_CIDR[f]));
  const masks = { IPv4: e?.podNetwork?.nodeCIDRMaskSizeIPv4 ?? 24, IPv6: e?.podNetwork?.nodeCIDRMaskSizeIPv6 ?? 64 };
  podCIDRs.forEach((net, i) => {
    const size = masks[familyOf(net)];
    if (net.prefixLength !== undefined && size < net.prefixLength) {
      envReport.error(`podNetwork.nodeCIDRMaskSize${familyOf(net)}`, invalid(size, `must be at least the pod network's prefix length (${net.prefixLength} in podNetwork.cidrs[${i}])`));
      masks[familyOf(net)] = net.prefixLength; // so that allocation reports nothing more about it
    }
  });
  return {
    families,
    serviceCIDRs,
    serviceCIDRsAssumed: !given.service,
    podNetwork: { type: 'routed', cidrs: podCIDRs.map(formatNetwork) },
    podCIDRs,
    podNetworkAssumed: !given.pod,
    nodeCIDRMaskSize: masks,
    nodeNetwork,
    nodeNetworkAssumed: !e?.nodeNetwork?.cidrs,
    nodePortRange,
    externalClients: e?.externalClients ?? [],
    ...(e?.loadBalancer ? { loadBalancer: e.loadBalancer } : {}),
    ...(e?.loadBalancers ? { loadBalancers: e.loadBalancers } : {}),
    ...(e?.proxies ? { proxies: e.proxies } : {}),
    ...(e?.apps ? { apps: e.apps } : {}),
  };
}

/** `30000-32767` as the API server reads `--service-node-port-range`. */
function parseNodePortRange(text: string | undefined, report: Reporter): { base: number; max: number } {
  const m = /^([0-9]{1,5})-([0-9]{1,5})$/.exec(text ?? DEFAULT_NODE_PORT_RANGE);
  const base = Number(m?.[1]);
  const max = Number(m?.[2]);
  if (!m || base < 1 || max > 65535 || base > max) {
    report.error('', invalid(text, 'must be a port range FROM-TO within 1-65535, e.g. 30000-32767'));
    return { base: 30000, max: 32767 };
  }
  return { base, max };
}
