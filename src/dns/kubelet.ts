/**
 * The resolv.conf kubelet writes into a pod (pkg/kubelet/network/dns `GetPodDNS`): the base from
 * the dnsPolicy, the pod's dnsConfig added (nameservers and searches appended without
 * duplicates, options merged by name, the pod's value winning), then cut to kubelet's limits
 * (3 nameservers; 32 search domains of at most 253 characters, 2048 in all — 6 and 256 before
 * ExpandedDNSConfig, GA in 1.28), each cut reported as kubelet's DNSConfigForming event.
 *
 * @module
 */
import type { ClusterDNS, Pod } from '../cluster/index.js';
import type { ResolvConf, ResolvOption } from './resolv-conf.js';

export interface PodResolvConf {
  conf: ResolvConf;
  /** The dnsPolicy applied (`ClusterFirst` on a hostNetwork pod acts as `Default`). */
  policy: string;
  /** Why the file is what it is: defaults, fallbacks, and kubelet's DNSConfigForming events. */
  notes: string[];
}

export interface KubeletDNSOptions {
  /** ExpandedDNSConfig (default true, GA in 1.28): 32 search domains and 2048 characters, else 6 and 256. */
  expandedDNSConfig?: boolean;
}

const omitDuplicates = (list: readonly string[]) => list.filter((x, i) => list.indexOf(x) === i);

/** mergeDNSOptions: by name, later values winning; kept in first-seen order (kubelet's map has none). */
function mergeOptions(base: readonly ResolvOption[], extra: readonly ResolvOption[]): ResolvOption[] {
  const merged = new Map<string, string | undefined>();
  for (const o of [...base, ...extra]) merged.set(o.name, o.value === '' ? undefined : o.value);
  return [...merged].map(([name, value]) => (value === undefined ? { name } : { name, value }));
}

/** formDNSSearchFitsLimits. */
function fitSearches(searches: string[], expanded: boolean, notes: string[]): string[] {
  const maxPaths = expanded ? 32 : 6;
  const maxChars = expanded ? 2048 : 256;
  let out = searches;
  let exceeded = false;
  if (out.length > maxPaths) {
    out = out.slice(0, maxPaths);
    exceeded = true;
  }
  const fitting = out.filter((s) => s.length <= 253);
  if (fitting.length !== out.length) exceeded = true;
  out = fitting;
  const length = out.join(' ').length;
  if (length > maxChars) {
    let cut = 0;
    let cutLength = 0;
    for (let i = out.length - 1; i >= 0; i--) {
      cutLength += out[i]!.length + 1;
      cut++;
      if (length - cutLength <= maxChars) break;
    }
    out = out.slice(0, out.length - cut);
    exceeded = true;
  }
  if (exceeded) notes.push(`kubelet event DNSConfigForming: Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${out.join(' ')}`);
  return out;
}

/** The pod's resolv.conf as kubelet writes it on the pod's node. */
export function podResolvConf(pod: Pod, dns: ClusterDNS, options: KubeletDNSOptions = {}): PodResolvConf {
  const notes: string[] = [];
  const given = pod.spec.dnsPolicy;
  const policy = given ?? 'ClusterFirst';
  if (!given) notes.push("dnsPolicy ClusterFirst (the API server's default)");
  let kind: 'cluster' | 'host' | 'none' = policy === 'None' ? 'none' : policy === 'Default' ? 'host' : 'cluster';
  if (policy === 'ClusterFirst' && pod.spec.hostNetwork) {
    kind = 'host';
    notes.push('dnsPolicy ClusterFirst on a hostNetwork pod acts as Default: the node\'s resolv.conf (ClusterFirstWithHostNet gives cluster DNS)');
  }
  let conf: ResolvConf = { nameservers: [], searches: [], options: [] };
  if (kind === 'cluster' && dns.serviceIPs.length === 0) {
    notes.push('kubelet has no --cluster-dns: ClusterFirst falls back to Default');
    kind = 'host';
  }
  if (kind === 'cluster') {
    const ns = pod.metadata.namespace ?? 'default';
    const d = dns.clusterDomain;
    conf = {
      nameservers: [...dns.serviceIPs],
      searches: omitDuplicates([`${ns}.svc.${d}`, `svc.${d}`, d, ...dns.node.searches]),
      options: [{ name: 'ndots', value: '5' }],
    };
  } else if (kind === 'host') {
    conf = { nameservers: [...dns.node.nameservers], searches: [...dns.node.searches], options: [...dns.node.options] };
  }
  const extra = pod.spec.dnsConfig;
  if (extra) {
    conf = {
      nameservers: omitDuplicates([...conf.nameservers, ...(extra.nameservers ?? [])]),
      searches: omitDuplicates([...conf.searches, ...(extra.searches ?? [])]),
      options: mergeOptions(conf.options, (extra.options ?? []).map((o) => (o.value === undefined ? { name: o.name } : { name: o.name, value: o.value }))),
    };
  }
  if (conf.nameservers.length > 3) {
    conf.nameservers = conf.nameservers.slice(0, 3);
    notes.push(`kubelet event DNSConfigForming: Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: ${conf.nameservers.join(' ')}`);
  }
  conf.searches = fitSearches(conf.searches, options.expandedDNSConfig ?? true, notes);
  return { conf, policy: kind === 'host' && policy !== 'Default' ? `${policy} (as Default)` : policy, notes };
}
