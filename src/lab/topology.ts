/**
 * The lab's plan, pure: from the world the simulator reads (trace/world.ts) to the network
 * namespaces, veth pairs, bridges, addresses, routes, sysctls, iptables rules and servers that
 * realize it on one Linux kernel. Nothing here touches the system; build.ts carries it out.
 *
 * ```
 *   kp-LAB-client-NAME ──c0── kp-LAB-router ──nodes──┐            ┌── eth0 kp-LAB-node-A ── cni0 ──veth0── kp-LAB-pod-NS.NAME
 *                                   │                 ├─ br0 of kp-LAB-underlay ─┤
 *                                   └──lb── wan kp-LAB-lb eth0 ──┘            └── eth0 kp-LAB-node-B ── …
 * ```
 *
 * Every namespace is `kp-LAB-ROLE[-NAME]`; the addresses and routes of nodes, pods and clients
 * are the world's own hosts' (the connected and local routes the kernel adds are left to it).
 *
 * @module
 */
import type { HealthCheckService } from '../kubeproxy/index.js';
import { compileNodeRules } from '../kubeproxy/index.js';
import { formatIP, formatNetwork, type IPNetwork, networkContains, networkOf, parseIP, parseNetwork, type Route, tryParseIP } from '../net/index.js';
import type { Host } from '../netfilter/index.js';
import { planJourney } from '../trace/plan.js';
import { resolveApp } from '../trace/app.js';
import { compileIstioRules } from '../sidecar/index.js';
import { readyEndpoints } from '../trace/endpoints.js';
import { ingressControllers, ingressNginxLab } from './ingress-nginx.js';
import { proxiesOf, reverseProxyLab } from './reverse-proxy.js';
import type { SidecarProxyConfig } from './sidecar-proxy.js';
import type { World } from '../trace/world.js';

/** What a namespace stands for. */
export type LabRole = 'underlay' | 'router' | 'lb' | 'node' | 'pod' | 'client';

export interface LabNamespace {
  /** `kp-LAB-ROLE[-NAME]`. */
  name: string;
  role: LabRole;
  /** The world's host id (`node/NAME`, `pod/NS/NAME`, `client/NAME`), or the role for the lab's own. */
  id: string;
  /** Interfaces (created by `veths`/`bridges`) with their addresses, `IP/LEN`. */
  addresses: { dev: string; cidr: string }[];
  /** Bridges made in this namespace (cni0 on nodes, br0 in the underlay). */
  bridges: string[];
  /** `ip route` lines (main table unless they say `table N`). */
  routes: string[];
  /** `ip rule` lines. */
  policyRules: string[];
  /** sysctls set inside this namespace only. */
  sysctls: [string, string][];
  /** iptables-restore input loaded here (kube-proxy's on nodes), if any. */
  iptables?: string;
}

/** A veth pair made from namespace `ns`, its peer moved into `peerNs`. */
export interface LabVeth {
  ns: string;
  name: string;
  peerNs: string;
  peerName: string;
  /** A bridge of `ns` the `name` end is enslaved to. */
  master?: string;
  /** Bridge port hairpin mode (the bridge CNI's hairpinMode: a pod reaching itself through a Service). */
  hairpin?: boolean;
}

/** A process the lab runs in a namespace. */
export type LabServer =
  | {
      kind: 'echo';
      ns: string;
      id: string;
      address: string;
      ports: number[];
      /** The app's PROXY protocol policy (Environment `apps[].proxyProtocol`): the echo server reads the header as the app would. */
      proxyProtocol?: 'require' | 'optional';
    }
  | { kind: 'healthcheck'; ns: string; id: string; address: string; services: HealthCheckService[] }
  /** ingress-nginx's controller as Debian's nginx (ingress-nginx.ts): `config` is nginx.conf with `@DIR@` for its directory. */
  | { kind: 'nginx'; ns: string; id: string; address: string; port: number; config: string }
  /** An Environment reverse proxy (reverse-proxy.ts) as Debian's HAProxy in its pod. */
  | { kind: 'haproxy'; ns: string; id: string; address: string; name: string; port: number; config: string }
  /** istio-proxy's stand-in (sidecar-proxy.ts) in a pod whose capture rules are loaded. */
  | { kind: 'sidecar'; ns: string; id: string; address: string; config: SidecarProxyConfig };

/** A LoadBalancer Service port as the passthrough load balancer serves it. */
export interface LabVip {
  /** `lb/NS/NAME:PORT`. */
  service: string;
  vip: string;
  port: number;
  nodePort: number;
  /** VIP: packets go to the node still addressed to the VIP; NodePort: rewritten to nodeIP:nodePort. */
  delivery: 'VIP' | 'NodePort';
  /** externalTrafficPolicy Local: nodes are probed on healthCheckNodePort; Cluster: every node is healthy. */
  local: boolean;
  healthCheckNodePort: number;
  backends: { node: string; address: string }[];
}

/**
 * A LoadBalancer Service port whose load balancer proxies (`mode: proxy` or `http`): real HAProxy in
 * the load balancer's namespace ends the client's connection on the VIP and opens its own from
 * `source` to nodeIP:nodePort of a healthy node.
 */
export interface LabProxyVip {
  /** `lb/NS/NAME:PORT`. */
  service: string;
  /** The cloud's product, as the trace names it (`UCloud ULB7`). */
  product: string;
  vip: string;
  port: number;
  nodePort: number;
  /** HAProxy's mode: `tcp` for an L4 proxy, `http` (with `option forwardfor`) for an L7 one. */
  mode: 'tcp' | 'http';
  /** `send-proxy` (1) or `send-proxy-v2` (2) on the server lines. */
  sendProxy?: 1 | 2;
  /** The load balancer's address towards the backends (the Environment's `sourceAddress`). */
  source: string;
  local: boolean;
  healthCheckNodePort: number;
  backends: { node: string; address: string }[];
}

export interface LabLoadBalancer {
  ns: string;
  /** Its address on the node network (health checks and forwarding leave from there). */
  address: string;
  vips: LabVip[];
  /** Proxying load balancers (HAProxy), absent when there are none. */
  proxies?: LabProxyVip[];
  /** Policy routing mark per node (VIP delivery): fwmark N → table 100+N → default via the node. */
  marks: { node: string; address: string; mark: number }[];
}

export interface LabClient {
  name: string;
  address: string;
  ns: string;
}

export interface LabPlan {
  name: string;
  /** `kp-LAB-`: every namespace starts with it. */
  prefix: string;
  namespaces: LabNamespace[];
  veths: LabVeth[];
  servers: LabServer[];
  clients: LabClient[];
  loadBalancer?: LabLoadBalancer;
  /** What the lab leaves out or chose, in words. */
  notes: string[];
  /** Ways in the lab does not build (`lb/NS/NAME:PORT`, a pod's host id): verify marks their checks skipped, with the reason. */
  unbuilt?: { target: string; reason: string }[];
}

/** A lab name: lower-case letters and digits, starting with a letter, at most 12. */
export const LAB_NAME = /^[a-z][a-z0-9]{0,11}$/;

/** The roles as they appear in namespace names (`kp-LAB-ROLE…`), to find a lab's namespaces again. */
export const NAMESPACE_PATTERN = /^kp-([a-z][a-z0-9]{0,11})-(underlay|router|lb|node-.+|pod-.+|client-.+)$/;

/** The client the lab adds when the Environment names none and something is reachable from outside. */
export const DEFAULT_CLIENT = { name: 'internet', address: '203.0.113.10' } as const;

/** The link between the router and the load balancer (link-local, clear of any cluster network). */
const ROUTER_LB = { router: '169.254.100.1', lb: '169.254.100.2', prefix: 30 } as const;
/** The router's table for replies that go back through the load balancer. */
const REPLY_TABLE = 200;

function safe(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** `ip route` text for a route of the world's host. */
export function routeText(r: Route): string {
  const dst = r.destination.prefixLength === 0 ? 'default' : formatNetwork(r.destination);
  const parts = [r.type === 'unicast' ? '' : r.type, dst, r.gateway ? `via ${formatIP(r.gateway)}` : '', r.device ? `dev ${r.device}` : '', r.source ? `src ${formatIP(r.source)}` : '', r.table !== 254 ? `table ${r.table}` : '', r.metric ? `metric ${r.metric}` : ''];
  return parts.filter(Boolean).join(' ');
}

/** The routes a host was given, without those the kernel adds for its addresses (connected and local). */
function givenRoutes(host: Host, devices: ReadonlySet<string>): string[] {
  const connected = (r: Route) =>
    r.gateway === undefined &&
    r.device !== undefined &&
    host.interfaces.some((i) => i.name === r.device && i.addresses.some((a) => a.ip.family === r.destination.family && formatNetwork(networkOf(a.ip, a.prefixLength)) === formatNetwork(r.destination)));
  return host.routes
    .filter((r) => r.destination.family === 4 && r.table !== 255 && r.type !== 'local' && !connected(r) && (r.device === undefined || devices.has(r.device)))
    .map(routeText);
}

function v4Addresses(host: Host, dev: string): { dev: string; cidr: string }[] {
  return (host.interfaces.find((i) => i.name === dev)?.addresses ?? []).filter((a) => a.ip.family === 4).map((a) => ({ dev, cidr: `${formatIP(a.ip)}/${a.prefixLength}` }));
}

function ns(name: string, role: LabRole, id: string): LabNamespace {
  return { name, role, id, addresses: [], bridges: [], routes: [], policyRules: [], sysctls: [] };
}

/** The TCP ports the pod's echo server listens on: the ports its Services target on it, and its declared container ports. */
function podPorts(world: World, podId: string): number[] {
  const ports = new Set<number>();
  const pod = world.podAt(podId);
  for (const c of [...(pod?.spec.containers ?? []), ...(pod?.spec.initContainers ?? [])]) for (const p of c.ports ?? []) if ((p.protocol ?? 'TCP') === 'TCP') ports.add(p.containerPort);
  for (const slice of world.cluster.endpointSlices) {
    const owned = (slice.endpoints ?? []).some((e) => (e.addresses ?? []).some((a) => world.owner(a) === podId));
    if (!owned) continue;
    for (const p of slice.ports ?? []) if (p.port && (p.protocol ?? 'TCP') === 'TCP') ports.add(p.port);
  }
  return [...ports].sort((a, b) => a - b);
}

/** The programs of this host the lab can use beyond iproute2 and iptables (absent ones leave their parts out, with a note). */
export interface LabTools {
  /** Debian's haproxy: the proxying load balancers. */
  haproxy: boolean;
  /** Debian's nginx (nginx-light has realip): ingress-nginx's controllers. */
  nginx: boolean;
  /** python3: Istio sidecars' stand-in proxy (SO_ORIGINAL_DST, IP_TRANSPARENT). */
  python3: boolean;
}

/** Every Service's `ClusterIP:port` with its ready IPv4 endpoints (what a sidecar's outbound Envoy balances over). */
function serviceEndpoints(world: World): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const svc of world.cluster.services) {
    const ip = (svc.spec.clusterIPs ?? [svc.spec.clusterIP]).find((x): x is string => x !== undefined && x !== 'None' && tryParseIP(x)?.family === 4);
    if (!ip) continue;
    for (const port of svc.spec.ports ?? []) if ((port.protocol ?? 'TCP') === 'TCP') out[`${ip}:${port.port}`] = readyEndpoints(world, svc, port, 4).map((e) => `${e.address}:${e.port}`);
  }
  return out;
}

/** Plan the lab of a world. `name` must match {@link LAB_NAME}. */
export function planLab(world: World, name: string, tools: LabTools = { haproxy: true, nginx: true, python3: true }): LabPlan {
  if (!LAB_NAME.test(name)) throw new Error(`lab name "${name}": expected lower-case letters and digits, starting with a letter, at most 12`);
  const prefix = `kp-${name}-`;
  const cluster = world.cluster;
  const notes: string[] = [];
  const namespaces: LabNamespace[] = [];
  const veths: LabVeth[] = [];
  const servers: LabServer[] = [];
  const unbuilt: { target: string; reason: string }[] = [];

  const underlay = ns(`${prefix}underlay`, 'underlay', 'underlay');
  underlay.bridges.push('br0');
  const router = ns(`${prefix}router`, 'router', 'router');
  router.sysctls.push(['net.ipv4.ip_forward', '1']);
  namespaces.push(underlay, router);

  // The router: on the node network, as the world has it.
  const routerHost = world.network.host('router')!.host;
  router.addresses.push(...v4Addresses(routerHost, 'nodes'));
  veths.push({ ns: underlay.name, name: 'rt', peerNs: router.name, peerName: 'nodes', master: 'br0' });
  const nodeNet: IPNetwork | undefined = router.addresses[0] ? networkOf(parseIP(router.addresses[0].cidr.split('/')[0]!), Number(router.addresses[0].cidr.split('/')[1])) : undefined;
  if (cluster.ipFamilies.includes('IPv6')) notes.push('IPv6 addresses are left out: the lab builds the IPv4 network only');

  // Nodes: eth0 on the underlay bridge, cni0 with a veth per pod, the world's routes, kube-proxy's rules.
  const nodeIndex = new Map<string, number>();
  cluster.nodes.forEach((node, i) => {
    const id = `node/${node.name}`;
    const host = world.network.host(id)!.host;
    const n = ns(`${prefix}node-${safe(node.name)}`, 'node', id);
    nodeIndex.set(node.name, i);
    n.addresses.push(...v4Addresses(host, 'eth0'));
    const cni0 = v4Addresses(host, 'cni0');
    if (cni0.length > 0 || cluster.pods.some((p) => p.spec.nodeName === node.name && !p.spec.hostNetwork)) n.bridges.push('cni0');
    n.addresses.push(...cni0);
    n.routes.push(...givenRoutes(host, new Set(['eth0', 'cni0'])));
    n.sysctls.push(['net.ipv4.ip_forward', '1'], ['net.bridge.bridge-nf-call-iptables', '1']);
    if (node.internalIPs.some((ip) => tryParseIP(ip)?.family === 4)) {
      const rules = compileNodeRules(cluster, node.name, 'IPv4');
      n.iptables = rules.loadable;
      const address = node.internalIPs.find((ip) => tryParseIP(ip)?.family === 4)!;
      if (rules.healthChecks.length > 0) servers.push({ kind: 'healthcheck', ns: n.name, id, address, services: rules.healthChecks });
    }
    veths.push({ ns: underlay.name, name: `n${i}`, peerNs: n.name, peerName: 'eth0', master: 'br0' });
    namespaces.push(n);
  });

  // Pods behind their node's cni0; ingress-nginx's controllers run nginx on their HTTP port.
  const controllers = ingressControllers(world);
  let services: Record<string, string[]> | undefined;
  const perNode = new Map<string, number>();
  for (const [id, h] of world.network.hosts) {
    if (h.kind !== 'pod') continue;
    const pod = world.podAt(id);
    const ips = h.host.interfaces.flatMap((i) => (i.name === 'eth0' ? i.addresses.map((a) => a.ip) : []));
    const nodeName = pod?.spec.nodeName ?? cluster.nodes.find((nd) => nd.podCIDRs.some((cidr) => ips.some((ip) => ip.family === parseNetwork(cidr).family && networkContains(parseNetwork(cidr), ip))))?.name;
    const node = nodeName ? namespaces.find((x) => x.id === `node/${nodeName}`) : undefined;
    if (!node) continue;
    const p = ns(`${prefix}pod-${safe(id.slice(4).replace('/', '.'))}`, 'pod', id);
    p.addresses.push(...v4Addresses(h.host, 'eth0'));
    if (p.addresses.length === 0) continue;
    p.routes.push(...givenRoutes(h.host, new Set(['eth0'])));
    const sidecar = world.sidecarOf(id);
    if (sidecar?.capture && tools.python3) {
      // istio-init's rules in the pod, and the proxy that takes what they capture.
      const rules = compileIstioRules(sidecar.capture, 'IPv4');
      p.iptables = rules.text;
      p.policyRules.push(...rules.policyRules);
      p.routes.push(...rules.routes);
      services ??= serviceEndpoints(world);
      const c = sidecar.capture;
      const config: SidecarProxyConfig = { mode: c.mode === 'TPROXY' ? 'TPROXY' : 'REDIRECT', proxyPort: c.proxyPort, inboundPort: c.inboundCapturePort, mark: c.inboundTproxyMark, uid: sidecar.proxy.uid, gid: sidecar.proxy.gid, services };
      servers.push({ kind: 'sidecar', ns: p.name, id, address: p.addresses[0]!.cidr.split('/')[0]!, config });
      notes.push(`${id}: its Istio sidecar (${config.mode}) is a stand-in for Envoy that keeps its address behaviour (python3, uid ${config.uid}/gid ${config.gid}); the app's HTTP is not parsed or changed`);
    } else if (sidecar) {
      notes.push(`${id}: its Istio sidecar is realized with python3, which is not installed; the lab runs the app alone`);
      unbuilt.push({ target: id, reason: 'its Istio sidecar is realized with python3, which is not installed' });
    }
    const k = perNode.get(node.name) ?? 0;
    perNode.set(node.name, k + 1);
    veths.push({ ns: node.name, name: `veth${k}`, peerNs: p.name, peerName: 'eth0', master: 'cni0', hairpin: true });
    namespaces.push(p);
    let ports = podPorts(world, id);
    const ingress = controllers.has(id) ? (tools.nginx ? ingressNginxLab(world, id) : undefined) : undefined;
    if (controllers.has(id) && !ingress) {
      notes.push(`${id}: ingress-nginx is realized with nginx, which is not installed (apt-get install nginx-light); the pod runs the echo server`);
      unbuilt.push({ target: id, reason: 'ingress-nginx is realized with nginx, which is not installed (apt-get install nginx-light)' });
    }
    if (ingress) {
      servers.push({ kind: 'nginx', ns: p.name, id, address: p.addresses[0]!.cidr.split('/')[0]!, port: ingress.port, config: ingress.config });
      notes.push(...ingress.notes.map((n) => `${id}: ingress-nginx (nginx from ${ingress.configMap}): ${n}`));
      ports = ports.filter((x) => x !== ingress.port);
    }
    for (const proxy of proxiesOf(world, pod)) {
      const r = tools.haproxy ? reverseProxyLab(world, proxy) : 'it is realized with HAProxy, which is not installed (apt-get install haproxy)';
      if (typeof r === 'string') {
        notes.push(`${id}: the proxy "${proxy.name}" is not built: ${r}`);
        unbuilt.push({ target: id, reason: `the proxy "${proxy.name}" is not built: ${r}` });
        continue;
      }
      servers.push({ kind: 'haproxy', ns: p.name, id, address: p.addresses[0]!.cidr.split('/')[0]!, name: r.name, port: r.port, config: r.config });
      notes.push(...r.notes.map((n) => `${id}: ${n}`));
      ports = ports.filter((x) => x !== r.port);
    }
    const pp = pod ? resolveApp(cluster, pod, undefined).proxyProtocol : 'none';
    if (ports.length > 0) servers.push({ kind: 'echo', ns: p.name, id, address: p.addresses[0]!.cidr.split('/')[0]!, ports, ...(pp !== 'none' ? { proxyProtocol: pp } : {}) });
  }

  // Clients on the internet side: a point-to-point veth each to the router, which answers ARP for the rest (proxy_arp).
  const reachable = cluster.services.some((s) => s.spec.type === 'NodePort' || s.spec.type === 'LoadBalancer');
  if (cluster.externalClients.length === 0 && reachable && !world.owner(DEFAULT_CLIENT.address)) {
    world.addClient(DEFAULT_CLIENT.name, DEFAULT_CLIENT.address);
    notes.push(`the Environment names no external client: the lab adds ${DEFAULT_CLIENT.name} at ${DEFAULT_CLIENT.address}`);
  }
  const clients: LabClient[] = [];
  let c = 0;
  for (const [id, h] of world.network.hosts) {
    if (h.kind !== 'client') continue;
    const address = h.host.interfaces.find((i) => i.name === 'eth0')?.addresses.find((a) => a.ip.family === 4);
    if (!address) continue;
    if (nodeNet && networkContains(nodeNet, address.ip)) continue; // an edge host of the node network (a proxying LB's), not a client
    const cn = ns(`${prefix}client-${safe(id.slice(7))}`, 'client', id);
    cn.addresses.push({ dev: 'eth0', cidr: `${formatIP(address.ip)}/${address.prefixLength}` });
    cn.routes.push('default dev eth0');
    const dev = `c${c++}`;
    veths.push({ ns: router.name, name: dev, peerNs: cn.name, peerName: 'eth0' });
    router.routes.push(`${formatIP(address.ip)}/32 dev ${dev}`);
    router.sysctls.push([`net.ipv4.conf.${dev}.proxy_arp`, '1']);
    namespaces.push(cn);
    clients.push({ name: id.slice(7), address: formatIP(address.ip), ns: cn.name });
  }

  // The passthrough load balancer: every LoadBalancer VIP routed to it; it picks a node per connection.
  const vips: LabVip[] = [];
  const proxies: LabProxyVip[] = [];
  const from = clients[0] ? clients[0].name : undefined;
  for (const svc of cluster.services) {
    if (svc.spec.type !== 'LoadBalancer' || !from) continue;
    for (const sp of svc.spec.ports ?? []) {
      if ((sp.protocol ?? 'TCP') !== 'TCP') continue;
      const target = `lb/${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}:${sp.name ?? sp.port}`;
      let plan;
      try {
        plan = planJourney(world, { from: cluster.externalClients.find((x) => x.name === from) ? from : `external:${clients[0]!.address}`, to: target });
      } catch {
        continue; // no load balancer IP
      }
      if (!plan.loadBalancerAddress || parseIP(plan.loadBalancerAddress.split(':')[0]!).family !== 4) continue;
      const lb = plan.input.loadBalancers(plan.loadBalancerAddress)!;
      const skip = (reason: string) => {
        notes.push(`${target}: ${reason}`);
        unbuilt.push({ target, reason });
      };
      if (lb.delivery === 'Pod') {
        skip(`a ${lb.product} in ${lb.mode} mode delivering to pods is not built yet`);
        continue;
      }
      if (lb.mode !== 'passthrough') {
        if (!tools.haproxy) {
          skip(`a ${lb.product} in ${lb.mode} mode is realized with HAProxy, which is not installed (apt-get install haproxy)`);
          continue;
        }
        if (!lb.sourceAddress) {
          skip(`a ${lb.product} in ${lb.mode} mode without a sourceAddress (the trace refuses it too) is not built`);
          continue;
        }
        if (parseIP(lb.sourceAddress).family !== 4) {
          skip(`a ${lb.product} connecting from ${lb.sourceAddress}: the lab is IPv4 only`);
          continue;
        }
        proxies.push({
          service: target,
          product: lb.product,
          vip: lb.vip,
          port: lb.port,
          nodePort: lb.nodePort,
          mode: lb.mode === 'http' ? 'http' : 'tcp',
          ...(lb.mode === 'proxy' && lb.proxyProtocol ? { sendProxy: lb.proxyProtocol } : {}),
          source: lb.sourceAddress,
          local: lb.externalPolicyLocal,
          healthCheckNodePort: lb.healthCheckNodePort,
          backends: lb.backends.map((b) => ({ node: b.node, address: b.address })),
        });
        continue;
      }
      vips.push({ service: target, vip: lb.vip, port: lb.port, nodePort: lb.nodePort, delivery: lb.delivery, local: lb.externalPolicyLocal, healthCheckNodePort: lb.healthCheckNodePort, backends: lb.backends.map((b) => ({ node: b.node, address: b.address })) });
    }
  }
  // A proxying LB's VIP is the local address HAProxy binds; it cannot also be a passthrough VIP forwarded on.
  for (const p of [...proxies]) {
    if (vips.some((v) => v.vip === p.vip)) {
      proxies.splice(proxies.indexOf(p), 1);
      notes.push(`${p.service}: its VIP ${p.vip} also fronts a passthrough load balancer; the lab cannot both forward and end connections to it: left out`);
      unbuilt.push({ target: p.service, reason: `its VIP ${p.vip} also fronts a passthrough load balancer` });
    }
  }
  let loadBalancer: LabLoadBalancer | undefined;
  const any = vips.length + proxies.length > 0;
  const lbAddress = any ? world.spareNodeAddress(4) : undefined;
  if (any && lbAddress && nodeNet) {
    const lbns = ns(`${prefix}lb`, 'lb', 'lb');
    lbns.addresses.push({ dev: 'eth0', cidr: `${lbAddress}/${nodeNet.prefixLength}` }, { dev: 'wan', cidr: `${ROUTER_LB.lb}/${ROUTER_LB.prefix}` });
    lbns.routes.push(`default via ${ROUTER_LB.router} dev wan`);
    lbns.sysctls.push(['net.ipv4.ip_forward', '1']);
    const marks = cluster.nodes.flatMap((nd) => {
      const address = nd.internalIPs.find((ip) => tryParseIP(ip)?.family === 4);
      return address ? [{ node: nd.name, address, mark: nodeIndex.get(nd.name)! + 1 }] : [];
    });
    for (const m of marks) {
      lbns.policyRules.push(`fwmark ${m.mark} lookup ${100 + m.mark} priority ${100 + m.mark}`);
      lbns.routes.push(`default via ${m.address} dev eth0 table ${100 + m.mark}`);
    }
    veths.push({ ns: underlay.name, name: 'lb', peerNs: lbns.name, peerName: 'eth0', master: 'br0' });
    veths.push({ ns: router.name, name: 'lb', peerNs: lbns.name, peerName: 'wan' });
    router.addresses.push({ dev: 'lb', cidr: `${ROUTER_LB.router}/${ROUTER_LB.prefix}` });
    // Replies of load-balanced connections go back through the load balancer, as the cloud's network carries them.
    router.routes.push(`default via ${lbAddress} dev nodes table ${REPLY_TABLE}`);
    for (const vip of [...new Set([...vips, ...proxies].map((v) => v.vip))]) router.routes.push(`${vip}/32 via ${ROUTER_LB.lb} dev lb`);
    // HAProxy: the VIPs it binds are local here; it connects to the nodes from the load balancer's source address.
    for (const vip of [...new Set(proxies.map((p) => p.vip))]) lbns.addresses.push({ dev: 'lo', cidr: `${vip}/32` });
    for (const src of [...new Set(proxies.map((p) => p.source))]) {
      if (src === lbAddress) continue;
      const inNodeNet = networkContains(nodeNet, parseIP(src));
      lbns.addresses.push({ dev: 'eth0', cidr: `${src}/${inNodeNet ? nodeNet.prefixLength : 32}` });
      if (!inNodeNet) router.routes.push(`${src}/32 via ${lbAddress} dev nodes`);
    }
    for (const v of vips) {
      router.policyRules.push(
        v.delivery === 'VIP'
          ? `from ${v.vip} iif nodes ipproto tcp sport ${v.port} lookup ${REPLY_TABLE} priority 100`
          : `iif nodes ipproto tcp sport ${v.nodePort} lookup ${REPLY_TABLE} priority 100`,
      );
    }
    router.policyRules = [...new Set(router.policyRules)];
    namespaces.push(lbns);
    loadBalancer = { ns: lbns.name, address: lbAddress, vips, marks, ...(proxies.length > 0 ? { proxies } : {}) };
  } else if (any) {
    notes.push('no free address on the node network for the load balancer: it is left out');
    for (const v of [...vips, ...proxies]) unbuilt.push({ target: v.service, reason: 'no free address on the node network for the load balancer' });
  }

  for (const n of namespaces) n.routes = [...new Set(n.routes)];
  return { name, prefix, namespaces, veths, servers, clients, ...(loadBalancer ? { loadBalancer } : {}), notes, ...(unbuilt.length > 0 ? { unbuilt } : {}) };
}

/** The `ip -batch` text that makes the veth pairs of namespace `ns` (run as `ip -n NS -batch -`). */
export function vethBatch(plan: LabPlan, ns: string): string {
  const lines: string[] = [];
  const here = plan.namespaces.find((n) => n.name === ns);
  for (const b of here?.bridges ?? []) lines.push(`link add ${b} type bridge`, `link set ${b} up`);
  for (const v of plan.veths.filter((x) => x.ns === ns)) {
    lines.push(`link add ${v.name} type veth peer name ${v.peerName} netns ${v.peerNs}`);
    if (v.master) lines.push(`link set ${v.name} master ${v.master}`);
    if (v.hairpin) lines.push(`link set ${v.name} type bridge_slave hairpin on`);
    lines.push(`link set ${v.name} up`);
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

/** The `ip -batch` text that sets up a namespace's interfaces, addresses, routes and policy rules. */
export function configBatch(n: LabNamespace): string {
  const devs = [...new Set(n.addresses.map((a) => a.dev))].filter((d) => !n.bridges.includes(d));
  const lines = ['link set lo up', ...devs.map((d) => `link set ${d} up`), ...n.addresses.map((a) => `addr add ${a.cidr} dev ${a.dev}`)];
  // Routes through a gateway after the connected ones they need; table routes last.
  lines.push(...n.routes.map((r) => `route add ${r}`), ...n.policyRules.map((r) => `rule add ${r}`));
  return lines.join('\n') + '\n';
}

/** The shell line that sets a namespace's sysctls (run inside it). */
export function sysctlArgs(n: LabNamespace): string[] {
  return n.sysctls.map(([k, v]) => `${k}=${v}`);
}
