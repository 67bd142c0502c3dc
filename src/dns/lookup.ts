/**
 * A name looked up from a pod: its resolv.conf as kubelet writes it, the resolver of its image
 * (glibc, musl) or Node's dns.resolve* against the cluster's DNS, and the findings — the queries
 * wasted on names that do not exist, the time lost to lost replies, and the fixes, each fix
 * simulated so its number of queries is the model's, not a guess.
 *
 * @module
 */
import type { Cluster, Pod } from '../cluster/index.js';
import { caresResolve } from './cares.js';
import { ClusterDNSModel } from './coredns.js';
import { glibcLookup } from './glibc.js';
import { type KubeletDNSOptions, podResolvConf } from './kubelet.js';
import { muslLookup } from './musl.js';
import { formatResolvConf, type ResolvConf } from './resolv-conf.js';
import { dotsIn, type LookupResult, type Transport } from './types.js';

export type Resolver = 'glibc' | 'musl' | 'node-resolve';

export interface PodLookupOptions extends KubeletDNSOptions {
  resolver?: Resolver;
  family?: 'any' | 4 | 6;
  /** Query numbers (1-based, in send order) whose reply is lost. */
  lostReplies?: readonly number[];
}

export interface Finding {
  kind: 'wasted-queries' | 'fqdn' | 'ndots' | 'lost-reply' | 'single-request-reopen' | 'nodelocaldns' | 'musl-stops';
  message: string;
}

export interface PodLookup {
  pod: string;
  policy: string;
  resolver: Resolver;
  name: string;
  resolvConf: ResolvConf;
  notes: string[];
  result: LookupResult;
  findings: Finding[];
}

/** Thrown for a pod that is not in the cluster (a user error). */
export class PodNotFoundError extends Error {
  override readonly name = 'PodNotFoundError';
}

function findPod(cluster: Cluster, ref: string): Pod {
  const [ns, name] = ref.includes('/') ? ref.split('/', 2) as [string, string] : ['default', ref];
  const pod = cluster.pods.find((p) => p.metadata.namespace === ns && p.metadata.name === name);
  if (pod) return pod;
  const all = cluster.pods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
  throw new PodNotFoundError(`--pod: no pod ${ns}/${name}; the pods are ${all.length > 0 ? all.join(', ') : '(none)'}`);
}

function run(resolver: Resolver, conf: ResolvConf, name: string, transport: Transport, family: 'any' | 4 | 6): LookupResult {
  const text = formatResolvConf(conf);
  if (resolver === 'musl') return muslLookup(text, name, transport, { family });
  if (resolver === 'node-resolve') return caresResolve(text, name, family === 6 ? 'AAAA' : 'A', transport);
  return glibcLookup(text, name, transport, { family });
}

/** The transport with the replies to the given query numbers lost. */
function losing(transport: Transport, lost: readonly number[]): Transport {
  return (q) => (lost.includes(q.seq) && q.proto === 'udp' ? undefined : transport(q));
}

const withOption = (conf: ResolvConf, name: string, value?: string): ResolvConf => ({
  ...conf,
  options: [...conf.options.filter((o) => o.name !== name), value === undefined ? { name } : { name, value }],
});

const PLURALS: Record<string, string> = { query: 'queries', reply: 'replies' };
const plural = (n: number, word: string) => `${n} ${n === 1 ? word : (PLURALS[word] ?? `${word}s`)}`;

/** What went wrong or was wasted, and the fixes with their effect simulated. */
function findingsOf(lookup: Omit<PodLookup, 'findings'>, transport: Transport, family: 'any' | 4 | 6): Finding[] {
  const out: Finding[] = [];
  const { result, resolver, resolvConf, name } = lookup;
  const queries = result.queries;
  const answered = result.error === null ? queries.filter((q) => q.answer === 'NOERROR').at(-1)?.name : undefined;
  const wasted = answered === undefined ? 0 : queries.filter((q) => q.name !== answered).length;
  const cost = (r: LookupResult) => `${plural(r.queries.length, 'query')}${r.error ? `, ${r.error}` : ''}`;
  if (answered !== undefined && wasted > 0) {
    const names = [...new Set(queries.filter((q) => q.name !== answered).map((q) => q.name))];
    out.push({ kind: 'wasted-queries', message: `${wasted} of ${queries.length} queries asked for ${plural(names.length, 'name')} that ${names.length === 1 ? 'does' : 'do'} not exist (${names.join(', ')}) before ${answered}` });
    const fqdn = `${answered}.`;
    out.push({ kind: 'fqdn', message: `ask for "${fqdn}" (a trailing dot: absolute, never searched): ${cost(run(resolver, resolvConf, fqdn, transport, family))}` });
    const dots = dotsIn(name);
    if (answered === name.replace(/\.$/, '') && dots >= 1 && resolver !== 'node-resolve') {
      const two = run(resolver, withOption(resolvConf, 'ndots', '2'), name, transport, family);
      if (dots >= 2) {
        out.push({ kind: 'ndots', message: `spec.dnsConfig.options [{name: ndots, value: "2"}]: "${name}" (${dots} dots) is asked as-is first: ${cost(two)}` });
      } else {
        const one = run(resolver, withOption(resolvConf, 'ndots', '1'), name, transport, family);
        out.push({
          kind: 'ndots',
          message: `ndots: 2 (the usual advice) does not help "${name}", which has one dot: ${cost(two)}; ndots: 1 does (${cost(one)}), but then Service names with a dot (svc.namespace) are asked as-is first, one wasted A/AAAA pair each`,
        });
      }
    }
  }
  const lost = queries.filter((q) => q.answer === 'lost');
  if (lost.length > 0) {
    const shared = lost.some((l) => queries.some((q) => q !== l && q.socket === l.socket && q.name === l.name && q.type !== l.type));
    out.push({
      kind: 'lost-reply',
      message: `${plural(lost.length, 'reply')} lost (query ${lost.map((q) => q.seq).join(', ')}): the lookup took ${result.time} ms${shared ? '; A and AAAA share a socket, so they share a conntrack entry: the insert race drops one (kubernetes#56903)' : ''}`,
    });
    if (resolver === 'glibc') {
      const fixed = run(resolver, withOption(resolvConf, 'single-request-reopen'), name, transport, family);
      out.push({ kind: 'single-request-reopen', message: `spec.dnsConfig.options [{name: single-request-reopen}]: glibc sends A and AAAA from different sockets (different conntrack entries, no race): ${cost(fixed)} when nothing is lost` });
    } else if (resolver === 'musl') {
      out.push({ kind: 'single-request-reopen', message: 'musl ignores single-request and single-request-reopen (it reads only ndots, attempts and timeout): use NodeLocal DNSCache, or fewer queries (FQDNs, ndots)' });
    }
    out.push({ kind: 'nodelocaldns', message: "NodeLocal DNSCache: the pod's queries are answered on its node (169.254.20.10, NOTRACK: no conntrack entry, no race) and go upstream over TCP" });
  } else if (wasted > 0) {
    out.push({ kind: 'nodelocaldns', message: 'NodeLocal DNSCache keeps the wasted queries on the node (it caches NXDOMAIN for 5 s) but does not remove them' });
  }
  if (resolver === 'musl' && result.error !== null) {
    const g = run('glibc', resolvConf, name, transport, family);
    if (g.error === null) out.push({ kind: 'musl-stops', message: `musl stopped at ${queries.at(-1)?.name} (${queries.at(-1)?.answer}: musl searches on only after NXDOMAIN); glibc goes on and resolves it: ${cost(g)}` });
  }
  return out;
}

/** Look `name` up from pod `podRef` (`NS/NAME`) of the cluster. */
export function lookupFromPod(cluster: Cluster, podRef: string, name: string, options: PodLookupOptions = {}): PodLookup {
  const pod = findPod(cluster, podRef);
  const model = new ClusterDNSModel(cluster);
  const { conf, policy, notes } = podResolvConf(pod, model.dns, options);
  const resolver = options.resolver ?? 'glibc';
  const family = options.family ?? 'any';
  const transport = model.transport();
  const result = run(resolver, conf, name, losing(transport, options.lostReplies ?? []), family);
  if (resolver === 'musl') {
    const ignored = conf.options.filter((o) => !['ndots', 'attempts', 'timeout'].includes(o.name));
    if (ignored.length > 0) notes.push(`musl ignores options ${ignored.map((o) => o.name).join(', ')}`);
  }
  const lookup = { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, policy, resolver, name, resolvConf: conf, notes, result };
  return { ...lookup, findings: findingsOf(lookup, transport, family) };
}
