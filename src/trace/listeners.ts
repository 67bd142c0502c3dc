/**
 * Who takes a connection where a leg was delivered: a proxying cloud load balancer, the
 * sidecar of a pod, an ingress controller, a reverse proxy of the Environment — each a hop that
 * opens its own connections — or else the application.
 *
 * @module
 */
import type { ClientIPStrategySpec } from '../cluster/index.js';
import type { Pod } from '../cluster/objects.js';
import { chooseBackends, cloudLoadBalancerDecision } from '../edge/loadbalancer.js';
import { parseIP, type Packet } from '../net/index.js';
import type { HttpRequestHead } from '../edge/request.js';
import { formatEndpoint } from '../net/index.js';
import { resolveApp } from './app.js';
import { type ConnectionOutcome, type Listener, type ProxyHop, traceConnection, type UpstreamLeg } from './connection.js';
import type { JourneyPlan } from './plan.js';
import { healthCheckStep, type JourneyOutcome, type LoadBalancerTarget } from './journey.js';
import type { World } from './world.js';

/**
 * Source ports of the connections proxies open (each leg is traced on its own, so one fixed
 * ephemeral port per kind of hop keeps traces reproducible).
 */
export const PROXY_SOURCE_PORT = { loadBalancer: 50100, ingress: 50200, sidecar: 50300, proxy: 50400 } as const;

function tcpPacket(from: string, fromPort: number, to: string, toPort: number, protocol: number): Packet {
  return { family: parseIP(from).family, protocol, source: parseIP(from), destination: parseIP(to), sourcePort: fromPort, destinationPort: toPort, tcpFlags: undefined, icmpType: undefined, icmpCode: undefined, length: undefined };
}

/** A proxying cloud load balancer: health checks, then a new connection to each healthy backend from its own address. */
export function loadBalancerHop(world: World, lb: LoadBalancerTarget, protocol: number): ProxyHop {
  return {
    at: lb.service,
    name: lb.product,
    decide: (payload) => cloudLoadBalancerDecision(lb, payload),
    upstreams: () => {
      if (!lb.sourceAddress) return { refuse: 'no address to connect to the backends from (set loadBalancer.sourceAddress in the Environment)' };
      const from = world.addEdgeHost(`${lb.service.replaceAll('/', '-')}`, lb.sourceAddress);
      const choices = chooseBackends(lb);
      const forced = lb.forced ? choices.filter((c) => c.node === lb.forced) : [];
      const healthy = forced.length > 0 ? forced.map((c) => ({ ...c, probability: 1 })) : choices.filter((c) => c.healthy);
      const steps = [healthCheckStep(lb, choices)];
      if (healthy.length === 0) return { refuse: 'no healthy backend to send to' };
      const port = PROXY_SOURCE_PORT.loadBalancer;
      const legs: UpstreamLeg[] = healthy.map((c) => ({
        probability: c.probability,
        from,
        packet: tcpPacket(lb.sourceAddress!, port, c.destination.address, c.destination.port, protocol),
        route: { state: 'LOAD_BALANCE', at: lb.service, detail: forced.length > 0 ? `to ${c.node} (${c.destination.address}:${c.destination.port}), chosen by --via` : `to ${c.node} (${c.destination.address}:${c.destination.port}), 1 of ${healthy.length} healthy backends`, probability: c.probability },
      }));
      return { steps, legs };
    },
  };
}

export interface ListenerOptions {
  /** `--client-ip`: the app's strategy, over the Environment's. */
  clientIP?: ClientIPStrategySpec | undefined;
  /** The protocol number of the connection (6, 17, 132). */
  protocol: number;
  /** The load balancer a delivered `lb/…` endpoint stands for. */
  loadBalancerAt: (outcome: JourneyOutcome) => LoadBalancerTarget | undefined;
}

/** The pod object of a host id `pod/NS/NAME`. */
export function podOf(world: World, host: string): Pod | undefined {
  const m = /^pod\/([^/]+)\/(.+)$/.exec(host);
  if (!m) return undefined;
  return world.cluster.pods.find((p) => p.metadata.namespace === m[1] && p.metadata.name === m[2]);
}

/** The listener resolver of a world. */
export function listenersOf(world: World, options: ListenerOptions): (o: JourneyOutcome) => Listener {
  return (o) => {
    const at = o.endpoint ?? '';
    if (at.startsWith('lb/')) {
      const lb = options.loadBalancerAt(o);
      if (lb) return { kind: 'proxy', hop: loadBalancerHop(world, lb, options.protocol) };
    }
    return { kind: 'app', app: resolveApp(world.cluster, podOf(world, at), options.clientIP) };
  };
}

/** Trace a planned connection through every hop to the application. */
export function traceFromPlan(world: World, plan: JourneyPlan, options: { http?: HttpRequestHead | undefined; clientIP?: ClientIPStrategySpec | undefined }): ConnectionOutcome[] {
  const lbAt = (dst: string) => plan.input.loadBalancers(dst);
  return traceConnection({
    first: plan.input,
    clientAddress: plan.clientAddress,
    http: options.http,
    listenerAt: listenersOf(world, { clientIP: options.clientIP, protocol: plan.input.packet.protocol, loadBalancerAt: (o) => lbAt(o.packet.dst) }),
    firstProxyHeader: (o) => {
      // A passthrough LB that writes PROXY protocol (AWS NLB): the header names the client and the VIP it called.
      const vip = plan.loadBalancerAddress;
      const lb = vip && o.steps.some((s) => s.state === 'ARRIVE_AT_LOAD_BALANCER') ? lbAt(vip) : undefined;
      const p = plan.input.packet;
      return lb && lb.mode === 'passthrough' && lb.proxyProtocol ? { version: lb.proxyProtocol, source: formatEndpoint(p.source, p.sourcePort), destination: vip! } : undefined;
    },
  });
}
