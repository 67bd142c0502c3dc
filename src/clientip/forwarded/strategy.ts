/**
 * The strategy contract and what strategies share: checking the peer, and reading a list header
 * from the right.
 *
 * @module
 */
import { parseIPv4Range } from '../../net/index.js';
import { ipv4Node, type NodeAddress, parseNodeAddress } from './address.js';
import { StrategyError } from './errors.js';
import { type ClientIpInput, listField } from './headers.js';
import { type ForwardedNode, type HopCursor, NodeListCursor } from './nodes.js';
import { IPRanges, type RangesInput } from './ranges.js';
import { answer, type ClientIp, type ClientIpResult, type Note, note } from './result.js';
import { forwardedForNodes, readForwarded } from './rfc7239.js';
import { readXForwardedFor, XffCursor } from './xff.js';

/** A way to find the client's address in a request. */
export interface Strategy {
  /** e.g. `RightmostTrustedRange(x-forwarded-for)`. */
  readonly name: string;
  /** The client's canonical address, or undefined when the strategy has none (treat that as an error). */
  clientIP(input: ClientIpInput): string | undefined;
  /** The answer with its provenance, or why there is none, with notes on what was passed over. */
  resolve(input: ClientIpInput): ClientIpResult;
  /** The answer; with `notes`, what was passed over is recorded there. Chain composes strategies through this. */
  find(input: ClientIpInput, notes: Note[] | undefined): ClientIp | undefined;
}

/** clientIP and resolve on top of `find`. */
export abstract class BaseStrategy implements Strategy {
  abstract readonly name: string;
  abstract find(input: ClientIpInput, notes: Note[] | undefined): ClientIp | undefined;

  clientIP(input: ClientIpInput): string | undefined {
    return this.find(input, undefined)?.ip;
  }

  resolve(input: ClientIpInput): ClientIpResult {
    const notes: Note[] = [];
    const client = this.find(input, notes);
    if (client) return { ok: true, client, notes };
    const last = notes[notes.length - 1];
    return { ok: false, reason: last ? last.message : `${this.name}: no client address`, notes };
  }
}

/** How to treat a peer with no usable address (a Unix socket, a closed socket, 0.0.0.0). */
export type UnknownPeer = 'trusted' | 'untrusted';

/** Options shared by strategies that check the peer first. */
export interface PeerOptions {
  /**
   * A peer without a usable address: 'untrusted' (default) gives no answer, since a socket that
   * closed early also reports none; 'trusted' reads the headers, for a listener on a Unix socket
   * behind a local proxy (realclientip's behaviour).
   */
  readonly unknownPeer?: UnknownPeer;
}

/** The two list headers. */
export type ListHeader = 'x-forwarded-for' | 'forwarded';

/** Check a header name for a list strategy; returns it in lower case. */
export function listHeaderName(strategy: string, name: string): ListHeader {
  const lower = name.toLowerCase();
  if (lower === 'x-forwarded-for' || lower === 'forwarded') return lower;
  throw new StrategyError(
    name === ''
      ? `${strategy}: a header name is required (X-Forwarded-For or Forwarded)`
      : `${strategy}: "${name}" is not a list header; use X-Forwarded-For or Forwarded (SingleIPHeader reads one-address headers)`,
  );
}

/** Compile ranges for a strategy; a bad range is a StrategyError naming it. */
export function compileRanges(strategy: string, ranges: RangesInput): IPRanges {
  try {
    return IPRanges.from(ranges);
  } catch (e) {
    throw new StrategyError(`${strategy}: ${(e as Error).message}`, { cause: e });
  }
}

/** The peer's usable address (Node's `remoteAddress`, Go-style `ip:port` too). */
export function peerAddress(input: ClientIpInput): NodeAddress | undefined {
  const text = input.remoteAddress;
  return text === undefined ? undefined : parseNodeAddress(text);
}

/** The peer as a plain IPv4 value (Node's usual `remoteAddress`), or -1. */
function peerV4(input: ClientIpInput): number {
  const text = input.remoteAddress;
  if (text === undefined) return -1;
  const v = parseIPv4Range(text, 0, text.length);
  return v === 0 ? -1 : v;
}

/**
 * The peer check that comes before any header: a peer outside `trusted` is the client (it reached
 * us directly and its headers are its own words). Returns that answer, `true` to go on to the
 * headers, or `false` for no answer (an unknown peer that is not trusted).
 */
export function checkPeer(
  strategy: string,
  input: ClientIpInput,
  trusted: IPRanges,
  unknownPeer: UnknownPeer,
  notes: Note[] | undefined,
): ClientIp | boolean {
  const v4 = peerV4(input);
  if (v4 >= 0 && trusted.containsV4(v4)) return true;
  const peer = v4 >= 0 ? ipv4Node(v4) : peerAddress(input);
  if (!peer) {
    if (unknownPeer === 'trusted') return true;
    if (notes) {
      note(notes, strategy, 'peer-unknown', `${strategy}: the peer has no usable address (${JSON.stringify(input.remoteAddress ?? null)}); its headers are not trusted`, 0, input.remoteAddress);
    }
    return false;
  }
  if (trusted.contains(peer.ip)) return true;
  if (notes) {
    note(notes, strategy, 'peer-untrusted', `${strategy}: the peer ${input.remoteAddress} is not a trusted proxy; its headers are ignored and it is the client`, 0, input.remoteAddress);
  }
  return answer(strategy, peer, 'remote-address', undefined, 0, v4 >= 0 ? input.remoteAddress : undefined);
}

/** A cursor over a list header from the right; undefined when the field is absent. */
export function hopCursor(input: ClientIpInput, header: ListHeader): HopCursor | undefined {
  if (header === 'x-forwarded-for') {
    const value = listField(input, header, false);
    return value === undefined ? undefined : new XffCursor(value);
  }
  const value = listField(input, header, true);
  return value === undefined ? undefined : new NodeListCursor(forwardedForNodes(readForwarded(value)));
}

/** Every node of a list header, left to right; undefined when the field is absent. */
export function headerNodes(input: ClientIpInput, header: ListHeader): ForwardedNode[] | undefined {
  const value = listField(input, header, header === 'forwarded');
  if (value === undefined) return undefined;
  return header === 'x-forwarded-for' ? readXForwardedFor(value) : forwardedForNodes(readForwarded(value));
}

/** The note for an absent header. */
export function missingHeader(notes: Note[] | undefined, strategy: string, header: string): undefined {
  if (notes) note(notes, strategy, 'missing-header', `${strategy}: the request has no ${header} header`);
  return undefined;
}
