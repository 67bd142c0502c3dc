/**
 * Endpoints as kube-proxy sees them: EndpointSlices of one address family merged per service
 * port (proxy.EndpointSliceCache), de-duplicated by `IP:port` and sorted by that text; then,
 * per node, split into the Cluster and Local policy sets (proxy.CategorizeEndpoints), with the
 * fallback to serving-terminating endpoints and topology hints.
 *
 * @module
 */
import { type EndpointSlice, type Protocol, SERVICE_NAME_LABEL } from '../cluster/objects.js';
import { formatEndpoint, parseIPSloppy } from '../net/index.js';
import type { ProxyFamily, ServicePortInfo } from './service-port.js';
import { servicePortKey, usesClusterEndpoints, usesLocalEndpoints } from './service-port.js';

export interface EndpointInfo {
  ip: string;
  port: number;
  /** `IP:port` or `[IPv6]:port`: identity, sort key, DNAT destination. */
  endpoint: string;
  /** On this node (the slice's nodeName equals the proxier's). */
  isLocal: boolean;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  zoneHints: ReadonlySet<string> | undefined;
  nodeHints: ReadonlySet<string> | undefined;
}

/** The service a slice belongs to (`ns/name`), or undefined without the service-name label. */
export function sliceServiceName(slice: EndpointSlice): string | undefined {
  const svc = slice.metadata.labels?.[SERVICE_NAME_LABEL];
  if (!svc || !slice.metadata.namespace || !slice.metadata.name) return undefined;
  return `${slice.metadata.namespace}/${svc}`;
}

/**
 * Endpoints per service-port key from all slices of one service. `nodeName` decides locality.
 * `preferSameNode` mirrors the PreferSameTrafficDistribution gate (node hints are read only with it).
 */
export function endpointsOfSlices(
  slices: Iterable<EndpointSlice>,
  family: ProxyFamily,
  nodeName: string,
  preferSameNode: boolean,
): Map<string, EndpointInfo[]> {
  const byPort = new Map<string, Map<string, EndpointInfo>>();
  for (const slice of slices) {
    if (slice.addressType !== family) continue;
    const namespace = slice.metadata.namespace!;
    const service = slice.metadata.labels![SERVICE_NAME_LABEL]!;
    for (const port of slice.ports ?? []) {
      if (port.name === undefined || port.name === null) continue;
      if (!port.port) continue;
      const key = servicePortKey(namespace, service, port.name, (port.protocol ?? 'TCP') as Protocol);
      let set = byPort.get(key);
      if (!set) byPort.set(key, (set = new Map()));
      for (const ep of slice.endpoints ?? []) {
        if (!ep.addresses || ep.addresses.length === 0) continue;
        const parsed = parseIPSloppy(ep.addresses[0]!);
        if (!parsed) continue;
        const terminating = ep.conditions?.terminating === true;
        const info: EndpointInfo = {
          ip: formatEndpoint(parsed, undefined),
          port: port.port,
          endpoint: formatEndpoint(parsed, port.port),
          isLocal: nodeName !== '' && ep.nodeName === nodeName,
          ready: ep.conditions?.ready ?? true,
          serving: ep.conditions?.serving ?? true,
          terminating,
          zoneHints: ep.hints?.forZones?.length ? new Set(ep.hints.forZones.map((z) => z.name)) : undefined,
          nodeHints: preferSameNode && ep.hints?.forNodes?.length ? new Set(ep.hints.forNodes.map((n) => n.name)) : undefined,
        };
        // An IP seen twice (pod IP reused while the old pod terminates): prefer the running one.
        if (!set.has(info.endpoint) || !terminating) set.set(info.endpoint, info);
      }
    }
  }
  const out = new Map<string, EndpointInfo[]>();
  for (const [key, set] of byPort) {
    if (set.size === 0) continue;
    out.set(key, [...set.values()].sort((a, b) => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0)));
  }
  return out;
}

export interface CategorizedEndpoints {
  cluster: EndpointInfo[];
  local: EndpointInfo[];
  /** Every endpoint this node may DNAT to: the union of the two, each once. */
  allReachable: EndpointInfo[];
  /** True when the service has usable endpoints anywhere in the cluster. */
  hasAny: boolean;
}

type TopologyMode = '' | 'PreferSameZone' | 'PreferSameNode';

function topologyMode(endpoints: readonly EndpointInfo[], nodeName: string, zone: string, preferSameNode: boolean): TopologyMode {
  let forNode = false;
  let allNodeHints = true;
  let forZone = false;
  let allZoneHints = true;
  for (const ep of endpoints) {
    if (!ep.ready) continue;
    if (!ep.nodeHints) allNodeHints = false;
    else if (ep.nodeHints.has(nodeName)) forNode = true;
    if (!ep.zoneHints) allZoneHints = false;
    else if (ep.zoneHints.has(zone)) forZone = true;
  }
  if (preferSameNode && allNodeHints && forNode) return 'PreferSameNode';
  if (allZoneHints && forZone) return 'PreferSameZone';
  return '';
}

function availableForTopology(ep: EndpointInfo, mode: TopologyMode, nodeName: string, zone: string): boolean {
  if (mode === '') return true;
  if (mode === 'PreferSameNode') return ep.nodeHints?.has(nodeName) === true;
  return ep.zoneHints?.has(zone) === true;
}

/** proxy.CategorizeEndpoints for one service port on one node. */
export function categorizeEndpoints(
  endpoints: readonly EndpointInfo[],
  svc: ServicePortInfo,
  nodeName: string,
  zone: string,
  preferSameNode: boolean,
): CategorizedEndpoints {
  let cluster: EndpointInfo[] = [];
  let local: EndpointInfo[] = [];
  let hasAny = false;
  let mode: TopologyMode = '';
  const useCluster = usesClusterEndpoints(svc);
  if (useCluster) {
    mode = topologyMode(endpoints, nodeName, zone, preferSameNode);
    cluster = endpoints.filter((ep) => ep.ready && availableForTopology(ep, mode, nodeName, zone));
    if (cluster.length === 0) cluster = endpoints.filter((ep) => ep.serving && ep.terminating);
    if (cluster.length > 0) hasAny = true;
  }
  if (!usesLocalEndpoints(svc)) return { cluster, local, allReachable: cluster, hasAny };
  let localReady = false;
  let localServingTerminating = false;
  for (const ep of endpoints) {
    if (ep.ready) {
      hasAny = true;
      if (ep.isLocal) localReady = true;
    } else if (ep.serving && ep.terminating) {
      hasAny = true;
      if (ep.isLocal) localServingTerminating = true;
    }
  }
  let servingTerminating = false;
  if (localReady) local = endpoints.filter((ep) => ep.isLocal && ep.ready);
  else if (localServingTerminating) {
    servingTerminating = true;
    local = endpoints.filter((ep) => ep.isLocal && ep.serving && ep.terminating);
  }
  if (!useCluster) return { cluster, local, allReachable: local, hasAny };
  if (mode === '' && !servingTerminating) return { cluster, local, allReachable: cluster, hasAny };
  const merged = new Map<string, EndpointInfo>();
  for (const ep of cluster) merged.set(ep.endpoint, ep);
  for (const ep of local) merged.set(ep.endpoint, ep);
  return { cluster, local, allReachable: [...merged.values()].sort((a, b) => (a.endpoint < b.endpoint ? -1 : 1)), hasAny };
}
