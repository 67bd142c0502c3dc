/**
 * A Service port's ready endpoints, as a proxy that balances over them itself sees them
 * (ingress-nginx, Envoy, a load balancer with pod targets): address, target port and the host
 * that has the address.
 *
 * @module
 */
import type { Service, ServicePort } from '../cluster/objects.js';
import { formatIP, type IPFamily, tryParseIP } from '../net/index.js';
import type { World } from './world.js';

export interface ReadyEndpoint {
  /** Host id of the endpoint (`pod/NS/NAME`, or the address when no host has it). */
  host: string;
  address: string;
  port: number;
}

/** Ready endpoints of one ServicePort in one family, in the slices' order. */
export function readyEndpoints(world: World, svc: Service, port: ServicePort, family: IPFamily): ReadyEndpoint[] {
  const slices = world.slicesOf(svc.metadata.namespace ?? 'default', svc.metadata.name);
  const type = family === 4 ? 'IPv4' : 'IPv6';
  const out: ReadyEndpoint[] = [];
  const seen = new Set<string>();
  for (const slice of slices) {
    if (slice.addressType !== type) continue;
    const p = (slice.ports ?? []).find((x) => (x.name ?? '') === (port.name ?? '') && (x.protocol ?? 'TCP') === (port.protocol ?? 'TCP'));
    if (!p?.port) continue;
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      for (const a of ep.addresses ?? []) {
        const ip = tryParseIP(a);
        if (!ip) continue;
        const address = formatIP(ip);
        const key = `${address}:${p.port}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ host: world.owner(address) ?? address, address, port: p.port });
      }
    }
  }
  return out;
}
