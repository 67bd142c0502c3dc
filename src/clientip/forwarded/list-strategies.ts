/**
 * The strategies over a list header (X-Forwarded-For or Forwarded), realclientip's design:
 * RightmostTrustedRange and RightmostTrustedCount for anything that matters, RightmostNonPrivate
 * when every proxy is on a private network, LeftmostNonPrivate only where being fooled is harmless.
 *
 * @module
 */
import { ipv4Node } from './address.js';
import { StrategyError } from './errors.js';
import type { ClientIpInput } from './headers.js';
import { type HopCursor, NodeListCursor } from './nodes.js';
import { type IPRanges, isPrivateOrLocal, type RangesInput } from './ranges.js';
import { answer, type ClientIp, type Note, note } from './result.js';
import {
  BaseStrategy,
  checkPeer,
  compileRanges,
  headerNodes,
  hopCursor,
  type ListHeader,
  listHeaderName,
  missingHeader,
  type PeerOptions,
  type UnknownPeer,
} from './strategy.js';

/** Note a node that is not a usable address (unknown, obfuscated, malformed, unspecified). */
function notAnIP(notes: Note[], strategy: string, hop: number, text: string, ends: boolean): void {
  const what = ends ? 'stops here' : 'skipped';
  note(notes, strategy, 'not-an-ip', `${strategy}: hop ${hop} ${JSON.stringify(text)} is not a usable IP address; ${what}`, hop, text);
}

/** The NonPrivate strategies: the first node, in the cursor's direction, with a public address. */
abstract class NonPrivate extends BaseStrategy {
  readonly name: string;
  protected readonly header: ListHeader;

  constructor(kind: string, header: string) {
    super();
    this.header = listHeaderName(kind, header);
    this.name = `${kind}(${this.header})`;
  }

  /** The header's nodes in the order this strategy reads them, each with its hop; undefined when absent. */
  protected abstract cursor(input: ClientIpInput): HopCursor | undefined;

  find(input: ClientIpInput, notes: Note[] | undefined): ClientIp | undefined {
    const cursor = this.cursor(input);
    if (!cursor) return missingHeader(notes, this.name, this.header);
    while (cursor.next()) {
      const hop = cursor.hop;
      const address = cursor.address();
      if (!address) {
        if (notes) notAnIP(notes, this.name, hop, cursor.text(), false);
      } else if (isPrivateOrLocal(address.ip)) {
        if (notes) note(notes, this.name, 'private-address', `${this.name}: hop ${hop} ${cursor.text()} is a private or local address; skipped`, hop, cursor.text());
      } else {
        return answer(this.name, address, 'header', this.header, hop);
      }
    }
    if (notes) note(notes, this.name, 'no-answer', `${this.name}: no public address in ${this.header}`);
    return undefined;
  }
}

/**
 * The rightmost address that is not private or local (PRIVATE_AND_LOCAL_RANGES). Right when every
 * proxy of yours has a private address and no client does; nodes that are not addresses are skipped.
 */
export class RightmostNonPrivate extends NonPrivate {
  constructor(header: string) {
    super('RightmostNonPrivate', header);
  }

  protected cursor(input: ClientIpInput): HopCursor | undefined {
    return hopCursor(input, this.header);
  }
}

/**
 * The leftmost address that is not private or local: the client's own claim. Any client can
 * write it, so it is NOT for security (rate limits, access control, audit); use it for
 * statistics or a best guess at a location only.
 */
export class LeftmostNonPrivate extends NonPrivate {
  constructor(header: string) {
    super('LeftmostNonPrivate', header);
  }

  protected cursor(input: ClientIpInput): NodeListCursor | undefined {
    const nodes = headerNodes(input, this.header);
    return nodes && new NodeListCursor(nodes, true);
  }
}

/** Options of RightmostTrustedCount. */
export interface TrustedCountOptions extends PeerOptions {
  /**
   * The addresses your nearest proxy connects from. A peer outside them is the client and the
   * header is ignored: a hop count alone lets anyone who reaches the app directly choose their
   * address (fastify's CVE-2026-16732). 'any' skips the check, only for a listener nothing but
   * the proxy can reach.
   */
  readonly trustedPeers: RangesInput | 'any';
}

/**
 * The node `count` places from the right (1 = the rightmost), the address your first trusted
 * proxy wrote, when `count` proxies of yours each append one node: Express `trust proxy: n`,
 * Traefik `depth: n` and Envoy `xff_num_trusted_hops: n` with `use_remote_address` count the same
 * way. No fallback: a node that is not an address there, or too few nodes, is no answer.
 */
export class RightmostTrustedCount extends BaseStrategy {
  readonly name: string;
  private readonly header: ListHeader;
  private readonly peers: IPRanges | undefined;
  private readonly unknownPeer: UnknownPeer;

  constructor(header: string, readonly count: number, options: TrustedCountOptions) {
    super();
    this.header = listHeaderName('RightmostTrustedCount', header);
    this.name = `RightmostTrustedCount(${this.header}, ${count})`;
    if (!Number.isInteger(count) || count < 1) {
      throw new StrategyError(`RightmostTrustedCount: the count must be a whole number of at least 1 (got ${count})`);
    }
    if (options?.trustedPeers === undefined) {
      throw new StrategyError(`RightmostTrustedCount: trustedPeers is required (the proxy's addresses, or 'any' where only the proxy can connect)`);
    }
    this.peers = options.trustedPeers === 'any' ? undefined : compileRanges(this.name, options.trustedPeers);
    this.unknownPeer = options.unknownPeer ?? 'untrusted';
  }

  find(input: ClientIpInput, notes: Note[] | undefined): ClientIp | undefined {
    if (this.peers) {
      const peer = checkPeer(this.name, input, this.peers, this.unknownPeer, notes);
      if (peer !== true) return peer === false ? undefined : peer;
    }
    const cursor = hopCursor(input, this.header);
    if (!cursor) return missingHeader(notes, this.name, this.header);
    while (cursor.next()) {
      const hop = cursor.hop;
      if (hop < this.count) {
        if (notes) note(notes, this.name, 'trusted-proxy', `${this.name}: hop ${hop} ${cursor.text()} is within the trusted count`, hop, cursor.text());
        continue;
      }
      const address = cursor.address();
      if (address) return answer(this.name, address, 'header', this.header, hop);
      if (notes) notAnIP(notes, this.name, hop, cursor.text(), true);
      return undefined;
    }
    if (notes) note(notes, this.name, 'too-few-hops', `${this.name}: ${this.header} has fewer than ${this.count} nodes`);
    return undefined;
  }
}

/**
 * The rightmost node outside the trusted ranges, after checking that the peer is inside them (a
 * peer outside is the client: a request that reached the app directly cannot choose its
 * address). Trusted nodes are skipped; a node that is not an address ends the walk with no answer,
 * since what lies left of it was written by someone untrusted.
 */
export class RightmostTrustedRange extends BaseStrategy {
  readonly name: string;
  private readonly header: ListHeader;
  private readonly ranges: IPRanges;
  private readonly unknownPeer: UnknownPeer;

  constructor(header: string, ranges: RangesInput, options: PeerOptions = {}) {
    super();
    this.header = listHeaderName('RightmostTrustedRange', header);
    this.name = `RightmostTrustedRange(${this.header})`;
    this.ranges = compileRanges(this.name, ranges ?? []);
    this.unknownPeer = options.unknownPeer ?? 'untrusted';
  }

  find(input: ClientIpInput, notes: Note[] | undefined): ClientIp | undefined {
    const peer = checkPeer(this.name, input, this.ranges, this.unknownPeer, notes);
    if (peer !== true) return peer === false ? undefined : peer;
    const cursor = hopCursor(input, this.header);
    if (!cursor) return missingHeader(notes, this.name, this.header);
    const ranges = this.ranges;
    while (cursor.next()) {
      const hop = cursor.hop;
      // Plain IPv4 nodes (the usual case) are checked as numbers: no string or object per hop.
      const v4 = cursor.v4;
      if (v4 >= 0) {
        if (!ranges.containsV4(v4)) return answer(this.name, ipv4Node(v4), 'header', this.header, hop, cursor.text());
      } else {
        const address = cursor.address();
        if (!address) {
          if (notes) notAnIP(notes, this.name, hop, cursor.text(), true);
          return undefined;
        }
        if (!ranges.contains(address.ip)) return answer(this.name, address, 'header', this.header, hop);
      }
      if (notes) note(notes, this.name, 'trusted-proxy', `${this.name}: hop ${hop} ${cursor.text()} is a trusted proxy`, hop, cursor.text());
    }
    if (notes) note(notes, this.name, 'all-trusted', `${this.name}: every node of ${this.header} is a trusted proxy; no client address`);
    return undefined;
  }
}
