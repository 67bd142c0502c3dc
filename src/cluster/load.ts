/**
 * `loadCluster`: manifests (and an Environment) in, a complete and validated {@link Cluster} out.
 * The stages run in the order the cluster itself would fill things in: the API server's defaults
 * and allocators, the node IPAM, the scheduler and the CNI's IPAM for pods, the EndpointSlice
 * controllers. Every value filled is an assumption; every problem of the whole load is collected
 * and thrown together as one {@link ClusterLoadError}, so nothing is ever half-loaded.
 *
 * @module
 */
import { applyPatches, type ObjectPatch } from './patches.js';
import { formatNetwork } from '../net/index.js';
import type { Cluster, IgnoredObject } from './model.js';
import type { ConfigMap, EndpointSlice, KubeProxyConfiguration, Namespace, ObjectMeta } from './objects.js';
import { SERVICE_NAME_LABEL } from './objects.js';
import { Assumptions, DEFAULTS_SOURCE, objectName } from './assumptions.js';
import { assignClusterIPs } from './cluster-ips.js';
import { type Decoded, decodeObject } from './decode.js';
import { type ClusterSource, readObjects } from './documents.js';
import { convertEndpoints } from './endpoints.js';
import { checkEndpointSlice, deriveEndpointSlices } from './endpointslices.js';
import { resolveSettings } from './environment.js';
import { resolveClusterDNS } from './dns-settings.js';
import { ClusterLoadError, duplicate, Issues } from './issues.js';
import { applyKubeProxyDefaults, decodeKubeProxyConfigMap, isKubeProxyConfigMap, KUBE_PROXY_CONFIGMAP, kubeProxyProblems, mergeKubeProxy } from './kube-proxy-config.js';
import { admitIngresses, checkIngressReferences, defaultIngressClasses } from './ingresses.js';
import { buildNodes, type Item } from './nodes.js';
import { completePods } from './pods.js';
import { assignNodePorts, checkService, defaultService } from './services.js';
import { workloadPods } from './workloads.js';
import { checkProxyUpstreams } from './reverse-proxies.js';

export interface LoadClusterOptions {
  /** Make the pods of Deployments, ReplicaSets, StatefulSets and DaemonSets none of whose pods are given (default true). */
  workloadPods?: boolean;
  /** Derive EndpointSlices for Services with a selector and no given slices or Endpoints (default true). */
  deriveEndpointSlices?: boolean;
  /** What-if edits applied to the objects before anything is derived from them (`--set`). */
  patches?: readonly ObjectPatch[];
}

type Kind = Decoded['kind'];
type ObjectOf<K extends Kind> = Extract<Decoded, { kind: K }>['object'];

/** The decoded objects of a load, by kind. */
class Catalog {
  readonly #all: Decoded[];
  constructor(all: Decoded[]) {
    this.#all = all;
  }
  /** The objects of these kinds that have no errors so far, in load order. */
  ok<K extends Kind>(...kinds: K[]): Item<ObjectOf<K>>[] {
    return this.#all
      .filter((d) => (kinds as Kind[]).includes(d.kind) && d.report.errorCount === 0)
      .map((d) => ({ object: d.object as ObjectOf<K>, report: d.report }));
  }
  all(): readonly Decoded[] {
    return this.#all;
  }
  /**
   * The first object of these kinds, errors or not: settings (Environment, kube-proxy's
   * configuration) are used field by field, so one bad field does not hide the others' problems.
   */
  first<K extends Kind>(...kinds: K[]): Item<ObjectOf<K>> | undefined {
    const d = this.#all.find((x) => (kinds as Kind[]).includes(x.kind));
    return d && { object: d.object as ObjectOf<K>, report: d.report };
  }
  /** The first kube-proxy configuration given: a bare KubeProxyConfiguration or kube-proxy's ConfigMap. */
  kubeProxy(): Item<ObjectOf<'KubeProxyConfiguration' | 'ConfigMap'>> | undefined {
    const d = this.#all.find((x) => x.kind === 'KubeProxyConfiguration' || (x.kind === 'ConfigMap' && isKubeProxyConfigMap(x.object)));
    return d && { object: d.object as ObjectOf<'KubeProxyConfiguration' | 'ConfigMap'>, report: d.report };
  }
}

function metadataOf(d: Decoded): ObjectMeta | undefined {
  return d.kind === 'KubeProxyConfiguration' || d.kind === 'Environment' ? undefined : d.object.metadata;
}

const CLUSTER_SCOPED: ReadonlySet<Kind> = new Set(['Namespace', 'Node', 'IngressClass']);

/** Namespaced objects without a namespace are in `default`, as kubectl would create them. */
function defaultNamespaces(all: readonly Decoded[], assumptions: Assumptions): void {
  for (const d of all) {
    const meta = metadataOf(d);
    if (!meta || CLUSTER_SCOPED.has(d.kind) || meta.namespace) continue;
    meta.namespace = 'default';
    assumptions.add(objectName(d.kind, meta), 'metadata.namespace', 'default', d.report.source);
  }
}

/** One object per kind, namespace and name; one Environment; one kube-proxy configuration. */
function checkDuplicates(all: readonly Decoded[]): void {
  const seen = new Map<string, Decoded>();
  const where = (d: Decoded) => `${d.report.source.file}#${d.report.source.document}${d.report.source.path ? ` ${d.report.source.path}` : ''}`;
  for (const d of all) {
    const meta = metadataOf(d);
    // kube-proxy's ConfigMap and a bare KubeProxyConfiguration say the same thing: only one may be given.
    const kubeProxy = d.kind === 'KubeProxyConfiguration' || (d.kind === 'ConfigMap' && isKubeProxyConfigMap(d.object));
    const key = kubeProxy ? 'kube-proxy configuration' : meta ? `${d.kind} ${meta.namespace ?? ''}/${meta.name}` : d.kind;
    const first = seen.get(key);
    if (!first) {
      seen.set(key, d);
      continue;
    }
    if (meta && first.kind === d.kind) d.report.error('metadata.name', duplicate(meta.name, `${objectName(d.kind, meta)} is also defined in ${where(first)}`));
    else d.report.error('kind', duplicate(d.kind, `only one ${key} may be given (also in ${where(first)})`));
  }
}

/** The cluster-wide kube-proxy configuration given (ConfigMap or bare document, then the Environment's). */
function givenKubeProxy(catalog: Catalog, env: Item<ObjectOf<'Environment'>> | undefined): { config: KubeProxyConfiguration; given: boolean } {
  let config: KubeProxyConfiguration = {};
  let given = false;
  const first = catalog.kubeProxy();
  if (first) {
    const { object, report } = first;
    const read: KubeProxyConfiguration | undefined = object.kind === 'ConfigMap' ? decodeKubeProxyConfigMap(object as ConfigMap, report) : (object as KubeProxyConfiguration);
    if (read) {
      const { apiVersion: _a, kind: _k, ...fields } = read;
      config = fields;
      given = true;
      const at = object.kind === 'ConfigMap' ? report.at(`data[${KUBE_PROXY_CONFIGMAP.key}]`) : report;
      for (const p of kubeProxyProblems(config)) (p.warning ? at.warn : at.error)(p.field, p.message);
    }
  }
  if (env?.object.kubeProxy) {
    config = mergeKubeProxy(config, env.object.kubeProxy);
    given = true;
    for (const p of kubeProxyProblems(config)) (p.warning ? env.report.warn : env.report.error)(`kubeProxy.${p.field}`, p.message);
  }
  return { config, given };
}

/** Where the cluster-wide clusterCIDR came from, to name in issues. */
function clusterCIDRReport(catalog: Catalog, env: Item<ObjectOf<'Environment'>> | undefined) {
  if (env?.object.kubeProxy?.clusterCIDR) return env.report.at('kubeProxy');
  const cfg = catalog.kubeProxy();
  return cfg?.object.kind === 'ConfigMap' ? cfg.report.at(`data[${KUBE_PROXY_CONFIGMAP.key}]`) : cfg?.report;
}

/** Load a cluster from manifests. Throws {@link ClusterLoadError} with every issue when anything is wrong. */
export function loadCluster(sources: readonly ClusterSource[], options: LoadClusterOptions = {}): Cluster {
  const issues = new Issues();
  const assumptions = new Assumptions();
  const ignored: IgnoredObject[] = [];
  const decoded: Decoded[] = [];
  const raws = readObjects(sources, issues);
  applyPatches(raws, options.patches ?? []);
  for (const raw of raws) {
    const result = decodeObject(raw, issues);
    if (result && 'ignored' in result) ignored.push(result.ignored);
    else if (result) decoded.push(result.decoded);
  }
  const catalog = new Catalog(decoded);
  defaultNamespaces(decoded, assumptions);
  checkDuplicates(decoded);

  // The cluster's settings: Environment, kube-proxy's configuration, defaults.
  const env = catalog.first('Environment');
  const kubeProxy = givenKubeProxy(catalog, env);
  const cidrReport = clusterCIDRReport(catalog, env);
  const settings = resolveSettings(
    env ? { value: env.object, report: env.report } : undefined,
    kubeProxy.config.clusterCIDR && cidrReport ? { value: kubeProxy.config.clusterCIDR, report: cidrReport } : undefined,
    assumptions,
    issues.reporter(DEFAULTS_SOURCE),
  );
  if (!kubeProxy.given) {
    kubeProxy.config.clusterCIDR = settings.podNetwork.cidrs.join(',');
    assumptions.add('KubeProxyConfiguration', 'clusterCIDR', `${kubeProxy.config.clusterCIDR} (the pod network, as kubeadm configures kube-proxy)`, DEFAULTS_SOURCE);
  } else if (!kubeProxy.config.clusterCIDR) {
    issues.reporter(cidrReport?.source ?? DEFAULTS_SOURCE).warn('clusterCIDR', 'not set: with detectLocalMode ClusterCIDR, kube-proxy cannot tell traffic from pods (it installs no local-traffic rules)');
  }
  for (const d of applyKubeProxyDefaults(kubeProxy.config)) assumptions.add('KubeProxyConfiguration', d.field, d.value, DEFAULTS_SOURCE);

  const nodes = buildNodes({
    nodes: catalog.ok('Node'),
    environmentNodes: (env?.object.nodes ?? []).map((object, i) => ({ object, report: env!.report.at(`nodes[${i}]`) })),
    settings,
    kubeProxy: kubeProxy.config,
    issues,
    assumptions,
  });

  // Pods: given ones, then those the workloads' controllers would make.
  const given = catalog.ok('Pod');
  const made = options.workloadPods === false ? [] : workloadPods(catalog.ok('Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet'), given.map((p) => p.object), nodes.map((n) => n.name), assumptions);
  const pods = [...given, ...made];
  completePods(pods, nodes, settings, assumptions);

  // Services: the API server's defaults and checks, then its allocators.
  const services = catalog.ok('Service');
  for (const s of services) defaultService(s, assumptions);
  for (const s of services) checkService(s);
  const valid = services.filter((s) => s.report.errorCount === 0);
  assignClusterIPs(valid, settings, assumptions);
  assignNodePorts(valid.filter((s) => s.report.errorCount === 0), settings.nodePortRange, assumptions);

  const dns = resolveClusterDNS(
    env?.object.dns,
    valid.map((s) => s.object),
    settings.serviceCIDRs,
    settings.nodeNetwork,
    assumptions,
    (env?.report ?? issues.reporter(DEFAULTS_SOURCE)).at('dns'),
  );
  const endpointSlices = endpointSlicesOf(catalog, services, pods, nodes, options, assumptions);

  // Ingresses: the DefaultIngressClass admission plugin, then what they point at.
  const ingressClasses = catalog.ok('IngressClass');
  const ingresses = catalog.ok('Ingress');
  defaultIngressClasses(ingressClasses, assumptions);
  admitIngresses(ingresses, ingressClasses.map((c) => c.object), assumptions);
  checkIngressReferences(ingresses, services.map((s) => s.object), ingressClasses.map((c) => c.object));
  const namespaces = namespacesOf(catalog, assumptions);
  if (env && settings.proxies) checkProxyUpstreams(settings.proxies, valid.map((s) => s.object), env.report);

  if (issues.errors.length > 0) {
    const order = new Map(sources.map((s, i) => [s.file, i]));
    const rank = (f: string) => order.get(f) ?? -1;
    const sorted = [...issues.errors].sort((a, b) => rank(a.source.file) - rank(b.source.file) || a.source.document - b.source.document);
    throw new ClusterLoadError(sorted);
  }
  return {
    namespaces,
    nodes,
    pods: pods.map((p) => p.object),
    services: services.map((s) => s.object),
    endpointSlices,
    ingresses: ingresses.map((i) => i.object),
    ingressClasses: ingressClasses.map((c) => c.object),
    networkPolicies: catalog.ok('NetworkPolicy').map((p) => p.object),
    workloads: catalog.ok('Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet').map((w) => w.object),
    configMaps: catalog.ok('ConfigMap').map((c) => c.object),
    serviceCIDRs: settings.serviceCIDRs.map(formatNetwork),
    podNetwork: settings.podNetwork,
    ipFamilies: settings.families,
    externalClients: settings.externalClients,
    nodeNetwork: settings.nodeNetwork.map(formatNetwork),
    ...(settings.loadBalancer ? { loadBalancer: settings.loadBalancer } : {}),
    ...(settings.loadBalancers ? { loadBalancers: settings.loadBalancers } : {}),
    ...(settings.proxies ? { proxies: settings.proxies } : {}),
    ...(settings.apps ? { apps: settings.apps } : {}),
    dns,
    assumptions: assumptions.list,
    ignored,
    warnings: issues.warnings,
  };
}

/** Given slices, Endpoints converted for Services without slices, and slices derived for the rest. */
function endpointSlicesOf(
  catalog: Catalog,
  services: readonly Item<ObjectOf<'Service'>>[],
  pods: readonly Item<ObjectOf<'Pod'>>[],
  nodes: Cluster['nodes'],
  options: LoadClusterOptions,
  assumptions: Assumptions,
): EndpointSlice[] {
  const serviceKeys = new Set(services.map((s) => `${s.object.metadata.namespace}/${s.object.metadata.name}`));
  const nodeNames = new Set(nodes.map((n) => n.name));
  const given = catalog.ok('EndpointSlice');
  for (const s of given) checkEndpointSlice(s, (ns, name) => serviceKeys.has(`${ns}/${name}`), (n) => nodeNames.has(n));
  const covered = new Set(given.map((s) => `${s.object.metadata.namespace}/${s.object.metadata.labels?.[SERVICE_NAME_LABEL]}`));
  const slices = given.map((s) => s.object);
  for (const eps of catalog.ok('Endpoints')) {
    const key = `${eps.object.metadata.namespace}/${eps.object.metadata.name}`;
    if (covered.has(key)) continue; // its Service's EndpointSlices were given: they are the newer word
    if (!serviceKeys.has(key)) {
      eps.report.warn('', `no Service ${key} was given: not converted into EndpointSlices`);
      continue;
    }
    slices.push(...convertEndpoints(eps, assumptions));
    covered.add(key);
  }
  if (options.deriveEndpointSlices !== false) {
    const unsure = new Set(catalog.all().filter((d) => d.kind === 'Pod' && d.report.errorCount > 0).map((d) => (d.object as ObjectOf<'Pod'>).metadata.namespace!));
    const derive = services.filter((s) => s.report.errorCount === 0 && !covered.has(`${s.object.metadata.namespace}/${s.object.metadata.name}`));
    slices.push(...deriveEndpointSlices({ services: derive, pods: pods.filter((p) => p.report.errorCount === 0).map((p) => p.object), nodes, unsure, assumptions }));
  }
  return slices;
}

/** Given Namespaces, and those objects are in without one being given (the API server has them all). */
function namespacesOf(catalog: Catalog, assumptions: Assumptions): Namespace[] {
  const namespaces = catalog.ok('Namespace').map((n) => n.object);
  const known = new Set(namespaces.map((n) => n.metadata.name));
  for (const d of catalog.all()) {
    const ns = metadataOf(d)?.namespace;
    if (!ns || known.has(ns)) continue;
    known.add(ns);
    namespaces.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    assumptions.add(objectName('Namespace', { name: ns }), 'metadata.name', `${ns} (objects in it were given)`, d.report.source);
  }
  // The API server labels every namespace with its name (NetworkPolicy namespaceSelectors use it).
  for (const n of namespaces) n.metadata.labels = { ...n.metadata.labels, 'kubernetes.io/metadata.name': n.metadata.name };
  return namespaces;
}
