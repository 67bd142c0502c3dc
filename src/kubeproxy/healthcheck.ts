/**
 * kube-proxy's service health check server: for every LoadBalancer Service with
 * `externalTrafficPolicy: Local` it listens on the healthCheckNodePort of every node and answers
 * 200 when the node has ready local endpoints (503 otherwise). Cloud load balancers probe it to
 * decide which nodes receive traffic; this is the answer a node gives.
 *
 * @module
 */
import type { EndpointSlice } from '../cluster/objects.js';

/** One health check listener on a node. */
export interface HealthCheckService {
  namespace: string;
  name: string;
  /** The healthCheckNodePort it listens on (TCP, every node address). */
  port: number;
  /** Distinct IPs of ready endpoints on this node (terminating ones do not count). */
  localEndpoints: number;
}

/** The HTTP answer to any request on a health check port. */
export interface HealthCheckResponse {
  status: 200 | 503;
  headers: Record<string, string>;
  body: string;
}

/** What the handler writes, byte for byte (kube-proxy's hcHandler.ServeHTTP). */
export function healthCheckResponse(hc: HealthCheckService, proxyHealthy = true): HealthCheckResponse {
  const healthy = hc.localEndpoints !== 0 && proxyHealthy;
  return {
    status: healthy ? 200 : 503,
    headers: {
      'Content-Type': 'application/json',
      'X-Content-Type-Options': 'nosniff',
      'X-Load-Balancing-Endpoint-Weight': String(hc.localEndpoints),
    },
    body: [
      '{',
      '\t"service": {',
      `\t\t"namespace": ${JSON.stringify(hc.namespace)},`,
      `\t\t"name": ${JSON.stringify(hc.name)}`,
      '\t},',
      `\t"localEndpoints": ${hc.localEndpoints},`,
      `\t"serviceProxyHealthy": ${proxyHealthy}`,
      '}',
    ].join('\n'),
  };
}

/**
 * The local endpoint count kube-proxy's health check reports for a Service on a node: distinct
 * IPs of ready endpoints on that node, over all the Service's slices of the family.
 */
export function localReadyEndpoints(slices: Iterable<EndpointSlice>, family: 'IPv4' | 'IPv6', nodeName: string): number {
  const ips = new Set<string>();
  for (const slice of slices) {
    if (slice.addressType !== family) continue;
    for (const ep of slice.endpoints ?? []) {
      if (ep.nodeName !== nodeName || (ep.conditions?.ready ?? true) === false || !ep.addresses?.length) continue;
      ips.add(ep.addresses[0]!);
    }
  }
  return ips.size;
}
