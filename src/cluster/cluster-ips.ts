/**
 * ClusterIPs and IP families as the API server's allocator sets them (pkg/registry/core/service):
 * ipFamilyPolicy and ipFamilies inferred from what is given, headless selectorless Services
 * dual-stack by default, given ClusterIPs checked against the service CIDRs, missing ones
 * allocated. Kubernetes allocates at random; kubepath's rule is deterministic:
 *
 * - `default/kubernetes` gets the service CIDR's first address (`10.96.0.1`), as the API server
 *   gives itself, and `kube-system/kube-dns` the tenth (`10.96.0.10`), as kubeadm gives CoreDNS;
 * - every other Service, in namespace/name order, gets the lowest free address from the second on.
 *
 * @module
 */
import { formatIP, formatNetwork, type IPAddress, tryParseIP } from '../net/index.js';
import type { IPFamily, IPFamilyPolicy, Service } from './objects.js';
import { AddressPool } from './allocate.js';
import { type Assumptions, objectName } from './assumptions.js';
import { familyOf, type Settings } from './environment.js';
import { duplicate, forbidden, invalid } from './issues.js';
import type { Item } from './nodes.js';

const familyName = (ip: IPAddress): IPFamily => (ip.family === 4 ? 'IPv4' : 'IPv6');
const other = (f: IPFamily): IPFamily => (f === 'IPv4' ? 'IPv6' : 'IPv4');

/** Addresses the cluster itself gives to well-known Services (offsets into the service CIDR). */
const WELL_KNOWN: Record<string, number> = { 'default/kubernetes': 1, 'kube-system/kube-dns': 10 };

interface Plan {
  item: Item<Service>;
  families: IPFamily[];
  ips: IPAddress[];
  headless: boolean;
  /** The policy, when the API server would have inferred it. */
  inferredPolicy?: IPFamilyPolicy;
}

/** Check, infer and allocate the ClusterIPs and IP families of every Service. `services` in load order. */
export function assignClusterIPs(services: readonly Item<Service>[], settings: Settings, assumptions: Assumptions): void {
  const pools = new Map(settings.serviceCIDRs.map((net) => [familyOf(net), new AddressPool(net, 2)]));
  const owners = new Map<string, string>();
  const plans: Plan[] = [];
  for (const item of services) {
    const plan = check(item, settings);
    if (!plan) continue;
    plan.ips.forEach((ip, i) => {
      const path = item.object.spec.clusterIPs?.length ? `spec.clusterIPs[${i}]` : 'spec.clusterIP';
      const pool = pools.get(familyName(ip));
      const text = formatIP(ip);
      const me = objectName('Service', item.object.metadata);
      if (!pool?.contains(ip)) {
        const ranges = settings.serviceCIDRs.map(formatNetwork).join(', ');
        const hint = settings.serviceCIDRsAssumed ? ` (kubepath's default: give the cluster's serviceCIDRs in an Environment)` : '';
        item.report.error(path, invalid(text, `provided IP is not in the valid range. The range of valid IPs is ${ranges}${hint}`));
      } else if (!pool.reserve(ip) && owners.get(text) !== me) {
        item.report.error(path, invalid(text, `provided IP is already allocated (by ${owners.get(text)})`));
      } else owners.set(text, me);
    });
    plans.push(plan);
  }
  const key = (p: Plan) => `${p.item.object.metadata.namespace}/${p.item.object.metadata.name}`;
  plans.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  next: for (const plan of plans) {
    const { item, families, headless } = plan;
    const spec = item.object.spec;
    const assume = (field: string, value: string) => assumptions.add(objectName('Service', item.object.metadata), field, value, item.report.source);
    if (!headless) {
      const allocated: string[] = [];
      for (const family of families.slice(plan.ips.length)) {
        const pool = pools.get(family)!;
        const wellKnown = WELL_KNOWN[key(plan)];
        const ip = (wellKnown !== undefined ? pool.take(wellKnown) : undefined) ?? pool.next();
        if (!ip) {
          item.report.error('spec.clusterIP', `cannot allocate a ${family} ClusterIP: the service CIDR ${formatNetwork(pool.network)} is full`);
          continue next;
        }
        plan.ips.push(ip);
        allocated.push(formatIP(ip));
      }
      if (allocated.length > 0) {
        const why = WELL_KNOWN[key(plan)] !== undefined ? 'the address the cluster gives this Service' : 'lowest free address of the service CIDR';
        assume('spec.clusterIPs', `${allocated.join(', ')} (${why})`);
      }
      spec.clusterIPs = plan.ips.map(formatIP);
      spec.clusterIP = spec.clusterIPs[0]!;
    }
    if (plan.inferredPolicy) assume('spec.ipFamilyPolicy', plan.inferredPolicy);
    if (spec.ipFamilies?.join() !== families.join()) assume('spec.ipFamilies', families.join(', '));
    spec.ipFamilies = families;
  }
}

/** The families a Service gets, its policy and its given IPs, or undefined when it has none (ExternalName) or is invalid. */
function check(item: Item<Service>, settings: Settings): Plan | undefined {
  const { object: svc, report } = item;
  const spec = svc.spec;
  const given = (spec.clusterIPs ?? (spec.clusterIP !== undefined ? [spec.clusterIP] : [])).filter((ip) => ip !== '');
  const field = (i: number) => (spec.clusterIPs?.length ? `spec.clusterIPs[${i}]` : 'spec.clusterIP');
  if (spec.type === 'ExternalName') {
    if (given.length > 0) report.error(field(0), forbidden('may not be set for ExternalName services'));
    return undefined;
  }
  const errors = report.errorCount;
  if (spec.clusterIP && spec.clusterIPs?.length && spec.clusterIPs[0] !== spec.clusterIP) {
    report.error('spec.clusterIPs[0]', invalid(spec.clusterIPs[0], 'must match `clusterIP` when both are specified'));
  }
  const headless = given[0] === 'None';
  if (headless && given.length > 1) report.error(field(1), invalid(given[1], "must not be set when clusterIPs[0] is 'None'"));
  if (given.length > 2) report.error('spec.clusterIPs', invalid(given, 'may specify no more than two IPs (one per family)'));
  const ips: IPAddress[] = [];
  if (!headless) {
    given.forEach((text, i) => {
      const ip = tryParseIP(text)!; // checked when decoded
      if (ips.some((o) => o.family === ip.family)) return report.error(field(i), invalid(text, 'may specify no more than one IP for each IP family'));
      ips.push(ip);
    });
  }
  const requested = spec.ipFamilies ?? [];
  requested.forEach((f, i) => requested.indexOf(f) < i && report.error(`spec.ipFamilies[${i}]`, duplicate(f)));
  ips.forEach((ip, i) => {
    const want = requested[i];
    if (want && want !== familyName(ip)) report.error(field(i), invalid(formatIP(ip), `expected an ${want} value as indicated by \`ipFamilies[${i}]\``));
  });
  const families = [...requested];
  for (const ip of ips.slice(families.length)) families.push(familyName(ip));
  let policy: IPFamilyPolicy | undefined = spec.ipFamilyPolicy ?? (families.length === 2 ? 'RequireDualStack' : undefined);
  const dualStackCluster = settings.families.length === 2;
  if (headless && Object.keys(spec.selector ?? {}).length === 0) {
    // The API server's special case: a headless Service without selector is dual-stack unless
    // told otherwise, even on a single-stack cluster (its endpoints are given, not derived).
    policy ??= 'RequireDualStack';
    if (families.length === 0) families.push(settings.families[0]!);
    if (families.length < 2 && policy !== 'SingleStack') families.push(other(families[0]!));
  } else {
    policy ??= 'SingleStack';
    if (policy === 'RequireDualStack' && !dualStackCluster) {
      report.error('spec.ipFamilyPolicy', invalid(policy, 'this cluster is not configured for dual-stack services'));
    }
    for (let i = families.length - 1; i >= 0; i--) {
      if (settings.families.includes(families[i]!)) continue;
      // PreferDualStack asks for a second family only if there is one.
      if (policy === 'PreferDualStack' && i > 0) families.splice(i, 1);
      else report.error(`spec.ipFamilies[${i}]`, invalid(families[i], 'not configured on this cluster'));
    }
    if (families.length === 0) families.push(settings.families[0]!);
    if (policy !== 'SingleStack' && dualStackCluster && families.length < 2) families.push(other(families[0]!));
    if (policy === 'SingleStack' && families.length > 1) {
      report.error('spec.ipFamilyPolicy', invalid(policy, 'must be RequireDualStack or PreferDualStack when multiple IP families are specified'));
    }
  }
  if (report.errorCount > errors) return undefined;
  const inferred = spec.ipFamilyPolicy === undefined;
  spec.ipFamilyPolicy = policy;
  if (headless) {
    spec.clusterIP = 'None';
    spec.clusterIPs = ['None'];
  }
  return { item, families, ips, headless, ...(inferred ? { inferredPolicy: policy } : {}) };
}
