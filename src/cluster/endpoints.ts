/**
 * Legacy core/v1 Endpoints into EndpointSlices, as the EndpointSlice mirroring controller does:
 * per subset and address family, `addresses` ready and `notReadyAddresses` not, ports as given,
 * at most 1000 addresses mirrored per Endpoints.
 *
 * @module
 */
import { tryParseIP } from '../net/index.js';
import type { Endpoint, EndpointAddress, EndpointPort, EndpointSlice, Endpoints } from './objects.js';
import { type Assumptions, objectName } from './assumptions.js';
import { byAddress, makeSlices } from './endpointslices.js';
import type { Item } from './nodes.js';

/** The mirroring controller mirrors at most this many addresses of one Endpoints object. */
const MAX_MIRRORED = 1000;

function toEndpoint(a: EndpointAddress, ready: boolean): Endpoint {
  const ep: Endpoint = { addresses: [a.ip], conditions: { ready } };
  if (a.hostname) ep.hostname = a.hostname;
  if (a.nodeName) ep.nodeName = a.nodeName;
  if (a.targetRef) ep.targetRef = { ...a.targetRef };
  return ep;
}

/** The slices mirrored from one Endpoints object, reported as an assumption. */
export function convertEndpoints({ object: eps, report }: Item<Endpoints>, assumptions: Assumptions): EndpointSlice[] {
  const out: EndpointSlice[] = [];
  let budget = MAX_MIRRORED;
  for (const subset of eps.subsets ?? []) {
    const ports: EndpointPort[] = (subset.ports ?? []).map((p) => {
      const port: EndpointPort = { name: p.name ?? '', protocol: p.protocol ?? 'TCP', port: p.port };
      if (p.appProtocol !== undefined) port.appProtocol = p.appProtocol;
      return port;
    });
    const all = [...(subset.addresses ?? []).map((a) => toEndpoint(a, true)), ...(subset.notReadyAddresses ?? []).map((a) => toEndpoint(a, false))];
    if (all.length > budget) report.warn('subsets', `more than ${MAX_MIRRORED} addresses: only the first ${MAX_MIRRORED} are mirrored, as the mirroring controller does`);
    const mirrored = all.slice(0, Math.max(budget, 0));
    budget -= all.length;
    for (const [addressType, family] of [['IPv4', 4], ['IPv6', 6]] as const) {
      const endpoints = mirrored.filter((e) => tryParseIP(e.addresses[0]!)?.family === family).sort(byAddress);
      if (endpoints.length === 0) continue;
      const group = { namespace: eps.metadata.namespace!, serviceName: eps.metadata.name, addressType, ports, endpoints };
      out.push(...makeSlices(group, 'endpointslicemirroring-controller.k8s.io', { kind: 'Endpoints', name: eps.metadata.name }));
    }
  }
  const names = out.map((s) => s.metadata.name).join(', ') || 'no slices (no addresses)';
  assumptions.add(objectName('Endpoints', eps.metadata), 'subsets', `converted into ${names}, as the EndpointSlice mirroring controller does`, report.source);
  return out;
}
