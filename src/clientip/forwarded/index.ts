/**
 * `kubepath/clientip` forwarded headers and strategies: X-Forwarded-For, RFC 7239 Forwarded and
 * single-address headers read strictly, realclientip's strategies with the peer checked first,
 * presets for common Kubernetes setups, a proxy-addr compatible function, and middleware for
 * node:http, Express and Fastify.
 *
 * @module
 */
export {
  formatNodeAddress,
  isObfuscated,
  isUnspecified,
  type NodeAddress,
  type NodeKind,
  parseNodeAddress,
  unmapIP,
} from './address.js';
export { StrategyError } from './errors.js';
export { type ClientIpInput, type HeaderRecord, type HeaderValue } from './headers.js';
export { type ForwardedNode } from './nodes.js';
export { IPRanges, isPrivateOrLocal, parseTrustedRange, parseTrustedRanges, PRIVATE_AND_LOCAL_RANGES, type RangesInput } from './ranges.js';
export { type AnswerSource, type ClientIp, type ClientIpResult, type Note, type NoteReason } from './result.js';
export { type ForwardedElement, forwardedForNodes, readForwarded } from './rfc7239.js';
export { parseSingleAddress, readSingleAddressHeader, SINGLE_ADDRESS_HEADERS } from './single.js';
export { readXForwardedFor } from './xff.js';
export { BaseStrategy, type ListHeader, type PeerOptions, type Strategy, type UnknownPeer } from './strategy.js';
export { Chain, ProxyProtocolSource, RemoteAddr, SingleIPHeader, type SingleIPHeaderOptions } from './basic-strategies.js';
export {
  LeftmostNonPrivate,
  RightmostNonPrivate,
  RightmostTrustedCount,
  RightmostTrustedRange,
  type TrustedCountOptions,
} from './list-strategies.js';
export { CLOUDFLARE_RANGES, CLOUDFLARE_RANGES_DATE } from './cloudflare-ranges.js';
export {
  type AwsAlbOptions,
  behindAwsAlb,
  behindCloudflare,
  behindIngressNginx,
  behindProxyProtocol,
  type CloudflareOptions,
  type IngressNginxOptions,
  type ProxyProtocolOptions,
} from './presets.js';
export { compileProxyAddrTrust, proxyAddrAll, proxyAddrCompatible, type ProxyAddrRequest, type ProxyAddrTrust } from './proxy-addr.js';
export { clientIp, clientIpResult, type NodeRequestLike, requestInput, type RequestOptions, withClientIp, type WithClientIp } from './node.js';
export { type ExpressRequestLike, expressClientIp } from './express.js';
export { type FastifyClientIpOptions, fastifyClientIp, type FastifyInstanceLike, type FastifyRequestLike } from './fastify.js';
