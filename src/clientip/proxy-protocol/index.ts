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
export {
  PP2_SIGNATURE,
  PP1_SIGNATURE,
  PP1_MAX_LENGTH,
  PP2_FIXED_LENGTH,
  PP2_DEFAULT_MAX_LENGTH,
  PP2_VERSION,
  PP2_CMD_LOCAL,
  PP2_CMD_PROXY,
  PP2_AF_UNSPEC,
  PP2_AF_INET,
  PP2_AF_INET6,
  PP2_AF_UNIX,
  PP2_TRANS_UNSPEC,
  PP2_TRANS_STREAM,
  PP2_TRANS_DGRAM,
  PP2_ADDR_LEN_INET,
  PP2_ADDR_LEN_INET6,
  PP2_ADDR_LEN_UNIX,
  PP2_UNIX_PATH_LEN,
  PP2_TYPE_ALPN,
  PP2_TYPE_AUTHORITY,
  PP2_TYPE_CRC32C,
  PP2_TYPE_NOOP,
  PP2_TYPE_UNIQUE_ID,
  PP2_TYPE_SSL,
  PP2_SUBTYPE_SSL_VERSION,
  PP2_SUBTYPE_SSL_CN,
  PP2_SUBTYPE_SSL_CIPHER,
  PP2_SUBTYPE_SSL_SIG_ALG,
  PP2_SUBTYPE_SSL_KEY_ALG,
  PP2_SUBTYPE_SSL_GROUP,
  PP2_SUBTYPE_SSL_SIG_SCHEME,
  PP2_SUBTYPE_SSL_CLIENT_CERT,
  PP2_TYPE_NETNS,
  PP2_TYPE_GCP,
  PP2_TYPE_AWS,
  PP2_SUBTYPE_AWS_VPCE_ID,
  PP2_TYPE_AZURE,
  PP2_SUBTYPE_AZURE_PRIVATEENDPOINT_LINKID,
  PP2_CLIENT_SSL,
  PP2_CLIENT_CERT_CONN,
  PP2_CLIENT_CERT_SESS,
  PP2_UNIQUE_ID_MAX_LENGTH,
  PP2_TYPE_NAMES,
} from './constants.js';
