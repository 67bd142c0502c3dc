/**
 * nginx's realip module (ngx_http_realip_module) as a pure function: which address becomes
 * `$remote_addr` for a request, given the TCP peer, the trusted ranges (`set_real_ip_from`), the
 * header named by `real_ip_header` (or the PROXY protocol address) and `real_ip_recursive`.
 *
 * The rules, from nginx's own behaviour (ngx_http_get_forwarded_addr):
 * - nothing changes unless the TCP peer is in a trusted range;
 * - the header's addresses are read right to left, separated by commas and spaces; each address
 *   read replaces the candidate, and with `real_ip_recursive on` the walk goes on while the
 *   candidate is itself trusted: so the result is the rightmost untrusted address, or the leftmost
 *   one when every address is trusted;
 * - an entry that is not an address (`unknown`, a name) stops the walk: the candidate found so far
 *   stays (the peer when it is the first one read);
 * - `X-Forwarded-For` is read from every header line, the last line first; any other header name
 *   only from its first line;
 * - entries are parsed as nginx parses them: dotted quads with decimal leading zeros and empty
 *   octets (`1..2.3` is 1.0.2.3), but not 255.255.255.255; `IP:port` and `[IPv6]:port`; a
 *   bracketed IPv6 address without a port is not an address;
 * - a trusted range matches only addresses of its own family.
 *
 * @module
 */
import { formatIP, type IPAddress, type IPNetwork, ipv4, networkContains, tryParseIP } from '../net/index.js';

/** How nginx's ngx_inet_addr reads an IPv4 address: digits and dots, exactly three dots, octets ≤ 255. */
function nginxInetAddr(text: string): IPAddress | undefined {
  let addr = 0;
  let octet = 0;
  let dots = 0;
  if (text.length === 0) return undefined;
  for (const c of text) {
    if (c >= '0' && c <= '9') {
      octet = octet * 10 + (c.charCodeAt(0) - 48);
      if (octet > 255) return undefined;
    } else if (c === '.') {
      addr = addr * 256 + octet;
      octet = 0;
      dots++;
    } else return undefined;
  }
  if (dots !== 3) return undefined;
  addr = addr * 256 + octet;
  // INADDR_NONE doubles as the error value: nginx refuses 255.255.255.255.
  return addr === 0xffffffff ? undefined : ipv4(addr >>> 0);
}

/** ngx_parse_addr: an IPv4 address (nginx's reading) or an IPv6 address. */
function nginxParseAddr(text: string): IPAddress | undefined {
  const v4 = nginxInetAddr(text);
  if (v4) return v4;
  if (!text.includes(':')) return undefined;
  const ip = tryParseIP(text);
  return ip?.family === 6 ? ip : undefined;
}

/** ngx_parse_addr_port: an address, `IPv4:port` or `[IPv6]:port` (port 1-65535); undefined when not one. */
export function nginxParseAddrPort(text: string): IPAddress | undefined {
  const whole = nginxParseAddr(text);
  if (whole) return whole;
  let host: string;
  let port: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || close === text.length - 1 || text[close + 1] !== ':') return undefined;
    host = text.slice(1, close);
    port = text.slice(close + 2);
  } else {
    const colon = text.indexOf(':');
    if (colon < 0) return undefined;
    host = text.slice(0, colon);
    port = text.slice(colon + 1);
  }
  if (!/^[0-9]+$/.test(port) || Number(port) < 1 || Number(port) > 65535) return undefined;
  return nginxParseAddr(host);
}

/** What realip decided, and the walk that led there. */
export interface RealIpResult {
  /** `$remote_addr` after realip. */
  readonly address: string;
  /** `$realip_remote_addr`: the TCP peer (the address before realip). */
  readonly original: string;
  readonly changed: boolean;
  /** One sentence: why this address. */
  readonly why: string;
  /** Each entry looked at, rightmost first. */
  readonly walk: readonly { readonly entry: string; readonly verdict: 'trusted' | 'client' | 'invalid' }[];
}

export interface RealIpInput {
  /** The TCP peer's address. */
  readonly peer: string;
  readonly trusted: readonly IPNetwork[];
  /** The header's lines (already chosen: every X-Forwarded-For line, or the first line of another header), or the PROXY protocol source address. */
  readonly values: readonly string[];
  /** What the values are, for the sentence: `X-Forwarded-For`, `the PROXY protocol header`. */
  readonly sourceName: string;
  readonly recursive: boolean;
}

function trustedBy(ip: IPAddress, trusted: readonly IPNetwork[]): boolean {
  return trusted.some((n) => networkContains(n, ip));
}

/** Split one header line into entries as nginx walks it (commas and spaces separate). */
function entries(line: string): string[] {
  return line.split(/[ ,]+/).filter((e) => e !== '');
}

/** The last address read is the one taken. */
function markClient(walk: { entry: string; verdict: 'trusted' | 'client' | 'invalid' }[]): void {
  for (let i = walk.length - 1; i >= 0; i--) {
    if (walk[i]!.verdict === 'trusted') {
      walk[i]!.verdict = 'client';
      return;
    }
  }
}

/** Run nginx's realip over a request. */
export function nginxRealIp(input: RealIpInput): RealIpResult {
  const peerIP = tryParseIP(input.peer);
  const original = input.peer;
  const walk: { entry: string; verdict: 'trusted' | 'client' | 'invalid' }[] = [];
  const keep = (why: string): RealIpResult => ({ address: original, original, changed: false, why, walk });
  if (!peerIP) return keep(`the peer ${input.peer} is not an IP address; realip leaves it`);
  if (!trustedBy(peerIP, input.trusted)) return keep(`the TCP peer ${original} is not in set_real_ip_from; ${input.sourceName} is not read`);
  const all = input.values.flatMap(entries);
  if (all.length === 0) return keep(`the TCP peer ${original} is trusted, but ${input.sourceName} is absent: $remote_addr stays the peer`);
  let candidate: IPAddress = peerIP;
  let found = false;
  let exhausted = true;
  for (let i = all.length - 1; i >= 0; i--) {
    const entry = all[i]!;
    if (found && (!input.recursive || !trustedBy(candidate, input.trusted))) {
      exhausted = false;
      break;
    }
    const ip = nginxParseAddrPort(entry);
    if (!ip) {
      walk.push({ entry, verdict: 'invalid' });
      if (!found) return keep(`the rightmost entry of ${input.sourceName}, "${entry}", is not an address: $remote_addr stays the peer ${original}`);
      const addr = formatIP(candidate);
      markClient(walk);
      return { address: addr, original, changed: addr !== original, why: `"${entry}" in ${input.sourceName} is not an address: the walk stops at ${addr}`, walk };
    }
    candidate = ip;
    found = true;
    walk.push({ entry, verdict: 'trusted' });
  }
  markClient(walk);
  const addr = formatIP(candidate);
  let why: string;
  if (!input.recursive) why = `the TCP peer ${original} is trusted and real_ip_recursive is off: the rightmost entry of ${input.sourceName}, ${addr}`;
  else if (exhausted && trustedBy(candidate, input.trusted)) why = `every entry of ${input.sourceName} is trusted: nginx takes the leftmost, ${addr}`;
  else why = `the TCP peer ${original} is trusted; walking ${input.sourceName} from the right past trusted addresses, the first untrusted one is ${addr}`;
  return { address: addr, original, changed: addr !== original, why, walk };
}
