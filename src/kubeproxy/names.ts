/**
 * kube-proxy's names: ServicePortName text and the hashed chain names (KUBE-SVC-, KUBE-SVL-,
 * KUBE-EXT-, KUBE-FW-, KUBE-SEP-), sha256 then RFC 4648 base32, first 16 characters.
 *
 * @module
 */
import { hash } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** The first 16 base32 characters of sha256(text): iptables chain names must stay under 29 characters. */
export function hash16(text: string): string {
  const bytes = hash('sha256', text, 'buffer');
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (let i = 0; out.length < 16; i++) {
    buffer = ((buffer << 8) | bytes[i]!) & 0xffff;
    bits += 8;
    while (bits >= 5 && out.length < 16) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

/** `ns/name:port`, or `ns/name` for an unnamed port (proxy.ServicePortName.String()). */
export function servicePortNameString(namespace: string, name: string, port: string): string {
  return port === '' ? `${namespace}/${name}` : `${namespace}/${name}:${port}`;
}

/** The chains of one service port, named from its ServicePortName and lower-case protocol. */
export interface ServicePortChains {
  /** KUBE-SVC-…: endpoints for Cluster traffic policy. */
  cluster: string;
  /** KUBE-SVL-…: endpoints for Local traffic policy. */
  local: string;
  /** KUBE-EXT-…: external traffic (NodePort, externalIPs, load balancer). */
  external: string;
  /** KUBE-FW-…: loadBalancerSourceRanges. */
  firewall: string;
}

export function servicePortChains(portName: string, protocol: string): ServicePortChains {
  const h = hash16(portName + protocol);
  return { cluster: `KUBE-SVC-${h}`, local: `KUBE-SVL-${h}`, external: `KUBE-EXT-${h}`, firewall: `KUBE-FW-${h}` };
}

/** KUBE-SEP-…: one endpoint (`IP:port`, `[IPv6]:port`) of one service port. */
export function endpointChain(portName: string, protocol: string, endpoint: string): string {
  return `KUBE-SEP-${hash16(portName + protocol + endpoint)}`;
}

const SERVICE_CHAIN_PREFIXES = ['KUBE-SVC-', 'KUBE-SVL-', 'KUBE-SEP-', 'KUBE-FW-', 'KUBE-EXT-'];

/** True for the per-service chains kube-proxy deletes when they fall out of use. */
export function isServiceChain(chain: string): boolean {
  return SERVICE_CHAIN_PREFIXES.some((p) => chain.startsWith(p));
}
