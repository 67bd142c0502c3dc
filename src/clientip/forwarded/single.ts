/**
 * Single-address headers: one proxy or CDN writes the client's address in its own field. Only the
 * last instance counts (a client can send the field too; the proxy's instance comes after it, or
 * replaces it), as realclientip's SingleIPHeader reads it.
 *
 * @module
 */
import { parseNodeAddress, trimmed } from './address.js';
import { type ClientIpInput, lastField } from './headers.js';
import { type ForwardedNode, makeNode } from './nodes.js';

/** Fields that carry one client address, by lower-case name, with who writes them. */
export const SINGLE_ADDRESS_HEADERS: Readonly<Record<string, string>> = {
  'x-real-ip': 'nginx (real_ip / proxy_set_header), ingress-nginx, Traefik',
  'cf-connecting-ip': 'Cloudflare',
  'cf-connecting-ipv6': 'Cloudflare (Pseudo IPv4 enabled)',
  'true-client-ip': 'Akamai, Cloudflare Enterprise',
  'fastly-client-ip': 'Fastly',
  'x-azure-clientip': 'Azure Front Door',
  'x-azure-socketip': 'Azure Front Door (TCP peer of the edge)',
  'x-envoy-external-address': 'Envoy (use_remote_address with trusted hops)',
  'x-client-ip': 'various load balancers',
  'x-cluster-client-ip': 'Rackspace, Riverbed',
  'do-connecting-ip': 'DigitalOcean App Platform',
  'fly-client-ip': 'Fly.io',
  'x-appengine-user-ip': 'Google App Engine',
  'cloudfront-viewer-address': 'Amazon CloudFront (IPv6:PORT without brackets)',
};

/** Headers whose port follows an unbracketed IPv6 address after the last colon. */
const LAST_COLON_PORT = new Set(['cloudfront-viewer-address']);

/** Parse one single-address value (surrounding white space ignored) as the named header writes it. */
export function parseSingleAddress(lowerName: string, value: string): ForwardedNode {
  const text = trimmed(value, 0, value.length);
  const lastColonPort = LAST_COLON_PORT.has(lowerName);
  return makeNode(text, parseNodeAddress(text, lastColonPort ? { lastColonPort } : undefined));
}

/** The node in the last instance of a single-address header; undefined when the field is absent. */
export function readSingleAddressHeader(input: ClientIpInput, name: string): ForwardedNode | undefined {
  const lower = name.toLowerCase();
  const value = lastField(input, lower);
  return value === undefined ? undefined : parseSingleAddress(lower, value);
}
