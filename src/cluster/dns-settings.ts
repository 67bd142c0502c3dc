/**
 * The Environment's `dns` (docs/environment.md): the cluster domain, the DNS Service, the nodes'
 * resolv.conf, CoreDNS's pod records and the names outside the cluster; and the {@link ClusterDNS}
 * a load makes of it, kubeadm's defaults filling in (each an assumption).
 *
 * @module
 */
import { formatIP, type IPAddress, type IPNetwork, ipv4, ipv6 } from '../net/index.js';
import type { ClusterDNS, ExternalDNSName, PodRecordsMode } from './model.js';
import type { Service } from './objects.js';
import type { Assumptions } from './assumptions.js';
import { DEFAULTS_SOURCE } from './assumptions.js';
import { compact, Fields } from './fields.js';
import { invalid, type Reporter, REQUIRED } from './issues.js';
import { nameProblem } from './names.js';

/** `dns` in the Environment, as written. */
export interface EnvironmentDNS {
  clusterDomain?: string;
  service?: string;
  /** kubelet's `--cluster-dns`, when it is not the DNS Service's ClusterIP. */
  clusterDNS?: string[];
  node?: { nameservers?: string[]; searches?: string[]; options?: { name: string; value?: string }[] };
  pods?: PodRecordsMode;
  external?: ExternalDNSName[];
}

/** The address `offset` into a network (`.10` of 10.96.0.0/12 is 10.96.0.10). */
function networkAddressAt(net: IPNetwork, offset: number): IPAddress {
  const base = net.network;
  return base.family === 4 ? ipv4(base.value + offset) : ipv6(base.value + BigInt(offset));
}

const RCODES = ['NXDOMAIN', 'NODATA', 'SERVFAIL', 'REFUSED'] as const;

function domainName(f: Fields, key: string, need?: { required?: boolean }): string | undefined {
  const v = f.string(key, need);
  if (v === undefined) return undefined;
  const name = v.toLowerCase().replace(/\.$/, '');
  const why = nameProblem(name, 'dns1123Subdomain');
  if (why) f.report.error(key, invalid(v, why));
  return name;
}

function decodeExternal(f: Fields): ExternalDNSName {
  f.only(['name', 'addresses', 'cname', 'rcode']);
  const e: ExternalDNSName = compact({
    name: domainName(f, 'name', { required: true }) ?? '',
    addresses: f.ips('addresses'),
    cname: domainName(f, 'cname'),
    rcode: f.oneOf('rcode', RCODES),
  });
  const given = [e.addresses, e.cname, e.rcode].filter((x) => x !== undefined).length;
  if (given !== 1) f.report.error('', `${given === 0 ? REQUIRED : 'Invalid value'}: give exactly one of addresses, cname or rcode`);
  return e;
}

/** Read `dns` of an Environment. */
export function decodeEnvironmentDNS(f: Fields): EnvironmentDNS {
  f.only(['clusterDomain', 'service', 'clusterDNS', 'node', 'pods', 'external']);
  const service = f.string('service');
  if (service !== undefined && !/^[^/]+\/[^/]+$/.test(service)) f.report.error('service', invalid(service, 'must be NAMESPACE/NAME'));
  const d: EnvironmentDNS = compact({
    clusterDomain: domainName(f, 'clusterDomain'),
    service,
    clusterDNS: f.ips('clusterDNS'),
    node: f.object('node', (n) => {
      n.only(['nameservers', 'searches', 'options']);
      return compact({
        nameservers: n.ips('nameservers'),
        searches: n.strings('searches'),
        options: n.objects('options', (o) => {
          o.only(['name', 'value']);
          return compact({ name: o.string('name', { required: true }) ?? '', value: o.string('value') });
        }),
      });
    }),
    pods: f.oneOf('pods', ['disabled', 'insecure', 'verified'] as const),
    external: f.objects('external', decodeExternal),
  });
  (d.external ?? []).forEach((e, i, all) => {
    if (all.findIndex((x) => x.name === e.name) < i) f.report.error(`external[${i}].name`, `Duplicate value: ${JSON.stringify(e.name)}`);
  });
  return d;
}

/** The cluster's DNS from the Environment's `dns`, the DNS Service and kubeadm's defaults. */
export function resolveClusterDNS(
  given: EnvironmentDNS | undefined,
  services: readonly Service[],
  serviceCIDRs: readonly IPNetwork[],
  nodeNetwork: readonly IPNetwork[],
  assumptions: Assumptions,
  report: Reporter,
): ClusterDNS {
  const assume = (field: string, value: string) => assumptions.add('Environment', `dns.${field}`, value, DEFAULTS_SOURCE);
  const clusterDomain = given?.clusterDomain ?? 'cluster.local';
  if (!given?.clusterDomain) assume('clusterDomain', "cluster.local (kubelet's --cluster-domain as kubeadm sets it)");
  const service = given?.service ?? 'kube-system/kube-dns';
  const svc = services.find((s) => `${s.metadata.namespace}/${s.metadata.name}` === service);
  let serviceIPs = given?.clusterDNS ?? (svc?.spec.clusterIPs ?? []).filter((ip) => ip !== 'None');
  if (given?.service && !svc && !given.clusterDNS) report.error('service', `Not found: ${JSON.stringify(service)}: no such Service was given (or give dns.clusterDNS)`);
  if (serviceIPs.length === 0) {
    serviceIPs = serviceCIDRs.map((net) => formatIP(networkAddressAt(net, 10)));
    assume('clusterDNS', `${serviceIPs.join(', ')} (kubelet's --cluster-dns: the tenth address of the service CIDR, where kubeadm puts ${service})`);
  }
  const gateway = nodeNetwork.map((net) => formatIP(networkAddressAt(net, 1)));
  const node = {
    nameservers: given?.node?.nameservers ?? gateway,
    searches: given?.node?.searches ?? [],
    options: given?.node?.options ?? [],
  };
  if (!given?.node?.nameservers) assume('node.nameservers', `${gateway.join(', ')} (the node network's gateway as the nodes' resolver)`);
  const pods = given?.pods ?? 'insecure';
  if (!given?.pods) assume('pods', "insecure (kubeadm's Corefile)");
  return { clusterDomain, service, serviceIPs, node, pods, external: given?.external ?? [] };
}

