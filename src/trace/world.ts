/**
 * The cluster as a network of hosts: every node (node IPs on eth0, its podCIDR on the cni0
 * bridge, routes to the other nodes' podCIDRs over the node network, kube-proxy's rules), every
 * pod behind its node's bridge, a router between the node network and the internet, and the
 * external clients. A routed pod network (host-gw style) until CNIs arrive; that is an assumption.
 *
 * @module
 */
import type { Cluster, ClusterNode } from '../cluster/index.js';
import type { Pod } from '../cluster/objects.js';
import type { EndpointSlice, Service } from '../cluster/objects.js';
import { type ClusterPart, clusterIPOfFamily, compileNodeRules, type HostCapabilities, type ProxyFamily } from '../kubeproxy/index.js';
import { type Attachment, Network, type NetworkHost } from '../linux/network.js';
import {
  familyBits,
  formatIP,
  formatNetwork,
  type IPAddress,
  type IPFamily,
  type IPNetwork,
  ipv4,
  ipv6,
  networkContains,
  networkOf,
  parseIP,
  type Packet,
  parseNetwork,
  type Route,
  protocolName,
  protocolNumber,
  tryParseIP,
} from '../net/index.js';
import { buildHost, type Host, parseRoute, parseRuleset, type Ruleset } from '../netfilter/index.js';
import { compilePolicies, type PolicyIndex } from '../policy/index.js';
import { compileIstioRules, istioCaptureOf, type IstioRules, type IstioSidecar } from '../sidecar/index.js';

/** The built network and what it was built from. */
export interface World {
  readonly cluster: Cluster;
  readonly network: Network;
  /** Host id of a pod (`pod/NS/NAME`), or its node's for hostNetwork pods. */
  readonly podHost: (namespace: string, name: string) => string | undefined;
  /** The host that owns an address, if any (pods, nodes, clients). */
  readonly owner: (ip: string) => string | undefined;
  /** Add a client outside the cluster (on the internet side) if it is not there yet; returns its host id. */
  readonly addClient: (name: string, address: string) => string;
  /**
   * Add a host outside the nodes that opens connections to them (a proxying load balancer at its
   * own address): on the node network when the address is in it, else on the internet side.
   */
  readonly addEdgeHost: (name: string, address: string) => string;
  /** An unused address of the node network of a family (for a load balancer given without one). */
  readonly spareNodeAddress: (family: IPFamily) => string | undefined;
  /** The EndpointSlices of a Service (`ns`, `name`). */
  readonly slicesOf: (namespace: string, name: string) => readonly EndpointSlice[];
  /** The Pod object of a pod host (`pod/NS/NAME`). */
  readonly podAt: (host: string) => Pod | undefined;
  /** The Istio sidecar of a pod (by host id), when it has one that captures traffic. */
  readonly sidecarOf: (host: string) => IstioSidecar | undefined;
  /** The cluster's NetworkPolicies compiled (once, on first use); undefined when there are none. */
  readonly networkPolicies: () => PolicyIndex | undefined;
  /** What was assumed to build the network. */
  readonly assumptions: readonly string[];
}

const EMPTY: Record<IPFamily, Ruleset> = {
  4: parseRuleset('', { file: '(no rules)', family: 4 }),
  6: parseRuleset('', { file: '(no rules)', family: 6 }),
};

function familyName(f: IPFamily): ProxyFamily {
  return f === 4 ? 'IPv4' : 'IPv6';
}

/** The smallest network holding every address (the nodes' link when the Environment names none that does). */
function covering(ips: readonly IPAddress[]): IPNetwork {
  const family = ips[0]!.family;
  for (let len = familyBits(family) - 2; len >= 0; len--) {
    const net = networkOf(ips[0]!, len);
    if (ips.every((ip) => networkContains(net, ip))) return net;
  }
  return networkOf(ips[0]!, 0);
}

function addressAt(net: IPNetwork, offset: number | bigint): IPAddress {
  return net.family === 4 ? ipv4((net.network.value as number) + Number(offset)) : ipv6((net.network.value as bigint) + BigInt(offset));
}

/** The first address of a network (after the network address) that none of `used` holds. */
function freeAddress(net: IPNetwork, used: ReadonlySet<string>): IPAddress {
  for (let i = 1; i < 1 << 16; i++) {
    const ip = addressAt(net, i);
    if (!used.has(formatIP(ip))) return ip;
  }
  throw new Error(`no free address in ${formatNetwork(net)}`);
}

/** Build the network of a loaded cluster. */
export function buildWorld(cluster: Cluster, capabilities: HostCapabilities = {}): World {
  const network = new Network();
  const assumptions: string[] = [
    'the pod network is routed: each node owns its podCIDR on a cni0 bridge, other nodes route to it via the node (host-gw style)',
    'br_netfilter is on (bridge-nf-call-iptables=1): traffic between pods of one node passes the node\'s iptables, as kube-proxy requires',
  ];
  const owners = new Map<string, string>();
  // A packet meets only the rules of the Services whose addresses and ports it is sent to; the
  // node's ruleset for it is compiled from those alone (and cached), so a trace through a large
  // cluster compiles a few rules on the nodes it crosses instead of every Service on every node.
  const destinations = destinationIndex(cluster);
  const rulesetCache = new Map<string, Ruleset>();
  const nodeRuleset = (node: string, f: IPFamily, packet: Packet): Ruleset => {
    const services = destinations.servicesFor(packet);
    const key = `${node} ${f} ${services.map((x) => x.key).join(',')}`;
    let r = rulesetCache.get(key);
    if (!r) {
      const n = cluster.nodes.find((x) => x.name === node)!;
      const has = [...n.internalIPs, ...n.externalIPs].some((ip) => tryParseIP(ip)?.family === f);
      const part: ClusterPart = { services: services.map((x) => x.service), endpointSlices: services.flatMap((x) => x.slices), totalEndpoints: destinations.totalEndpoints(f) };
      const compiled = has ? compileNodeRules(cluster, node, familyName(f), capabilities, part) : undefined;
      r = compiled ? parseRuleset(compiled.loadable, { file: `${node}.rules${f === 6 ? '6' : ''}`, family: f }) : EMPTY[f];
      rulesetCache.set(key, r);
    }
    return r;
  };

  // The node network, per family: the Environment's if it holds the nodes, else the smallest one that does.
  const nodeIPs = (f: IPFamily) => cluster.nodes.flatMap((n) => n.internalIPs.map((t) => tryParseIP(t)).filter((ip): ip is IPAddress => ip?.family === f));
  const nodeNets = new Map<IPFamily, IPNetwork>();
  for (const f of [4, 6] as IPFamily[]) {
    const ips = nodeIPs(f);
    if (ips.length === 0) continue;
    const given = (cluster.nodeNetwork ?? []).map((c) => parseNetwork(c)).find((n) => n.family === f && ips.every((ip) => networkContains(n, ip)));
    const net = given ?? covering(ips);
    if (!given) assumptions.push(`the nodes share one link, ${formatNetwork(net)} (the smallest network holding their IPs)`);
    nodeNets.set(f, net);
  }
  const used = new Set(cluster.nodes.flatMap((n) => n.internalIPs));
  const routerIPs = [...nodeNets.values()].map((net) => freeAddress(net, used));

  // Nodes.
  let podRouteCache: { node: string; route: Route }[] | undefined;
  const podRoutes = () =>
    (podRouteCache ??= cluster.nodes.flatMap((other) =>
      other.podCIDRs.flatMap((cidr) => {
        const f = parseNetwork(cidr).family;
        const via = other.internalIPs.find((ip) => parseIP(ip).family === f);
        return via ? [{ node: other.name, route: parseRoute(`${cidr} via ${via} dev eth0`) }] : [];
      }),
    ));
  const podGateways = new Map<string, IPAddress[]>();
  const nodeAddresses = new Map<string, { eth0: string[]; cni0: string[] }>();
  for (const node of cluster.nodes) {
    const eth0 = node.internalIPs.map((t) => {
      const ip = parseIP(t);
      const net = nodeNets.get(ip.family)!;
      return `${t}/${net.prefixLength}`;
    });
    const gateways = node.podCIDRs.map((c) => addressAt(parseNetwork(c), 1));
    podGateways.set(node.name, gateways);
    const cni0 = node.podCIDRs.map((c, i) => `${formatIP(gateways[i]!)}/${parseNetwork(c).prefixLength}`);
    const id = `node/${node.name}`;
    // Built on first use: a journey crosses a few nodes, and each node has a route per other node
    // (parsed once for all nodes: the same route text on every node).
    const spec = (): Host => {
      const base = buildHost({
        interfaces: [{ name: 'eth0', addresses: eth0 }, ...(cni0.length ? [{ name: 'cni0', addresses: cni0 }] : [])],
        routes: routerIPs.map((r) => `${r.family === 4 ? 'default' : '::/0'} via ${formatIP(r)} dev eth0`),
        ipForward: true,
      });
      return { ...base, routes: [...base.routes, ...podRoutes().filter((r) => r.node !== node.name).map((r) => r.route)] };
    };
    network.addHost(lazyHost(id, 'node', spec, (f, packet) => nodeRuleset(node.name, f, packet)));
    nodeAddresses.set(id, { eth0: node.internalIPs.map((t) => formatIP(parseIP(t))), cni0: gateways.map(formatIP) });
    for (const ip of node.internalIPs) owners.set(ip, id);
  }

  // Pods behind their node's bridge; hostNetwork pods are their node.
  const podHostIds = new Map<string, string>();
  const sidecars = new Map<string, IstioSidecar>();
  const podsByHost = new Map<string, Pod>();
  const namespaces = new Map(cluster.namespaces.map((n) => [n.metadata.name, n]));
  // Pods with the same capture settings share one compiled rule set, parsed when first used.
  const istioCache = new Map<string, { compiled: IstioRules[]; rulesets: (f: IPFamily) => Ruleset }>();
  const istioRules = (sidecar: IstioSidecar) => {
    const key = JSON.stringify(sidecar.capture);
    let hit = istioCache.get(key);
    if (!hit) {
      const compiled = ([4, 6] as IPFamily[]).map((f) => compileIstioRules(sidecar.capture!, familyName(f)));
      const name = `istio-${sidecar.capture!.mode.toLowerCase()}${istioCache.size ? `-${istioCache.size + 1}` : ''}`;
      const parsed: Partial<Record<IPFamily, Ruleset>> = {};
      const rulesets = (f: IPFamily) => (parsed[f] ??= parseRuleset(compiled[f === 4 ? 0 : 1]!.text, { file: `${name}.rules${f === 6 ? '6' : ''}`, family: f }));
      istioCache.set(key, (hit = { compiled, rulesets }));
    }
    return hit;
  };
  const bridges = new Map<string, Attachment[]>();
  for (const pod of cluster.pods) {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const nodeName = pod.spec.nodeName;
    if (!nodeName) continue;
    if (pod.spec.hostNetwork) {
      podHostIds.set(key, `node/${nodeName}`);
      continue;
    }
    const node = cluster.nodes.find((n) => n.name === nodeName);
    const ips = (pod.status?.podIPs ?? []).map((p) => p.ip);
    if (!node || ips.length === 0) continue;
    const id = `pod/${key}`;
    const addresses: string[] = [];
    const routes: string[] = [];
    for (const ip of ips) {
      const parsed = parseIP(ip);
      const cidr = node.podCIDRs.map((c) => parseNetwork(c)).find((n) => networkContains(n, parsed));
      const gw = podGateways.get(node.name)!.find((g) => g.family === parsed.family);
      addresses.push(`${ip}/${cidr?.prefixLength ?? familyBits(parsed.family)}`);
      if (gw) routes.push(`default via ${formatIP(gw)} dev eth0`);
      owners.set(ip, id);
    }
    const decision = istioCaptureOf(pod, namespaces.get(pod.metadata.namespace ?? 'default'));
    const sidecar = decision.sidecar && decision.capture ? decision : undefined;
    if (sidecar) {
      // istio-iptables' rules in the pod's namespace, and for TPROXY its policy route back to the local stack.
      sidecars.set(id, sidecar);
      const { compiled, rulesets } = istioRules(sidecar);
      const v4 = compiled[0]!;
      const lo = compiled.flatMap((c) => c.addresses.map((a) => a.split(' ')[0]!));
      network.addHost({
        id,
        kind: 'pod',
        host: buildHost({ interfaces: [{ name: 'eth0', addresses }, ...(lo.length ? [{ name: 'lo', addresses: ['127.0.0.1/8', '::1/128', ...lo] }] : [])], routes: [...routes, ...v4.routes, ...(ips.some((ip) => parseIP(ip).family === 6) ? compiled[1]!.routes : [])], policyRules: [...new Set(compiled.flatMap((c) => c.policyRules))], ipForward: false }),
        rules: (f) => rulesets(f),
        ...listening(pod, sidecarPorts(sidecar)),
      });
    } else {
      network.addHost({ id, kind: 'pod', host: buildHost({ interfaces: [{ name: 'eth0', addresses }], routes, ipForward: false }), rules: (f) => EMPTY[f], ...listening(pod) });
    }
    podHostIds.set(key, id);
    podsByHost.set(id, pod);
    bridges.set(node.name, [...(bridges.get(node.name) ?? []), { host: id, interface: 'eth0', addresses: ips.map((t) => formatIP(parseIP(t))) }]);
  }
  // Endpoints given without their Pod objects (EndpointSlices only): a pod at that address on the
  // node whose podCIDR holds it (or the slice's nodeName), listening on every port.
  const podless: string[] = [];
  const podNets = cluster.nodes.map((n) => ({ node: n, nets: n.podCIDRs.map((c) => parseNetwork(c)) }));
  for (const slice of cluster.endpointSlices) {
    for (const ep of slice.endpoints ?? []) {
      for (const addr of ep.addresses ?? []) {
        const ip = tryParseIP(addr);
        if (!ip || owners.has(formatIP(ip))) continue;
        const hit = podNets.find((x) => x.nets.some((n) => networkContains(n, ip)));
        const node = hit?.node;
        const cidr = hit?.nets.find((n) => networkContains(n, ip));
        const gw = node && podGateways.get(node.name)?.find((g) => g.family === ip.family);
        if (!node || !cidr || !gw) continue;
        const ref = ep.targetRef?.kind === 'Pod' && ep.targetRef.name ? `${ep.targetRef.namespace ?? slice.metadata.namespace}/${ep.targetRef.name}` : `${slice.metadata.namespace}/${formatIP(ip).replaceAll(':', '-')}`;
        const id = `pod/${ref}`;
        if (network.host(id)) continue;
        const build = () =>
          buildHost({ interfaces: [{ name: 'eth0', addresses: [`${formatIP(ip)}/${cidr.prefixLength}`] }], routes: [`${ip.family === 4 ? 'default' : '::/0'} via ${formatIP(gw)} dev eth0`], ipForward: false });
        network.addHost(lazyHost(id, 'pod', build, (f) => EMPTY[f]));
        owners.set(formatIP(ip), id);
        bridges.set(node.name, [...(bridges.get(node.name) ?? []), { host: id, interface: 'eth0', addresses: [formatIP(ip)] }]);
        podless.push(formatIP(ip));
      }
    }
  }
  if (podless.length > 0) {
    assumptions.push(`${podless.length} endpoint address${podless.length === 1 ? '' : 'es'} without a Pod object (${podless.slice(0, 3).join(', ')}${podless.length > 3 ? ', …' : ''}): taken as pods on the node whose podCIDR holds them, listening on every port`);
  }
  for (const node of cluster.nodes) {
    const id = `node/${node.name}`;
    network.addLink({ id: `cni0@${node.name}`, attachments: [{ host: id, interface: 'cni0', addresses: nodeAddresses.get(id)!.cni0 }, ...(bridges.get(node.name) ?? [])], bridge: id });
  }

  // The router: the nodes' gateway to the internet, where the clients are.
  network.addHost({
    id: 'router',
    kind: 'router',
    host: buildHost({
      interfaces: [
        { name: 'nodes', addresses: routerIPs.map((ip) => `${formatIP(ip)}/${nodeNets.get(ip.family)!.prefixLength}`) },
        { name: 'internet', addresses: ['198.18.0.1/32'] },
      ],
      routes: ['default dev internet', ...(routerIPs.some((ip) => ip.family === 6) ? ['::/0 dev internet'] : [])],
      ipForward: true,
    }),
    rules: (f) => EMPTY[f],
  });
  network.addLink({
    id: 'node-network',
    attachments: [
      ...cluster.nodes.map((n) => ({ host: `node/${n.name}`, interface: 'eth0', addresses: nodeAddresses.get(`node/${n.name}`)!.eth0 })),
      { host: 'router', interface: 'nodes', addresses: routerIPs.map(formatIP) },
    ],
  });
  network.addLink({ id: 'internet', attachments: [{ host: 'router', interface: 'internet', addresses: ['198.18.0.1'] }], proxyArp: 'router' });

  const addClient = (name: string, address: string): string => {
    const existing = owners.get(address);
    if (existing) return existing;
    const id = `client/${name}`;
    const ip = parseIP(address);
    network.addHost({
      id,
      kind: 'client',
      host: buildHost({ interfaces: [{ name: 'eth0', addresses: [`${address}/${familyBits(ip.family)}`] }], routes: [ip.family === 4 ? 'default dev eth0' : '::/0 dev eth0'], ipForward: false }),
      rules: (f) => EMPTY[f],
    });
    owners.set(address, id);
    network.attach('internet', { host: id, interface: 'eth0', addresses: [formatIP(ip)] });
    return id;
  };
  for (const c of cluster.externalClients) addClient(c.name, c.address);
  const addEdgeHost = (name: string, address: string): string => {
    const existing = owners.get(address);
    if (existing) return existing;
    const ip = parseIP(address);
    const net = nodeNets.get(ip.family);
    const router = routerIPs.find((r) => r.family === ip.family);
    if (!net || !router || !networkContains(net, ip)) return addClient(name, address);
    const id = `client/${name}`;
    network.addHost({
      id,
      kind: 'client',
      host: buildHost({ interfaces: [{ name: 'eth0', addresses: [`${address}/${net.prefixLength}`] }], routes: [`${ip.family === 4 ? 'default' : '::/0'} via ${formatIP(router)} dev eth0`], ipForward: false }),
      rules: (f) => EMPTY[f],
    });
    owners.set(address, id);
    network.attach('node-network', { host: id, interface: 'eth0', addresses: [formatIP(ip)] });
    return id;
  };

  let policyIndex: PolicyIndex | undefined;
  return {
    cluster,
    network,
    podHost: (ns, name) => podHostIds.get(`${ns}/${name}`),
    owner: (ip) => owners.get(ip),
    addClient,
    addEdgeHost,
    podAt: (host) => podsByHost.get(host),
    sidecarOf: (host) => sidecars.get(host),
    networkPolicies: () => {
      if ((cluster.networkPolicies ?? []).length === 0) return undefined;
      policyIndex ??= compilePolicies(cluster);
      return policyIndex;
    },
    spareNodeAddress: (f) => {
      const net = nodeNets.get(f);
      if (!net) return undefined;
      // From the top of the network down: clear of the nodes, which are numbered from the bottom.
      const size = familyBits(f) - (net.prefixLength ?? familyBits(f));
      for (let i = 2; i < 1 << Math.min(size, 16); i++) {
        const ip = formatIP(addressAt(net, (f === 4 ? 2 ** size : Number(2n ** BigInt(Math.min(size, 52)))) - i));
        if (!owners.has(ip) && !routerIPs.some((r) => formatIP(r) === ip)) return ip;
      }
      return undefined;
    },
    slicesOf: (namespace, name) => destinations.slicesOf(`${namespace}/${name}`),
    assumptions,
  };
}

interface IndexedService {
  key: string;
  service: Service;
  slices: EndpointSlice[];
}

/** Services by the destinations kube-proxy captures for them: VIP:port (ClusterIP, external, LB IPs) and node ports. */
function destinationIndex(cluster: Cluster) {
  const byAddress = new Map<string, IndexedService[]>();
  const byPort = new Map<string, IndexedService[]>();
  const add = (m: Map<string, IndexedService[]>, k: string, s: IndexedService) => {
    const list = m.get(k) ?? [];
    if (!list.includes(s)) list.push(s);
    m.set(k, list);
  };
  const slices = new Map<string, EndpointSlice[]>();
  for (const sl of cluster.endpointSlices) {
    const key = `${sl.metadata.namespace}/${sl.metadata.labels?.['kubernetes.io/service-name'] ?? ''}`;
    const list = slices.get(key);
    if (list) list.push(sl);
    else slices.set(key, [sl]);
  }
  for (const service of cluster.services) {
    const key = `${service.metadata.namespace ?? 'default'}/${service.metadata.name}`;
    const s: IndexedService = { key, service, slices: slices.get(key) ?? [] };
    const ips = [clusterIPOfFamily(service, 'IPv4'), clusterIPOfFamily(service, 'IPv6'), ...(service.spec.externalIPs ?? []), ...(service.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '')]
      .map((t) => tryParseIP(t))
      .filter((ip): ip is IPAddress => ip !== undefined);
    for (const p of service.spec.ports ?? []) {
      const proto = (p.protocol ?? 'TCP').toLowerCase();
      for (const ip of ips) add(byAddress, `${formatIP(ip)} ${p.port} ${proto}`, s);
      if (p.nodePort) add(byPort, `${p.nodePort} ${proto}`, s);
    }
    if (service.spec.healthCheckNodePort) add(byPort, `${service.spec.healthCheckNodePort} tcp`, s);
  }
  const totals = new Map<IPFamily, number>();
  return {
    slicesOf: (key: string): readonly EndpointSlice[] => slices.get(key) ?? [],
    servicesFor(packet: Packet): IndexedService[] {
      const proto = protocolName(packet.protocol);
      const found = [...(byAddress.get(`${formatIP(packet.destination)} ${packet.destinationPort} ${proto}`) ?? []), ...(byPort.get(`${packet.destinationPort} ${proto}`) ?? [])];
      return [...new Set(found)].sort((a, b) => (a.key < b.key ? -1 : 1));
    },
    /** Endpoints of the family over every service port (kube-proxy's count for large-cluster mode). */
    totalEndpoints(f: IPFamily): number {
      let t = totals.get(f);
      if (t === undefined) {
        t = 0;
        const type = f === 4 ? 'IPv4' : 'IPv6';
        for (const sl of cluster.endpointSlices) if (sl.addressType === type) t += (sl.endpoints?.length ?? 0) * Math.max(1, sl.ports?.length ?? 0);
        totals.set(f, t);
      }
      return t;
    },
  };
}

/** A host whose netfilter host is built when a packet first reaches it. */
function lazyHost(id: string, kind: NetworkHost['kind'], build: () => Host, rules: NetworkHost['rules']): NetworkHost {
  let built: Host | undefined;
  return {
    id,
    kind,
    get host() {
      return (built ??= build());
    },
    rules,
  };
}

/** The pod's listeners: its declared container ports (and its sidecar's); a pod that declares none is taken to listen on any. */
function listening(pod: Pod, extra: readonly number[] = []): Pick<NetworkHost, 'listens'> {
  const ports = [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])].flatMap((c) => c.ports ?? []);
  if (ports.length === 0) return {};
  return { listens: (protocol, port) => (protocol === 6 && extra.includes(port)) || ports.some((p) => p.containerPort === port && protocolNumber((p.protocol ?? 'TCP').toLowerCase()) === protocol) };
}

/** The ports istio-proxy listens on: outbound and inbound capture, health (15021), stats (15090, 15020). */
function sidecarPorts(s: IstioSidecar): number[] {
  return [s.capture!.proxyPort, s.capture!.inboundCapturePort, 15021, 15090, 15020];
}

export type { ClusterNode };
