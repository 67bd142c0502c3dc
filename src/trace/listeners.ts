/**
 * Who takes a connection where a leg was delivered: a proxying cloud load balancer, the
 * sidecar of a pod, an ingress controller, a reverse proxy of the Environment — each a hop that
 * opens its own connections — or else the application.
 *
 * @module
 */
import { type ClientIPStrategySpec, proxyUpstreamOf, type ReverseProxy } from '../cluster/index.js';
import type { Pod } from '../cluster/objects.js';
import { forwardThrough, type HttpProxy } from '../edge/http-proxy.js';
import { chooseBackends, proxyModelOf } from '../edge/loadbalancer.js';
import type { Service, ServicePort } from '../cluster/objects.js';
import { type ConnectionPayload, hostOf, type ProxyDecision } from '../edge/request.js';
import { formatIP, formatNetwork, type IPFamily, parseEndpoint, parseIP, type Packet } from '../net/index.js';
import type { IstioSidecar } from '../sidecar/index.js';
import {
  findIngressNginx,
  ingressNginxConfig,
  type IngressNginxConfig,
  type IngressNginxDecision,
  ingressNginxForward,
  type IngressNginxInstallation,
  ingressNginxTable,
  type IngressNginxTable,
} from '../edge/ingress-nginx.js';
import { readyEndpoints } from './endpoints.js';
import type { HttpRequestHead } from '../edge/request.js';
import { formatEndpoint } from '../net/index.js';
import { resolveApp, workloadRefs } from './app.js';
import { type ConnectionOutcome, type HopAdvice, type Listener, type ProxyHop, traceConnection, type UpstreamLeg } from './connection.js';
import type { JourneyPlan } from './plan.js';
import { healthCheckStep, type JourneyOutcome, type LoadBalancerTarget } from './journey.js';
import type { World } from './world.js';

/**
 * Source ports of the connections proxies open (each leg is traced on its own, so one fixed
 * ephemeral port per kind of hop keeps traces reproducible).
 */
export const PROXY_SOURCE_PORT = { loadBalancer: 50100, ingress: 50200, sidecar: 50300, sidecarInbound: 50301, proxy: 50400 } as const;

function tcpPacket(from: string, fromPort: number, to: string, toPort: number, protocol: number): Packet {
  return { family: parseIP(from).family, protocol, source: parseIP(from), destination: parseIP(to), sourcePort: fromPort, destinationPort: toPort, tcpFlags: undefined, icmpType: undefined, icmpCode: undefined, length: undefined };
}

/** A proxying cloud load balancer: health checks, then a new connection to each healthy backend from its own address. */
export function loadBalancerHop(world: World, lb: LoadBalancerTarget, protocol: number): ProxyHop {
  const svcRef = lb.service.replace(/^lb\//, '');
  const configured = world.cluster.loadBalancers?.some((l) => l.service === svcRef);
  return {
    at: lb.service,
    name: lb.product,
    decide: (payload) => forwardThrough(proxyModelOf({ ...lb, sourceAddress: lb.sourceAddress ?? '' }), payload),
    ...(lb.mode === 'proxy' && !lb.proxyProtocol
      ? {
          advice: {
            lost: {
              detail: `${lb.product} proxies at L4: it connects to the backends from its own address ${lb.sourceAddress ?? ''} and, without PROXY protocol, nothing carries the client's address; enable PROXY protocol on the load balancer and on the listener behind it`,
              fix: configured ? `env.loadBalancers[${svcRef}].proxyProtocol=v2` : `PROXY protocol on the load balancer (its annotation, e.g. service.beta.kubernetes.io/aws-load-balancer-proxy-protocol: "*", or an Environment loadBalancers entry with proxyProtocol: v2)`,
            },
          },
        }
      : {}),
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


/** Envoy passes a request on as it got it (a sidecar's connection manager has use_remote_address off: X-Forwarded-For untouched). */
function passOn(payload: ConnectionPayload, why: string): ProxyDecision {
  return { kind: 'forward', clientAddress: hostOf(payload.peer), clientAddressWhy: why, upstream: payload.http ? { http: payload.http } : {}, changes: [], notes: [] };
}

function podAddress(world: World, host: string, family: IPFamily): string | undefined {
  const pod = world.podAt(host);
  return (pod?.status?.podIPs ?? []).map((p) => p.ip).find((ip) => parseIP(ip).family === family);
}

/** The Service port a ClusterIP:port belongs to. */
function serviceAt(world: World, endpoint: string): { svc: Service; port: ServicePort } | undefined {
  const ep = parseEndpoint(endpoint);
  const ip = formatIP(ep.ip);
  for (const svc of world.cluster.services) {
    if (!(svc.spec.clusterIPs ?? [svc.spec.clusterIP]).includes(ip)) continue;
    const port = (svc.spec.ports ?? []).find((p) => p.port === ep.port);
    if (port) return { svc, port };
  }
  return undefined;
}

/**
 * How Istio picks the protocol of an inbound port: the ServicePort that targets it, by
 * `appProtocol` or its name's prefix (http, http2, grpc…); otherwise Envoy sniffs the first bytes,
 * and a PROXY header is not HTTP.
 */
function inboundPortOf(world: World, host: string, destination: string): { http: boolean; why: string } {
  const ep = parseEndpoint(destination);
  const address = formatIP(ep.ip);
  const pod = world.podAt(host);
  for (const svc of world.cluster.services) {
    if (svc.metadata.namespace !== pod?.metadata.namespace) continue;
    for (const port of svc.spec.ports ?? []) {
      if (!readyEndpoints(world, svc, port, ep.ip.family).some((e) => e.address === address && e.port === ep.port)) continue;
      const declared = (port.appProtocol ?? port.name ?? '').toLowerCase();
      const http = /^(https?|http2|grpc(-web)?)($|-)/.test(declared) || /^kubernetes\.io\/h2c$/.test(declared);
      return { http, why: `port ${ep.port} (svc/${svc.metadata.namespace}/${svc.metadata.name} port "${port.name ?? port.port}"${http ? ', declared HTTP' : ', not declared HTTP: protocol sniffing'})` };
    }
  }
  return { http: false, why: `port ${ep.port} (no Service declares its protocol: protocol sniffing)` };
}

/**
 * istio-proxy's inbound side: the connection iptables diverted to 15006. REDIRECT: Envoy finds the
 * original destination (SO_ORIGINAL_DST) and connects to it from 127.0.0.6; TPROXY: it connects
 * from the client's own address (original_src, mark 1337), with a new port.
 */
export function sidecarInboundHop(world: World, host: string, sidecar: IstioSidecar, o: JourneyOutcome, protocol: number): ProxyHop {
  const tproxy = sidecar.capture!.mode === 'TPROXY';
  const name = `istio-proxy (${sidecar.capture!.mode}) in ${host}`;
  const original = parseEndpoint(o.socket!.originalDestination);
  const family = original.ip.family;
  return {
    at: host,
    name,
    decide: (payload) => {
      if (payload.proxyHeader) {
        const port = inboundPortOf(world, host, o.socket!.originalDestination);
        if (port.http) return { kind: 'refuse', status: 400, reason: `a PROXY header arrived at the inbound listener of ${port.why}: Envoy's HTTP codec cannot parse it and answers 400`, notes: [] };
        const d = passOn(payload, 'the TCP peer of the connection it accepted');
        return d.kind === 'forward' ? { ...d, upstream: { ...d.upstream, proxyHeader: payload.proxyHeader }, notes: [`${port.why}: the PROXY header is not HTTP, so Envoy proxies the bytes as TCP and the header reaches the application as data`] } : d;
      }
      return passOn(payload, 'the TCP peer of the connection it accepted (its own connection manager does not rewrite X-Forwarded-For)');
    },
    advice: tproxy
      ? {}
      : {
          lost: {
            detail: `in REDIRECT mode Envoy connects to the application from ${family === 4 ? '127.0.0.6' : '::6'} (the inbound passthrough address): the application's TCP peer is never the client; the client's address survives only in headers Envoy was given`,
            fix: `annotate the pod template: sidecar.istio.io/interceptionMode: TPROXY (Envoy then connects from the client's address), or read X-Forwarded-For set by a gateway in front`,
          },
        },
    upstreams: (_d, payload) => {
      const peer = parseEndpoint(payload.peer);
      const source = tproxy ? formatIP(peer.ip) : family === 4 ? '127.0.0.6' : '::6';
      const dst = formatIP(original.ip);
      const leg: UpstreamLeg = {
        probability: 1,
        from: host,
        packet: tcpPacket(source, PROXY_SOURCE_PORT.sidecarInbound, dst, original.port ?? 0, protocol),
        socket: { uid: sidecar.proxy.uid, gid: sidecar.proxy.gid, supplementaryGids: [] },
        ...(tproxy ? { mark: sidecar.capture!.inboundTproxyMark } : {}),
        route: { state: 'ROUTE', at: host, detail: tproxy ? `original destination ${o.socket!.originalDestination} (the TPROXY socket's own address); upstream bound to the client's address with SO_MARK ${sidecar.capture!.inboundTproxyMark} (original_src)` : `original destination ${o.socket!.originalDestination} (SO_ORIGINAL_DST, from conntrack); upstream bound to ${source} (InboundPassthroughBindIpv${family})` },
      };
      return { steps: [], legs: [leg] };
    },
  };
}

/**
 * istio-proxy's outbound side: the app's connection REDIRECTed to 15001. Envoy balances over the
 * Service's endpoints itself (kube-proxy's ClusterIP rules never see it) and connects from the
 * pod's IP as the proxy user, which ISTIO_OUTPUT lets out uncaptured; an address that is no
 * Service goes out as it was (PassthroughCluster).
 */
export function sidecarOutboundHop(world: World, host: string, sidecar: IstioSidecar, o: JourneyOutcome, protocol: number): ProxyHop {
  const name = `istio-proxy (outbound) in ${host}`;
  const original = o.socket!.originalDestination;
  const family = parseEndpoint(original).ip.family;
  return {
    at: host,
    name,
    decide: (payload) => passOn(payload, 'the application in its own pod'),
    upstreams: () => {
      const from = podAddress(world, host, family);
      if (!from) return { refuse: `the pod has no IPv${family} address` };
      const socket = { uid: sidecar.proxy.uid, gid: sidecar.proxy.gid, supplementaryGids: [] };
      const target = serviceAt(world, original);
      if (!target) {
        const ep = parseEndpoint(original);
        return { steps: [], legs: [{ probability: 1, from: host, socket, packet: tcpPacket(from, PROXY_SOURCE_PORT.sidecar, formatIP(ep.ip), ep.port ?? 0, protocol), route: { state: 'ROUTE', at: host, detail: `${original} is no Service: PassthroughCluster, to the original destination` } }] };
      }
      const eps = readyEndpoints(world, target.svc, target.port, family);
      if (eps.length === 0) return { refuse: `svc/${target.svc.metadata.namespace}/${target.svc.metadata.name} has no ready endpoints: Envoy answers 503 (no healthy upstream)` };
      return {
        steps: [],
        legs: eps.map((e) => ({
          probability: 1 / eps.length,
          from: host,
          socket,
          packet: tcpPacket(from, PROXY_SOURCE_PORT.sidecar, e.address, e.port, protocol),
          route: { state: 'ROUTE', at: host, detail: `outbound|${target.port.port}||${target.svc.metadata.name}.${target.svc.metadata.namespace}.svc.cluster.local: endpoint ${e.address}:${e.port}, 1 of ${eps.length} (Envoy balances itself; kube-proxy's ClusterIP rules are not used)`, probability: 1 / eps.length },
        })),
      };
    },
  };
}

/** The edge/ model of an Environment reverse proxy. */
export function reverseProxyModel(p: ReverseProxy): HttpProxy {
  if (p.type === 'haproxy') {
    return { kind: 'haproxy', mode: p.mode, ...(p.acceptProxyProtocol ? { acceptProxy: true } : {}), ...(p.forwardFor ? { forwardFor: {} } : {}), ...(p.sendProxyProtocol ? { sendProxy: p.sendProxyProtocol } : {}) };
  }
  return {
    kind: 'envoy',
    mode: p.mode,
    ...(p.useRemoteAddress !== undefined ? { useRemoteAddress: p.useRemoteAddress } : {}),
    ...(p.xffNumTrustedHops !== undefined ? { xffNumTrustedHops: p.xffNumTrustedHops } : {}),
    ...(p.acceptProxyProtocol ? { proxyProtocol: true } : {}),
    ...(p.sendProxyProtocol ? { upstreamProxyProtocol: p.sendProxyProtocol } : {}),
  };
}

/** What to change at a reverse proxy, as `--set` edits of the Environment. */
function reverseProxyAdvice(p: ReverseProxy): HopAdvice {
  const at = `env.proxies[${p.name}]`;
  const carry =
    p.mode === 'tcp'
      ? { detail: `${p.name} forwards bytes (mode tcp) from its own pod address and sends no PROXY header: the client's address stays behind (a listener behind it must then read PROXY protocol: apps[].proxyProtocol require)`, fix: `${at}.sendProxyProtocol=v2` }
      : p.type === 'haproxy'
        ? { detail: `${p.name} connects from its own pod address and adds no X-Forwarded-For (no option forwardfor): the client's address stays behind`, fix: `${at}.forwardFor=true` }
        : { detail: `${p.name} connects from its own pod address and, with use_remote_address false, does not append the address it got to X-Forwarded-For`, fix: `${at}.useRemoteAddress=true` };
  if (p.type === 'haproxy') return { lost: carry };
  return {
    lost: carry,
    ignored: {
      detail: `the client's address reached ${p.name} in X-Forwarded-For, but with use_remote_address true and xff_num_trusted_hops ${p.xffNumTrustedHops ?? 0} Envoy trusts only its TCP peer (the proxy in front): count one trusted hop per proxy in front that appends to X-Forwarded-For, or have the load balancer send PROXY protocol (acceptProxyProtocol)`,
      fix: `${at}.xffNumTrustedHops=${(p.xffNumTrustedHops ?? 0) + 1}`,
    },
    forged: {
      detail: `with use_remote_address ${p.useRemoteAddress ? 'true' : 'false'} and xff_num_trusted_hops ${p.xffNumTrustedHops ?? 0}, Envoy takes an X-Forwarded-For entry the client itself can write when nothing in front appends the real one; with use_remote_address it appends its peer and trusts only as many entries as there are proxies in front`,
      fix: `${at}.useRemoteAddress=true`,
    },
  };
}

/**
 * A reverse proxy the Environment describes (Envoy, HAProxy, an Istio ingress gateway): its model
 * decides, then it connects from its pod's address to the Service's ClusterIP (a DNS name, which
 * kube-proxy balances), to the Service's ready endpoints (`upstreamEndpoints`: EDS), or to an address.
 */
export function reverseProxyHop(world: World, host: string, proxy: ReverseProxy, protocol: number): ProxyHop {
  const name = `${proxy.type === 'envoy' ? 'Envoy' : 'HAProxy'} "${proxy.name}" in ${host}`;
  const model = reverseProxyModel(proxy);
  return {
    at: host,
    name,
    decide: (payload) => forwardThrough(model, payload),
    advice: reverseProxyAdvice(proxy),
    upstreams: () => {
      const up = proxyUpstreamOf(proxy, world.cluster.services);
      if (typeof up === 'string') return { refuse: up };
      const via = (address: string, port: number, detail: string, probability = 1): UpstreamLeg | string => {
        const family = parseIP(address).family;
        const from = podAddress(world, host, family);
        if (!from) return `the pod has no IPv${family} address`;
        return { probability, from: host, packet: tcpPacket(from, PROXY_SOURCE_PORT.proxy, address, port, protocol), route: { state: 'ROUTE', at: host, detail, ...(probability < 1 ? { probability } : {}) } };
      };
      const done = (legs: (UpstreamLeg | string)[]) => {
        const bad = legs.find((l): l is string => typeof l === 'string');
        return bad ? { refuse: bad } : { steps: [], legs: legs as UpstreamLeg[] };
      };
      if (up.kind === 'address') return done([via(up.address, up.port, `upstream ${proxy.upstream}`)]);
      const svc = `${up.service.metadata.namespace}/${up.service.metadata.name}`;
      const family = podFamily(world, host);
      if (proxy.upstreamEndpoints) {
        const eps = readyEndpoints(world, up.service, up.port, family);
        if (eps.length === 0) return { refuse: `svc/${svc} has no ready endpoints: ${proxy.type === 'envoy' ? 'Envoy answers 503 (no healthy upstream)' : 'HAProxy answers 503'}` };
        return done(eps.map((e) => via(e.address, e.port, `upstream svc/${svc} by its endpoints (the proxy balances itself; kube-proxy's ClusterIP rules are not used): ${e.address}:${e.port}${eps.length > 1 ? `, 1 of ${eps.length}` : ''}`, 1 / eps.length)));
      }
      const clusterIP = (up.service.spec.clusterIPs ?? [up.service.spec.clusterIP]).find((ip): ip is string => ip !== undefined && ip !== 'None' && parseIP(ip).family === family);
      if (!clusterIP) return { refuse: `svc/${svc} has no IPv${family} ClusterIP to connect to (headless: set upstreamEndpoints)` };
      return done([via(clusterIP, up.port.port, `upstream svc/${svc}:${up.port.port}: its ClusterIP ${clusterIP} (the Service's DNS name), balanced by kube-proxy`)]);
    },
  };
}

/** The family of a pod's first address (its Service upstreams are reached in it). */
function podFamily(world: World, host: string): IPFamily {
  const ip = world.podAt(host)?.status?.podIPs?.[0]?.ip;
  return ip ? parseIP(ip).family : 4;
}

/** An ingress-nginx installation as the trace uses it: its config and server table, built once. */
interface IngressNginxHere {
  install: IngressNginxInstallation;
  config: IngressNginxConfig;
  table: IngressNginxTable;
  /** `cm/NS/NAME` for fixes. */
  configMapRef: string;
}

function ingressNginxOf(world: World): IngressNginxHere[] {
  return findIngressNginx(world.cluster).map((install) => {
    const where = `ConfigMap ${install.configMapName}`;
    const read = ingressNginxConfig(install.configMap?.data ?? {}, where);
    if (read.errors.length > 0) throw new IngressConfigError(read.errors.join('; '));
    return { install, config: read.config, table: ingressNginxTable(world.cluster, install.controller, read.config), configMapRef: `cm/${install.configMapName}` };
  });
}

/** A controller ConfigMap value ingress-nginx would not take. */
export class IngressConfigError extends Error {
  override readonly name = 'IngressConfigError';
}

/** ingress-nginx in one of its controller pods: realip, routing, the headers it sets, then a connection to the chosen upstream. */
export function ingressNginxHop(world: World, host: string, here: IngressNginxHere, protocol: number): ProxyHop {
  const name = `ingress-nginx ${host}`;
  const cm = here.configMapRef;
  return {
    at: host,
    name,
    decide: (payload) => ingressNginxForward(payload, here.config, here.table),
    advice: {
      ignored: {
        detail: here.config.useProxyProtocol
          ? 'the address reached ingress-nginx but not from a peer in proxy-real-ip-cidr, so realip keeps the TCP peer'
          : `the client's address reached ingress-nginx in ${here.config.forwardedForHeader} but ${here.config.useForwardedHeaders ? 'the peer is not in proxy-real-ip-cidr' : 'use-forwarded-headers is off'}: $remote_addr, X-Real-IP and X-Forwarded-For become the TCP peer (the load balancer or a node); turn it on and set proxy-real-ip-cidr to the addresses the load balancer connects from, or a client can write its own`,
        fix: here.config.useForwardedHeaders ? `${cm}.data.proxy-real-ip-cidr=LB_CIDR` : `${cm}.data.use-forwarded-headers=true`,
      },
      forged: {
        detail: `use-forwarded-headers is on and proxy-real-ip-cidr is ${here.config.proxyRealIpCidr.map(formatNetwork).join(', ')}: realip believes ${here.config.forwardedForHeader} from any peer, so the client writes its own address; trust only the load balancer's addresses (LB_CIDR below)`,
        fix: `${cm}.data.proxy-real-ip-cidr=LB_CIDR`,
      },
    },
    upstreams: (d) => {
      const route = (d as IngressNginxDecision).route;
      if (!route || route.kind !== 'backend') return { refuse: 'no backend chosen' };
      const family = parseEndpoint(route.upstreams[0]?.address ?? '0.0.0.0:0').ip.family;
      const from = podAddress(world, host, family);
      if (!from) return { refuse: `the controller pod has no IPv${family} address` };
      if (route.upstreams.length === 0) return { refuse: `${route.service.metadata.namespace}/${route.service.metadata.name} has no ready endpoints: nginx answers 503` };
      const legs: UpstreamLeg[] = route.upstreams.map((u) => {
        const ep = parseEndpoint(u.address);
        return {
          probability: u.share,
          from: host,
          packet: tcpPacket(from, PROXY_SOURCE_PORT.ingress, formatIP(ep.ip), ep.port ?? 0, protocol),
          route: { state: 'ROUTE', at: host, detail: `${route.why}: upstream ${u.address}${u.pod ? ` (pod ${u.pod})` : ''}${route.upstreams.length > 1 ? `, 1 of ${route.upstreams.length}` : ''}`, ...(route.upstreams.length > 1 ? { probability: u.share } : {}) },
        };
      });
      return { steps: [], legs };
    },
  };
}

/** The listener resolver of a world. */
export function listenersOf(world: World, options: ListenerOptions): (o: JourneyOutcome) => Listener {
  let ingress: IngressNginxHere[] | undefined;
  return (o) => {
    const at = o.endpoint ?? '';
    if (at.startsWith('lb/')) {
      const lb = options.loadBalancerAt(o);
      if (lb) return { kind: 'proxy', hop: loadBalancerHop(world, lb, options.protocol) };
    }
    const sidecar = world.sidecarOf(at);
    if (sidecar && o.socket) {
      const c = sidecar.capture!;
      if (o.socket.port === c.inboundCapturePort) return { kind: 'proxy', hop: sidecarInboundHop(world, at, sidecar, o, options.protocol) };
      if (o.socket.port === c.proxyPort) return { kind: 'proxy', hop: sidecarOutboundHop(world, at, sidecar, o, options.protocol) };
    }
    const pod = world.podAt(at);
    if (pod && o.socket) {
      ingress ??= ingressNginxOf(world);
      const here = ingress.find((i) => i.install.pods.some((p) => p.metadata.namespace === pod.metadata.namespace && p.metadata.name === pod.metadata.name));
      if (here && controllerPorts(pod).includes(o.socket.port)) return { kind: 'proxy', hop: ingressNginxHop(world, at, here, options.protocol) };
    }
    const proxy = pod && o.socket ? world.cluster.proxies?.find((p) => p.port === o.socket!.port && workloadRefs(pod).includes(p.workload)) : undefined;
    if (proxy) return { kind: 'proxy', hop: reverseProxyHop(world, at, proxy, options.protocol) };
    return { kind: 'app', app: resolveApp(world.cluster, pod, options.clientIP) };
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

/** The ports nginx listens on in a controller pod: its http/https container ports (80 and 443 when it declares none). */
function controllerPorts(pod: Pod): number[] {
  const ports = (pod.spec.containers ?? []).flatMap((c) => c.ports ?? []).filter((p) => p.name === 'http' || p.name === 'https' || p.containerPort === 80 || p.containerPort === 443);
  return ports.length > 0 ? ports.map((p) => p.containerPort) : [80, 443];
}
