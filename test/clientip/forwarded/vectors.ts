/**
 * The realclientip vectors turned into kubepath inputs and strategies: headers become repeated
 * raw header lines (Go's http.Header order), and each strategy its kubepath counterpart in
 * realclientip's own behaviour (peer without an address read as local, count without a peer check).
 */
import * as forwarded from '../../../src/clientip/forwarded/index.js';
import type { ClientIpInput, Strategy } from '../../../src/clientip/forwarded/index.js';
import { readConformance } from '../../support/shared.js';

export interface StrategySpec {
  type: 'RemoteAddr' | 'SingleIPHeader' | 'LeftmostNonPrivate' | 'RightmostNonPrivate' | 'RightmostTrustedCount' | 'RightmostTrustedRange' | 'Chain';
  headerName?: string;
  trustedCount?: number;
  trustedRanges?: string[] | null;
  strategies?: StrategySpec[];
}

export interface StrategyCase {
  name: string;
  test: string;
  strategy: StrategySpec;
  headers: Record<string, string[]>;
  remoteAddr: string;
  constructorError: boolean;
  want: string;
}

export interface RealClientIPVectors {
  semantics: Record<string, unknown> & { privateAndLocalRanges: string[] };
  strategyCases: StrategyCase[];
  parseIPAddrCases: { name: string; input: string; wantError: boolean; want: string | null }[];
  goodIPAddrCases: { name: string; input: string; want: string | null }[];
  isPrivateOrLocalCases: { name: string; ip: string; want: boolean }[];
  addressesAndRangesCases: { name: string; input: string[] | null; wantError: boolean; want: string[] | null }[];
  forwardedListItemCases: { name: string; input: string; want: string | null }[];
  forwardedHeaderRFCDeviationCases: { name: string; headers: Record<string, string[]>; headerName: string; wantList: (string | null)[] }[];
}

export const vectors = readConformance<RealClientIPVectors>('clientip/realclientip-vectors.json');

/** realclientip's strategy in kubepath, with realclientip's behaviour where kubepath's default is stricter. */
export function strategyOf(spec: StrategySpec, compat = true): Strategy {
  const name = spec.headerName ?? '';
  switch (spec.type) {
    case 'RemoteAddr':
      return new forwarded.RemoteAddr();
    case 'SingleIPHeader':
      return new forwarded.SingleIPHeader(name);
    case 'LeftmostNonPrivate':
      return new forwarded.LeftmostNonPrivate(name);
    case 'RightmostNonPrivate':
      return new forwarded.RightmostNonPrivate(name);
    case 'RightmostTrustedCount':
      return new forwarded.RightmostTrustedCount(name, spec.trustedCount!, { trustedPeers: 'any' });
    case 'RightmostTrustedRange':
      return new forwarded.RightmostTrustedRange(name, spec.trustedRanges ?? [], compat ? { unknownPeer: 'trusted' } : {});
    case 'Chain':
      return new forwarded.Chain(...spec.strategies!.map((s) => strategyOf(s, compat)));
  }
}

/** Go's header map as the three shapes Node gives: raw lines, distinct instances, and joined. */
export function inputsOf(headers: Record<string, string[]>, remoteAddr: string): { shape: string; input: ClientIpInput }[] {
  const rawHeaders = Object.entries(headers).flatMap(([k, vs]) => vs.flatMap((v) => [k, v]));
  const distinct: Record<string, string[]> = {};
  const joined: Record<string, string> = {};
  for (const [k, vs] of Object.entries(headers)) {
    if (vs.length === 0) continue;
    distinct[k.toLowerCase()] = vs;
    joined[k.toLowerCase()] = vs.join(', ');
  }
  return [
    { shape: 'rawHeaders', input: { remoteAddress: remoteAddr, rawHeaders } },
    { shape: 'headersDistinct', input: { remoteAddress: remoteAddr, headersDistinct: distinct } },
    { shape: 'headers (joined)', input: { remoteAddress: remoteAddr, headers: joined } },
  ];
}
