/**
 * PROXY protocol v1 and v2 (HAProxy's `doc/proxy-protocol.txt`): a strict parser with an
 * incremental decoder, an encoder, TLV values (SSL, AWS, Azure, GCP and the generic ones), and
 * the server and client sides for Node's net/http/https/http2.
 *
 * @module
 */
export { type ProxyProtocolErrorCode, ProxyProtocolError, isProxyProtocolError } from './errors.js';
export {
  type ProxyCommand,
  type ProxyEndpoint,
  type ProxyFamily,
  type ProxyHeader,
  type ProxyInetEndpoint,
  type ProxyTlv,
  type ProxyUnixEndpoint,
  clientEndpointOf,
  isInetEndpoint,
} from './header.js';
export { type ProxyParseOptions } from './options.js';
export { type ProxyDecodeStep, type ProxyDecoderOptions, ProxyHeaderDecoder, detectProxySignature, parseProxyHeader } from './decoder.js';
export { type ProxyEndpointInit, type ProxyHeaderInit, encodeProxyHeader } from './encode.js';
export { type ProxySsl, type ProxySslInit, decodeSsl, sslTlv } from './ssl.js';
export {
  alpnOf,
  alpnTlv,
  authorityOf,
  authorityTlv,
  crc32cOf,
  findTlv,
  netnsOf,
  netnsTlv,
  noopTlv,
  sslOf,
  uniqueIdOf,
  uniqueIdTlv,
} from './tlv-values.js';
export {
  awsVpcEndpointIdOf,
  awsVpcEndpointIdTlv,
  azurePrivateEndpointLinkIdOf,
  azurePrivateEndpointLinkIdTlv,
  gcpPscConnectionIdOf,
  gcpPscConnectionIdTlv,
} from './cloud.js';
export { crc32c } from './crc32c.js';
export { type ProxyEndpointJSON, type ProxyHeaderJSON, type ProxySslJSON, describeProxyHeader } from './describe.js';
export {
  DEFAULT_HEADER_TIMEOUT_MS,
  PROXY_PROTOCOL_ERROR_EVENT,
  type ProxyConnectionInfo,
  type ProxyProtocolMode,
  type ProxyProtocolPolicy,
  acceptProxyProtocol,
  proxyHeaderOf,
  proxyProtocolOf,
} from './server.js';
export { connectWithProxyHeader, proxyHeaderFor } from './client.js';
export * from './constants.js';
