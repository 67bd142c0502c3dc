/**
 * A cloud L4 load balancer in front of a LoadBalancer Service (passthrough: the client address
 * is kept). Its backends are the nodes; it health-checks them as cloud providers do — for
 * `externalTrafficPolicy: Local`, HTTP to the healthCheckNodePort, answered by each node's
 * kube-proxy; for Cluster, every node is taken as healthy — and spreads connections evenly over
 * the healthy ones, handing each packet to the node with the LB IP as destination (VIP) or to
 * nodeIP:nodePort.
 *
 * @module
 */
import type { LoadBalancerDelivery } from '../cluster/index.js';
import { type HealthCheckResponse, healthCheckResponse, type HealthCheckService } from '../kubeproxy/index.js';

/** One backend node as the load balancer sees it. */
export interface LoadBalancerBackend {
  node: string;
  /** The node's address the LB sends to (its InternalIP of the family). */
  address: string;
  /** For Local: kube-proxy's health check listener on the node (undefined when it has none). */
  healthCheck?: HealthCheckService;
}

/** What the LB decided for one node. */
export interface BackendChoice {
  node: string;
  address: string;
  healthy: boolean;
  /** The probe and its answer, for Local services. */
  probe?: { port: number; response: HealthCheckResponse };
  /** Share of new connections (0 for unhealthy nodes). */
  probability: number;
  /** Where the LB sends the packet: `address:port`. */
  destination: { address: string; port: number };
}

export interface LoadBalancerInput {
  /** The LB IP and port the client connects to. */
  vip: string;
  port: number;
  nodePort: number;
  externalPolicyLocal: boolean;
  healthCheckNodePort: number;
  delivery: LoadBalancerDelivery;
  backends: readonly LoadBalancerBackend[];
}

/** The health check verdicts and the share of each node. */
export function chooseBackends(lb: LoadBalancerInput): BackendChoice[] {
  const choices = lb.backends.map((b): Omit<BackendChoice, 'probability'> => {
    const destination = lb.delivery === 'VIP' ? { address: lb.vip, port: lb.port } : { address: b.address, port: lb.nodePort };
    if (!lb.externalPolicyLocal) return { node: b.node, address: b.address, healthy: true, destination };
    // kube-proxy answers on every node; a node without the listener refuses the probe.
    const hc = b.healthCheck;
    if (!hc) return { node: b.node, address: b.address, healthy: false, destination };
    const response = healthCheckResponse(hc);
    return { node: b.node, address: b.address, healthy: response.status === 200, probe: { port: lb.healthCheckNodePort, response }, destination };
  });
  const healthy = choices.filter((c) => c.healthy).length;
  return choices.map((c) => ({ ...c, probability: c.healthy ? 1 / healthy : 0 }));
}
