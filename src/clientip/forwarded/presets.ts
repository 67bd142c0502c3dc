/**
 * One strategy per common way a Kubernetes app is reached. Each checks the peer first, so a
 * client that reaches the pod directly (another pod, a NodePort, a port-forward) gets its own
 * address, whatever headers it sends.
 *
 * @module
 */
import { ProxyProtocolSource, SingleIPHeader } from './basic-strategies.js';
import { CLOUDFLARE_RANGES } from './cloudflare-ranges.js';
import { RightmostTrustedCount, RightmostTrustedRange } from './list-strategies.js';
import type { RangesInput } from './ranges.js';
import type { PeerOptions, Strategy } from './strategy.js';

/** Where ingress-nginx runs. */
export interface IngressNginxOptions extends PeerOptions {
  /**
   * The ingress controller pods' addresses: the pod network CIDR(s), or the controller's own
   * range if your CNI gives it one. Add anything else in front of it that appends to
   * X-Forwarded-For (an L7 load balancer's ranges).
   */
  readonly trusted: RangesInput;
}

/**
 * Behind ingress-nginx: the rightmost X-Forwarded-For node outside the trusted ranges. ingress-nginx
 * appends who connected to it; with `externalTrafficPolicy: Cluster` that is a node IP (kube-proxy
 * masqueraded the connection), and this answers the node IP rather than guessing further left.
 */
export function behindIngressNginx(options: IngressNginxOptions): Strategy {
  return new RightmostTrustedRange('x-forwarded-for', options.trusted, options);
}

/** Where an AWS Application Load Balancer sends from. */
export interface AwsAlbOptions extends PeerOptions {
  /** The VPC CIDR(s) (or the ALB subnets): an ALB connects to targets from addresses in them. */
  readonly vpcCIDRs: RangesInput;
}

/**
 * Behind an AWS ALB (target type ip or instance): the ALB appends the client's address, so it is
 * the rightmost X-Forwarded-For node (count 1) when the peer is in the VPC. A count, not a range:
 * a client inside the VPC is still the client.
 */
export function behindAwsAlb(options: AwsAlbOptions): Strategy {
  return new RightmostTrustedCount('x-forwarded-for', 1, { ...options, trustedPeers: options.vpcCIDRs });
}

/** Cloudflare in front. */
export interface CloudflareOptions extends PeerOptions {
  /** Cloudflare's ranges; defaults to CLOUDFLARE_RANGES (see its date). */
  readonly ranges?: RangesInput;
  /** Your proxies between Cloudflare and the app (ingress pods, an L7 LB), which append to X-Forwarded-For. */
  readonly innerProxies?: RangesInput;
}

/**
 * Behind Cloudflare: CF-Connecting-IP (last instance) when the request came from Cloudflare's
 * ranges, directly or through `innerProxies`; a request that did not is answered with the
 * address it came from.
 */
export function behindCloudflare(options: CloudflareOptions = {}): Strategy {
  const { ranges = CLOUDFLARE_RANGES, innerProxies, unknownPeer } = options;
  return new SingleIPHeader('cf-connecting-ip', { trustedPeers: ranges, innerProxies, unknownPeer });
}

/** A load balancer that sends the PROXY protocol. */
export interface ProxyProtocolOptions extends PeerOptions {
  /** The addresses the load balancer connects from (NLB subnets, the node CIDR for a kube-proxy hop). */
  readonly loadBalancers: RangesInput;
}

/**
 * Behind a PROXY protocol load balancer (AWS NLB, HAProxy, …): the header's source address,
 * passed in as `proxySource`, when the peer is one of the load balancers.
 */
export function behindProxyProtocol(options: ProxyProtocolOptions): Strategy {
  return new ProxyProtocolSource(options.loadBalancers, options);
}
