/**
 * What the cluster's DNS answers: CoreDNS's kubernetes plugin for the cluster domain (Kubernetes
 * DNS specification 1.0.1 and coredns plugin/kubernetes), and for other names what the
 * Environment's `dns.external` says the world answers (NXDOMAIN for names it does not list).
 *
 * - `<svc>.<ns>.svc.<zone>`: the ClusterIPs of the asked family (the other family: NODATA);
 *   headless: the ready endpoints (NXDOMAIN when it has none); ExternalName: a CNAME to the name,
 *   with what the name resolves to.
 * - `<hostname>.<svc>.<ns>.svc.<zone>`: a headless Service's endpoint by hostname (or dashed IP).
 * - `_<port>._<proto>.<svc>.<ns>.svc.<zone>` SRV, named ports only.
 * - `<a-b-c-d>.<ns>.pod.<zone>`: with `pods insecure` any dashed IP, with `verified` only a pod of
 *   that namespace with that IP, `disabled` none.
 * - The zone, `svc.<zone>`, `pod.<zone>` and an existing namespace under them exist without
 *   addresses (NODATA); every other name in the zone is NXDOMAIN.
 *
 * Servers other than the DNS Service's ClusterIPs (a node's resolver, a pod's own nameserver) know
 * only the names outside the cluster.
 *
 * @module
 */
import type { Cluster, ClusterDNS, EndpointSlice, Service } from '../cluster/index.js';
import { SERVICE_NAME_LABEL } from '../cluster/index.js';
import { formatIP, tryParseIP } from '../net/index.js';
import type { DnsRecord, DnsReply, QueryType, Transport } from './types.js';

const NXDOMAIN: DnsReply = { rcode: 'NXDOMAIN', answers: [] };
const NODATA: DnsReply = { rcode: 'NOERROR', answers: [] };

const familyType = (ip: string): QueryType | undefined => {
  const a = tryParseIP(ip);
  return a ? (a.family === 4 ? 'A' : 'AAAA') : undefined;
};

/** Records for `name` from a list of addresses, those of the asked type. */
function addressRecords(name: string, type: QueryType, ips: readonly string[]): DnsRecord[] {
  return ips.filter((ip) => familyType(ip) === type).map((data) => ({ name, type, data }));
}

/** The answer from a list of addresses: records, or NODATA when none has the asked family. */
function fromAddresses(name: string, type: QueryType, ips: readonly string[]): DnsReply {
  return { rcode: 'NOERROR', answers: addressRecords(name, type, ips) };
}

/** `10-244-1-7` → 10.244.1.7; `fd00--1` → fd00::1. */
function dashedIP(label: string): string | undefined {
  const v4 = label.replace(/-/g, '.');
  if (tryParseIP(v4)?.family === 4) return formatIP(tryParseIP(v4)!);
  const v6 = tryParseIP(label.replace(/-/g, ':'));
  return v6?.family === 6 ? formatIP(v6) : undefined;
}

/** An IP as a DNS label, as CoreDNS writes endpoint names without a hostname. */
export function dashed(ip: string): string {
  return ip.replace(/[.:]/g, '-');
}

/** The cluster's DNS: answers for every question, per server. */
export class ClusterDNSModel {
  readonly dns: ClusterDNS;
  readonly #services = new Map<string, Service>();
  readonly #slices = new Map<string, EndpointSlice[]>();
  readonly #namespaces: Set<string>;

  constructor(readonly cluster: Cluster) {
    if (!cluster.dns) throw new Error('the cluster has no DNS settings (load it with loadCluster)');
    this.dns = cluster.dns;
    for (const s of cluster.services) this.#services.set(`${s.metadata.name}.${s.metadata.namespace}`, s);
    for (const slice of cluster.endpointSlices) {
      const key = `${slice.metadata.labels?.[SERVICE_NAME_LABEL]}.${slice.metadata.namespace}`;
      this.#slices.set(key, [...(this.#slices.get(key) ?? []), slice]);
    }
    this.#namespaces = new Set(cluster.namespaces.map((n) => n.metadata.name));
  }

  /** True for the DNS Service's addresses (CoreDNS answers there). */
  isClusterDNS(server: string): boolean {
    return this.dns.serviceIPs.includes(server);
  }

  /** A Transport: CoreDNS at the DNS Service's ClusterIPs, the outside world's resolvers elsewhere. */
  transport(): Transport {
    return (q) => (this.isClusterDNS(q.server) ? this.answer(q.name, q.type) : this.upstream(q.name, q.type));
  }

  /** CoreDNS's answer. */
  answer(qname: string, type: QueryType, depth = 0): DnsReply {
    const name = qname.toLowerCase().replace(/\.$/, '');
    const zone = this.dns.clusterDomain;
    if (name === zone) return NODATA;
    if (!name.endsWith(`.${zone}`)) return this.upstream(name, type, depth);
    const labels = name.slice(0, -(zone.length + 1)).split('.');
    const kind = labels[labels.length - 1];
    if (kind === 'svc') return this.#service(name, labels.slice(0, -1), type, depth);
    if (kind === 'pod') return this.#pod(name, labels.slice(0, -1), type);
    return NXDOMAIN;
  }

  /** A resolver outside the cluster: the Environment's table of names, else NXDOMAIN. */
  upstream(qname: string, type: QueryType, depth = 0): DnsReply {
    const name = qname.toLowerCase().replace(/\.$/, '');
    const e = this.dns.external.find((x) => x.name === name);
    if (!e) return NXDOMAIN;
    if (e.rcode) return e.rcode === 'NODATA' ? NODATA : { rcode: e.rcode, answers: [] };
    if (e.addresses) return fromAddresses(name, type, e.addresses);
    return this.#cname(name, e.cname!, type, depth, (n, t, d) => this.upstream(n, t, d));
  }

  #cname(name: string, target: string, type: QueryType, depth: number, follow: (n: string, t: QueryType, d: number) => DnsReply): DnsReply {
    const cname: DnsRecord = { name, type: 'CNAME', data: target };
    if (type === 'CNAME') return { rcode: 'NOERROR', answers: [cname] };
    if (depth >= 8) return { rcode: 'SERVFAIL', answers: [] };
    const r = follow(target, type, depth + 1);
    return { rcode: r.rcode === 'NXDOMAIN' ? 'NOERROR' : r.rcode, answers: [cname, ...r.answers] };
  }

  #service(name: string, labels: string[], type: QueryType, depth: number): DnsReply {
    if (labels.length === 0) return NODATA; // svc.<zone>
    if (labels.length === 1) return this.#namespaces.has(labels[0]!) ? NODATA : NXDOMAIN;
    const [svcName, ns] = labels.slice(-2) as [string, string];
    const svc = this.#services.get(`${svcName}.${ns}`);
    if (!svc) return NXDOMAIN;
    const rest = labels.slice(0, -2);
    const zone = this.dns.clusterDomain;
    const fqdn = `${svcName}.${ns}.svc.${zone}`;
    if (rest.length === 2 && rest[0]!.startsWith('_') && rest[1]!.startsWith('_')) return this.#srv(name, svc, rest[0]!.slice(1), rest[1]!.slice(1), type);
    if (rest.length === 1) {
      // <hostname>.<svc>.<ns>.svc.<zone>: a headless Service's endpoint.
      const ep = this.#endpoints(svc).find((e) => e.host === rest[0]);
      return ep ? fromAddresses(name, type, [ep.ip]) : NXDOMAIN;
    }
    if (rest.length > 0) return NXDOMAIN;
    if (svc.spec.type === 'ExternalName') return this.#cname(fqdn, svc.spec.externalName ?? '', type, depth, (n, t, d) => this.answer(n, t, d));
    if (type === 'SRV') return this.#srvAll(fqdn, svc);
    const ips = svc.spec.clusterIPs ?? (svc.spec.clusterIP ? [svc.spec.clusterIP] : []);
    if (ips.length > 0 && ips[0] !== 'None') return fromAddresses(fqdn, type, ips);
    const eps = this.#endpoints(svc);
    return eps.length === 0 ? NXDOMAIN : fromAddresses(fqdn, type, eps.map((e) => e.ip));
  }

  /** A headless Service's ready endpoints (all, with publishNotReadyAddresses), with their DNS hostnames. */
  #endpoints(svc: Service): { ip: string; host: string; ports: EndpointSlice['ports'] }[] {
    const out: { ip: string; host: string; ports: EndpointSlice['ports'] }[] = [];
    for (const slice of this.#slices.get(`${svc.metadata.name}.${svc.metadata.namespace}`) ?? []) {
      if (slice.addressType === 'FQDN') continue;
      for (const e of slice.endpoints) {
        if (e.conditions?.ready === false && !svc.spec.publishNotReadyAddresses) continue;
        for (const ip of e.addresses) if (!out.some((o) => o.ip === ip)) out.push({ ip, host: e.hostname ?? dashed(ip), ports: slice.ports });
      }
    }
    return out;
  }

  /** SRV for `_port._proto`: named ports only. */
  #srv(name: string, svc: Service, port: string, proto: string, type: QueryType): DnsReply {
    const sp = (svc.spec.ports ?? []).find((p) => p.name === port && (p.protocol ?? 'TCP').toLowerCase() === proto);
    if (!sp) return NXDOMAIN;
    if (type !== 'SRV') return NODATA;
    const zone = this.dns.clusterDomain;
    const fqdn = `${svc.metadata.name}.${svc.metadata.namespace}.svc.${zone}`;
    const headless = (svc.spec.clusterIPs?.[0] ?? svc.spec.clusterIP) === 'None';
    if (!headless) return { rcode: 'NOERROR', answers: [{ name, type: 'SRV', data: `0 100 ${sp.port} ${fqdn}` }] };
    const eps = this.#endpoints(svc);
    const weight = eps.length > 0 ? Math.floor(100 / eps.length) : 0;
    const answers = eps.flatMap((e) => {
      const p = e.ports?.find((x) => x.name === port)?.port;
      return p === undefined ? [] : [{ name, type: 'SRV' as const, data: `0 ${weight} ${p} ${e.host}.${fqdn}` }];
    });
    return answers.length > 0 ? { rcode: 'NOERROR', answers } : NXDOMAIN;
  }

  /** SRV asked for the Service's own name: one record per named port. */
  #srvAll(fqdn: string, svc: Service): DnsReply {
    const answers = (svc.spec.ports ?? []).filter((p) => p.name).map((p) => ({ name: fqdn, type: 'SRV' as const, data: `0 100 ${p.port} ${fqdn}` }));
    return { rcode: 'NOERROR', answers };
  }

  #pod(name: string, labels: string[], type: QueryType): DnsReply {
    if (labels.length === 0) return NODATA;
    if (labels.length === 1) return this.#namespaces.has(labels[0]!) ? NODATA : NXDOMAIN;
    if (labels.length !== 2 || this.dns.pods === 'disabled') return NXDOMAIN;
    const [label, ns] = labels as [string, string];
    const ip = dashedIP(label);
    if (!ip) return NXDOMAIN;
    if (this.dns.pods === 'verified') {
      const found = this.cluster.pods.some((p) => p.metadata.namespace === ns && (p.status?.podIPs ?? []).some((x) => x.ip === ip));
      if (!found) return NXDOMAIN;
    }
    return fromAddresses(name, type, [ip]);
  }
}
