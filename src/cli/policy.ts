/**
 * `kubepath policy`: NetworkPolicy verdicts from manifests. `policy --from --to` judges one
 * connection (egress at the source pod, ingress at the destination pod, each selecting policy and
 * each rule considered); `policy matrix` gives every ordered pair of pods or workloads and the
 * ranges outside the cluster; `policy lint` lists policies that do not do what they seem to.
 *
 * @module
 */
import { Command, Option } from 'commander';
import type { Cluster } from '../cluster/index.js';
import { loadCluster } from '../cluster/index.js';
import { formatEndpoint, formatIP, type IPAddress, IPPROTO, tryParseIP } from '../net/index.js';
import {
  allowedConnections,
  compilePolicies,
  type DirectionVerdict,
  evaluatePacket,
  type Granularity,
  lintPolicies,
  type MatrixPair,
  type PodEntry,
  policyMatrix,
  type PolicyIndex,
  workloadName,
} from '../policy/index.js';
import { plain, type Style, styleFor, table } from '../report/style.js';
import { readClusterSources } from './cluster-input.js';
import { EXIT, UserError } from './errors.js';

type Out = NodeJS.WritableStream & { isTTY?: boolean };

/** The JSON documents' version (docs/networkpolicy.md). */
export const POLICY_JSON_SCHEMA = 'kubepath.dev/policy/v1';

interface CommonFlags {
  readonly filename?: string[];
  readonly json?: boolean;
}

export interface PolicyFlags extends CommonFlags {
  readonly from?: string;
  readonly to?: string;
  readonly proto: string;
}

export interface MatrixFlags extends CommonFlags {
  readonly port?: string;
  readonly granularity: string;
  readonly format: string;
}

function load(flags: CommonFlags): Cluster {
  if (!flags.filename || flags.filename.length === 0) throw new UserError('-f/--filename: give the manifests (files, directories or - for stdin)');
  return loadCluster(readClusterSources(flags.filename));
}

/** One end of the connection as the user named it. */
interface End {
  readonly text: string;
  readonly pod?: PodEntry;
  readonly address: IPAddress;
}

const WORKLOAD_KINDS: Record<string, string> = { deployment: 'Deployment', deploy: 'Deployment', statefulset: 'StatefulSet', sts: 'StatefulSet', daemonset: 'DaemonSet', ds: 'DaemonSet', replicaset: 'ReplicaSet', rs: 'ReplicaSet', job: 'Job' };

/** `NS/NAME` (a pod, else a workload), `pod/NS/NAME`, `KIND/NS/NAME`, `NS/NAME[Kind]` (np-guard's names), or an IP. */
function resolveEnd(cluster: Cluster, index: PolicyIndex, text: string, flag: string): End {
  const ip = tryParseIP(text);
  if (ip) return { text, address: ip, pod: index.podByAddress(ip) };
  const bracket = /^([^/]+)\/([^/[]+)\[([A-Za-z]+)\]$/.exec(text);
  const parts = text.split('/');
  let found: PodEntry | undefined;
  if (bracket) {
    found = index.pods.find((p) => workloadName(cluster, p) === text || (bracket[3] === 'Pod' && p.ref === `${bracket[1]}/${bracket[2]}`));
  } else if (parts.length === 3 && parts[0]!.toLowerCase() === 'pod') {
    found = index.pod(`${parts[1]}/${parts[2]}`);
  } else if (parts.length === 3 && WORKLOAD_KINDS[parts[0]!.toLowerCase()]) {
    const name = `${parts[1]}/${parts[2]}[${WORKLOAD_KINDS[parts[0]!.toLowerCase()]}]`;
    found = index.pods.find((p) => workloadName(cluster, p) === name);
  } else if (parts.length === 2) {
    found = index.pod(text) ?? index.pods.find((p) => p.namespace === parts[0] && workloadName(cluster, p).startsWith(`${text}[`));
  } else {
    throw new UserError(`${flag} ${JSON.stringify(text)}: expected NS/NAME (a pod or workload), pod/NS/NAME, deployment/NS/NAME, NS/NAME[Kind] or an IP address`);
  }
  if (!found) {
    const known = index.pods.slice(0, 8).map((p) => p.ref).join(', ');
    throw new UserError(`${flag} ${JSON.stringify(text)}: no such pod or workload; pods: ${known}${index.pods.length > 8 ? `, … (${index.pods.length})` : ''}`);
  }
  const address = found.addresses[0];
  if (!address) throw new UserError(`${flag} ${JSON.stringify(text)}: pod ${found.ref} has no IP address`);
  return { text, pod: found, address };
}

/** `DST[:PORT]`: the port after the last colon (IPv6 in brackets). */
function splitPort(text: string): { target: string; port?: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (v6) return { target: v6[1]!, ...(v6[2] ? { port: portNumber(v6[2], text) } : {}) };
  if (tryParseIP(text)) return { target: text };
  const colon = text.lastIndexOf(':');
  if (colon < 0) return { target: text };
  return { target: text.slice(0, colon), port: portNumber(text.slice(colon + 1), text) };
}

function portNumber(text: string, whole: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw new UserError(`--to ${JSON.stringify(whole)}: the port must be a number from 1 to 65535`);
  return n;
}

function directionRows(v: DirectionVerdict, style: Style): string {
  const head = `${v.direction} at ${v.pod ?? '-'}: ${verdictWord(v.verdict, style)}, ${v.reason}`;
  if (v.policies.length === 0) return head + '\n';
  const rows: string[][] = [['POLICY', 'TYPES', 'RULE', 'PEERS', 'PORTS', 'ALLOWS']];
  for (const p of v.policies) {
    const types = `${p.policyTypes.join(',')}${p.implied ? ' (implied)' : ''}`;
    if (p.rules.length === 0) rows.push([p.policy, types, '(none)', '-', '-', 'no: the policy has no rules for this direction']);
    for (const r of p.rules) {
      const peers = r.peers === 'all' ? 'all' : r.peers.map((x) => `${x.text}${x.matched ? ' ✓' : ''}`).join('; ');
      const ports = r.ports + (r.unresolved.length > 0 ? ` (not on the pod: ${r.unresolved.join(', ')})` : '');
      const why = r.allows ? style.green('yes') : !r.peerMatched ? 'no: peer' : 'no: port';
      rows.push([p.policy, types, `${v.direction}[${r.rule}]`, peers, ports, why]);
    }
  }
  return `${head}\n${indent(table(rows, style))}\n`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

function verdictWord(v: DirectionVerdict['verdict'], style: Style): string {
  return v === 'allow' ? style.green('allow') : v === 'deny' ? style.red('deny') : style.yellow('skip');
}

/** `kubepath policy --from SRC --to DST[:PORT]`. */
export function runPolicy(flags: PolicyFlags, stdout: Out): number {
  if (!flags.from) throw new UserError('--from: the source (NS/NAME of a pod or workload, pod/NS/NAME, deployment/NS/NAME, or an IP)');
  if (!flags.to) throw new UserError('--to: the destination and port (NS/NAME:PORT, pod/NS/NAME:PORT, IP:PORT)');
  const cluster = load(flags);
  const index = compilePolicies(cluster);
  const from = resolveEnd(cluster, index, flags.from, '--from');
  const { target, port } = splitPort(flags.to);
  const to = resolveEnd(cluster, index, target, '--to');
  const protocol = IPPROTO[flags.proto as 'tcp' | 'udp' | 'sctp'];
  const packet = { source: from.address, destination: to.address, protocol, destinationPort: port };
  const verdict = evaluatePacket(index, packet, { sourcePod: from.pod?.ref, destinationPod: to.pod?.ref });
  const connections = allowedConnections(index, from, to).toString();
  const doc = {
    schema: POLICY_JSON_SCHEMA,
    from: { name: from.text, pod: from.pod?.ref ?? null, address: formatIP(from.address) },
    to: { name: target, pod: to.pod?.ref ?? null, address: formatIP(to.address), port: port ?? null },
    protocol: flags.proto.toUpperCase(),
    allowed: verdict.allowed,
    connections,
    egress: verdict.egress,
    ingress: verdict.ingress,
  };
  if (flags.json) {
    stdout.write(JSON.stringify(doc, null, 2) + '\n');
    return EXIT.ok;
  }
  const style = styleFor(stdout);
  const what = `${flags.proto.toUpperCase()} ${from.pod?.ref ?? formatIP(from.address)} → ${to.pod?.ref ?? formatIP(to.address)}${port ? `:${port}` : ''}`;
  const head = verdict.allowed ? style.green('ALLOWED') : style.red('DENIED');
  stdout.write(`${style.bold(head)}  ${what}  (${formatIP(from.address)} → ${formatEndpoint(to.address, port)})\n`);
  stdout.write(`all connections allowed between them: ${connections}\n\n`);
  stdout.write(directionRows(verdict.egress, style));
  stdout.write(directionRows(verdict.ingress, style));
  return EXIT.ok;
}

function granularityFlag(text: string): Granularity {
  if (text === 'pod' || text === 'workload') return text;
  throw new UserError(`--granularity: "${text}" is not pod or workload`);
}

function csvCell(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The rows a text matrix shows: the pairs with some connection, then the external ranges. */
function shown(pairs: readonly MatrixPair[]): MatrixPair[] {
  return pairs.filter((p) => p.conn !== 'No Connections');
}

/** `kubepath policy matrix`. */
export function runMatrix(flags: MatrixFlags, stdout: Out): number {
  const format = flags.json ? 'json' : flags.format;
  if (!['txt', 'md', 'csv', 'json'].includes(format)) throw new UserError(`--format: "${format}" is not txt, md, csv or json`);
  const granularity = granularityFlag(flags.granularity);
  const port = flags.port === undefined ? undefined : portNumber(flags.port, flags.port);
  const cluster = load(flags);
  const matrix = policyMatrix(cluster, compilePolicies(cluster), { granularity, ...(port ? { port } : {}) });
  if (format === 'json') {
    stdout.write(JSON.stringify({ schema: POLICY_JSON_SCHEMA, granularity, port: port ?? null, peers: matrix.peers, pairs: matrix.pairs, external: matrix.external }, null, 2) + '\n');
    return EXIT.ok;
  }
  const rows = [...shown(matrix.pairs), ...shown(matrix.external)];
  if (format === 'csv') {
    stdout.write(['src,dst,conn', ...rows.map((r) => [r.src, r.dst, r.conn].map(csvCell).join(','))].join('\n') + '\n');
  } else if (format === 'md') {
    stdout.write(['| src | dst | conn |', '|-----|-----|------|', ...rows.map((r) => `| ${r.src} | ${r.dst} | ${r.conn} |`)].join('\n') + '\n');
  } else {
    const style = styleFor(stdout);
    const denied = matrix.pairs.length - shown(matrix.pairs).length;
    stdout.write(table([['SRC', 'DST', 'CONNECTIONS'], ...rows.map((r) => [r.src, r.dst, r.conn])], style) + '\n');
    stdout.write(`\n${matrix.peers.length} ${granularity === 'pod' ? 'pods' : 'workloads'}, ${matrix.pairs.length} ordered pairs: ${matrix.pairs.length - denied} with connections, ${denied} with none (not listed)\n`);
  }
  return EXIT.ok;
}

/** `kubepath policy lint`. */
export function runLint(flags: CommonFlags, stdout: Out): number {
  const cluster = load(flags);
  const findings = lintPolicies(cluster);
  if (flags.json) {
    stdout.write(JSON.stringify({ schema: POLICY_JSON_SCHEMA, policies: (cluster.networkPolicies ?? []).length, findings }, null, 2) + '\n');
    return EXIT.ok;
  }
  const style = findings.length > 0 ? styleFor(stdout) : plain;
  if (findings.length === 0) stdout.write(`${(cluster.networkPolicies ?? []).length} NetworkPolicies: no findings\n`);
  else stdout.write(table([['POLICY', 'FIELD', 'FINDING', 'WHY'], ...findings.map((f) => [f.policy, f.field || '-', style.yellow(f.kind), f.message])], style) + '\n');
  return EXIT.ok;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];
const manifests = () => new Option('-f, --filename <path>', 'manifests: a YAML or JSON file, a directory (recursive) or - for stdin; repeat').argParser(collect);

/** Add `policy`, `policy matrix` and `policy lint` to the program. */
export function registerPolicyCommands(program: Command, stdout: Out, setExit: (code: number) => void): void {
  const policy = program.command('policy').description('NetworkPolicy verdicts, matrices and findings from manifests (networking.k8s.io/v1)');
  // The default subcommand: `kubepath policy -f … --from … --to …` is `kubepath policy check …`.
  policy
    .command('check', { isDefault: true })
    .description('Is a connection allowed, and why: egress at the source pod, ingress at the destination pod, every selecting policy and rule')
    .addOption(manifests())
    .option('--from <src>', 'the source: NS/NAME (a pod or workload), pod/NS/NAME, deployment/NS/NAME, NS/NAME[Kind], or an IP')
    .option('--to <dst[:port]>', 'the destination and port: NS/NAME:PORT, pod/NS/NAME:PORT, IP:PORT ([IPv6]:PORT)')
    .addOption(new Option('--proto <proto>', 'transport').default('tcp').choices(['tcp', 'udp', 'sctp']))
    .option('--json', 'print the verdict as JSON (docs/networkpolicy.md)')
    .addHelpText('after', `\nExit codes: 0 judged (allowed or not), 1 bad input.\n\nExample:\n  kubepath policy -f examples/policy/seed-003 --from prod/pod1 --to dev/pod1:80`)
    .action((flags: PolicyFlags) => setExit(runPolicy(flags, stdout)));

  policy
    .command('matrix')
    .description('Every ordered pair of pods (or workloads) with the connections NetworkPolicy allows, and the ranges outside the cluster cut from ipBlocks')
    .addOption(manifests())
    .option('--port <n>', 'only this port (TCP, UDP and SCTP)')
    .addOption(new Option('--granularity <g>', 'pod, or workload (NS/NAME[Kind], as np-guard names them)').default('pod').choices(['pod', 'workload']))
    .addOption(new Option('--format <f>', 'output format').default('txt').choices(['txt', 'md', 'csv', 'json']))
    .option('--json', 'the same as --format json: { "pairs": [{ "src", "dst", "conn" }] } with every ordered pair')
    .action((flags: MatrixFlags) => setExit(runMatrix(flags, stdout)));

  policy
    .command('lint')
    .description('Policies that select nothing, rules that can never match, named ports no pod has, egress policies that block DNS')
    .addOption(manifests())
    .option('--json', 'print the findings as JSON')
    .action((flags: CommonFlags) => setExit(runLint(flags, stdout)));
}
