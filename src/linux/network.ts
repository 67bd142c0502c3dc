/**
 * Hosts joined by links: each host a netfilter host (interfaces, addresses, routes) with its
 * rules; each link an L2 segment (a node network, a bridge with its pods, the internet side of
 * a router). A packet goes one hop at a time: through a host's routing and netfilter, then out
 * of an interface to the neighbour that owns the next-hop address on that link.
 *
 * @module
 */
import { formatIP, type IPAddress, type IPFamily, type Packet } from '../net/index.js';
import { type Host, type Outcome, type Ruleset, type Trace, type TraceRequest, tracePacket } from '../netfilter/index.js';

export type HostKind = 'node' | 'pod' | 'client' | 'router';

/** A host of the network. */
export interface NetworkHost {
  /** `node/NAME`, `pod/NS/NAME`, `client/NAME`, `router`. */
  readonly id: string;
  readonly kind: HostKind;
  readonly host: Host;
  /**
   * The host's rules for a packet of a family (empty for hosts without any). Given the packet, a
   * host may hand out only the part of its rules that can act on it (see trace/world.ts).
   */
  readonly rules: (family: IPFamily, packet: Packet) => Ruleset;
  /** Whether a process listens on the port (pods: their container ports). Undefined: assume it does. */
  readonly listens?: (protocol: number, port: number) => boolean;
}

/** One end of a link: a host's interface, and the addresses it answers ARP/NDP for. */
export interface Attachment {
  readonly host: string;
  readonly interface: string;
  /** Addresses of the interface (bare IPs, canonical text); neighbour resolution looks them up. */
  readonly addresses: readonly string[];
}

/**
 * An L2 segment. With `proxyArp`, the router answers for every address nobody else on it owns.
 * With `bridge`, the link is that host's Linux bridge with br_netfilter on
 * (bridge-nf-call-iptables=1, as kube-proxy requires): frames between two ports pass the
 * host's netfilter, so they are traced through it.
 */
export interface Link {
  readonly id: string;
  readonly attachments: readonly Attachment[];
  readonly proxyArp?: string;
  readonly bridge?: string;
}

/** Where a forwarded packet arrives next, or why it arrives nowhere. */
export type NextHop = { readonly host: NetworkHost; readonly interface: string; readonly link: Link } | { readonly unreachable: string };

export class Network {
  readonly hosts = new Map<string, NetworkHost>();
  readonly links: Link[] = [];
  readonly #linkByEnd = new Map<string, Link>();
  /** Per link: address → the attachment that owns it. */
  readonly #owners = new Map<Link, Map<string, Attachment>>();

  #index(link: Link, a: Attachment): void {
    let m = this.#owners.get(link);
    if (!m) this.#owners.set(link, (m = new Map()));
    for (const ip of a.addresses) if (!m.has(ip)) m.set(ip, a);
  }

  addHost(h: NetworkHost): void {
    if (this.hosts.has(h.id)) throw new Error(`host ${h.id} added twice`);
    this.hosts.set(h.id, h);
  }

  addLink(link: Link): void {
    const own: Link = { ...link, attachments: [...link.attachments] };
    this.links.push(own);
    for (const a of own.attachments) {
      this.#linkByEnd.set(`${a.host} ${a.interface}`, own);
      this.#index(own, a);
    }
  }

  /** Plug one more host interface into a link. */
  attach(linkId: string, a: Attachment): void {
    const link = this.links.find((l) => l.id === linkId);
    if (!link) throw new Error(`no link ${linkId}`);
    (link.attachments as Attachment[]).push(a);
    this.#linkByEnd.set(`${a.host} ${a.interface}`, link);
    this.#index(link, a);
  }

  host(id: string): NetworkHost | undefined {
    return this.hosts.get(id);
  }

  linkOf(host: string, iface: string): Link | undefined {
    return this.#linkByEnd.get(`${host} ${iface}`);
  }

  /** The host on the link that owns an address (ARP/NDP), else the link's proxy-ARP router. */
  neighbour(link: Link, address: IPAddress, from: string): Attachment | undefined {
    const a = this.#owners.get(link)?.get(formatIP(address));
    if (a && a.host !== from) return a;
    return link.proxyArp && link.proxyArp !== from ? link.attachments.find((a) => a.host === link.proxyArp) : undefined;
  }

  /** Where a forwarded outcome of `from` arrives. */
  nextHop(from: string, outcome: Outcome): NextHop {
    const iface = outcome.outInterface;
    if (!iface) return { unreachable: `${from} sent the packet out of no interface` };
    const link = this.linkOf(from, iface);
    if (!link) return { unreachable: `${from} interface ${iface} is connected to nothing` };
    const target = outcome.nextHop ?? outcome.packet.destination;
    const a = this.neighbour(link, target, from);
    if (!a) return { unreachable: `no host on ${link.id} answers for ${formatIP(target)} (neighbour resolution fails)` };
    if (link.bridge && from !== link.bridge && a.host !== link.bridge) {
      const port = link.attachments.find((x) => x.host === link.bridge)!;
      return { host: this.hosts.get(link.bridge)!, interface: port.interface, link };
    }
    return { host: this.hosts.get(a.host)!, interface: a.interface, link };
  }

  /** One hop: the packet through a host's routing and netfilter. */
  hop(hostId: string, request: TraceRequest): Trace {
    const h = this.hosts.get(hostId);
    if (!h) throw new Error(`no host ${hostId}`);
    return tracePacket(h.rules(request.packet.family, request.packet), h.host, request);
  }
}
