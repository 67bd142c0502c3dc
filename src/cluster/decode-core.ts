/**
 * core/v1 kinds from JSON: Service, Pod (and the pod spec workloads template), Node, and the
 * metadata every object has. Only the fields kubepath models are kept; each is type-checked and
 * its enum and range checked here. Rules between fields and objects are in validate.ts.
 *
 * @module
 */
import type {
  Container,
  ContainerPort,
  IntOrString,
  LoadBalancerIngress,
  Node,
  NodeAddress,
  ObjectMeta,
  Pod,
  PodDNSConfig,
  PodSpec,
  Protocol,
  Service,
  ServicePort,
  ServiceSpec,
} from './objects.js';
import { checkInteger, checkIP, compact, Fields } from './fields.js';
import { invalid, REQUIRED, type Reporter, unsupported } from './issues.js';
import { nameProblem, portNameProblem } from './names.js';

export const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];
export const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const;
export const TRAFFIC_POLICIES = ['Cluster', 'Local'] as const;
export const IP_FAMILIES = ['IPv4', 'IPv6'] as const;
export const IP_FAMILY_POLICIES = ['SingleStack', 'PreferDualStack', 'RequireDualStack'] as const;
export const TRAFFIC_DISTRIBUTIONS = ['PreferClose', 'PreferSameZone', 'PreferSameNode'] as const;

/** `metadata`: name (checked against the kind's naming rule by the caller), namespace, labels, ... */
export function decodeMeta(f: Fields): ObjectMeta {
  return compact({
    name: f.string('name') ?? '',
    namespace: f.string('namespace'),
    labels: f.stringMap('labels'),
    annotations: f.stringMap('annotations'),
    deletionTimestamp: f.string('deletionTimestamp'),
    uid: f.string('uid'),
    ownerReferences: f.objects('ownerReferences', (o) =>
      compact({
        apiVersion: o.string('apiVersion'),
        kind: o.string('kind', { required: true }) ?? '',
        name: o.string('name', { required: true }) ?? '',
        uid: o.string('uid'),
        controller: o.boolean('controller'),
      }),
    ),
  });
}

/** A port name that must be an IANA service name (container ports, named targetPorts). */
function checkPortName(name: string | undefined, report: Reporter): void {
  const why = name === undefined || name === '' ? undefined : portNameProblem(name);
  if (why) report.error('', invalid(name, why));
}

function decodeTargetPort(f: Fields): IntOrString | undefined {
  const v = f.raw('targetPort');
  if (v === undefined) return undefined;
  const report = f.report.at('targetPort');
  if (typeof v === 'string') {
    checkPortName(v, report);
    return v;
  }
  // 0 is the API's "unset" (the default then applies).
  return checkInteger(v, report, { min: 0, max: 65535 });
}

function decodeServicePort(f: Fields): ServicePort {
  const name = f.string('name');
  if (name) {
    const why = nameProblem(name, 'dns1123Label');
    if (why) f.report.error('name', invalid(name, why));
  }
  return compact({
    name,
    protocol: f.oneOf('protocol', PROTOCOLS),
    appProtocol: f.string('appProtocol'),
    port: f.integer('port', { required: true, min: 1, max: 65535 }) ?? 0,
    targetPort: decodeTargetPort(f),
    // 0 means "allocate one"; the range is checked against the cluster's node port range later.
    nodePort: f.integer('nodePort', { min: 0, max: 65535 }),
  });
}

function decodeIngress(f: Fields): LoadBalancerIngress {
  return compact({ ip: f.ip('ip'), hostname: f.string('hostname'), ipMode: f.oneOf('ipMode', ['VIP', 'Proxy'] as const) });
}

/** A ClusterIP: an address, `None` (headless) or empty (allocate one). */
function clusterIP(text: string | undefined, report: Reporter): string | undefined {
  if (text !== undefined && text !== '' && text !== 'None') checkIP(text, report);
  return text;
}

function decodeServiceSpec(s: Fields): ServiceSpec {
  return compact({
    type: s.oneOf('type', SERVICE_TYPES),
    selector: s.stringMap('selector'),
    ports: s.objects('ports', decodeServicePort),
    clusterIP: clusterIP(s.string('clusterIP'), s.report.at('clusterIP')),
    clusterIPs: s.strings('clusterIPs')?.map((ip, i) => clusterIP(ip, s.report.at(`clusterIPs[${i}]`))!),
    ipFamilies: s.list('ipFamilies', (v, r) => {
      if (v === 'IPv4' || v === 'IPv6') return v;
      r.error('', unsupported(v, IP_FAMILIES));
      return undefined;
    }),
    ipFamilyPolicy: s.oneOf('ipFamilyPolicy', IP_FAMILY_POLICIES),
    externalIPs: s.ips('externalIPs'),
    externalName: s.string('externalName'),
    loadBalancerIP: s.ip('loadBalancerIP'),
    loadBalancerSourceRanges: s.strings('loadBalancerSourceRanges'),
    externalTrafficPolicy: s.oneOf('externalTrafficPolicy', TRAFFIC_POLICIES),
    internalTrafficPolicy: s.oneOf('internalTrafficPolicy', TRAFFIC_POLICIES),
    healthCheckNodePort: s.integer('healthCheckNodePort', { min: 0, max: 65535 }),
    sessionAffinity: s.oneOf('sessionAffinity', ['None', 'ClientIP'] as const),
    sessionAffinityConfig: s.object('sessionAffinityConfig', (c) =>
      compact({ clientIP: c.object('clientIP', (ip) => compact({ timeoutSeconds: ip.integer('timeoutSeconds', { min: 1, max: 86400 }) })) }),
    ),
    publishNotReadyAddresses: s.boolean('publishNotReadyAddresses'),
    trafficDistribution: s.oneOf('trafficDistribution', TRAFFIC_DISTRIBUTIONS),
    allocateLoadBalancerNodePorts: s.boolean('allocateLoadBalancerNodePorts'),
    loadBalancerClass: s.string('loadBalancerClass'),
  });
}

export function decodeService(f: Fields, metadata: ObjectMeta): Service {
  const status = f.object('status', (st) =>
    compact({ loadBalancer: st.object('loadBalancer', (lb) => compact({ ingress: lb.objects('ingress', decodeIngress) })) }),
  );
  return compact({ apiVersion: 'v1', kind: 'Service' as const, metadata, spec: f.object('spec', decodeServiceSpec) ?? {}, status });
}

function decodeContainerPort(f: Fields): ContainerPort {
  const name = f.string('name');
  checkPortName(name, f.report.at('name'));
  return compact({
    name,
    containerPort: f.integer('containerPort', { required: true, min: 1, max: 65535 }) ?? 0,
    protocol: f.oneOf('protocol', PROTOCOLS),
    hostPort: f.integer('hostPort', { min: 0, max: 65535 }),
  });
}

function decodeContainer(f: Fields): Container {
  return compact({
    name: f.string('name', { required: true }) ?? '',
    image: f.string('image'),
    command: f.strings('command'),
    args: f.strings('args'),
    ports: f.objects('ports', decodeContainerPort),
    restartPolicy: f.string('restartPolicy'),
  });
}

export const DNS_POLICIES = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'] as const;
/** The API server's limits on a pod's dnsConfig (validation.MaxDNSNameservers, MaxDNSSearchPaths, MaxDNSSearchListChars). */
export const MAX_DNS_NAMESERVERS = 3;
export const MAX_DNS_SEARCH_PATHS = 32;
export const MAX_DNS_SEARCH_LIST_CHARS = 2048;

function decodeDNSConfig(f: Fields): PodDNSConfig {
  const c: PodDNSConfig = compact({
    nameservers: f.strings('nameservers'),
    searches: f.strings('searches'),
    options: f.objects('options', (o) => {
      const name = o.string('name');
      if (!name) o.report.error('', `${REQUIRED}: must not be empty`);
      return compact({ name: name ?? '', value: o.string('value') });
    }),
  });
  const ns = c.nameservers ?? [];
  ns.forEach((ip, i) => checkIP(ip, f.report.at(`nameservers[${i}]`)));
  if (ns.length > MAX_DNS_NAMESERVERS) f.report.error('nameservers', invalid(ns, `must not have more than ${MAX_DNS_NAMESERVERS} nameservers`));
  const searches = c.searches ?? [];
  if (searches.length > MAX_DNS_SEARCH_PATHS) f.report.error('searches', invalid(searches, `must not have more than ${MAX_DNS_SEARCH_PATHS} search paths`));
  if (searches.join(' ').length > MAX_DNS_SEARCH_LIST_CHARS) f.report.error('searches', invalid(searches, `must not have more than ${MAX_DNS_SEARCH_LIST_CHARS} characters (including spaces) in the search list`));
  searches.forEach((s, i) => {
    // A trailing dot is fine (an absolute domain).
    const why = nameProblem(s.replace(/\.$/, ''), 'dns1123Subdomain');
    if (why) f.report.error(`searches[${i}]`, invalid(s, why));
  });
  return c;
}

/** spec.dnsPolicy and spec.dnsConfig with the API server's checks (validatePodDNSConfig). */
function decodeDNS(f: Fields): Pick<PodSpec, 'dnsPolicy' | 'dnsConfig'> {
  const dnsPolicy = f.oneOf('dnsPolicy', DNS_POLICIES);
  const dnsConfig = f.object('dnsConfig', decodeDNSConfig);
  if (dnsPolicy === 'None') {
    if (!f.has('dnsConfig')) f.report.error('dnsConfig', `${REQUIRED}: must provide \`dnsConfig\` when \`dnsPolicy\` is None`);
    else if (dnsConfig && !dnsConfig.nameservers?.length) f.report.error('dnsConfig.nameservers', `${REQUIRED}: must provide at least one DNS nameserver when \`dnsPolicy\` is None`);
  }
  return compact({ dnsPolicy, dnsConfig });
}

/** A pod's spec (also the template of workloads). */
export function decodePodSpec(f: Fields): PodSpec {
  return compact({
    nodeName: f.string('nodeName'),
    hostNetwork: f.boolean('hostNetwork'),
    ...decodeDNS(f),
    containers: f.objects('containers', decodeContainer) ?? [],
    initContainers: f.objects('initContainers', decodeContainer),
    hostname: f.string('hostname'),
    subdomain: f.string('subdomain'),
  });
}

export function decodePod(f: Fields, metadata: ObjectMeta): Pod {
  const status = f.object('status', (s) =>
    compact({
      phase: s.string('phase'),
      podIP: s.ip('podIP'),
      podIPs: s.objects('podIPs', (p) => ({ ip: p.ip('ip', { required: true }) ?? '' })),
      hostIP: s.ip('hostIP'),
      conditions: s.objects('conditions', (c) => ({
        type: c.string('type', { required: true }) ?? '',
        status: c.oneOf('status', ['True', 'False', 'Unknown'] as const, { required: true }) ?? 'Unknown',
      })),
    }),
  );
  return compact({ apiVersion: 'v1', kind: 'Pod' as const, metadata, spec: f.object('spec', decodePodSpec) ?? { containers: [] }, status });
}

const NODE_ADDRESS_TYPES = ['InternalIP', 'ExternalIP', 'Hostname', 'InternalDNS', 'ExternalDNS'] as const;

function decodeNodeAddress(f: Fields): NodeAddress | undefined {
  const type = f.oneOf('type', NODE_ADDRESS_TYPES, { required: true });
  const address = type === 'InternalIP' || type === 'ExternalIP' ? f.ip('address', { required: true }) : f.string('address', { required: true });
  return type && address !== undefined ? { type, address } : undefined;
}

export function decodeNode(f: Fields, metadata: ObjectMeta): Node {
  return compact({
    apiVersion: 'v1',
    kind: 'Node' as const,
    metadata,
    spec: f.object('spec', (s) => compact({ podCIDR: s.cidr('podCIDR'), podCIDRs: s.cidrs('podCIDRs'), unschedulable: s.boolean('unschedulable') })),
    status: f.object('status', (s) => compact({ addresses: s.objects('addresses', decodeNodeAddress) })),
  });
}
