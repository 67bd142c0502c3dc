/**
 * Services as the API server stores them: its defaults (SetDefaults_Service), its validation
 * rules that hold between fields, and the NodePorts and healthCheckNodePorts its allocator gives.
 * ClusterIPs and IP families are in cluster-ips.ts.
 *
 * @module
 */
import { parseNetwork } from '../net/index.js';
import type { Service, ServicePort } from './objects.js';
import { PortPool } from './allocate.js';
import { type Assumptions, objectName } from './assumptions.js';
import { ipProblem } from './fields.js';
import { duplicate, forbidden, invalid, REQUIRED } from './issues.js';
import { nameProblem } from './names.js';
import type { Item } from './nodes.js';

/** Reachable from outside through nodes: NodePort, LoadBalancer, or a ClusterIP with externalIPs. */
export function externallyAccessible(spec: Service['spec']): boolean {
  return spec.type === 'NodePort' || spec.type === 'LoadBalancer' || (spec.type === 'ClusterIP' && (spec.externalIPs?.length ?? 0) > 0);
}

/** kube-proxy serves a health check for it: a LoadBalancer with externalTrafficPolicy Local. */
export function needsHealthCheck(spec: Service['spec']): boolean {
  return spec.type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local';
}

function isHeadless(spec: Service['spec']): boolean {
  return (spec.clusterIPs?.[0] ?? spec.clusterIP) === 'None';
}

/** SetDefaults_Service: fill the fields the API server defaults, each reported. */
export function defaultService({ object: svc, report }: Item<Service>, assumptions: Assumptions): void {
  const spec = svc.spec;
  const assume = (field: string, value: string) => assumptions.add(objectName('Service', svc.metadata), field, value, report.source);
  if (!spec.type) {
    spec.type = 'ClusterIP';
    assume('spec.type', 'ClusterIP');
  }
  spec.ports?.forEach((p, i) => {
    if (!p.protocol) {
      p.protocol = 'TCP';
      assume(`spec.ports[${i}].protocol`, 'TCP');
    }
    if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === '') {
      p.targetPort = p.port;
      assume(`spec.ports[${i}].targetPort`, `${p.port} (the port)`);
    }
  });
  if (!spec.sessionAffinity) {
    spec.sessionAffinity = 'None';
    assume('spec.sessionAffinity', 'None');
  }
  if (spec.sessionAffinity === 'None') delete spec.sessionAffinityConfig;
  else if (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds === undefined) {
    spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 10800 } };
    assume('spec.sessionAffinityConfig.clientIP.timeoutSeconds', '10800 (3 hours)');
  }
  if (externallyAccessible(spec) && !spec.externalTrafficPolicy) {
    spec.externalTrafficPolicy = 'Cluster';
    assume('spec.externalTrafficPolicy', 'Cluster');
  }
  if (spec.type !== 'ExternalName' && !spec.internalTrafficPolicy) {
    spec.internalTrafficPolicy = 'Cluster';
    assume('spec.internalTrafficPolicy', 'Cluster');
  }
  if (spec.type === 'LoadBalancer') {
    if (spec.allocateLoadBalancerNodePorts === undefined) {
      spec.allocateLoadBalancerNodePorts = true;
      assume('spec.allocateLoadBalancerNodePorts', 'true');
    }
    svc.status?.loadBalancer?.ingress?.forEach((ing, i) => {
      if (ing.ip && !ing.ipMode) {
        ing.ipMode = 'VIP';
        assume(`status.loadBalancer.ingress[${i}].ipMode`, 'VIP');
      }
    });
  }
}

/** The API server's rules between a Service's fields (run after defaulting). */
export function checkService({ object: svc, report }: Item<Service>): void {
  const spec = svc.spec;
  const type = spec.type!;
  const ports = spec.ports ?? [];
  if (type === 'ExternalName') {
    if (!spec.externalName) report.error('spec.externalName', REQUIRED);
    else {
      const why = nameProblem(spec.externalName.replace(/\.$/, ''), 'dns1123Subdomain');
      if (why) report.error('spec.externalName', invalid(spec.externalName, why));
    }
  } else if (ports.length === 0 && !isHeadless(spec)) {
    report.error('spec.ports', REQUIRED);
  }
  if (isHeadless(spec) && (type === 'NodePort' || type === 'LoadBalancer')) {
    report.error('spec.clusterIP', invalid('None', `may not be set to 'None' for ${type} services`));
  }
  const names = new Map<string, number>();
  const portProtocols = new Map<string, number>();
  const nodePorts = new Set<string>();
  ports.forEach((p, i) => {
    const at = `spec.ports[${i}]`;
    if (ports.length > 1 && !p.name) report.error(`${at}.name`, REQUIRED);
    if (p.name) {
      if (names.has(p.name)) report.error(`${at}.name`, duplicate(p.name));
      names.set(p.name, i);
    }
    const key = `${p.port}/${p.protocol}`;
    if (portProtocols.has(key)) report.error(at, duplicate({ port: p.port, protocol: p.protocol }));
    portProtocols.set(key, i);
    if (p.nodePort && type !== 'NodePort' && type !== 'LoadBalancer') report.error(`${at}.nodePort`, forbidden(`may not be used when \`type\` is '${type}'`));
    // One NodePort may serve a TCP and a UDP port, not two ports of one protocol.
    if (p.nodePort && nodePorts.has(`${p.nodePort}/${p.protocol}`)) report.error(`${at}.nodePort`, duplicate(p.nodePort));
    if (p.nodePort) nodePorts.add(`${p.nodePort}/${p.protocol}`);
  });
  if (spec.externalTrafficPolicy && !externallyAccessible(spec)) {
    report.error('spec.externalTrafficPolicy', invalid(spec.externalTrafficPolicy, 'may only be set for externally-accessible services'));
  }
  if (spec.healthCheckNodePort && !needsHealthCheck(spec)) {
    report.error('spec.healthCheckNodePort', invalid(spec.healthCheckNodePort, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"));
  }
  if (spec.loadBalancerSourceRanges?.length && type !== 'LoadBalancer') {
    report.error('spec.loadBalancerSourceRanges', forbidden("may only be used when `type` is 'LoadBalancer'"));
  }
  spec.loadBalancerSourceRanges?.forEach((range, i) => {
    // kube-proxy reads these leniently (host bits allowed), but not with leading zeros.
    const text = range.trim();
    const why = ipProblem(text.split('/')[0]!) ?? (text.includes('/') ? parses(text) : 'must be a CIDR (e.g. 203.0.113.0/24)');
    if (why) report.error(`spec.loadBalancerSourceRanges[${i}]`, invalid(range, why));
  });
  svc.status?.loadBalancer?.ingress?.forEach((ing, i) => {
    if (ing.ipMode && !ing.ip) report.error(`status.loadBalancer.ingress[${i}].ipMode`, forbidden('may only be set when `ip` is set'));
  });
  if (type !== 'LoadBalancer' && svc.status?.loadBalancer?.ingress?.length) {
    report.warn('status.loadBalancer.ingress', `kube-proxy ignores load balancer ingress of a ${type} Service`);
  }
}

function parses(cidr: string): string | undefined {
  try {
    parseNetwork(cidr);
    return undefined;
  } catch {
    return 'must be a CIDR (e.g. 203.0.113.0/24)';
  }
}

function wantsNodePorts(spec: Service['spec']): boolean {
  return spec.type === 'NodePort' || (spec.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts !== false);
}

/**
 * NodePorts and healthCheckNodePorts: given ones checked against the range and each other, then
 * missing ones allocated (lowest free; ports of one number share a NodePort across protocols, as
 * the API server does). `services` in load order; allocation goes by namespace/name.
 */
export function assignNodePorts(services: readonly Item<Service>[], range: { base: number; max: number }, assumptions: Assumptions): void {
  const pool = new PortPool(range);
  const owner = new Map<number, string>();
  const outOfRange = (port: number) => invalid(port, `provided port is not in the valid range. The range of valid ports is ${range.base}-${range.max}`);
  const claim = (port: number, field: string, { object: svc, report }: Item<Service>) => {
    const me = objectName('Service', svc.metadata);
    if (!pool.inRange(port)) report.error(field, outOfRange(port));
    else if (!pool.reserve(port) && owner.get(port) !== me) report.error(field, invalid(port, `provided port is already allocated (by ${owner.get(port)})`));
    else owner.set(port, me);
  };
  for (const item of services) {
    const spec = item.object.spec;
    if (wantsNodePorts(spec) || spec.type === 'LoadBalancer') {
      spec.ports?.forEach((p, i) => p.nodePort && claim(p.nodePort, `spec.ports[${i}].nodePort`, item));
    }
    if (spec.healthCheckNodePort && needsHealthCheck(spec)) claim(spec.healthCheckNodePort, 'spec.healthCheckNodePort', item);
  }
  const sorted = [...services].sort((a, b) => objectName('Service', a.object.metadata).localeCompare(objectName('Service', b.object.metadata)));
  for (const { object: svc, report } of sorted) {
    const spec = svc.spec;
    const assume = (field: string, value: string) => assumptions.add(objectName('Service', svc.metadata), field, value, report.source);
    const next = (field: string): number | undefined => {
      const port = pool.next();
      if (port === undefined) report.error(field, `cannot allocate: no free port left in ${range.base}-${range.max}`);
      return port;
    };
    if (wantsNodePorts(spec)) {
      spec.ports?.forEach((p: ServicePort, i) => {
        if (p.nodePort) return;
        const sibling = spec.ports!.find((q) => q !== p && q.port === p.port && q.protocol !== p.protocol && q.nodePort);
        const port = sibling?.nodePort ?? next(`spec.ports[${i}].nodePort`);
        if (port === undefined) return;
        p.nodePort = port;
        assume(`spec.ports[${i}].nodePort`, `${port} (${sibling ? `shared with the ${sibling.protocol} port of the same number` : `lowest free in ${range.base}-${range.max}`})`);
      });
    }
    if (needsHealthCheck(spec) && !spec.healthCheckNodePort) {
      const port = next('spec.healthCheckNodePort');
      if (port === undefined) continue;
      spec.healthCheckNodePort = port;
      assume('spec.healthCheckNodePort', `${port} (lowest free in ${range.base}-${range.max}; LoadBalancer with externalTrafficPolicy Local)`);
    }
  }
}
