/**
 * kube-proxy's FakeIPTables, as its unit tests use it: restore text applied without flushing
 * (chains it names are replaced, `-X` deletes), rolled back when a jump names a missing chain;
 * EnsureRule prepends. Packet cases run against this cumulative state, as kube-proxy's do.
 */
import { BUILTIN_CHAINS, ENSURED_JUMPS, ensuredRuleText } from '../../src/kubeproxy/ensured.js';

const BUILTIN_TARGETS = new Set(['ACCEPT', 'DROP', 'RETURN', 'REJECT', 'DNAT', 'SNAT', 'MASQUERADE', 'MARK']);

type Tables = Map<string, Map<string, string[]>>;

export class FakeIptables {
  tables: Tables = new Map([
    ['filter', new Map(BUILTIN_CHAINS.filter.map((c) => [c, []]))],
    ['nat', new Map(BUILTIN_CHAINS.nat.map((c) => [c, []]))],
    ['mangle', new Map()],
  ]);

  /** kube-proxy's EnsureChain + EnsureRule(Prepend) for every jump, as a full sync does. */
  ensureJumps(): void {
    for (const j of ENSURED_JUMPS) {
      const table = this.tables.get(j.table)!;
      if (!table.has(j.target)) table.set(j.target, []);
      const rules = table.get(j.chain)!;
      const text = ensuredRuleText(j);
      if (!rules.includes(text)) rules.unshift(text);
    }
  }

  /** RestoreAll with NoFlushTables; returns an error text and changes nothing when a jump dangles. */
  restore(text: string): string | undefined {
    const next: Tables = new Map([...this.tables].map(([t, chains]) => [t, new Map([...chains].map(([c, r]) => [c, [...r]]))]));
    let table: Map<string, string[]> | undefined;
    for (const line of text.split('\n')) {
      if (line.startsWith('*')) table = next.get(line.slice(1));
      else if (line.startsWith(':')) table!.set(line.slice(1).split(' ')[0]!, []);
      else if (line.startsWith('-A ')) {
        const chain = line.split(' ')[1]!;
        table!.get(chain)!.push(line);
      } else if (line.startsWith('-X ')) table!.delete(line.slice(3));
    }
    for (const [name, chains] of next) {
      for (const rules of chains.values()) {
        for (const rule of rules) {
          const m = / -j (\S+)/.exec(rule);
          if (m && !BUILTIN_TARGETS.has(m[1]!) && !chains.has(m[1]!)) return `${name}: rule "${rule}" jumps to missing chain ${m[1]}`;
        }
      }
    }
    this.tables = next;
    return undefined;
  }

  /** Append a rule directly (the test's way of corrupting state). */
  append(table: string, chain: string, args: string[]): void {
    this.tables.get(table)!.get(chain)!.push(`-A ${chain} ${args.join(' ')}`);
  }

  /** The state as iptables-save prints it. */
  save(): string {
    const out: string[] = [];
    for (const [name, chains] of this.tables) {
      out.push(`*${name}`);
      const builtins = new Set(BUILTIN_CHAINS[name as 'filter' | 'nat' | 'mangle']);
      for (const chain of chains.keys()) out.push(builtins.has(chain) ? `:${chain} ACCEPT [0:0]` : `:${chain} - [0:0]`);
      for (const rules of chains.values()) out.push(...rules);
      out.push('COMMIT');
    }
    return out.join('\n') + '\n';
  }
}

/** kube-proxy's sortIPTablesRules: the canonical order its expected outputs are written in. */
export function sortIPTablesRules(text: string): string {
  const tables: { name: string; chains: string[]; rules: Map<string, string[]>; deleted: Set<string> }[] = [];
  let current: (typeof tables)[number] | undefined;
  for (const line of text.split('\n')) {
    if (line === '' || line === 'COMMIT') continue;
    if (line.startsWith('*')) tables.push((current = { name: line.slice(1), chains: [], rules: new Map(), deleted: new Set() }));
    else if (line.startsWith(':')) {
      current!.chains.push(line);
      current!.rules.set(line.slice(1).split(' ')[0]!, []);
    } else if (line.startsWith('-X ')) current!.deleted.add(line.slice(3));
    else {
      const chain = line.split(' ')[1]!;
      if (!current!.rules.has(chain)) current!.rules.set(chain, []);
      current!.rules.get(chain)!.push(line);
    }
  }
  tables.sort((a, b) => (a.name < b.name ? -1 : 1));
  const rank = (c: string) => (c === 'KUBE-NODEPORTS' ? 0 : c === 'KUBE-SERVICES' ? 1 : c.startsWith('KUBE-') ? 2 : 3);
  const nameOf = (line: string) => line.slice(1).split(' ')[0]!;
  const out: string[] = [];
  for (const t of tables) {
    out.push(`*${t.name}`);
    const chains = [...t.chains].sort((a, b) => rank(nameOf(a)) - rank(nameOf(b)) || (rank(nameOf(a)) === 2 ? (nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : 0) : 0));
    out.push(...chains);
    const order = chains.map(nameOf);
    for (const chain of order) {
      let rules = t.rules.get(chain) ?? [];
      if (chain === 'KUBE-NODEPORTS' || chain === 'KUBE-SERVICES') {
        const last = rules.filter((r) => r.includes('must be the last rule'));
        const rest = rules.filter((r) => !r.includes('must be the last rule'));
        // The service name: the comment up to the first space or colon.
        const svcName = (r: string) => /--comment "?([^ ":]*)/.exec(r)?.[1] ?? '';
        const keyed = rest.map((r, i) => ({ r, i, k: svcName(r) }));
        keyed.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.i - b.i));
        rules = [...keyed.map((x) => x.r), ...last];
      }
      out.push(...rules);
    }
    // Deleted chains are printed after every rule, in chain order (IPTablesDump.String).
    for (const chain of order) if (t.deleted.has(chain)) out.push(`-X ${chain}`);
    out.push('COMMIT');
  }
  return out.join('\n') + '\n';
}
