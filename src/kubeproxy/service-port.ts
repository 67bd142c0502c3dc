/**
 * What kube-proxy keeps of a Service, per ServicePort and IP family (proxy.BaseServicePortInfo):
 * the ClusterIP of the family, externalIPs, load balancer VIPs and source ranges of the family,
 * traffic policies, affinity. Addresses are read the way kube-proxy reads them (sloppy parse,
 * trimmed source ranges); values of the other family are left out, as kube-proxy does.
 *
 * @module
 */
import type { Protocol, Service, ServicePort } from '../cluster/objects.js';
import { type IPAddress, type IPNetwork, formatIP, parseCIDRSloppy, parseIPSloppy } from '../net/index.js';
import { type ServicePortChains, servicePortChains, servicePortNameString } from './names.js';

export type ProxyFamily = 'IPv4' | 'IPv6';

/** The key that ties a service port to its endpoints: namespace/name, port name and protocol. */
export function servicePortKey(namespace: string, name: string, port: string, protocol: Protocol): string {
  return `${namespace}/${name}:${port}/${protocol}`;
}

export interface ServicePortInfo {
  /** Map key (see {@link servicePortKey}). */
  key: string;
  namespace: string;
  name: string;
  /** `ns/name:port` as kube-proxy prints it in comments. */
  portName: string;
  protocol: Protocol;
  /** Lower-case protocol for `-p` and `-m`. */
  proto: string;
  clusterIP: string;
  port: number;
  nodePort: number;
  externalIPs: string[];
  loadBalancerVIPs: string[];
  loadBalancerSourceRanges: IPNetwork[];
  healthCheckNodePort: number;
  externalPolicyLocal: boolean;
  internalPolicyLocal: boolean;
  sessionAffinityClientIP: boolean;
  stickyMaxAgeSeconds: number;
  chains: ServicePortChains;
}

/** Reachable other than by ClusterIP: a NodePort, an external IP or a load balancer VIP. */
export function externallyAccessible(s: ServicePortInfo): boolean {
  return s.nodePort !== 0 || s.loadBalancerVIPs.length > 0 || s.externalIPs.length > 0;
}

/** Cluster endpoints are used for internal Cluster policy, and for any external traffic (short-circuit). */
export function usesClusterEndpoints(s: ServicePortInfo): boolean {
  return !s.internalPolicyLocal || externallyAccessible(s);
}

export function usesLocalEndpoints(s: ServicePortInfo): boolean {
  return s.internalPolicyLocal || (s.externalPolicyLocal && externallyAccessible(s));
}

/** Options that change how Services are read (feature gates). */
export interface ServiceReadOptions {
  /** LoadBalancerIPMode gate (GA in 1.32): ingress with `ipMode: Proxy` is not a VIP. Default true. */
  loadBalancerIPMode?: boolean;
}

function familyOf(ip: IPAddress): ProxyFamily {
  return ip.family === 4 ? 'IPv4' : 'IPv6';
}

/** The ClusterIP of the family (proxyutil.GetClusterIPByFamily), or '' when the Service has none. */
export function clusterIPOfFamily(service: Service, family: ProxyFamily): string {
  const spec = service.spec;
  if (!spec.ipFamilies || spec.ipFamilies.length === 0) {
    const ip = spec.clusterIP ?? '';
    if (ip === '' || ip === 'None') return '';
    return ip.includes(':') === (family === 'IPv6') ? ip : '';
  }
  const idx = spec.ipFamilies.indexOf(family);
  return idx >= 0 && idx < (spec.clusterIPs?.length ?? 0) ? spec.clusterIPs![idx]! : '';
}

function sloppyText(text: string): string {
  const ip = parseIPSloppy(text);
  return ip ? formatIP(ip) : text;
}

function ipsOfFamily(texts: readonly string[] | undefined, family: ProxyFamily): string[] {
  const out: string[] = [];
  for (const t of texts ?? []) {
    const ip = parseIPSloppy(t.trim());
    if (ip && familyOf(ip) === family) out.push(formatIP(ip));
  }
  return out;
}

/** Every ServicePort of a Service for one family; empty when kube-proxy skips the Service. */
export function servicePortsOf(service: Service, family: ProxyFamily, options: ServiceReadOptions = {}): ServicePortInfo[] {
  const spec = service.spec;
  // proxyutil.ShouldSkipService: headless, no ClusterIP, ExternalName.
  if (spec.type === 'ExternalName' || !spec.clusterIP || spec.clusterIP === 'None') return [];
  const clusterIPText = clusterIPOfFamily(service, family);
  if (clusterIPText === '') return [];
  const namespace = service.metadata.namespace ?? 'default';
  const name = service.metadata.name;
  const externallyAccessibleType =
    spec.type === 'LoadBalancer' || spec.type === 'NodePort' || ((spec.type ?? 'ClusterIP') === 'ClusterIP' && (spec.externalIPs?.length ?? 0) > 0);
  const externalPolicyLocal = externallyAccessibleType && spec.externalTrafficPolicy === 'Local';
  const internalPolicyLocal = spec.internalTrafficPolicy === 'Local';
  const affinity = spec.sessionAffinity === 'ClientIP';
  const ipMode = options.loadBalancerIPMode ?? true;
  const vips: string[] = [];
  for (const ing of service.status?.loadBalancer?.ingress ?? []) {
    if (!ing.ip) continue;
    if (ipMode && ing.ipMode !== undefined && ing.ipMode !== 'VIP') continue;
    const ip = parseIPSloppy(ing.ip);
    if (ip && familyOf(ip) === family) vips.push(formatIP(ip));
  }
  const ranges: IPNetwork[] = [];
  for (const r of spec.loadBalancerSourceRanges ?? []) {
    const net = parseCIDRSloppy(r.trim());
    if (net && familyOf(net.network) === family) ranges.push(net);
  }
  const needsHealthCheck = spec.type === 'LoadBalancer' && externalPolicyLocal;
  return (spec.ports ?? []).map((p: ServicePort) => {
    const protocol = p.protocol ?? 'TCP';
    const portName = servicePortNameString(namespace, name, p.name ?? '');
    const proto = protocol.toLowerCase();
    return {
      key: servicePortKey(namespace, name, p.name ?? '', protocol),
      namespace,
      name,
      portName,
      protocol,
      proto,
      clusterIP: sloppyText(clusterIPText),
      port: p.port,
      nodePort: p.nodePort ?? 0,
      externalIPs: ipsOfFamily(spec.externalIPs, family),
      loadBalancerVIPs: vips,
      loadBalancerSourceRanges: ranges,
      healthCheckNodePort: needsHealthCheck ? (spec.healthCheckNodePort ?? 0) : 0,
      externalPolicyLocal,
      internalPolicyLocal,
      sessionAffinityClientIP: affinity,
      stickyMaxAgeSeconds: affinity ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800) : 0,
      chains: servicePortChains(portName, proto),
    };
  });
}
