/**
 * Numbers from HAProxy's `doc/proxy-protocol.txt`, under the names the specification gives them.
 *
 * @module
 */

/** The 12-byte v2 signature: `\r\n\r\n\0\r\nQUIT\n`. */
export const PP2_SIGNATURE: readonly number[] = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

/** The v1 signature `PROXY` (a v1 line starts with it and one space). */
export const PP1_SIGNATURE: readonly number[] = [0x50, 0x52, 0x4f, 0x58, 0x59];

/** The longest v1 line, CRLF included (`PROXY UNKNOWN` with two full IPv6 addresses and ports). */
export const PP1_MAX_LENGTH = 107;

/** Bytes before a v2 header's address block: signature, version/command, family, length. */
export const PP2_FIXED_LENGTH = 16;

/** Default cap on the v2 length field (bytes after the fixed 16), as go-proxyproto's MaxV2HeaderSize. */
export const PP2_DEFAULT_MAX_LENGTH = 4096;

export const PP2_VERSION = 0x20;
export const PP2_CMD_LOCAL = 0x00;
export const PP2_CMD_PROXY = 0x01;

export const PP2_AF_UNSPEC = 0x00;
export const PP2_AF_INET = 0x10;
export const PP2_AF_INET6 = 0x20;
export const PP2_AF_UNIX = 0x30;
export const PP2_TRANS_UNSPEC = 0x00;
export const PP2_TRANS_STREAM = 0x01;
export const PP2_TRANS_DGRAM = 0x02;

/** Address block sizes per address family. */
export const PP2_ADDR_LEN_INET = 12;
export const PP2_ADDR_LEN_INET6 = 36;
export const PP2_ADDR_LEN_UNIX = 216;
/** Bytes of one UNIX path in the address block (`sun_path`). */
export const PP2_UNIX_PATH_LEN = 108;

export const PP2_TYPE_ALPN = 0x01;
export const PP2_TYPE_AUTHORITY = 0x02;
export const PP2_TYPE_CRC32C = 0x03;
export const PP2_TYPE_NOOP = 0x04;
export const PP2_TYPE_UNIQUE_ID = 0x05;
export const PP2_TYPE_SSL = 0x20;
export const PP2_SUBTYPE_SSL_VERSION = 0x21;
export const PP2_SUBTYPE_SSL_CN = 0x22;
export const PP2_SUBTYPE_SSL_CIPHER = 0x23;
export const PP2_SUBTYPE_SSL_SIG_ALG = 0x24;
export const PP2_SUBTYPE_SSL_KEY_ALG = 0x25;
export const PP2_SUBTYPE_SSL_GROUP = 0x26;
export const PP2_SUBTYPE_SSL_SIG_SCHEME = 0x27;
export const PP2_SUBTYPE_SSL_CLIENT_CERT = 0x28;
export const PP2_TYPE_NETNS = 0x30;
/** Google Cloud Private Service Connect: the PSC connection id, uint64 big-endian. */
export const PP2_TYPE_GCP = 0xe0;
/** AWS (NLB / PrivateLink): subtype byte, then the value. */
export const PP2_TYPE_AWS = 0xea;
export const PP2_SUBTYPE_AWS_VPCE_ID = 0x01;
/** Azure Private Link: subtype byte, then the value. */
export const PP2_TYPE_AZURE = 0xee;
export const PP2_SUBTYPE_AZURE_PRIVATEENDPOINT_LINKID = 0x01;

/** PP2_TYPE_SSL `client` bits. */
export const PP2_CLIENT_SSL = 0x01;
export const PP2_CLIENT_CERT_CONN = 0x02;
export const PP2_CLIENT_CERT_SESS = 0x04;

/** The longest PP2_TYPE_UNIQUE_ID value the specification allows. */
export const PP2_UNIQUE_ID_MAX_LENGTH = 128;

/** Names of the TLV types above, for descriptions. */
export const PP2_TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [PP2_TYPE_ALPN, 'PP2_TYPE_ALPN'],
  [PP2_TYPE_AUTHORITY, 'PP2_TYPE_AUTHORITY'],
  [PP2_TYPE_CRC32C, 'PP2_TYPE_CRC32C'],
  [PP2_TYPE_NOOP, 'PP2_TYPE_NOOP'],
  [PP2_TYPE_UNIQUE_ID, 'PP2_TYPE_UNIQUE_ID'],
  [PP2_TYPE_SSL, 'PP2_TYPE_SSL'],
  [PP2_TYPE_NETNS, 'PP2_TYPE_NETNS'],
  [PP2_TYPE_GCP, 'PP2_TYPE_GCP'],
  [PP2_TYPE_AWS, 'PP2_TYPE_AWS'],
  [PP2_TYPE_AZURE, 'PP2_TYPE_AZURE'],
]);
