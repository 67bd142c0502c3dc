/**
 * Kubernetes' legacy address parsing (`k8s.io/utils/net.ParseIPSloppy`, `ParseCIDRSloppy`):
 * IPv4 parts may carry leading zeros and are read as decimal (`010.0.0.1` is 10.0.0.1).
 * Objects created before the API server tightened validation still hold such text, and
 * kube-proxy reads them this way; everything else in kubepath parses strictly.
 *
 * @module
 */
import { type IPNetwork, parseNetwork } from './cidr.js';
import { formatIP, type IPAddress, tryParseIP } from './ip.js';

const SLOPPY_V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parse an address as Go's legacy parser does; undefined when it is not one. */
export function parseIPSloppy(text: string): IPAddress | undefined {
  const m = SLOPPY_V4.exec(text);
  if (!m) return tryParseIP(text);
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const part = Number(m[i]);
    if (part > 255) return undefined;
    value = value * 256 + part;
  }
  return { family: 4, value };
}

/** Parse `ADDR/LEN` as Go's legacy parser does (leading zeros in address and length); undefined when invalid. */
export function parseCIDRSloppy(text: string): IPNetwork | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIPSloppy(text.slice(0, slash));
  const length = text.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(length)) return undefined;
  try {
    return parseNetwork(`${formatIP(ip)}/${Number(length)}`);
  } catch {
    return undefined;
  }
}
