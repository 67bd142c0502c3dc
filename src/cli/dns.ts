/**
 * `kubepath dns`: the queries a pod's resolver sends for a name, against the cluster's DNS as
 * manifests and the Environment describe it; the result, the time, and what to fix.
 *
 * @module
 */
import { type Command, Option } from 'commander';
import { loadCluster } from '../cluster/index.js';
import { formatResolvConf, lookupFromPod, type PodLookup, PodNotFoundError, type Resolver } from '../dns/index.js';
import { styleFor, table, type Style } from '../report/style.js';
import { readClusterSources } from './cluster-input.js';
import { EXIT, UserError } from './errors.js';

export interface DnsFlags {
  readonly filename?: string[];
  readonly pod?: string;
  readonly libc?: string;
  readonly family?: string;
  readonly lostReply?: string[];
  readonly json?: boolean;
}

const RESOLVERS: Record<string, Resolver> = { glibc: 'glibc', musl: 'musl', 'node-resolve': 'node-resolve' };

function familyFlag(text: string | undefined): 'any' | 4 | 6 {
  if (text === undefined || text === 'any') return 'any';
  if (text === '4') return 4;
  if (text === '6') return 6;
  throw new UserError(`--family: "${text}" is not any, 4 or 6`);
}

function lostFlag(values: readonly string[] | undefined): number[] {
  return (values ?? []).flatMap((v) =>
    v.split(',').map((n) => {
      if (!/^[1-9][0-9]*$/.test(n.trim())) throw new UserError(`--lost-reply: "${n}" is not a query number (1 is the first query sent)`);
      return Number(n.trim());
    }),
  );
}

/** The JSON form (docs/dns.md). */
export function dnsJson(l: PodLookup) {
  return {
    pod: l.pod,
    dnsPolicy: l.policy,
    resolver: l.resolver,
    name: l.name,
    resolvConf: formatResolvConf(l.resolvConf),
    notes: l.notes,
    queries: l.result.queries.map((q) => ({
      seq: q.seq,
      name: q.name,
      type: q.type,
      socket: q.socket,
      server: q.server,
      proto: q.proto,
      time: q.time,
      answer: q.answer,
      records: q.records.map((r) => `${r.type} ${r.data}`),
    })),
    result: { addresses: l.result.addresses, error: l.result.error },
    count: l.result.queries.length,
    time: l.result.time,
    findings: l.findings,
  };
}

function answerText(q: PodLookup['result']['queries'][number], style: Style): string {
  const data = q.records.map((r) => (r.type === 'CNAME' ? `CNAME ${r.data}` : r.data)).join(' ');
  const word = q.answer === 'NOERROR' ? style.green(q.answer) : q.answer === 'lost' || q.answer === 'SERVFAIL' || q.answer === 'REFUSED' ? style.red(q.answer) : style.yellow(q.answer);
  return data ? `${word} ${data}` : word;
}

export function renderDns(l: PodLookup, style: Style): string {
  const out: string[] = [];
  out.push(`${style.bold(l.name)} from pod ${l.pod} (dnsPolicy ${l.policy}, ${l.resolver})`);
  out.push(...formatResolvConf(l.resolvConf).trimEnd().split('\n').map((line) => `  ${style.dim(line)}`));
  for (const n of l.notes) out.push(`  ${style.dim(`note: ${n}`)}`);
  out.push('');
  const rows = [['#', 'NAME', 'TYPE', 'SOCKET', 'SERVER', 'TIME', 'ANSWER']];
  for (const q of l.result.queries) rows.push([String(q.seq), q.name, q.type, q.proto === 'tcp' ? `${q.socket}/tcp` : q.socket, q.server, `${q.time} ms`, answerText(q, style)]);
  if (l.result.queries.length > 0) out.push(table(rows, style));
  out.push('');
  const r = l.result;
  const what = r.error === null ? style.green(r.addresses.join(', ')) : style.red(r.error);
  out.push(`result: ${what} after ${r.queries.length} ${r.queries.length === 1 ? 'query' : 'queries'}, ${r.time} ms`);
  if (l.findings.length > 0) {
    out.push('', style.bold('findings:'));
    for (const f of l.findings) out.push(`  - ${f.message}`);
  }
  return out.join('\n') + '\n';
}

export function runDns(name: string | undefined, flags: DnsFlags, stdout: NodeJS.WritableStream & { isTTY?: boolean }): number {
  if (!flags.filename || flags.filename.length === 0) throw new UserError('-f/--filename: give the manifests (files, directories or - for stdin)');
  if (!flags.pod) throw new UserError('--pod: the pod whose resolver asks, as NAMESPACE/NAME');
  if (!name) throw new UserError('give the NAME to look up, e.g. kubepath dns -f DIR --pod default/client my-svc');
  const resolver = RESOLVERS[flags.libc ?? 'glibc'];
  if (!resolver) throw new UserError(`--libc: "${flags.libc}" is not glibc, musl or node-resolve`);
  const options = { resolver, family: familyFlag(flags.family), lostReplies: lostFlag(flags.lostReply) };
  const cluster = loadCluster(readClusterSources(flags.filename));
  let lookup: PodLookup;
  try {
    lookup = lookupFromPod(cluster, flags.pod, name, options);
  } catch (e) {
    if (e instanceof PodNotFoundError) throw new UserError(e.message);
    throw e;
  }
  stdout.write(flags.json ? JSON.stringify(dnsJson(lookup), null, 2) + '\n' : renderDns(lookup, styleFor(stdout)));
  return EXIT.ok;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `kubepath dns` in the command tree. */
export function registerDns(program: Command, io: { stdout: NodeJS.WritableStream & { isTTY?: boolean } }, setExit: (code: number) => void): void {
  program
    .command('dns')
    .description("The queries a pod's resolver sends for a name: the pod's resolv.conf as kubelet writes it, every query with its socket, server, answer and time, the result, and what to fix")
    .argument('[name]', 'the name the application looks up')
    .addOption(new Option('-f, --filename <path>', 'manifests: a YAML or JSON file, a directory (recursive) or - for stdin; repeat').argParser(collect))
    .option('--pod <ns/name>', 'the pod that looks the name up')
    .addOption(new Option('--libc <libc>', "the resolver: the image's libc (getaddrinfo), or Node's dns.resolve4/6 (c-ares, no search list)").default('glibc').choices(['glibc', 'musl', 'node-resolve']))
    .addOption(new Option('--family <family>', 'any: A and AAAA (AF_UNSPEC); 4: A only; 6: AAAA only').default('any').choices(['any', '4', '6']))
    .option('--lost-reply <n>', 'the reply to query N (1 = the first sent) is lost, as in the conntrack race; repeat or N,M', collect)
    .option('--json', 'print the queries and result as JSON (docs/dns.md)')
    .addHelpText(
      'after',
      `
Exit codes: 0 modelled (whether or not the name resolves), 1 bad input.

Examples:
  kubepath dns -f examples/dns/seed-003 --pod default/client baidu.com
  kubepath dns -f examples/dns/seed-003 --pod default/client baidu.com --lost-reply 2 --libc musl`,
    )
    .action((name: string | undefined, flags: DnsFlags) => {
      setExit(runDns(name, flags, io.stdout));
    });
}
