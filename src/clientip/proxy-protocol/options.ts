/**
 * Parser options: the few places where the specification lets a receiver choose, or where a
 * well-known sender needs a compatibility switch. Defaults are the strict reading.
 *
 * @module
 */
import { PP2_DEFAULT_MAX_LENGTH } from './constants.js';
import { ProxyProtocolError } from './errors.js';

export interface ProxyParseOptions {
  /**
   * Largest v2 length field accepted (bytes after the fixed 16). Default 4096, as go-proxyproto;
   * the specification allows 65535. The incremental decoder never buffers more than 16 + this.
   */
  readonly maxV2Length?: number;
  /** Accept v2 PROXY + AF_UNSPEC as "use the real endpoints" (the spec lets receivers choose); default false. */
  readonly allowProxyUnspec?: boolean;
  /** Accept plain IPv4 addresses in v1 `TCP6` lines (nginx OSS stream sends them); default false. */
  readonly v1AcceptIPv4InTCP6?: boolean;
  /** Also accept a PP2_TYPE_CRC32C value in little-endian order (libproxyprotocol writes host order); default false. */
  readonly acceptLittleEndianCrc32c?: boolean;
}

/** Options with every default filled in. */
export interface ResolvedParseOptions {
  readonly maxV2Length: number;
  readonly allowProxyUnspec: boolean;
  readonly v1AcceptIPv4InTCP6: boolean;
  readonly acceptLittleEndianCrc32c: boolean;
}

export const DEFAULT_PARSE_OPTIONS: ResolvedParseOptions = {
  maxV2Length: PP2_DEFAULT_MAX_LENGTH,
  allowProxyUnspec: false,
  v1AcceptIPv4InTCP6: false,
  acceptLittleEndianCrc32c: false,
};

/** Fill in defaults and check ranges; throws ProxyProtocolError `invalid-argument`. */
export function resolveParseOptions(options: ProxyParseOptions | undefined): ResolvedParseOptions {
  if (options === undefined) return DEFAULT_PARSE_OPTIONS;
  const maxV2Length = options.maxV2Length ?? PP2_DEFAULT_MAX_LENGTH;
  if (!Number.isInteger(maxV2Length) || maxV2Length < 0 || maxV2Length > 0xffff) {
    throw new ProxyProtocolError('invalid-argument', `maxV2Length must be an integer 0-65535, not ${String(maxV2Length)}`);
  }
  return {
    maxV2Length,
    allowProxyUnspec: options.allowProxyUnspec ?? false,
    v1AcceptIPv4InTCP6: options.v1AcceptIPv4InTCP6 ?? false,
    acceptLittleEndianCrc32c: options.acceptLittleEndianCrc32c ?? false,
  };
}
