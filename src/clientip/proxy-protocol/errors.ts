/**
 * The one error type of the PROXY protocol code: every failure, from a bad byte to a header
 * timeout, is a {@link ProxyProtocolError} whose `code` says which, so callers branch on codes
 * and never on messages.
 *
 * @module
 */

/**
 * Why a header (or a connection carrying one) was refused.
 *
 * Parse errors use the category names of the shared conformance vectors; `truncated` is a
 * stream that ended (or a buffer that stopped) before a header could be complete.
 */
export type ProxyProtocolErrorCode =
  /** The bytes are neither a v1 (`PROXY`) nor a v2 signature. */
  | 'not-proxy-protocol'
  /** The input ended before the header was complete. */
  | 'truncated'
  /** v1: no CRLF within 107 bytes (or no valid line could fit in them). */
  | 'v1-too-long'
  /** v1: a CR or LF that is not the CRLF ending the line. */
  | 'v1-bad-line-ending'
  /** v1: wrong protocol token, missing or extra tokens, bad separators. */
  | 'v1-malformed'
  /** v1: an address that is not of the line's family (or not strict text). */
  | 'v1-bad-address'
  /** v1: a port that is not 0-65535 in plain decimal. */
  | 'v1-bad-port'
  /** v2: version nibble not 2, or command nibble not LOCAL/PROXY. */
  | 'v2-bad-version-or-command'
  /** v2: an undefined family/transport byte (or PROXY + UNSPEC when not allowed). */
  | 'v2-bad-family'
  /** v2: the declared length cannot hold the address block of a PROXY header. */
  | 'v2-bad-length'
  /** v2: the declared length is above the configured cap. */
  | 'header-too-large'
  /** v2: a TLV (or SSL sub-TLV) overruns its container, is truncated, or breaks its type's rules. */
  | 'tlv-malformed'
  /** v2: the PP2_TYPE_CRC32C checksum does not match the header. */
  | 'crc32c-mismatch'
  /** Server: no complete header within the timeout. */
  | 'header-timeout'
  /** Server: a header from a peer that may not send one (policy `reject`, or `optional` and untrusted). */
  | 'header-not-allowed'
  /** Server: policy `require` with trusted CIDRs, and the peer is not in them. */
  | 'untrusted-peer'
  /** Encoder, policy or option input that cannot be used. */
  | 'invalid-argument';

/** A PROXY protocol failure; `code` is stable, `message` is for people. */
export class ProxyProtocolError extends Error {
  override readonly name = 'ProxyProtocolError';
  readonly code: ProxyProtocolErrorCode;
  /** For parse errors: the offset of the first byte that made the header invalid. */
  readonly offset: number | undefined;

  constructor(code: ProxyProtocolErrorCode, message: string, options: { offset?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.offset = options.offset;
  }
}

/** True when `e` is a ProxyProtocolError (optionally with the given code). */
export function isProxyProtocolError(e: unknown, code?: ProxyProtocolErrorCode): e is ProxyProtocolError {
  return e instanceof ProxyProtocolError && (code === undefined || e.code === code);
}
