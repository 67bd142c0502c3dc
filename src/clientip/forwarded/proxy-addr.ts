/**
 * A drop-in for jshttp/proxy-addr (Express `trust proxy`) where its answer is safe: the same trust
 * argument (addresses, CIDRs, netmasks, `loopback`/`linklocal`/`uniquelocal`, or a function), the
 * same walk from the socket leftwards through X-Forwarded-For, the same errors for a bad trust
 * list. It differs where proxy-addr's answer is not an address: a node that is not one (`unknown`,
 * `localhost`, `012.0.0.5`, which proxy-addr reads as 10.0.0.5) gives undefined instead of the
 * raw text; answers are canonical (ports stripped, IPv4-mapped unmapped). docs/clientip.md lists it.
 *
 * @module
 */
import { hostNetwork, type IPNetwork, ipv4, networkOf, tryParseIP } from '../../net/index.js';
import { formatNodeAddress, parseNodeAddress, unmapIP } from './address.js';
import { StrategyError } from './errors.js';
import type { HeaderRecord } from './headers.js';
import { IPRanges } from './ranges.js';
import { XffCursor } from './xff.js';

/** proxy-addr's trust argument: ranges and names, or a function of (address, index from the socket). */
export type ProxyAddrTrust = string | readonly string[] | ((addr: string, i: number) => boolean);

/** The parts of a request proxy-addr reads. */
export interface ProxyAddrRequest {
  readonly headers: HeaderRecord;
  readonly socket?: { readonly remoteAddress?: string | undefined } | null | undefined;
  readonly connection?: { readonly remoteAddress?: string | undefined } | null | undefined;
}

const NAMED_RANGES: Readonly<Record<string, readonly string[]>> = {
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  loopback: ['127.0.0.1/8', '::1/128'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

function allDigits(text: string): boolean {
  if (text === '') return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Prefix length of a contiguous IPv4 netmask, or undefined. */
function netmaskLength(mask: number): number | undefined {
  for (let len = 0; len <= 32; len++) if ((len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0) === mask) return len;
  return undefined;
}

/** proxy-addr's parseipNotation with net/'s strict parser; undefined for a mapped range that can match nothing. */
function parseNotation(note: string): IPNetwork | undefined {
  const pos = note.lastIndexOf('/');
  const str = pos >= 0 ? note.slice(0, pos) : note;
  const ip = tryParseIP(str);
  if (!ip) throw new StrategyError(`invalid IP address: ${str}`);
  if (pos < 0) return hostNetwork(unmapIP(ip));
  const max = ip.family === 6 ? 128 : 32;
  const rangeText = note.slice(pos + 1);
  let range: number | undefined;
  if (allDigits(rangeText)) range = parseInt(rangeText, 10);
  else if (ip.family === 4) {
    const mask = tryParseIP(rangeText);
    range = mask?.family === 4 ? netmaskLength(mask.value) : undefined;
  }
  // proxy-addr refuses /0 too: trusting every address is never what is meant.
  if (range === undefined || range <= 0 || range > max) throw new StrategyError(`invalid range on address: ${note}`);
  const mapped = ip.family === 6 && ip.value >> 32n === 0xffffn;
  if (!mapped) return networkOf(ip, range);
  // An IPv4-mapped subnet covers IPv4 only when its prefix reaches past the ::ffff: marker.
  return range >= 96 ? networkOf(ipv4(Number(ip.value & 0xffffffffn)), range - 96) : undefined;
}

/** Compile a trust list as proxy-addr's `compile` does; throws StrategyError with its messages. */
export function compileProxyAddrTrust(trust: string | readonly string[]): (addr: string, i: number) => boolean {
  if (!trust) throw new StrategyError('argument is required');
  if (typeof trust !== 'string' && !Array.isArray(trust)) throw new StrategyError('unsupported trust argument');
  const notes = (typeof trust === 'string' ? [trust] : (trust as readonly string[])).flatMap((t) => NAMED_RANGES[t] ?? [t]);
  const networks: IPNetwork[] = [];
  for (const n of notes) {
    const net = parseNotation(n);
    if (net) networks.push(net);
  }
  const ranges = new IPRanges(networks);
  return (addr) => {
    const a = parseNodeAddress(addr, { allowUnspecified: true });
    return a !== undefined && a.port === undefined && ranges.contains(a.ip);
  };
}

/** A trust argument as a function of canonical text and index. */
function trustFunction(trust: ProxyAddrTrust): (addr: string, i: number) => boolean {
  return typeof trust === 'function' ? trust : compileProxyAddrTrust(trust);
}

const NOT_AN_ADDRESS = 'not-an-address';

/**
 * The socket address, then X-Forwarded-For from the right with empty items skipped (as the
 * `forwarded` package splits it): each call gives the next address's canonical text, undefined at
 * the end, or NOT_AN_ADDRESS for a node that is not one.
 */
function addressWalk(req: ProxyAddrRequest): () => string | undefined {
  const sock = req.socket ?? req.connection;
  const text = sock?.remoteAddress;
  const peer = text === undefined ? undefined : parseNodeAddress(text, { allowUnspecified: true });
  const xff = req.headers['x-forwarded-for'];
  const cursor = xff === undefined ? undefined : new XffCursor(xff);
  let first = true;
  return () => {
    if (first) {
      first = false;
      return peer ? formatNodeAddress(peer) : NOT_AN_ADDRESS;
    }
    while (cursor?.next()) {
      if (cursor.text() === '') continue;
      const a = cursor.address();
      return a ? formatNodeAddress(a) : NOT_AN_ADDRESS;
    }
    return undefined;
  };
}

/**
 * Walk as proxy-addr does: the socket address, then leftwards while the current one is trusted;
 * the last address is never asked about. Returns the addresses visited, ending with the answer,
 * or with NOT_AN_ADDRESS where the walk met a node that is not an address.
 */
function walk(req: ProxyAddrRequest, trust: ((addr: string, i: number) => boolean) | undefined): string[] {
  const next = addressWalk(req);
  const out: string[] = [];
  let current = next()!;
  for (let i = 0; ; i++) {
    out.push(current);
    if (current === NOT_AN_ADDRESS) return out;
    const following = next();
    if (following === undefined) return out;
    if (trust && !trust(current, i)) return out;
    current = following;
  }
}

/**
 * The addresses from the socket leftwards through X-Forwarded-For: all of them, or with `trust`
 * up to the first untrusted one, as canonical text. The list ends before a node that is not an address.
 */
export function proxyAddrAll(req: ProxyAddrRequest, trust?: ProxyAddrTrust): string[] {
  if (!req) throw new StrategyError('argument req is required');
  const addrs = walk(req, trust === undefined ? undefined : trustFunction(trust));
  if (addrs[addrs.length - 1] === NOT_AN_ADDRESS) addrs.pop();
  return addrs;
}

/**
 * proxy-addr's answer when it is an address: the first address from the socket leftwards that
 * `trust` does not trust (the leftmost if all are). Undefined where proxy-addr would answer with
 * something that is not an address (a node like `unknown`, a socket without an address).
 */
export function proxyAddrCompatible(req: ProxyAddrRequest, trust: ProxyAddrTrust): string | undefined {
  if (!req) throw new StrategyError('req argument is required');
  if (!trust) throw new StrategyError('trust argument is required');
  const addrs = walk(req, trustFunction(trust));
  const last = addrs[addrs.length - 1]!;
  return last === NOT_AN_ADDRESS ? undefined : last;
}
