/**
 * From what a user asks (`--from`, `--to`, `--via`, `--proto`) to the journey to trace: the
 * client host and its packet, and the cloud load balancers the packet may meet. Unknown names
 * are errors that list what exists.
 *
 * @module
 */
import type { PolicyIndex } from '../policy/index.js';
import type { Service, ServicePort } from '../cluster/objects.js';
import { type LoadBalancerBackend, resolveLoadBalancer } from '../edge/loadbalancer.js';
import { readyEndpoints } from './endpoints.js';
import { clusterIPOfFamily, localReadyEndpoints, type ProxyFamily } from '../kubeproxy/index.js';
import { formatEndpoint, formatIP, type IPFamily, parseEndpoint, parseIP, type Packet, protocolNumber, tryParseIP } from '../net/index.js';
import type { JourneyInput, LoadBalancerTarget } from './journey.js';
import type { World } from './world.js';

/** The socket of an application in a pod with a sidecar (not istio-proxy's 1337, which iptables lets out). */
const APP_SOCKET = { uid: 1000, gid: 1000, supplementaryGids: [] } as const;

/** A `--from`/`--to`/`--via` that names nothing, with what there is. */
export class TraceArgumentError extends Error {
  override readonly name = 'TraceArgumentError';
}

export interface TraceArgs {
  from: string;
  to: string;
  via?: string | undefined;
  proto?: string | undefined;
  /** Client source port (default 40000). */
  sourcePort?: number | undefined;
  roundTrip?: boolean | undefined;
}

export interface JourneyPlan {
  input: JourneyInput;
  /** What was asked, resolved: `client/203.0.113.7`, `svc/shop/web:http (10.96.0.10:80)`, ... */
  from: string;
  to: string;
  /** The Service the target belongs to, when it is one (for findings). */
  service?: { object: Service; port: ServicePort };
  /** The address the client sends from. */
  clientAddress: string;
  /** Where the client is, and which way the target is reached. */
  clientKind: 'external' | 'pod' | 'node';
  targetKind: 'clusterIP' | 'nodePort' | 'loadBalancer' | 'pod' | 'address';
  /** The load balancer's `VIP:port` when the target is one. */
  loadBalancerAddress?: string;
  /** The Host an HTTP client puts in its request for this target (the Service's DNS name, the address). */
  httpHost: string;
  /** The path, when the target implies one (an Ingress rule's). */
  httpPath?: string;
  notes: string[];
}

function list(items: readonly string[], max = 12): string {
  if (items.length === 0) return '(none)';
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')}, … (${items.length} in all)`;
}

function familyName(f: IPFamily): ProxyFamily {
  return f === 4 ? 'IPv4' : 'IPv6';
}

function findService(world: World, ref: string): { svc: Service; port: ServicePort } {
  const m = /^([^/]+)\/([^/:]+)(?::(.+))?$/.exec(ref);
  if (!m) throw new TraceArgumentError(`"${ref}": expected NS/NAME[:PORT]`);
  const [, ns, name, portRef] = m as unknown as [string, string, string, string | undefined];
  const svc = world.cluster.services.find((s) => s.metadata.namespace === ns && s.metadata.name === name);
  if (!svc) throw new TraceArgumentError(`no Service ${ns}/${name}; Services: ${list(world.cluster.services.map((s) => `${s.metadata.namespace}/${s.metadata.name}`))}`);
  const ports = svc.spec.ports ?? [];
  const port = portRef === undefined ? ports[0] : ports.find((p) => p.name === portRef || String(p.port) === portRef);
  if (!port) throw new TraceArgumentError(`Service ${ns}/${name} has no port ${portRef ?? ''}; ports: ${list(ports.map((p) => (p.name ? `${p.name} (${p.port})` : String(p.port))))}`);
  return { svc, port };
}

function nodeNamed(world: World, name: string) {
  const node = world.cluster.nodes.find((n) => n.name === name);
  if (!node) throw new TraceArgumentError(`no node ${name}; nodes: ${list(world.cluster.nodes.map((n) => n.name))}`);
  return node;
}

function addressOf(texts: readonly string[], family: IPFamily | undefined): string | undefined {
  return texts.find((t) => family === undefined || tryParseIP(t)?.family === family);
}

/** The client: host id and its address. */
function client(world: World, from: string, family: IPFamily | undefined): { host: string; address: string } {
  if (from.startsWith('external:')) {
    const ip = from.slice('external:'.length);
    if (!tryParseIP(ip)) throw new TraceArgumentError(`--from ${from}: "${ip}" is not an IP address`);
    return { host: world.addClient(ip, ip), address: ip };
  }
  if (from.startsWith('pod/')) {
    const [ns, name] = from.slice(4).split('/');
    const pod = world.cluster.pods.find((p) => p.metadata.namespace === ns && p.metadata.name === name);
    const host = pod && world.podHost(ns!, name!);
    if (!pod || !host) throw new TraceArgumentError(`no pod ${ns}/${name}; pods: ${list(world.cluster.pods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`))}`);
    const ips = pod.spec.hostNetwork ? nodeNamed(world, pod.spec.nodeName!).internalIPs : (pod.status?.podIPs ?? []).map((p) => p.ip);
    const address = addressOf(ips, family);
    if (!address) throw new TraceArgumentError(`pod ${ns}/${name} has no IPv${family} address`);
    return { host, address };
  }
  if (from.startsWith('node/')) {
    const node = nodeNamed(world, from.slice(5));
    const address = addressOf(node.internalIPs, family);
    if (!address) throw new TraceArgumentError(`node ${node.name} has no IPv${family} address`);
    return { host: `node/${node.name}`, address };
  }
  const named = world.cluster.externalClients.find((c) => c.name === from);
  if (named) return { host: world.addClient(named.name, named.address), address: named.address };
  throw new TraceArgumentError(
    `--from ${from}: expected external:IP, pod/NS/NAME, node/NAME or a client of the Environment (${list(world.cluster.externalClients.map((c) => c.name))})`,
  );
}

/** The cloud load balancer of a LoadBalancer Service port at one VIP; `only` restricts its backends to one node (`--via`). */
function loadBalancerOf(world: World, svc: Service, port: ServicePort, vip: string, only: string | undefined, notes: string[]): LoadBalancerTarget {
  const family = parseIP(vip).family;
  const key = `${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}`;
  const resolved = resolveLoadBalancer(svc, world.cluster.loadBalancer, world.cluster.loadBalancers?.find((l) => l.service === key));
  const delivery = resolved.delivery;
  if (!resolved.origin.some((o) => o.startsWith('delivery:'))) notes.push(`the ${resolved.product} delivers to nodeIP:nodePort (assumed; set loadBalancer.delivery in the Environment)`);
  if (!resolved.origin.some((o) => o.startsWith('mode:'))) notes.push(`the ${resolved.product} passes packets through with the client's address (assumed; set loadBalancer.mode in the Environment, or the cloud's annotation on the Service)`);
  let sourceAddress = resolved.sourceAddress;
  if (resolved.mode !== 'passthrough' && !sourceAddress) {
    sourceAddress = world.spareNodeAddress(family);
    if (sourceAddress) notes.push(`the ${resolved.product} connects to the backends from ${sourceAddress} (assumed: an address of the node network; set loadBalancer.sourceAddress)`);
  }
  const local = svc.spec.externalTrafficPolicy === 'Local';
  const slices = world.slicesOf(svc.metadata.namespace ?? 'default', svc.metadata.name);
  const backends: LoadBalancerBackend[] = world.cluster.nodes
    .filter((n) => n.labels['node.kubernetes.io/exclude-from-external-load-balancers'] === undefined || n.name === only)
    .flatMap((n) => {
      const address = addressOf(n.internalIPs, family);
      if (!address) return [];
      const hc = local && svc.spec.healthCheckNodePort
        ? { namespace: svc.metadata.namespace ?? 'default', name: svc.metadata.name, port: svc.spec.healthCheckNodePort, localEndpoints: localReadyEndpoints(slices, familyName(family), n.name) }
        : undefined;
      return [{ node: n.name, address, ...(hc ? { healthCheck: hc } : {}) }];
    });
  return {
    service: `lb/${svc.metadata.namespace}/${svc.metadata.name}`,
    vip,
    port: port.port,
    nodePort: port.nodePort ?? 0,
    externalPolicyLocal: local,
    healthCheckNodePort: svc.spec.healthCheckNodePort ?? 0,
    delivery,
    backends,
    ...(delivery === 'Pod' ? { pods: readyEndpoints(world, svc, port, family).map((e) => ({ pod: e.host, address: e.address, port: e.port })) } : {}),
    ...(only ? { forced: only } : {}),
    mode: resolved.mode,
    ...(resolved.proxyProtocol ? { proxyProtocol: resolved.proxyProtocol } : {}),
    ...(sourceAddress ? { sourceAddress } : {}),
    product: resolved.product,
    ...(resolved.l7Provider ? { l7Provider: resolved.l7Provider } : {}),
    origin: resolved.origin,
  };
}

interface WorldIndex {
  /** LoadBalancer VIP:port → its Service port. */
  vips: Map<string, { svc: Service; port: ServicePort; vip: string }>;
}

/** Indexes of a world, made once: every trace of a large cluster would otherwise scan it again. */
const indexes = new WeakMap<World, WorldIndex>();

function indexOf(world: World): WorldIndex {
  let index = indexes.get(world);
  if (index) return index;
  const vips = new Map<string, { svc: Service; port: ServicePort; vip: string }>();
  for (const svc of world.cluster.services) {
    if (svc.spec.type !== 'LoadBalancer') continue;
    for (const ing of svc.status?.loadBalancer?.ingress ?? []) {
      if (!ing.ip) continue;
      const ip = tryParseIP(ing.ip);
      if (!ip) continue;
      for (const port of svc.spec.ports ?? []) vips.set(formatEndpoint(ip, port.port), { svc, port, vip: formatIP(ip) });
    }
  }
  index = { vips };
  indexes.set(world, index);
  return index;
}

/** Every LoadBalancer VIP:port of the cluster, resolved when a packet meets it. */
function loadBalancers(world: World, via: string | undefined, notes: string[]): (vipPort: string) => LoadBalancerTarget | undefined {
  const index = indexOf(world).vips;
  const made = new Map<string, LoadBalancerTarget>();
  return (key) => {
    const hit = index.get(key);
    if (!hit) return undefined;
    let lb = made.get(key);
    if (!lb) made.set(key, (lb = loadBalancerOf(world, hit.svc, hit.port, hit.vip, via, notes)));
    return lb;
  };
}

function viaNode(world: World, via: string | undefined): string | undefined {
  if (via === undefined) return undefined;
  if (!via.startsWith('node/')) throw new TraceArgumentError(`--via ${via}: expected node/NAME`);
  return nodeNamed(world, via.slice(5)).name;
}

/** Resolve the arguments of `kubepath trace` against a world. */
export function planJourney(world: World, args: TraceArgs): JourneyPlan {
  const protocol = protocolNumber((args.proto ?? 'tcp').toLowerCase());
  if (protocol === undefined || ![6, 17, 132].includes(protocol)) throw new TraceArgumentError(`--proto ${args.proto}: expected tcp, udp or sctp`);
  const notes: string[] = [];
  const via = viaNode(world, args.via);
  const external = args.from.startsWith('external:') || world.cluster.externalClients.some((c) => c.name === args.from);
  let destination: string;
  let port: number;
  let label: string;
  let service: JourneyPlan['service'];
  let targetKind: JourneyPlan['targetKind'] = 'address';
  let httpHost: string | undefined;
  const to = args.to;
  if (to.startsWith('svc/') || to.startsWith('lb/')) {
    const { svc, port: sp } = findService(world, to.slice(to.indexOf('/') + 1));
    service = { object: svc, port: sp };
    const name = `${svc.metadata.namespace}/${svc.metadata.name}:${sp.name ?? sp.port}`;
    const vip = svc.status?.loadBalancer?.ingress?.find((i) => i.ip)?.ip;
    if (to.startsWith('lb/') || (external && svc.spec.type === 'LoadBalancer' && vip && !via)) {
      if (!external) notes.push('from inside the cluster, kube-proxy on the client\'s node captures the load balancer IP itself (KUBE-SERVICES "loadbalancer IP"); the packet does not reach the cloud load balancer');
      if (svc.spec.type !== 'LoadBalancer' || !vip) throw new TraceArgumentError(`Service ${name} has no load balancer IP (type ${svc.spec.type ?? 'ClusterIP'}${svc.spec.type === 'LoadBalancer' ? ', status.loadBalancer.ingress is empty' : ''})`);
      destination = vip;
      port = sp.port;
      label = `lb/${name} (${vip}:${sp.port})`;
      targetKind = 'loadBalancer';
      httpHost = vip;
    } else if (external) {
      if (!via) throw new TraceArgumentError(`an external client cannot reach ClusterIP ${name}: give --via node/NAME to enter by its NodePort${svc.spec.type === 'LoadBalancer' ? ', or --to lb/…' : ''}`);
      if (!sp.nodePort) throw new TraceArgumentError(`Service ${name} has no NodePort (type ${svc.spec.type ?? 'ClusterIP'}): an external client cannot reach it`);
      const node = nodeNamed(world, via);
      destination = node.internalIPs[0]!;
      port = sp.nodePort;
      label = `nodeport ${sp.nodePort} of ${name} on ${via} (${destination}:${port})`;
      targetKind = 'nodePort';
    } else {
      const ip = clusterIPOfFamily(svc, 'IPv4') || clusterIPOfFamily(svc, 'IPv6');
      if (!ip) throw new TraceArgumentError(`Service ${name} has no ClusterIP (${svc.spec.type === 'ExternalName' ? 'ExternalName' : 'headless'}): kube-proxy writes no rules for it; trace a pod instead`);
      destination = ip;
      port = sp.port;
      label = `svc/${name} (${ip}:${sp.port})`;
      targetKind = 'clusterIP';
      httpHost = `${svc.metadata.name}.${svc.metadata.namespace ?? 'default'}.svc.cluster.local`;
    }
  } else if (to.startsWith('nodeport/')) {
    const [node, p] = to.slice(9).split('/');
    const n = nodeNamed(world, node ?? '');
    destination = n.internalIPs[0]!;
    port = Number(p);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TraceArgumentError(`--to ${to}: expected nodeport/NODE/PORT`);
    label = `nodeport/${n.name}/${port} (${destination}:${port})`;
    targetKind = 'nodePort';
    for (const svc of world.cluster.services) {
      const sp = svc.spec.ports?.find((x) => x.nodePort === port);
      if (sp) service = { object: svc, port: sp };
    }
  } else if (to.startsWith('pod/')) {
    const m = /^pod\/([^/]+)\/([^/:]+):(\d+)$/.exec(to);
    if (!m) throw new TraceArgumentError(`--to ${to}: expected pod/NS/NAME:PORT`);
    const pod = world.cluster.pods.find((p) => p.metadata.namespace === m[1] && p.metadata.name === m[2]);
    if (!pod) throw new TraceArgumentError(`no pod ${m[1]}/${m[2]}; pods: ${list(world.cluster.pods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`))}`);
    destination = pod.spec.hostNetwork ? nodeNamed(world, pod.spec.nodeName!).internalIPs[0]! : pod.status!.podIPs![0]!.ip;
    port = Number(m[3]);
    label = `pod/${m[1]}/${m[2]} (${destination}:${port})`;
    targetKind = 'pod';
  } else {
    let ep;
    try {
      ep = parseEndpoint(to);
    } catch {
      throw new TraceArgumentError(`--to ${to}: expected svc/NS/NAME[:PORT], lb/NS/NAME[:PORT], nodeport/NODE/PORT, pod/NS/NAME:PORT or IP:PORT`);
    }
    if (ep.port === undefined) throw new TraceArgumentError(`--to ${to}: give the port (IP:PORT, [IPv6]:PORT)`);
    destination = formatIP(ep.ip);
    port = ep.port;
    label = to;
  }
  const dst = parseIP(destination);
  const c = client(world, args.from, dst.family);
  const packet: Packet = {
    family: dst.family,
    protocol,
    source: parseIP(c.address),
    destination: dst,
    sourcePort: args.sourcePort ?? 40000,
    destinationPort: port,
    tcpFlags: undefined,
    icmpType: undefined,
    icmpCode: undefined,
    length: undefined,
  };
  const hostPort = formatEndpoint(dst, port);
  if (world.sidecarOf(c.host)) notes.push(`the client application in ${c.host} runs as uid ${APP_SOCKET.uid}, gid ${APP_SOCKET.gid} (assumed: any user but istio-proxy's 1337 is captured alike)`);
  return {
    input: {
      network: world.network,
      from: c.host,
      packet,
      loadBalancers: loadBalancers(world, via, notes),
      roundTrip: args.roundTrip ?? false,
      ...(world.sidecarOf(c.host) ? { socket: APP_SOCKET } : {}),
      ...policyOf(world),
    },
    httpHost: httpHost ?? ([80, 443].includes(port) ? formatIP(dst) : hostPort),
    ...(targetKind === 'loadBalancer' ? { loadBalancerAddress: hostPort } : {}),
    from: `${c.host} (${c.address})`,
    clientAddress: c.address,
    to: label,
    ...(service ? { service } : {}),
    clientKind: args.from.startsWith('pod/') ? 'pod' : args.from.startsWith('node/') ? 'node' : 'external',
    targetKind,
    notes,
  };
}

/** The cluster's NetworkPolicies for the journey, when it has any. */
function policyOf(world: World): { networkPolicy?: PolicyIndex } {
  const index = world.networkPolicies();
  return index ? { networkPolicy: index } : {};
}
