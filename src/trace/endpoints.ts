/**
 * A Service port's ready endpoints as the trace meets them (a load balancer with pod targets,
 * Envoy balancing itself): cluster/'s reading of the EndpointSlices, with the host that has each
 * address.
 *
 * @module
 */
import { readyEndpointsOf } from '../cluster/index.js';
import type { Service, ServicePort } from '../cluster/objects.js';
import type { IPFamily } from '../net/index.js';
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
  return readyEndpointsOf(slices, port, { family }).map((e) => ({ host: world.owner(e.address) ?? e.address, address: e.address, port: e.port }));
}
