/**
 * Kubernetes objects as kubepath reads them: the subset of the v1 API that kube-proxy, the
 * EndpointSlice controller and our own compilers look at, as plain data in the API's own field
 * names. Addresses stay strings here, exactly as the API server stores them; the loader
 * validates them and the compilers parse them the way the component they model does.
 *
 * @module
 */

/** `metadata` of any object. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Set on objects being deleted (pods that are terminating). */
  deletionTimestamp?: string;
  uid?: string;
  /** The controller that owns the object (a ReplicaSet for a Deployment's pods, ...). */
  ownerReferences?: OwnerReference[];
}

export interface OwnerReference {
  apiVersion?: string;
  kind: string;
  name: string;
  uid?: string;
  controller?: boolean;
}

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type IPFamily = 'IPv4' | 'IPv6';
export type IPFamilyPolicy = 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';
export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
export type TrafficPolicy = 'Cluster' | 'Local';

/** A port number or an IANA port name (Service `targetPort`). */
export type IntOrString = number | string;

export interface ServicePort {
  name?: string;
  protocol?: Protocol;
  appProtocol?: string;
  port: number;
  targetPort?: IntOrString;
  nodePort?: number;
}

export interface LoadBalancerIngress {
  ip?: string;
  hostname?: string;
  /** `VIP` (default): traffic arrives with the LB IP as destination; `Proxy`: the LB rewrote it. */
  ipMode?: 'VIP' | 'Proxy';
}

export interface ServiceSpec {
  type?: ServiceType;
  selector?: Record<string, string>;
  ports?: ServicePort[];
  clusterIP?: string;
  clusterIPs?: string[];
  ipFamilies?: IPFamily[];
  ipFamilyPolicy?: IPFamilyPolicy;
  externalIPs?: string[];
  externalName?: string;
  loadBalancerIP?: string;
  loadBalancerSourceRanges?: string[];
  externalTrafficPolicy?: TrafficPolicy;
  internalTrafficPolicy?: TrafficPolicy;
  healthCheckNodePort?: number;
  sessionAffinity?: 'None' | 'ClientIP';
  sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
  publishNotReadyAddresses?: boolean;
  trafficDistribution?: string;
  /** LoadBalancer only: false leaves nodePorts unallocated (default true). */
  allocateLoadBalancerNodePorts?: boolean;
  loadBalancerClass?: string;
}

export interface Service {
  apiVersion?: string;
  kind?: 'Service';
  metadata: ObjectMeta;
  spec: ServiceSpec;
  status?: { loadBalancer?: { ingress?: LoadBalancerIngress[] } };
}

export interface EndpointConditions {
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

export interface EndpointHints {
  forZones?: { name: string }[];
  forNodes?: { name: string }[];
}

export interface Endpoint {
  addresses: string[];
  conditions?: EndpointConditions;
  hostname?: string;
  targetRef?: { kind?: string; namespace?: string; name?: string; uid?: string };
  nodeName?: string;
  zone?: string;
  hints?: EndpointHints;
}

export interface EndpointPort {
  name?: string;
  protocol?: Protocol;
  port?: number;
  appProtocol?: string;
}

/** discovery.k8s.io/v1 EndpointSlice. */
export interface EndpointSlice {
  apiVersion?: string;
  kind?: 'EndpointSlice';
  metadata: ObjectMeta;
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  endpoints: Endpoint[];
  ports?: EndpointPort[];
}

/** The label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface NodeAddress {
  type: 'InternalIP' | 'ExternalIP' | 'Hostname' | 'InternalDNS' | 'ExternalDNS';
  address: string;
}

export interface Node {
  apiVersion?: string;
  kind?: 'Node';
  metadata: ObjectMeta;
  spec?: { podCIDR?: string; podCIDRs?: string[]; unschedulable?: boolean };
  status?: { addresses?: NodeAddress[] };
}

/** Label that carries a node's zone (used by topology hints and trafficDistribution). */
export const ZONE_LABEL = 'topology.kubernetes.io/zone';

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: Protocol;
  hostPort?: number;
}

export interface Container {
  name: string;
  image?: string;
  /** The entrypoint, as given (`command`); the image's ENTRYPOINT when absent. */
  command?: string[];
  /** Arguments to the entrypoint (`args`); e.g. istio-init's `istio-iptables -p 15001 …`. */
  args?: string[];
  ports?: ContainerPort[];
  /** `Always` on an init container makes it a sidecar, whose ports count like a container's. */
  restartPolicy?: string;
}

export interface PodCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
}

/** `spec.dnsPolicy`: where the pod's resolv.conf comes from (the API server defaults ClusterFirst). */
export type DNSPolicy = 'ClusterFirst' | 'ClusterFirstWithHostNet' | 'Default' | 'None';

export interface PodDNSConfigOption {
  name: string;
  value?: string;
}

/** `spec.dnsConfig`: added to what the dnsPolicy gives (all of it, with `None`). */
export interface PodDNSConfig {
  nameservers?: string[];
  searches?: string[];
  options?: PodDNSConfigOption[];
}

export interface PodSpec {
  nodeName?: string;
  hostNetwork?: boolean;
  dnsPolicy?: DNSPolicy;
  dnsConfig?: PodDNSConfig;
  containers: Container[];
  initContainers?: Container[];
  /** With `subdomain` naming a headless Service, the pod's DNS name (StatefulSet pods have both). */
  hostname?: string;
  subdomain?: string;
}

export interface Pod {
  apiVersion?: string;
  kind?: 'Pod';
  metadata: ObjectMeta;
  spec: PodSpec;
  status?: {
    phase?: string;
    podIP?: string;
    podIPs?: { ip: string }[];
    hostIP?: string;
    conditions?: PodCondition[];
  };
}

export interface Namespace {
  apiVersion?: string;
  kind?: 'Namespace';
  metadata: ObjectMeta;
}

/** core/v1 Endpoints address (legacy; the loader converts Endpoints into EndpointSlices). */
export interface EndpointAddress {
  ip: string;
  hostname?: string;
  nodeName?: string;
  targetRef?: { kind?: string; namespace?: string; name?: string; uid?: string };
}

/** core/v1 EndpointPort: unlike discovery's, `port` is required. */
export interface CoreEndpointPort {
  name?: string;
  port: number;
  protocol?: Protocol;
  appProtocol?: string;
}

export interface EndpointSubset {
  addresses?: EndpointAddress[];
  notReadyAddresses?: EndpointAddress[];
  ports?: CoreEndpointPort[];
}

/** core/v1 Endpoints, what clusters before EndpointSlices (and `kubectl get endpoints`) show. */
export interface Endpoints {
  apiVersion?: string;
  kind?: 'Endpoints';
  metadata: ObjectMeta;
  subsets?: EndpointSubset[];
}

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

/** A label selector as workloads write it (Services use a plain map instead). */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface PodTemplateSpec {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}

export type WorkloadKind = 'Deployment' | 'ReplicaSet' | 'StatefulSet' | 'DaemonSet';

/** apps/v1 Deployment, ReplicaSet, StatefulSet or DaemonSet: the fields that make pods. */
export interface Workload {
  apiVersion?: string;
  kind: WorkloadKind;
  metadata: ObjectMeta;
  spec: {
    /** Ignored for DaemonSets (one pod per node). Default 1. */
    replicas?: number;
    selector: LabelSelector;
    template: PodTemplateSpec;
    /** StatefulSet: the headless Service that gives its pods DNS names. */
    serviceName?: string;
  };
}

/**
 * core/v1 ConfigMap: every one is kept with its `data`; kube-system/kube-proxy (`config.conf`)
 * configures kube-proxy, others are read by the models that need them (ingress-nginx's controller
 * ConfigMap). `binaryData` is not kept.
 */
export interface ConfigMap {
  apiVersion?: string;
  kind?: 'ConfigMap';
  metadata: ObjectMeta;
  data?: Record<string, string>;
}

/** The deprecated annotation that picks an Ingress's class (`nginx`), from before `spec.ingressClassName`. */
export const INGRESS_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';
/** On an IngressClass, `"true"` makes it the class the API server gives Ingresses that name none. */
export const DEFAULT_INGRESS_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';

/** An Ingress backend's Service port: a number or a ServicePort name, exactly one of them. */
export interface ServiceBackendPort {
  name?: string;
  number?: number;
}

export interface IngressServiceBackend {
  name: string;
  port: ServiceBackendPort;
}

/** A reference to an object in the same namespace (an Ingress resource backend). */
export interface TypedLocalObjectReference {
  apiGroup?: string;
  kind: string;
  name: string;
}

/** Where an Ingress sends a request: a Service port, or another resource (kept, not traced). */
export interface IngressBackend {
  service?: IngressServiceBackend;
  resource?: TypedLocalObjectReference;
}

export type PathType = 'Exact' | 'Prefix' | 'ImplementationSpecific';

export interface HTTPIngressPath {
  /** Empty or missing only for ImplementationSpecific. */
  path?: string;
  pathType: PathType;
  backend: IngressBackend;
}

export interface IngressRule {
  /** A DNS name or a `*.` wildcard of one label; empty matches every host. */
  host?: string;
  http?: { paths: HTTPIngressPath[] };
}

export interface IngressTLS {
  hosts?: string[];
  secretName?: string;
}

export interface IngressSpec {
  ingressClassName?: string;
  defaultBackend?: IngressBackend;
  rules?: IngressRule[];
  tls?: IngressTLS[];
}

/** networking.k8s.io/v1 Ingress. */
export interface Ingress {
  apiVersion?: string;
  kind?: 'Ingress';
  metadata: ObjectMeta;
  spec: IngressSpec;
}

export interface IngressClassParametersReference {
  apiGroup?: string;
  kind: string;
  name: string;
  /** Defaulted to `Cluster` by the API server. */
  scope?: 'Cluster' | 'Namespace';
  namespace?: string;
}

/** networking.k8s.io/v1 IngressClass: which controller serves the Ingresses of this class. */
export interface IngressClass {
  apiVersion?: string;
  kind?: 'IngressClass';
  metadata: ObjectMeta;
  spec: {
    /** A domain-prefixed path, e.g. `k8s.io/ingress-nginx`. */
    controller?: string;
    parameters?: IngressClassParametersReference;
  };
}

/** NetworkPolicy `policyTypes` values. */
export type PolicyType = 'Ingress' | 'Egress';

/** A NetworkPolicy rule's port: a number or a container port name, a protocol (default TCP), and with a number an `endPort` range. */
export interface NetworkPolicyPort {
  protocol?: Protocol;
  /** Absent: every port of the protocol. A string names a container port of the destination pod. */
  port?: IntOrString;
  /** With a numeric `port`: the range `port`..`endPort`. */
  endPort?: number;
}

/** A CIDR and the CIDRs inside it that are left out. */
export interface IPBlock {
  cidr: string;
  except?: string[];
}

/**
 * A peer: pods by `podSelector` (in the policy's namespace unless `namespaceSelector` is given),
 * pods of namespaces by `namespaceSelector`, both (pods matching the one in namespaces matching the
 * other), or an `ipBlock` alone. An empty selector `{}` selects everything; an absent one nothing
 * of its own.
 */
export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: IPBlock;
}

/** Absent or empty `from`/`to`: every peer; absent or empty `ports`: every port. */
export interface NetworkPolicyIngressRule {
  from?: NetworkPolicyPeer[];
  ports?: NetworkPolicyPort[];
}

export interface NetworkPolicyEgressRule {
  to?: NetworkPolicyPeer[];
  ports?: NetworkPolicyPort[];
}

export interface NetworkPolicySpec {
  /** The pods the policy applies to, in its namespace; `{}` selects all of them. */
  podSelector: LabelSelector;
  /** As given; absent means `[Ingress]`, plus `Egress` when there are egress rules (the API server's default). */
  policyTypes?: PolicyType[];
  ingress?: NetworkPolicyIngressRule[];
  egress?: NetworkPolicyEgressRule[];
}

/** networking.k8s.io/v1 NetworkPolicy. */
export interface NetworkPolicy {
  apiVersion?: string;
  kind?: 'NetworkPolicy';
  metadata: ObjectMeta;
  spec: NetworkPolicySpec;
}

/** kube-proxy's local-traffic detector modes (`--detect-local-mode`). */
export type DetectLocalMode = 'ClusterCIDR' | 'NodeCIDR' | 'BridgeInterface' | 'InterfaceNamePrefix';

/** kubeproxy.config.k8s.io/v1alpha1 KubeProxyConfiguration: the fields the proxier reads. */
export interface KubeProxyConfiguration {
  apiVersion?: string;
  kind?: 'KubeProxyConfiguration';
  mode?: '' | 'iptables' | 'ipvs' | 'nftables';
  clusterCIDR?: string;
  detectLocalMode?: DetectLocalMode | '';
  detectLocal?: { bridgeInterface?: string; interfaceNamePrefix?: string };
  nodePortAddresses?: string[];
  iptables?: {
    masqueradeAll?: boolean;
    masqueradeBit?: number;
    localhostNodePorts?: boolean;
    syncPeriod?: string;
    minSyncPeriod?: string;
  };
  conntrack?: { tcpBeLiberal?: boolean };
  hostnameOverride?: string;
  featureGates?: Record<string, boolean>;
}
