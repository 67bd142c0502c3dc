/**
 * A cloud L4 load balancer in front of a LoadBalancer Service (passthrough: the client address
 * is kept). Its backends are the nodes; it health-checks them as cloud providers do — for
 * `externalTrafficPolicy: Local`, HTTP to the healthCheckNodePort, answered by each node's
 * kube-proxy; for Cluster, every node is taken as healthy — and spreads connections evenly over
 * the healthy ones, handing each packet to the node with the LB IP as destination (VIP) or to
 * nodeIP:nodePort.
 *
 * @module
 */
import type { CloudLoadBalancer, LoadBalancerDelivery, LoadBalancerMode } from '../cluster/index.js';
import type { Service } from '../cluster/objects.js';
import type { CloudL7Provider, HttpProxy } from './http-proxy.js';
import { type HealthCheckResponse, healthCheckResponse, type HealthCheckService } from '../kubeproxy/index.js';

/** One backend node as the load balancer sees it. */
export interface LoadBalancerBackend {
  node: string;
  /** The node's address the LB sends to (its InternalIP of the family). */
  address: string;
  /** For Local: kube-proxy's health check listener on the node (undefined when it has none). */
  healthCheck?: HealthCheckService;
}

/** What the LB decided for one node. */
export interface BackendChoice {
  node: string;
  address: string;
  healthy: boolean;
  /** The probe and its answer, for Local services. */
  probe?: { port: number; response: HealthCheckResponse };
  /** Share of new connections (0 for unhealthy nodes). */
  probability: number;
  /** Where the LB sends the packet: `address:port`. */
  destination: { address: string; port: number };
}

export interface LoadBalancerInput {
  /** The LB IP and port the client connects to. */
  vip: string;
  port: number;
  nodePort: number;
  externalPolicyLocal: boolean;
  healthCheckNodePort: number;
  delivery: LoadBalancerDelivery;
  backends: readonly LoadBalancerBackend[];
  /** Delivery `Pod`: the Service's ready endpoints, which the LB sends to directly. */
  pods?: readonly { pod: string; address: string; port: number }[];
}

/** The health check verdicts and the share of each node. */
export function chooseBackends(lb: LoadBalancerInput): BackendChoice[] {
  if (lb.delivery === 'Pod') {
    // Pod IPs as targets: the LB checks the pods themselves; a ready endpoint passes.
    const pods = lb.pods ?? [];
    return pods.map((p) => ({ node: p.pod, address: p.address, healthy: true, probability: 1 / pods.length, destination: { address: p.address, port: p.port } }));
  }
  const choices = lb.backends.map((b): Omit<BackendChoice, 'probability'> => {
    const destination = lb.delivery === 'VIP' ? { address: lb.vip, port: lb.port } : { address: b.address, port: lb.nodePort };
    if (!lb.externalPolicyLocal) return { node: b.node, address: b.address, healthy: true, destination };
    // kube-proxy answers on every node; a node without the listener refuses the probe.
    const hc = b.healthCheck;
    if (!hc) return { node: b.node, address: b.address, healthy: false, destination };
    const response = healthCheckResponse(hc);
    return { node: b.node, address: b.address, healthy: response.status === 200, probe: { port: lb.healthCheckNodePort, response }, destination };
  });
  const healthy = choices.filter((c) => c.healthy).length;
  return choices.map((c) => ({ ...c, probability: c.healthy ? 1 / healthy : 0 }));
}

/** A load balancer's settings and where each came from. */
export interface ResolvedLoadBalancer {
  mode: LoadBalancerMode;
  delivery: LoadBalancerDelivery;
  proxyProtocol?: 1 | 2;
  sourceAddress?: string;
  product: string;
  /** `mode: http`: whose headers it sets (`generic`: X-Forwarded-For only). */
  l7Provider?: CloudL7Provider;
  /** `mode: proxy (annotation service.beta.kubernetes.io/aws-load-balancer-proxy-protocol)`, … */
  origin: string[];
}

/** What an annotation says: the Environment's fields, and whose L7 headers. */
type AnnotatedLoadBalancer = CloudLoadBalancer & { l7Provider?: CloudL7Provider };

interface AnnotationRule {
  annotation: string;
  /** What the annotation's value makes of the LB, or undefined when the value changes nothing. */
  read: (value: string, annotations: Readonly<Record<string, string>>) => AnnotatedLoadBalancer | undefined;
}

const AWS = 'service.beta.kubernetes.io/aws-load-balancer-';
const TENCENT = 'service.cloud.tencent.com/';
const ALIBABA = 'service.beta.kubernetes.io/alibaba-cloud-loadbalancer-';

function awsNlb(a: Readonly<Record<string, string>>): boolean {
  const t = a[`${AWS}type`];
  return t === 'nlb' || t === 'external' || t === 'nlb-ip';
}

/**
 * What clouds' Service annotations say about the load balancer. In order: a later rule's fields
 * win over an earlier one's.
 */
const ANNOTATION_RULES: readonly AnnotationRule[] = [
  {
    // Without a type the in-tree provider makes a classic ELB, a TCP proxy; an NLB passes packets through.
    annotation: `${AWS}type`,
    read: (v) => (v === 'nlb' || v === 'external' || v === 'nlb-ip' ? { mode: 'passthrough', product: 'AWS NLB' } : undefined),
  },
  {
    annotation: `${AWS}nlb-target-type`,
    // IP targets over TCP do not preserve the client IP by default (preserve_client_ip.enabled): the pods see the NLB's address.
    read: (v) => (v === 'ip' ? { delivery: 'Pod', mode: 'proxy', product: 'AWS NLB (IP targets)' } : undefined),
  },
  {
    annotation: `${AWS}backend-protocol`,
    read: (v, a) => (!awsNlb(a) && (v === 'http' || v === 'https') ? { mode: 'http', product: 'AWS classic ELB (HTTP listener)' } : undefined),
  },
  {
    annotation: `${AWS}proxy-protocol`,
    read: (v, a) => (v === '*' ? (awsNlb(a) ? { proxyProtocol: 2, product: 'AWS NLB' } : { mode: 'proxy', proxyProtocol: 1, product: 'AWS classic ELB' }) : undefined),
  },
  {
    annotation: `${ALIBABA}protocol-port`,
    read: (v) => (/(^|,)\s*https?:/i.test(v) ? { mode: 'http', product: 'Alibaba Cloud SLB (HTTP listener)', l7Provider: 'alibaba-clb' } : undefined),
  },
  {
    annotation: `${ALIBABA}proxy-protocol`,
    read: (v) => (v === 'on' ? { mode: 'proxy', proxyProtocol: 2, product: 'Alibaba Cloud SLB (TCP, PROXY protocol)' } : undefined),
  },
  {
    // TKE: the CLB sends to the pods themselves (VPC-CNI), its layer-4 listeners keep the client's address.
    annotation: `${TENCENT}direct-access`,
    read: (v) => (v === 'true' ? { delivery: 'Pod', product: 'Tencent CLB (direct access)' } : undefined),
  },
  {
    // TKE's extension protocols: {"80":{"protocol":["HTTP"]}} turns the CLB listener into layer 7. PROXY protocol is set through TkeServiceConfig, which kubepath does not read.
    annotation: `${TENCENT}specify-protocol`,
    read: (v) => (/"protocol"\s*:\s*\[[^\]]*"HTTPS?"/i.test(v) ? { mode: 'http', product: 'Tencent CLB (HTTP listener)' } : undefined),
  },
  {
    annotation: 'service.beta.kubernetes.io/ucloud-load-balancer-vserver-protocol',
    read: (v) => (v.toLowerCase() === 'http' || v.toLowerCase() === 'https' ? { mode: 'http', product: 'UCloud ULB7', l7Provider: 'ucloud-ulb7' } : v.toLowerCase() === 'tcp' || v.toLowerCase() === 'udp' ? { mode: 'passthrough', product: 'UCloud ULB4' } : undefined),
  },
];

/**
 * The load balancer of a LoadBalancer Service: the Environment's per-Service entry over the
 * Service's cloud annotations over the Environment's cluster-wide `loadBalancer`, over the
 * defaults (passthrough, to nodeIP:nodePort).
 */
export function resolveLoadBalancer(svc: Service, cluster: CloudLoadBalancer | undefined, perService: CloudLoadBalancer | undefined): ResolvedLoadBalancer {
  const origin: string[] = [];
  let lb: ResolvedLoadBalancer = { mode: 'passthrough', delivery: 'NodePort', product: 'cloud load balancer', origin };
  const apply = (c: AnnotatedLoadBalancer, from: string) => {
    for (const [k, v] of Object.entries(c) as [keyof AnnotatedLoadBalancer, unknown][]) {
      if (v === undefined) continue;
      lb = { ...lb, [k]: v };
      if (k !== 'product' && k !== 'l7Provider') origin.push(`${k}: ${String(v)} (${from})`);
    }
  };
  if (cluster) apply(cluster, 'Environment loadBalancer');
  const annotations = svc.metadata.annotations ?? {};
  for (const rule of ANNOTATION_RULES) {
    const v = annotations[rule.annotation];
    const c = v === undefined ? undefined : rule.read(v, annotations);
    if (c) apply(c, `annotation ${rule.annotation}: "${v}"`);
  }
  if (perService) apply(perService, `Environment loadBalancers[${svc.metadata.namespace}/${svc.metadata.name}]`);
  if (lb.mode !== 'passthrough' && lb.delivery === 'VIP') {
    // VIP delivery forwards the client's own packets; a proxy opens connections to the nodes' NodePorts.
    lb = { ...lb, delivery: 'NodePort' };
    origin.push(`delivery: NodePort (a ${lb.mode === 'http' ? 'layer-7' : 'proxying'} load balancer opens its own connections to nodeIP:nodePort; VIP delivery applies to passthrough)`);
  }
  if (lb.mode === 'passthrough' && lb.proxyProtocol) {
    // A PROXY header needs a proxy to write it: a passthrough LB that sends one (AWS NLB) keeps the packets' addresses too.
    origin.push(`proxyProtocol v${lb.proxyProtocol} on a passthrough LB: the client address is kept and also written in the header`);
  }
  return { ...lb, origin };
}

/** The model of a proxying LB's hop (`mode` proxy or http). */
export function proxyModelOf(lb: { mode: LoadBalancerMode; proxyProtocol?: 1 | 2 | undefined; product: string; sourceAddress: string; l7Provider?: CloudL7Provider | undefined }): HttpProxy {
  return lb.mode === 'http'
    ? { kind: 'cloud-l7', provider: lb.l7Provider ?? 'generic', name: lb.product, sourceAddress: lb.sourceAddress }
    : { kind: 'cloud-l4-proxy', name: lb.product, sourceAddress: lb.sourceAddress, ...(lb.proxyProtocol ? { proxyProtocol: lb.proxyProtocol } : {}) };
}
