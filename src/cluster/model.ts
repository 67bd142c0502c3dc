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
  NetworkPolicy,
  Node,
  Pod,
  Service,
  Workload,
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
/** Where a cloud load balancer sends: to nodes with its own IP as destination, to nodeIP:nodePort, or straight to the pods. */
export type LoadBalancerDelivery = 'VIP' | 'NodePort' | 'Pod';

/**
 * How a cloud load balancer carries a connection: `passthrough` forwards the client's packets
 * (the client address is kept), `proxy` opens a new TCP connection from its own address
 * (optionally starting with a PROXY protocol header), `http` is an L7 proxy that appends the
 * client to X-Forwarded-For.
 */
export type LoadBalancerMode = 'passthrough' | 'proxy' | 'http';

/** The cloud's load balancers, as the Environment describes them (every field optional: the Service's annotations and defaults fill in). */
export interface CloudLoadBalancer {
  delivery?: LoadBalancerDelivery;
  mode?: LoadBalancerMode;
  /** `proxy`: the PROXY protocol version it writes before the client's bytes. */
  proxyProtocol?: 1 | 2;
  /** `proxy`, `http`: the LB's own address, the source of its connections to the backends. */
  sourceAddress?: string;
  /** A name for reports, e.g. `Alibaba SLB`, `UCloud ULB7`. */
  product?: string;
}

/** One LoadBalancer Service's load balancer, over the cluster-wide one and the Service's annotations. */
export interface ServiceLoadBalancer extends CloudLoadBalancer {
  /** `NS/NAME` of the Service. */
  service: string;
}

/** Pods by the workload that owns them, `Deployment/NS/NAME` (also StatefulSet, DaemonSet, ReplicaSet), or one pod, `pod/NS/NAME`. */
export type WorkloadRef = string;

/**
 * A reverse proxy in the cluster the user describes (an Envoy, an HAProxy, an ingress gateway):
 * where it runs and listens, what it does to the client's address, where it sends.
 */
export interface ReverseProxy {
  name: string;
  workload: WorkloadRef;
  /** The port it listens on in its pods. */
  port: number;
  type: 'envoy' | 'haproxy';
  /** `http` reads and rewrites headers; `tcp` forwards bytes. */
  mode: 'http' | 'tcp';
  /** Its listener requires a PROXY protocol header (Envoy's proxy_protocol listener filter, HAProxy's `accept-proxy`). */
  acceptProxyProtocol?: boolean;
  /** Envoy: `use_remote_address`. */
  useRemoteAddress?: boolean;
  /** Envoy: `xff_num_trusted_hops`. */
  xffNumTrustedHops?: number;
  /** HAProxy: `option forwardfor`. */
  forwardFor?: boolean;
  /** It writes a PROXY protocol header to its upstream (HAProxy `send-proxy`/`send-proxy-v2`). */
  sendProxyProtocol?: 1 | 2;
  /** Where it sends: `svc/NS/NAME[:PORT]` or `IP:PORT`. */
  upstream: string;
  /**
   * It picks the Service's ready endpoints itself (Envoy with EDS, as Istio's gateways do) instead of
   * connecting to the ClusterIP (a DNS name that kube-proxy balances). Default false.
   */
  upstreamEndpoints?: boolean;
}

/** How a client IP strategy is configured (kubepath/clientip's strategies). */
export interface ClientIPStrategySpec {
  strategy: 'RemoteAddr' | 'RightmostNonPrivate' | 'LeftmostNonPrivate' | 'RightmostTrustedCount' | 'RightmostTrustedRange' | 'SingleIPHeader' | 'ProxyProtocol';
  /** The header it reads (X-Forwarded-For, Forwarded, X-Real-IP, …). */
  header?: string;
  /** RightmostTrustedRange: the trusted proxies' ranges. */
  trusted?: string[];
  /** RightmostTrustedCount: the number of trusted proxies in front. */
  count?: number;
}

/** The application in a workload's pods: what it speaks and how it finds the client's IP. */
export interface AppSpec {
  workload: WorkloadRef;
  protocol?: 'http' | 'tcp';
  /** Whether its listener reads a PROXY protocol header (kubepath/clientip's `acceptProxyProtocol` policy). */
  proxyProtocol?: 'none' | 'optional' | 'require';
  clientIP?: ClientIPStrategySpec;
}

/** A name outside the cluster and what the upstream resolvers answer for it (the Environment's `dns.external`). */
export interface ExternalDNSName {
  /** Lower case, without the trailing dot. */
  name: string;
  /** A and AAAA records. */
  addresses?: string[];
  /** A CNAME to another name (answered with that name's records). */
  cname?: string;
  /** A failure instead of records; NODATA: the name exists with no address. */
  rcode?: 'NXDOMAIN' | 'NODATA' | 'SERVFAIL' | 'REFUSED';
}

/** CoreDNS's kubernetes plugin `pods` mode: no pod records, any dashed IP, or only pods that exist. */
export type PodRecordsMode = 'disabled' | 'insecure' | 'verified';

/** DNS in the cluster: kubelet's `--cluster-domain`/`--cluster-dns`, the nodes' resolv.conf, CoreDNS, the world outside. */
export interface ClusterDNS {
  clusterDomain: string;
  /** `NS/NAME` of the DNS Service (CoreDNS behind it). */
  service: string;
  /** kubelet's `--cluster-dns`: the DNS Service's ClusterIPs. */
  serviceIPs: string[];
  /** The nodes' resolv.conf (kubelet `--resolv-conf`), for dnsPolicy Default and hostNetwork pods. */
  node: { nameservers: string[]; searches: string[]; options: { name: string; value?: string }[] };
  pods: PodRecordsMode;
  /** Names outside the cluster; any other name outside it is NXDOMAIN. */
  external: ExternalDNSName[];
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
  /** networking.k8s.io/v1 NetworkPolicies as given (validated; defaults are the policy engine's to apply). Always set by loadCluster. */
  networkPolicies?: NetworkPolicy[];
  /** The workloads given (Deployments, ReplicaSets, StatefulSets, DaemonSets), to name pods by the workload that made them. Always set by loadCluster. */
  workloads?: Workload[];
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
  /** Per-Service load balancers given in the Environment. */
  loadBalancers?: ServiceLoadBalancer[];
  /** Reverse proxies the Environment describes. */
  proxies?: ReverseProxy[];
  /** Applications the Environment describes (others: HTTP, the TCP peer as client IP). */
  apps?: AppSpec[];
  /** DNS: the Environment's `dns` over kubeadm's defaults (always set by loadCluster). */
  dns?: ClusterDNS;
  assumptions: Assumption[];
  ignored: IgnoredObject[];
  /** Oddities that do not stop the load (e.g. a pod IP outside its node's podCIDR). Set by loadCluster. */
  warnings?: ClusterLoadIssue[];
}
