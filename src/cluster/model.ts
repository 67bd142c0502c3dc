/**
 * The Cluster: what `load` makes of manifests and an Environment. Every object is validated and
 * every field the cluster would have filled in (ClusterIPs, NodePorts, pod IPs, EndpointSlices)
 * is filled, with an {@link Assumption} saying so. Compilers (kubeproxy/, cni/, ...) read only this.
 *
 * @module
 */
import type {
  ConfigMap,
  EndpointSlice,
  Ingress,
  IngressClass,
  IPFamily,
  KubeProxyConfiguration,
  Namespace,
  Node,
  Pod,
  Service,
} from './objects.js';

/** Where a value came from: `file#document` and a field path, e.g. `svc.yaml#2 spec.ports[0].targetPort`. */
export interface SourceRef {
  /** File name as given (or `-` for stdin, `<environment>` for defaults). */
  file: string;
  /**
   * 1-based document number within a multi-document YAML file. Objects inside a `kind: List`
   * share the List's document and have paths starting `items[N]`.
   */
  document: number;
  /** Field path inside the object, e.g. `spec.clusterIP`; empty for the whole object. */
  path: string;
  /** 1-based line in the file, when known (YAML syntax errors). */
  line?: number;
}

/** Something wrong (an error) or odd (a warning) in what was loaded, and where. */
export interface ClusterLoadIssue {
  source: SourceRef;
  message: string;
}

/** A value the loader filled in the way the cluster would, reported so users see what was assumed. */
export interface Assumption {
  /** The object it concerns, `Kind ns/name` (or `Kind name` when cluster-scoped). */
  object: string;
  /** The field it filled, e.g. `spec.clusterIP`. */
  field: string;
  /** What was assumed, e.g. `10.96.0.10 (first free address of service CIDR 10.96.0.0/12)`. */
  value: string;
  source?: SourceRef;
}

/** An object that was read but is not a kind kubepath models. */
export interface IgnoredObject {
  apiVersion: string;
  kind: string;
  name: string;
  source: SourceRef;
}

/** A node as the compilers need it: name, addresses by family, pod CIDRs, zone, labels. */
export interface ClusterNode {
  name: string;
  /** The node's InternalIP addresses, in the order the Node lists them. */
  internalIPs: string[];
  /** The node's ExternalIP addresses. */
  externalIPs: string[];
  podCIDRs: string[];
  zone?: string;
  labels: Record<string, string>;
  /** kube-proxy configuration for this node: cluster-wide settings with the node's overrides applied. */
  kubeProxy: KubeProxyConfiguration;
  object: Node;
}

/** A client outside the cluster the Environment names, e.g. `office: 203.0.113.7`. */
export interface ExternalClient {
  name: string;
  address: string;
}

/** How pods reach each other between nodes. For now: routed, each node owning its podCIDR. */
export interface PodNetwork {
  type: 'routed';
  /** Cluster-wide pod CIDRs (kube-proxy's clusterCIDR), one per family. */
  cidrs: string[];
}

/** How a cloud load balancer hands packets to nodes: with the LB IP as destination (GCP, UCloud ULB4), or to nodeIP:nodePort. */
export type LoadBalancerDelivery = 'VIP' | 'NodePort';

/** The cloud's L4 load balancers (passthrough: the client address is kept). */
export interface CloudLoadBalancer {
  delivery: LoadBalancerDelivery;
}

export interface Cluster {
  namespaces: Namespace[];
  nodes: ClusterNode[];
  pods: Pod[];
  services: Service[];
  endpointSlices: EndpointSlice[];
  /** networking.k8s.io/v1 Ingresses, with the default IngressClass filled in as the API server's admission does. */
  ingresses: Ingress[];
  ingressClasses: IngressClass[];
  /** Every ConfigMap with its data (kube-proxy's too). */
  configMaps: ConfigMap[];
  /** Service CIDRs, one per family (`--service-cluster-ip-range`). */
  serviceCIDRs: string[];
  podNetwork: PodNetwork;
  /** The families the cluster serves, in order of preference. */
  ipFamilies: IPFamily[];
  externalClients: ExternalClient[];
  /** Networks the nodes' InternalIPs are in (given, or kubepath's default), one per family. */
  nodeNetwork?: string[];
  loadBalancer?: CloudLoadBalancer;
  assumptions: Assumption[];
  ignored: IgnoredObject[];
  /** Oddities that do not stop the load (e.g. a pod IP outside its node's podCIDR). Set by loadCluster. */
  warnings?: ClusterLoadIssue[];
}
