/**
 * Candidate rules of a long chain for a packet, so a trace through kube-proxy's KUBE-SERVICES
 * (one rule per Service port) looks at a handful of rules instead of all of them. A rule that
 * requires one destination address (or one destination port) can only match packets with it;
 * every other rule is always a candidate. Order is kept: candidates are merged by position.
 *
 * @module
 */
import { ipKey, isHostNetwork } from '../net/index.js';
import type { PacketView } from './context.js';
import type { Chain, Rule, Ruleset } from './ir.js';

/** Chains shorter than this are scanned whole. */
const MIN_INDEXED = 16;

interface ChainIndex {
  readonly kind: 'destination' | 'port';
  readonly exact: Map<number | bigint, Rule[]>;
  readonly always: Rule[];
  readonly merged: Map<number | bigint, Rule[]>;
}

const cache = new WeakMap<Chain, ChainIndex | null>();

function destinationKey(rule: Rule): number | bigint | undefined {
  const d = rule.destination;
  return d && !d.negated && isHostNetwork(d.value) ? ipKey(d.value.network) : undefined;
}

function portKey(rule: Rule): number | undefined {
  const p = rule.protocol;
  if (!p || p.negated) return undefined;
  for (const m of rule.matches) if (m.destinationPort !== undefined) return p.value * 65536 + m.destinationPort;
  return undefined;
}

function build(chain: Chain): ChainIndex | null {
  if (chain.rules.length < MIN_INDEXED) return null;
  let best: ChainIndex | null = null;
  for (const kind of ['destination', 'port'] as const) {
    const exact = new Map<number | bigint, Rule[]>();
    const always: Rule[] = [];
    for (const rule of chain.rules) {
      const key = kind === 'destination' ? destinationKey(rule) : portKey(rule);
      if (key === undefined) always.push(rule);
      else {
        const list = exact.get(key);
        if (list) list.push(rule);
        else exact.set(key, [rule]);
      }
    }
    if (always.length * 2 > chain.rules.length) continue;
    if (!best || always.length < best.always.length) best = { kind, exact, always, merged: new Map() };
  }
  return best;
}

function merge(a: readonly Rule[], b: readonly Rule[]): Rule[] {
  const out: Rule[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]!.number < b[j]!.number)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

/** Build the index of every long chain now (otherwise each is built on first use). */
export function indexRuleset(ruleset: Ruleset): void {
  for (const table of ruleset.tables.values()) {
    // Short chains are scanned whole and need no entry (kube-proxy has tens of thousands).
    for (const chain of table.chains.values()) if (chain.rules.length >= MIN_INDEXED && !cache.has(chain)) cache.set(chain, build(chain));
  }
}

/** The rules of `chain` that could match `packet`, in chain order. */
export function candidateRules(chain: Chain, packet: PacketView): readonly Rule[] {
  if (chain.rules.length < MIN_INDEXED) return chain.rules;
  let index = cache.get(chain);
  if (index === undefined) {
    index = build(chain);
    cache.set(chain, index);
  }
  if (!index) return chain.rules;
  const key =
    index.kind === 'destination'
      ? ipKey(packet.destination)
      : packet.destinationPort === undefined
        ? undefined
        : packet.protocol * 65536 + packet.destinationPort;
  if (key === undefined) return index.always;
  let merged = index.merged.get(key);
  if (!merged) {
    merged = merge(index.exact.get(key) ?? [], index.always);
    index.merged.set(key, merged);
  }
  return merged;
}
