/**
 * Strategies that read one address: the TCP peer, a PROXY protocol header's source, a
 * single-address header; and Chain, which tries strategies in order.
 *
 * @module
 */
import { parseNodeAddress } from './address.js';
import { StrategyError } from './errors.js';
import type { ClientIpInput } from './headers.js';
import type { IPRanges, RangesInput } from './ranges.js';
import { answer, type ClientIp, type Note, note } from './result.js';
import { readSingleAddressHeader } from './single.js';
import { BaseStrategy, checkPeer, compileRanges, hopCursor, missingHeader, type PeerOptions, peerAddress, type Strategy, type UnknownPeer } from './strategy.js';

/** The TCP peer: right when nothing is in front of the app (or a proxy that keeps the source address). */
export class RemoteAddr extends BaseStrategy {
  readonly name = 'RemoteAddr';

  find(input: ClientIpInput, notes: Note[] | undefined): ClientIp | undefined {
    const peer = peerAddress(input);
    if (peer) return answer(this.name, peer, 'remote-address', undefined, 0);
    if (notes) note(notes, this.name, 'peer-unknown', `RemoteAddr: the peer has no usable address (${JSON.stringify(input.remoteAddress ?? null)})`, 0, input.remoteAddress);
    return undefined;
  }
}

/** Options of SingleIPHeader. */
export interface SingleIPHeaderOptions extends PeerOptions {
  /**
   * Who writes the header (a CDN's ranges): the header is read only when the request came from
   * them; otherwise the address it came from is the client. Without it the header is read from
   * anyone, as realclientip does: only for an app that nothing else can reach.
   */
  readonly trustedPeers?: RangesInput;
  /**
   * Proxies of yours between that writer and the app (the ingress): when the peer is one, the
   * writer is the rightmost X-Forwarded-For node outside these ranges.
   */
  readonly innerProxies?: RangesInput;
}

/** The last instance of a header that holds one address (X-Real-IP, CF-Connecting-IP, …). */
export class SingleIPHeader extends BaseStrategy {
  readonly name: string;
  readonly header: string;
  private readonly writers: IPRanges | undefined;
  private readonly inner: IPRanges | undefined;
  private readonly unknownPeer: UnknownPeer;

  constructor(header: string, options: SingleIPHeaderOptions = {}) {
    super();
    const lower = header.toLowerCase();
    this.header = lower;
    this.name = `SingleIPHeader(${lower})`;
    if (lower === '') throw new StrategyError('SingleIPHeader: a header name is required');
    if (lower === 'x-forwarded-for' || lower === 'forwarded') {
      throw new StrategyError(`SingleIPHeader: ${header} is a list header; use a Rightmost* strategy for it`);
    }
    this.writers = options.trustedPeers === undefined ? undefined : compileRanges(this.name, options.trustedPeers);
    this.inner = options.innerProxies === undefined ? undefined : compileRanges(this.name, options.innerProxies);
    this.unknownPeer = options.unknownPeer ?? 'untrusted';
  }

  find(input: ClientIpInput, notes: Note[] | undefined): ClientIp | undefined {
    if (this.writers) {
      const sender = this.sender(input, notes);
      if (sender !== true) return sender === false ? undefined : sender;
    }
    const node = readSingleAddressHeader(input, this.header);
    if (!node) return missingHeader(notes, this.name, this.header);
    if (node.address) return answer(this.name, node.address, 'header', this.header, undefined);
    if (notes) note(notes, this.name, 'not-an-ip', `${this.name}: ${JSON.stringify(node.text)} is not one usable IP address`, undefined, node.text);
    return undefined;
  }

  /** Whether the request came from the header's writer: true, false (no answer), or the client found instead. */
  private sender(input: ClientIpInput, notes: Note[] | undefined): ClientIp | boolean {
    const writers = this.writers!;
    const peer = peerAddress(input);
    if (!peer || !this.inner?.contains(peer.ip)) return checkPeer(this.name, input, writers, this.unknownPeer, notes);
    // The peer is our own proxy: who connected to it is the rightmost node it did not write.
    const cursor = hopCursor(input, 'x-forwarded-for');
    if (!cursor) return missingHeader(notes, this.name, 'x-forwarded-for') ?? false;
    while (cursor.next()) {
      const hop = cursor.hop;
      const address = cursor.address();
      if (!address) {
        if (notes) note(notes, this.name, 'not-an-ip', `${this.name}: x-forwarded-for hop ${hop} ${JSON.stringify(cursor.text())} is not a usable IP address`, hop, cursor.text());
        return false;
      }
      if (this.inner.contains(address.ip)) {
        if (notes) note(notes, this.name, 'trusted-proxy', `${this.name}: x-forwarded-for hop ${hop} ${cursor.text()} is an inner proxy`, hop, cursor.text());
        continue;
      }
      if (writers.contains(address.ip)) return true;
      if (notes) note(notes, this.name, 'peer-untrusted', `${this.name}: the request reached the inner proxies from ${cursor.text()}, not from the header's writers; it is the client`, hop, cursor.text());
      return answer(this.name, address, 'header', 'x-forwarded-for', hop);
    }
    if (notes) note(notes, this.name, 'all-trusted', `${this.name}: every x-forwarded-for node is an inner proxy`);
    return false;
  }
}

/**
 * The source address of the PROXY protocol header (`input.proxySource`) when the peer is one of
 * the load balancers that send it; a peer outside them is the client.
 */
export class ProxyProtocolSource extends BaseStrategy {
  readonly name = 'ProxyProtocolSource';
  private readonly balancers: IPRanges;
  private readonly unknownPeer: UnknownPeer;

  constructor(loadBalancers: RangesInput, options: PeerOptions = {}) {
    super();
    this.balancers = compileRanges(this.name, loadBalancers);
    this.unknownPeer = options.unknownPeer ?? 'untrusted';
  }

  find(input: ClientIpInput, notes: Note[] | undefined): ClientIp | undefined {
    const peer = checkPeer(this.name, input, this.balancers, this.unknownPeer, notes);
    if (peer !== true) return peer === false ? undefined : peer;
    const text = input.proxySource;
    const source = text === undefined ? undefined : parseNodeAddress(text);
    if (source) return answer(this.name, source, 'proxy-protocol', undefined, 0);
    if (notes) {
      note(notes, this.name, 'missing-proxy-header', text === undefined
        ? 'ProxyProtocolSource: the load balancer sent no PROXY header source (LOCAL or UNKNOWN, or none read)'
        : `ProxyProtocolSource: the PROXY header source ${JSON.stringify(text)} is not a usable address`);
    }
    return undefined;
  }
}

/**
 * The first answer of several strategies. Beware: a fallback from a trusted source to a
 * spoofable one (RightmostTrustedRange, then X-Real-IP) lets a client pick which one answers by
 * what it sends; chain only strategies that are each right on their own.
 */
export class Chain extends BaseStrategy {
  readonly name: string;
  readonly strategies: readonly Strategy[];

  constructor(...strategies: Strategy[]) {
    super();
    this.strategies = strategies;
    this.name = `Chain(${this.strategies.map((s) => s.name).join(', ')})`;
  }

  find(input: ClientIpInput, notes: Note[] | undefined): ClientIp | undefined {
    for (let i = 0; i < this.strategies.length; i++) {
      const s = this.strategies[i]!;
      const found = s.find(input, notes);
      if (found) return found;
      if (notes && i + 1 < this.strategies.length) note(notes, this.name, 'no-answer', `${this.name}: ${s.name} gave no answer; trying the next`);
    }
    if (notes) note(notes, this.name, 'no-answer', `${this.name}: no strategy gave an answer`);
    return undefined;
  }
}
