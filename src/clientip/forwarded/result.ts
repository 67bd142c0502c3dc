/**
 * What a strategy answers: the client's address and where it came from (the peer, a PROXY
 * protocol header, or which hop of which header), or why there is none; with notes on every hop
 * or strategy that was passed over, so a log line can say why the answer is what it is.
 *
 * @module
 */
import { formatNodeAddress, type NodeAddress } from './address.js';

/** Where an answer was read. */
export type AnswerSource = 'remote-address' | 'proxy-protocol' | 'header';

/** A client address and its provenance. */
export interface ClientIp {
  /** Canonical text: RFC 5952 IPv6, IPv4-mapped unmapped, zone kept (`fe80::1%eth0`). */
  readonly ip: string;
  readonly address: NodeAddress;
  readonly source: AnswerSource;
  /** The lower-case header name when `source` is 'header'. */
  readonly header: string | undefined;
  /**
   * Position in the chain: 0 is the TCP peer (or the PROXY header's source), 1 the rightmost
   * header node (written by the nearest proxy), 2 the one left of it, …; undefined for a
   * single-address header.
   */
  readonly hop: number | undefined;
  /** The strategy that answered. */
  readonly strategy: string;
}

/** Why a hop or a strategy was passed over, or why there is no answer. */
export type NoteReason =
  | 'trusted-proxy'
  | 'private-address'
  | 'not-an-ip'
  | 'missing-header'
  | 'missing-proxy-header'
  | 'peer-untrusted'
  | 'peer-unknown'
  | 'too-few-hops'
  | 'all-trusted'
  | 'no-answer';

/** One step passed over. */
export interface Note {
  readonly strategy: string;
  readonly reason: NoteReason;
  /** The hop it is about (see ClientIp.hop), when it is about one. */
  readonly hop: number | undefined;
  /** The node's text as received, when it is about one. */
  readonly text: string | undefined;
  readonly message: string;
}

/** A strategy's full answer. */
export type ClientIpResult =
  | { readonly ok: true; readonly client: ClientIp; readonly notes: readonly Note[] }
  | { readonly ok: false; readonly reason: string; readonly notes: readonly Note[] };

/** Build an answer; `text` when the caller has the canonical text already (a plain dotted quad is its own). */
export function answer(
  strategy: string,
  address: NodeAddress,
  source: AnswerSource,
  header: string | undefined,
  hop: number | undefined,
  text?: string,
): ClientIp {
  return { ip: text ?? formatNodeAddress(address), address, source, header, hop, strategy };
}

/** Record a note. Callers check that notes are kept first, so the hot path builds no message. */
export function note(
  notes: Note[],
  strategy: string,
  reason: NoteReason,
  message: string,
  hop?: number,
  text?: string,
): void {
  notes.push({ strategy, reason, hop, text, message });
}
