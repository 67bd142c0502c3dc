/**
 * `kubepath rules`: the iptables rules kube-proxy (iptables mode) writes on one node of a
 * cluster given as manifests, as `iptables-restore` input that loads on an empty host.
 *
 * @module
 */
import type { Cluster } from '../cluster/index.js';
import { loadCluster } from '../cluster/index.js';
import { compileNodeRules, nodeFamilies, type NodeRules, type ProxyFamily, UnknownNodeError } from '../kubeproxy/index.js';
import { parseRuleset } from '../netfilter/index.js';
import { readClusterSources } from './cluster-input.js';
import { EXIT, UserError } from './errors.js';

export interface RulesFlags {
  readonly file?: string[];
  readonly node?: string;
  readonly family?: string;
  readonly nfacct?: boolean;
  readonly randomFully: boolean;
  readonly json?: boolean;
}

function familyFlag(text: string | undefined): ProxyFamily | undefined {
  if (text === undefined) return undefined;
  const t = text.toLowerCase();
  if (t === 'ipv4' || t === '4') return 'IPv4';
  if (t === 'ipv6' || t === '6') return 'IPv6';
  throw new UserError(`--family: "${text}" is not ipv4 or ipv6`);
}

/** The rule IR as JSON: tables, chains (policy, rules with their text, comment and target). */
function ruleIR(rules: NodeRules) {
  const ruleset = parseRuleset(rules.loadable, { file: `${rules.node}.rules`, family: rules.family === 'IPv4' ? 4 : 6 });
  return [...ruleset.tables.values()].map((t) => ({
    table: t.name,
    chains: [...t.chains.values()].map((c) => ({
      chain: c.name,
      policy: c.policy ?? null,
      rules: c.rules.map((r, i) => ({ number: i + 1, text: r.text, comment: r.comment ?? null, target: r.target?.name ?? null })),
    })),
  }));
}

/** Comment lines (iptables-restore skips them): what this is, and what was chosen or assumed. */
function header(cluster: Cluster, rules: NodeRules, others: ProxyFamily[]): string {
  const lines = [
    `kube-proxy (iptables mode, v1.33 behaviour) rules for node ${rules.node}, ${rules.family}; written by kubepath`,
    `${rules.sync.servicePorts} service ports, ${rules.sync.endpoints} endpoints; ${rules.sync.filterRules} filter and ${rules.sync.natRules} nat rules from kube-proxy's sync, plus its ensured jumps`,
    ...(others.length > 0 ? [`this node also has ${others.join(', ')} rules: --family ${others[0]!.toLowerCase()}`] : []),
    ...rules.notes.map((n) => `${n.setting}=${n.value}: ${n.why}`),
    ...rules.healthChecks.map((h) => `health check ${h.namespace}/${h.name} on :${h.port} answers ${h.localEndpoints > 0 ? 200 : 503} (${h.localEndpoints} local endpoints)`),
    ...(cluster.assumptions.length > 0 ? [`${cluster.assumptions.length} values were assumed the way the cluster would fill them; listed at the end`] : []),
  ];
  return lines.map((l) => `# ${l}\n`).join('');
}

function footer(cluster: Cluster): string {
  return cluster.assumptions.map((a) => `# assumed ${a.object} ${a.field} = ${a.value}\n`).join('');
}

export function runRules(flags: RulesFlags, stdout: NodeJS.WritableStream): number {
  if (!flags.file || flags.file.length === 0) throw new UserError('-f/--filename: give the manifests (files, directories or - for stdin)');
  if (!flags.node) throw new UserError('--node: which node to compile the rules for');
  const cluster = loadCluster(readClusterSources(flags.file));
  let families: ProxyFamily[];
  try {
    families = nodeFamilies(cluster, flags.node);
  } catch (e) {
    if (e instanceof UnknownNodeError) throw new UserError(e.message);
    throw e;
  }
  const wanted = familyFlag(flags.family);
  const family = wanted ?? families[0];
  if (!family || (wanted && !families.includes(wanted))) {
    throw new UserError(`node ${flags.node} has no ${wanted ?? ''} address${families.length > 0 ? `; it has ${families.join(', ')}` : ''}`);
  }
  const rules = compileNodeRules(cluster, flags.node, family, { nfacct: flags.nfacct === true, randomFully: flags.randomFully });
  if (flags.json) {
    const out = {
      node: rules.node,
      family: rules.family,
      config: rules.config,
      notes: rules.notes,
      assumptions: cluster.assumptions,
      warnings: cluster.warnings ?? [],
      ignored: cluster.ignored,
      healthChecks: rules.healthChecks,
      restore: rules.sync.restore,
      loadable: rules.loadable,
      tables: ruleIR(rules),
    };
    stdout.write(JSON.stringify(out, null, 2) + '\n');
    return EXIT.ok;
  }
  stdout.write(header(cluster, rules, families.filter((f) => f !== family)) + rules.loadable + footer(cluster));
  return EXIT.ok;
}
