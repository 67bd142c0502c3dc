/**
 * The cloud providers' TLVs, read as go-proxyproto's tlvparse does (the first well-formed TLV of
 * the kind wins; a malformed one is skipped, not an error) and built for the encoder:
 *
 * - AWS 0xEA, subtype 0x01: the VPC endpoint id (`vpce-…`), US-ASCII.
 * - Azure 0xEE, subtype 0x01: the private endpoint LinkID, uint32 little-endian.
 * - GCP 0xE0: the Private Service Connect connection id, uint64 big-endian.
 *
 * @module
 */
import { PP2_SUBTYPE_AWS_VPCE_ID, PP2_SUBTYPE_AZURE_PRIVATEENDPOINT_LINKID, PP2_TYPE_AWS, PP2_TYPE_AZURE, PP2_TYPE_GCP } from './constants.js';
import { ProxyProtocolError } from './errors.js';
import type { ProxyTlv } from './header.js';
import { firstNonAscii } from './text.js';

/** AWS: the VPC endpoint id the connection came through. */
export function awsVpcEndpointIdOf(tlvs: readonly ProxyTlv[]): string | undefined {
  for (const t of tlvs) {
    const v = t.value;
    if (t.type !== PP2_TYPE_AWS || v.length < 2 || v[0] !== PP2_SUBTYPE_AWS_VPCE_ID) continue;
    if (firstNonAscii(v, 1, v.length) >= 0) continue;
    return Buffer.from(v.buffer, v.byteOffset + 1, v.length - 1).toString('latin1');
  }
  return undefined;
}

/** Azure: the private endpoint LinkID. */
export function azurePrivateEndpointLinkIdOf(tlvs: readonly ProxyTlv[]): number | undefined {
  for (const t of tlvs) {
    const v = t.value;
    if (t.type !== PP2_TYPE_AZURE || v.length !== 5 || v[0] !== PP2_SUBTYPE_AZURE_PRIVATEENDPOINT_LINKID) continue;
    return (v[1]! | (v[2]! << 8) | (v[3]! << 16) | (v[4]! << 24)) >>> 0;
  }
  return undefined;
}

/** GCP: the Private Service Connect connection id. */
export function gcpPscConnectionIdOf(tlvs: readonly ProxyTlv[]): bigint | undefined {
  for (const t of tlvs) {
    const v = t.value;
    if (t.type !== PP2_TYPE_GCP || v.length !== 8) continue;
    return Buffer.from(v.buffer, v.byteOffset, 8).readBigUInt64BE(0);
  }
  return undefined;
}

function invalid(message: string): ProxyProtocolError {
  return new ProxyProtocolError('invalid-argument', message);
}

export function awsVpcEndpointIdTlv(id: string): ProxyTlv {
  const value = Buffer.from(`\x01${id}`, 'latin1');
  if (id.length === 0 || firstNonAscii(value, 1, value.length) >= 0) throw invalid(`AWS VPC endpoint id ${JSON.stringify(id)} is not US-ASCII text`);
  return { type: PP2_TYPE_AWS, value };
}

export function azurePrivateEndpointLinkIdTlv(linkId: number): ProxyTlv {
  if (!Number.isInteger(linkId) || linkId < 0 || linkId > 0xffffffff) throw invalid(`Azure LinkID ${linkId} is not a uint32`);
  const value = Buffer.alloc(5);
  value[0] = PP2_SUBTYPE_AZURE_PRIVATEENDPOINT_LINKID;
  value.writeUInt32LE(linkId, 1);
  return { type: PP2_TYPE_AZURE, value };
}

export function gcpPscConnectionIdTlv(id: bigint): ProxyTlv {
  if (id < 0n || id > 0xffffffffffffffffn) throw invalid(`GCP PSC connection id ${id} is not a uint64`);
  const value = Buffer.alloc(8);
  value.writeBigUInt64BE(id, 0);
  return { type: PP2_TYPE_GCP, value };
}
