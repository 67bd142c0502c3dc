/**
 * A node's complete kube-proxy ruleset as one `iptables-restore` input: the restore text of a
 * full sync plus what kube-proxy adds outside it (built-in chains with their ensured jumps,
 * canary chains), so it loads on an empty host and behaves as on the node.
 *
 * @module
 */
import { BUILTIN_CHAINS, ensuredRulesByChain, KUBE_PROXY_CANARY, type TableName } from './ensured.js';
import { KUBE_FIREWALL } from './service-rules.js';

interface TableText {
  chains: string[];
  rules: string[];
}

function splitTables(restore: string): Map<string, TableText> {
  const tables = new Map<string, TableText>();
  let current: TableText | undefined;
  for (const line of restore.split('\n')) {
    if (line.startsWith('*')) tables.set(line.slice(1), (current = { chains: [], rules: [] }));
    else if (line.startsWith(':')) current?.chains.push(line);
    else if (line.startsWith('-A ')) current?.rules.push(line);
  }
  return tables;
}

/** The restore text of a full sync made loadable on an empty host. */
export function loadableRules(restore: string): string {
  const tables = splitTables(restore);
  const ensured = ensuredRulesByChain();
  const out: string[] = [];
  for (const name of ['mangle', 'filter', 'nat'] as TableName[]) {
    const t = tables.get(name) ?? { chains: [], rules: [] };
    const declared = new Set(t.chains.map((c) => c.slice(1).split(' ')[0]));
    out.push(`*${name}`);
    for (const chain of BUILTIN_CHAINS[name]) out.push(`:${chain} ACCEPT [0:0]`);
    out.push(...t.chains);
    const extra = [KUBE_PROXY_CANARY, ...(name === 'filter' ? [KUBE_FIREWALL] : [])];
    for (const chain of extra) if (!declared.has(chain)) out.push(`:${chain} - [0:0]`);
    for (const chain of BUILTIN_CHAINS[name]) out.push(...(ensured.get(`${name} ${chain}`) ?? []));
    out.push(...t.rules, 'COMMIT');
  }
  return out.join('\n') + '\n';
}
