/**
 * The rules kube-proxy ensures outside its restore text: jumps from the built-in chains to its
 * own (PREROUTING/OUTPUT → KUBE-SERVICES, POSTROUTING → KUBE-POSTROUTING, FORWARD → KUBE-FORWARD,
 * INPUT/OUTPUT → KUBE-FIREWALL, ...), each added with `iptables -I` (prepend) when missing, and
 * the canary chains its monitor creates. With them the restore text loads on an empty host and
 * behaves as it does on a node.
 *
 * @module
 */
import {
  KUBE_EXTERNAL_SERVICES,
  KUBE_FIREWALL,
  KUBE_FORWARD,
  KUBE_NODEPORTS,
  KUBE_POSTROUTING,
  KUBE_PROXY_FIREWALL,
  KUBE_SERVICES,
} from './service-rules.js';

export type TableName = 'filter' | 'nat' | 'mangle';

/** One ensured jump: `-I SRC [extra] -m comment --comment C -j DST` in a table. */
export interface EnsuredJump {
  table: TableName;
  chain: string;
  target: string;
  comment: string;
  extra: string[];
}

const NEW = ['-m', 'conntrack', '--ctstate', 'NEW'];

/** iptablesJumpChains then iptablesKubeletJumpChains, in the order kube-proxy ensures them. */
export const ENSURED_JUMPS: readonly EnsuredJump[] = [
  { table: 'filter', target: KUBE_EXTERNAL_SERVICES, chain: 'INPUT', comment: 'kubernetes externally-visible service portals', extra: NEW },
  { table: 'filter', target: KUBE_EXTERNAL_SERVICES, chain: 'FORWARD', comment: 'kubernetes externally-visible service portals', extra: NEW },
  { table: 'filter', target: KUBE_NODEPORTS, chain: 'INPUT', comment: 'kubernetes health check service ports', extra: [] },
  { table: 'filter', target: KUBE_SERVICES, chain: 'FORWARD', comment: 'kubernetes service portals', extra: NEW },
  { table: 'filter', target: KUBE_SERVICES, chain: 'OUTPUT', comment: 'kubernetes service portals', extra: NEW },
  { table: 'filter', target: KUBE_FORWARD, chain: 'FORWARD', comment: 'kubernetes forwarding rules', extra: [] },
  { table: 'filter', target: KUBE_PROXY_FIREWALL, chain: 'INPUT', comment: 'kubernetes load balancer firewall', extra: NEW },
  { table: 'filter', target: KUBE_PROXY_FIREWALL, chain: 'OUTPUT', comment: 'kubernetes load balancer firewall', extra: NEW },
  { table: 'filter', target: KUBE_PROXY_FIREWALL, chain: 'FORWARD', comment: 'kubernetes load balancer firewall', extra: NEW },
  { table: 'nat', target: KUBE_SERVICES, chain: 'OUTPUT', comment: 'kubernetes service portals', extra: [] },
  { table: 'nat', target: KUBE_SERVICES, chain: 'PREROUTING', comment: 'kubernetes service portals', extra: [] },
  { table: 'nat', target: KUBE_POSTROUTING, chain: 'POSTROUTING', comment: 'kubernetes postrouting rules', extra: [] },
  // Duplicates of kubelet's jumps.
  { table: 'filter', target: KUBE_FIREWALL, chain: 'INPUT', comment: '', extra: [] },
  { table: 'filter', target: KUBE_FIREWALL, chain: 'OUTPUT', comment: '', extra: [] },
];

/** The canary chain kube-proxy's monitor keeps in mangle, nat and filter to notice a flush. */
export const KUBE_PROXY_CANARY = 'KUBE-PROXY-CANARY';

/** The rule text of an ensured jump (comment quoted as iptables-save prints it). */
export function ensuredRuleText(j: EnsuredJump): string {
  const comment = j.comment === '' ? [] : ['-m', 'comment', '--comment', `"${j.comment}"`];
  return ['-A', j.chain, ...j.extra, ...comment, '-j', j.target].join(' ');
}

/** Built-in chains of each table, in iptables-save order. */
export const BUILTIN_CHAINS: Readonly<Record<TableName, readonly string[]>> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
};

/**
 * The ensured jumps of each built-in chain as they stand on a host that had none: each was
 * prepended in turn, so the last ensured comes first.
 */
export function ensuredRulesByChain(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const j of ENSURED_JUMPS) {
    const key = `${j.table} ${j.chain}`;
    out.set(key, [ensuredRuleText(j), ...(out.get(key) ?? [])]);
  }
  return out;
}
