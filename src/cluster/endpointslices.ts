/**
 * EndpointSlices as the EndpointSlice controller makes them from a Service's selector and its
 * pods (pkg/controller/endpointslice): one set of slices per address family, pods grouped by the
 * ports they resolve to (a named targetPort may be a different number on each pod), at most 100
 * endpoints a slice, an empty placeholder slice when there are none; and the checks on given slices.
 *
 * @module
 */
import { compareIP, formatIP, type IPAddress, tryParseIP } from '../net/index.js';
import type { ClusterNode } from './model.js';
import { type Endpoint, type EndpointPort, type EndpointSlice, type Pod, SERVICE_NAME_LABEL, type Service, type ServicePort, ZONE_LABEL } from './objects.js';
import { type Assumptions, objectName } from './assumptions.js';
import { duplicate, REQUIRED } from './issues.js';
import { nameSuffix } from './names.js';
import type { Item } from './nodes.js';
import { isActive } from './pods.js';
import { matchesMap } from './selectors.js';

/** The label saying which controller manages a slice. */
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
/** The controller's `--max-endpoints-per-slice` default. */
export const MAX_ENDPOINTS_PER_SLICE = 100;

type AddressType = 'IPv4' | 'IPv6';

/** What a set of slices is made from: the service they belong to and the endpoints of one address type and port set. */
export interface SliceGroup {
  namespace: string;
  serviceName: string;
  addressType: EndpointSlice['addressType'];
  ports: EndpointPort[];
  endpoints: Endpoint[];
}

/** Cut a group into slices of at most `max` endpoints, named `<service>-<suffix>` like generateName does. */
export function makeSlices(group: SliceGroup, managedBy: string, owner: { kind: string; name: string }, max = MAX_ENDPOINTS_PER_SLICE): EndpointSlice[] {
  const slices: EndpointSlice[] = [];
  const portKey = group.ports.map((p) => `${p.name}/${p.protocol}/${p.port}`).join(',');
  for (let start = 0; start === 0 || start < group.endpoints.length; start += max) {
    const suffix = nameSuffix(`${group.namespace}/${group.serviceName}/${group.addressType}/${portKey}/${start}`);
    slices.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${group.serviceName}-${suffix}`,
        namespace: group.namespace,
        labels: { [SERVICE_NAME_LABEL]: group.serviceName, [MANAGED_BY_LABEL]: managedBy },
        ownerReferences: [{ apiVersion: 'v1', kind: owner.kind, name: owner.name, controller: true }],
      },
      addressType: group.addressType,
      endpoints: group.endpoints.slice(start, start + max),
      ports: group.ports,
    });
  }
  return slices;
}

/** Endpoints in address order, so derived slices read the same on every load. */
export function byAddress(a: Endpoint, b: Endpoint): number {
  return compareIP(tryParseIP(a.addresses[0]!)!, tryParseIP(b.addresses[0]!)!);
}

/** podutil.IsPodReady: the Ready condition is True. */
export function isPodReady(pod: Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** podutil.FindPort: the number a ServicePort's targetPort means on this pod, if any. */
export function findPort(pod: Pod, port: ServicePort): number | undefined {
  const target = port.targetPort ?? port.port;
  if (typeof target === 'number') return target;
  // Sidecars (init containers that keep running) serve ports like containers do.
  const containers = [...pod.spec.containers, ...(pod.spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always')];
  for (const c of containers) {
    for (const p of c.ports ?? []) if (p.name === target && (p.protocol ?? 'TCP') === (port.protocol ?? 'TCP')) return p.containerPort;
  }
  return undefined;
}

/** getEndpointPorts: the service's ports this pod serves, named by ServicePort name, numbered per pod. */
function endpointPorts(svc: Service, pod: Pod): EndpointPort[] {
  const out: EndpointPort[] = [];
  for (const sp of svc.spec.ports ?? []) {
    const port = findPort(pod, sp);
    if (port === undefined) continue;
    const ep: EndpointPort = { name: sp.name ?? '', protocol: sp.protocol ?? 'TCP', port };
    if (sp.appProtocol !== undefined) ep.appProtocol = sp.appProtocol;
    out.push(ep);
  }
  return out;
}

/** podToEndpoint: the endpoint a pod gives a Service for one address type. */
function podToEndpoint(svc: Service, pod: Pod, node: ClusterNode | undefined, addressType: AddressType): Endpoint {
  const family = addressType === 'IPv4' ? 4 : 6;
  const serving = isPodReady(pod);
  const terminating = pod.metadata.deletionTimestamp !== undefined;
  // "ready" is never true for a terminating pod, unless the Service publishes not-ready addresses.
  const ready = svc.spec.publishNotReadyAddresses === true || (serving && !terminating);
  const ep: Endpoint = {
    addresses: (pod.status?.podIPs ?? []).map((p) => p.ip).filter((ip) => tryParseIP(ip)?.family === family),
    conditions: { ready, serving, terminating },
    targetRef: { kind: 'Pod', namespace: pod.metadata.namespace!, name: pod.metadata.name, ...(pod.metadata.uid ? { uid: pod.metadata.uid } : {}) },
  };
  if (pod.spec.hostname && pod.spec.subdomain === svc.metadata.name) ep.hostname = pod.spec.hostname;
  if (pod.spec.nodeName) ep.nodeName = pod.spec.nodeName;
  const zone = node?.labels[ZONE_LABEL];
  if (zone) ep.zone = zone;
  return ep;
}

/** Inputs to derivation. */
export interface DeriveInputs {
  /** Services (complete: defaults, IPs, families) whose slices are to be derived. */
  services: readonly Item<Service>[];
  /** All pods (complete), for selection. */
  pods: readonly Pod[];
  nodes: readonly ClusterNode[];
  /** Namespaces with pods that failed to load: a port not found there may be on them. */
  unsure: ReadonlySet<string>;
  assumptions: Assumptions;
}

/** The slices the EndpointSlice controller would write for each Service with a selector. */
export function deriveEndpointSlices(inputs: DeriveInputs): EndpointSlice[] {
  const nodes = new Map(inputs.nodes.map((n) => [n.name, n]));
  const out: EndpointSlice[] = [];
  for (const { object: svc, report } of inputs.services) {
    const selector = svc.spec.selector ?? {};
    if (svc.spec.type === 'ExternalName' || Object.keys(selector).length === 0) continue;
    const ns = svc.metadata.namespace!;
    // ShouldPodBeInEndpoints: selected, has an IP, not finished.
    const pods = inputs.pods.filter((p) => p.metadata.namespace === ns && matchesMap(selector, p.metadata.labels) && isActive(p) && (p.status?.podIPs?.length ?? 0) > 0);
    svc.spec.ports?.forEach((sp, i) => {
      if (typeof sp.targetPort !== 'string' || pods.length === 0 || inputs.unsure.has(ns)) return;
      if (!pods.some((p) => findPort(p, sp) !== undefined)) report.error(`spec.ports[${i}].targetPort`, `named port ${JSON.stringify(sp.targetPort)} not found on any selected pod`);
    });
    const made: EndpointSlice[] = [];
    for (const addressType of (svc.spec.ipFamilies ?? ['IPv4']) as AddressType[]) {
      const groups = new Map<string, { ports: EndpointPort[]; endpoints: Endpoint[] }>();
      for (const pod of pods) {
        const ep = podToEndpoint(svc, pod, nodes.get(pod.spec.nodeName ?? ''), addressType);
        if (ep.addresses.length === 0) continue;
        const ports = endpointPorts(svc, pod);
        const key = JSON.stringify(ports);
        const group = groups.get(key) ?? { ports, endpoints: [] };
        group.endpoints.push(ep);
        groups.set(key, group);
      }
      // No endpoints: the controller still writes one slice, empty, so the Service has a slice.
      if (groups.size === 0) groups.set('', { ports: [], endpoints: [] });
      for (const { ports, endpoints } of groups.values()) {
        endpoints.sort(byAddress);
        setTrafficDistributionHints(svc.spec.trafficDistribution, endpoints);
        made.push(...makeSlices({ namespace: ns, serviceName: svc.metadata.name, addressType, ports, endpoints }, 'endpointslice-controller.k8s.io', { kind: 'Service', name: svc.metadata.name }));
      }
    }
    const summary = made.map((s) => `${s.metadata.name} (${s.addressType}, ${s.endpoints.length} endpoint${s.endpoints.length === 1 ? '' : 's'})`).join(', ');
    inputs.assumptions.add(objectName('Service', svc.metadata), 'endpointSlices', `${summary}: derived from the selector and pods, as the EndpointSlice controller would`, report.source);
    out.push(...made);
  }
  return out;
}

/**
 * Hints for `spec.trafficDistribution` (the controller's trafficdist heuristics): PreferClose and
 * PreferSameZone hint each ready endpoint for its own zone, PreferSameNode for its node and zone.
 * An endpoint without a zone gets none, so kube-proxy falls back to every endpoint.
 */
function setTrafficDistributionHints(mode: string | undefined, endpoints: Endpoint[]): void {
  if (mode !== 'PreferClose' && mode !== 'PreferSameZone' && mode !== 'PreferSameNode') return;
  for (const ep of endpoints) {
    if (ep.conditions?.ready === false || !ep.zone) continue;
    ep.hints = { forZones: [{ name: ep.zone }], ...(mode === 'PreferSameNode' && ep.nodeName ? { forNodes: [{ name: ep.nodeName }] } : {}) };
  }
}

/** Checks on a given EndpointSlice that the API server or kube-proxy would make. */
export function checkEndpointSlice({ object: slice, report }: Item<EndpointSlice>, serviceExists: (ns: string, name: string) => boolean, nodeExists: (name: string) => boolean): void {
  const service = slice.metadata.labels?.[SERVICE_NAME_LABEL];
  if (!service) report.error(`metadata.labels[${SERVICE_NAME_LABEL}]`, `${REQUIRED}: kube-proxy reads only EndpointSlices that name their Service`);
  else if (!serviceExists(slice.metadata.namespace!, service)) report.warn(`metadata.labels[${SERVICE_NAME_LABEL}]`, `no Service ${slice.metadata.namespace}/${service} was given; the slice is kept but nothing uses it`);
  if (slice.endpoints.length > 1000) report.error('endpoints', `Too many: ${slice.endpoints.length}: must have at most 1000 items`);
  if ((slice.ports?.length ?? 0) > 100) report.error('ports', `Too many: ${slice.ports!.length}: must have at most 100 items`);
  const names = new Set<string>();
  slice.ports?.forEach((p, i) => {
    const name = p.name ?? '';
    if (names.has(name)) report.error(`ports[${i}].name`, duplicate(name));
    names.add(name);
  });
  slice.endpoints.forEach((ep, i) => {
    if (ep.nodeName && !nodeExists(ep.nodeName)) report.warn(`endpoints[${i}].nodeName`, `no node ${JSON.stringify(ep.nodeName)}: kube-proxy on no node counts this endpoint as local`);
  });
}

/** A ready endpoint of one ServicePort, as a proxy that balances over the endpoints itself reads it. */
export interface ReadyEndpoint {
  ip: IPAddress;
  /** Canonical text of `ip`. */
  address: string;
  port: number;
  /** `ns/name` of the Pod behind it, when the slice says. */
  pod: string | undefined;
  nodeName: string | undefined;
}

/**
 * The ready endpoints of a ServicePort in its EndpointSlices (ready unset counts as ready), each
 * address:port once, in the slices' order. `protocol` is the slice port's (default: the
 * ServicePort's); `family` keeps one address type.
 */
export function readyEndpointsOf(slices: readonly EndpointSlice[], sp: ServicePort, options: { protocol?: string; family?: 4 | 6 } = {}): ReadyEndpoint[] {
  const protocol = options.protocol ?? sp.protocol ?? 'TCP';
  const seen = new Set<string>();
  const out: ReadyEndpoint[] = [];
  for (const slice of slices) {
    if (slice.addressType === 'FQDN' || (options.family !== undefined && slice.addressType !== (options.family === 4 ? 'IPv4' : 'IPv6'))) continue;
    const port = (slice.ports ?? []).find((p) => (p.name ?? '') === (sp.name ?? '') && (p.protocol ?? 'TCP') === protocol)?.port;
    if (port === undefined) continue;
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      for (const a of ep.addresses ?? []) {
        const ip = tryParseIP(a);
        if (!ip) continue;
        const address = formatIP(ip);
        if (seen.has(`${address} ${port}`)) continue;
        seen.add(`${address} ${port}`);
        const pod = ep.targetRef?.kind === 'Pod' && ep.targetRef.name ? `${ep.targetRef.namespace ?? slice.metadata.namespace}/${ep.targetRef.name}` : undefined;
        out.push({ ip, address, port, pod, nodeName: ep.nodeName });
      }
    }
  }
  return out;
}
