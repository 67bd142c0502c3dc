/**
 * A header as plain JSON (addresses as text, TLVs named, with hex values, and the well-known
 * ones decoded): what a diagnostic server prints and a log line records.
 *
 * @module
 */
import { formatIP } from '../../net/index.js';
import { PP2_TYPE_NAMES } from './constants.js';
import { awsVpcEndpointIdOf, azurePrivateEndpointLinkIdOf, gcpPscConnectionIdOf } from './cloud.js';
import type { ProxyEndpoint, ProxyHeader } from './header.js';
import { alpnOf, authorityOf, crc32cOf, netnsOf, sslOf, uniqueIdOf } from './tlv-values.js';

export type ProxyEndpointJSON = { address: string; port: number } | { path: string };

export interface ProxySslJSON {
  client: number;
  verify: number;
  verified: boolean;
  version: string | null;
  cn: string | null;
  cipher: string | null;
  sig_alg: string | null;
  key_alg: string | null;
  group: string | null;
  sig_scheme: string | null;
  client_cert_hex: string | null;
}

export interface ProxyHeaderJSON {
  version: 1 | 2;
  command: 'LOCAL' | 'PROXY';
  family: string;
  source: ProxyEndpointJSON | null;
  destination: ProxyEndpointJSON | null;
  length: number;
  tlvs: { type: number; name: string | null; hex: string }[];
  alpn: string | null;
  authority: string | null;
  crc32c: string | null;
  unique_id_hex: string | null;
  netns: string | null;
  ssl: ProxySslJSON | null;
  aws_vpc_endpoint_id: string | null;
  azure_private_endpoint_link_id: number | null;
  /** Text: a uint64 does not fit a JSON number. */
  gcp_psc_connection_id: string | null;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function endpoint(e: ProxyEndpoint | null): ProxyEndpointJSON | null {
  if (e === null) return null;
  return 'ip' in e ? { address: formatIP(e.ip), port: e.port } : { path: e.path };
}

/** The header as JSON-ready data. */
export function describeProxyHeader(h: ProxyHeader): ProxyHeaderJSON {
  const ssl = sslOf(h.tlvs);
  const crc = crc32cOf(h.tlvs);
  const uid = uniqueIdOf(h.tlvs);
  const gcp = gcpPscConnectionIdOf(h.tlvs);
  return {
    version: h.version,
    command: h.command,
    family: h.family,
    source: endpoint(h.source),
    destination: endpoint(h.destination),
    length: h.length,
    tlvs: h.tlvs.map((t) => ({ type: t.type, name: PP2_TYPE_NAMES.get(t.type) ?? null, hex: hex(t.value) })),
    alpn: alpnOf(h.tlvs) ?? null,
    authority: authorityOf(h.tlvs) ?? null,
    crc32c: crc === undefined ? null : crc.toString(16).padStart(8, '0'),
    unique_id_hex: uid === undefined ? null : hex(uid),
    netns: netnsOf(h.tlvs) ?? null,
    ssl:
      ssl === undefined
        ? null
        : {
            client: ssl.client,
            verify: ssl.verify,
            verified: ssl.verified,
            version: ssl.version ?? null,
            cn: ssl.cn ?? null,
            cipher: ssl.cipher ?? null,
            sig_alg: ssl.sigAlg ?? null,
            key_alg: ssl.keyAlg ?? null,
            group: ssl.group ?? null,
            sig_scheme: ssl.sigScheme ?? null,
            client_cert_hex: ssl.clientCert === undefined ? null : hex(ssl.clientCert),
          },
    aws_vpc_endpoint_id: awsVpcEndpointIdOf(h.tlvs) ?? null,
    azure_private_endpoint_link_id: azurePrivateEndpointLinkIdOf(h.tlvs) ?? null,
    gcp_psc_connection_id: gcp === undefined ? null : gcp.toString(),
  };
}
