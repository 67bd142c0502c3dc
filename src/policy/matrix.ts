/**
 * Reachability matrices: every ordered pair of pods (or of workloads, a workload standing for its
 * pods) with the connections NetworkPolicy allows between them, plus the address ranges outside
 * the cluster that the ipBlocks cut the address space into. Peers are named as np-guard's
 * netpol-analyzer names them (`NS/NAME[Kind]`, `a.b.c.d-e.f.g.h[External]`), and connections
 * printed as it prints them, so its outputs compare line for line.
 *
 * @module
 */
import { formatIP, ipv4, ipv6, type IPAddress, type IPFamily, type IPNetwork } from '../net/index.js';
import type { Cluster } from '../cluster/index.js';
import { matchesSelector } from '../cluster/index.js';
import type { CompiledRule, Direction, PodEntry, PolicyIndex } from './compile.js';
import { Connections, PORT_PROTOCOLS } from './connections.js';
import { allowedConnections, type Peer, peerMatches } from './evaluate.js';

export type Granularity = 'pod' | 'workload';

/** One ordered pair and what it allows, in np-guard's words. */
export interface MatrixPair {
  readonly src: string;
  readonly dst: string;
  readonly conn: string;
}

export interface Matrix {
  readonly granularity: Granularity;
  /** The pods or workloads, sorted by name (hostNetwork pods left out unless policed: policies do not apply to them). */
  readonly peers: readonly string[];
  /** Every ordered pair of distinct peers. */
  readonly pairs: readonly MatrixPair[];
  /** For each peer: the ranges outside the cluster that ingress ipBlocks cut (as sources), then those egress ipBlocks cut (as destinations). */
  readonly external: readonly MatrixPair[];
}

export interface MatrixOptions {
  readonly granularity?: Granularity;
  /** Only this port (of every protocol). */
  readonly port?: number;
}

/** Owners that are workloads (a static pod's owner is its Node: the pod stands for itself). */
const WORKLOAD_KINDS = new Set(['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'ReplicationController']);

/**
 * The name np-guard gives a pod's workload: its controller owner (`NS/NAME[Kind]`, the
 * Deployment for the pods of a given Deployment's ReplicaSet), else the pod itself (`NS/NAME[Pod]`).
 */
export function workloadName(cluster: Cluster, pod: PodEntry): string {
  const owner = pod.pod.metadata.ownerReferences?.find((o) => o.controller && WORKLOAD_KINDS.has(o.kind));
  if (!owner) return `${pod.namespace}/${pod.pod.metadata.name}[Pod]`;
  if (owner.kind === 'ReplicaSet') {
    const deployment = (cluster.workloads ?? []).find(
      (w) => w.kind === 'Deployment' && w.metadata.namespace === pod.namespace && owner.name.startsWith(`${w.metadata.name}-`) && matchesSelector(w.spec.selector, pod.labels),
    );
    if (deployment) return `${pod.namespace}/${deployment.metadata.name}[Deployment]`;
  }
  return `${pod.namespace}/${owner.name}[${owner.kind}]`;
}

/** The pods of each peer name, in name order. */
function groups(cluster: Cluster, index: PolicyIndex, granularity: Granularity): Map<string, PodEntry[]> {
  const out = new Map<string, PodEntry[]>();
  for (const pod of index.pods) {
    if (!pod.policed) continue;
    const name = granularity === 'pod' ? `${pod.ref}[Pod]` : workloadName(cluster, pod);
    const list = out.get(name);
    if (list) list.push(pod);
    else out.set(name, [pod]);
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const peers = new WeakMap<PodEntry, Peer>();
/** A pod as a peer (its first address), made once per pod. */
const podPeer = (pod: PodEntry): Peer => {
  let p = peers.get(pod);
  if (!p) peers.set(pod, (p = { pod, address: pod.addresses[0] }));
  return p;
};

/** The pods (by index) a rule's peers select: every policed pod when it has none. */
function ruleMembers(index: PolicyIndex, rule: CompiledRule, memo: Map<CompiledRule, number[]>): number[] {
  let out = memo.get(rule);
  if (out) return out;
  const policed = index.pods.filter((p) => p.policed);
  out = (rule.peers ? policed.filter((pod) => rule.peers!.some((peer) => peerMatches(index, peer, podPeer(pod)))) : policed).map((p) => p.index);
  memo.set(rule, out);
  return out;
}

/**
 * Pod-to-pod connections for a whole matrix, a row per pod and direction at once: for each rule
 * at a pod, the pods its peers select get its ports. Undefined rows are pods not isolated.
 */
class PodConnections {
  readonly #index: PolicyIndex;
  readonly #members = new Map<CompiledRule, number[]>();
  readonly #ingress: (Connections[] | null | undefined)[] = [];

  constructor(index: PolicyIndex) {
    this.#index = index;
  }

  /** Row of `direction` at `at`: per peer pod index, what the rules allow (null: not isolated). */
  row(at: PodEntry, direction: Direction): Connections[] | null {
    const index = this.#index;
    if (index.selecting(at, direction).length === 0) return null;
    const acc = new Array<Connections>(index.pods.length).fill(Connections.NONE);
    for (const rule of index.rulesAt(at, direction)) {
      const fixed = direction === 'ingress' ? index.ruleConnections(rule, at) : rule.fixed;
      for (const m of ruleMembers(index, rule, this.#members)) acc[m] = acc[m]!.union(fixed ?? index.ruleConnections(rule, index.pods[m]));
    }
    return acc;
  }

  ingressRow(at: PodEntry): Connections[] | null {
    let r = this.#ingress[at.index];
    if (r === undefined) this.#ingress[at.index] = r = this.row(at, 'ingress');
    return r;
  }
}

/** What any pod of `a` may open to any pod of `b` (the union over their pods). */
function groupConnections(rows: PodConnections, egress: Map<PodEntry, Connections[] | null>, a: readonly PodEntry[], b: readonly PodEntry[], only: Connections): Connections {
  let out = Connections.NONE;
  for (const s of a) {
    const eg = egress.get(s)!;
    for (const d of b) {
      if (s === d) continue;
      const ing = rows.ingressRow(d);
      const conn = (eg ? eg[d.index]! : Connections.ALL).intersect(ing ? ing[s.index]! : Connections.ALL);
      out = out.union(conn.intersect(only));
      if (out.all) return out;
    }
  }
  return out;
}

function onlyPort(port: number | undefined): Connections {
  if (port === undefined) return Connections.ALL;
  return PORT_PROTOCOLS.reduce((acc, p) => acc.union(Connections.ports(p, port)), Connections.NONE);
}

interface Range {
  readonly family: IPFamily;
  readonly first: bigint;
  readonly last: bigint;
}

const MAX: Record<IPFamily, bigint> = { 4: (1n << 32n) - 1n, 6: (1n << 128n) - 1n };

function bounds(net: IPNetwork): [bigint, bigint] {
  const first = BigInt(net.network.value);
  const size = 1n << BigInt((net.family === 4 ? 32 : 128) - (net.prefixLength ?? 0));
  return [first, first + size - 1n];
}

/** The addresses an ipBlock holds, as intervals: its cidr without its excepts. */
function blockIntervals(cidr: IPNetwork, except: readonly IPNetwork[]): [bigint, bigint][] {
  let out: [bigint, bigint][] = [bounds(cidr)];
  for (const [ea, eb] of except.map(bounds)) {
    out = out.flatMap(([a, b]): [bigint, bigint][] => {
      if (eb < a || ea > b) return [[a, b]];
      const keep: [bigint, bigint][] = [];
      if (ea > a) keep.push([a, ea - 1n]);
      if (eb < b) keep.push([eb + 1n, b]);
      return keep;
    });
  }
  return out;
}

function address(family: IPFamily, v: bigint): IPAddress {
  return family === 4 ? ipv4(Number(v)) : ipv6(v);
}

/**
 * The address space cut at the edges of what every ipBlock of one direction's rules holds (its cidr without its excepts)
 * (ingress: sources; egress: destinations), per family that one of them uses (IPv4 alone when
 * none does): within one range each of those ipBlocks holds all of it or none. As np-guard does.
 */
export function externalRanges(index: PolicyIndex, direction: Direction): Range[] {
  const cuts: Record<IPFamily, Set<bigint>> = { 4: new Set([0n]), 6: new Set([0n]) };
  const used = new Set<IPFamily>();
  for (const policy of index.policies) {
    for (const rule of policy[direction]) {
      for (const peer of rule.peers ?? []) {
        if (peer.kind !== 'ipBlock') continue;
        used.add(peer.cidr.family);
        for (const [a, b] of blockIntervals(peer.cidr, peer.except)) {
          cuts[peer.cidr.family].add(a);
          if (b < MAX[peer.cidr.family]) cuts[peer.cidr.family].add(b + 1n);
        }
      }
    }
  }
  if (used.size === 0) used.add(4);
  const out: Range[] = [];
  for (const family of [4, 6] as const) {
    if (!used.has(family)) continue;
    const starts = [...cuts[family]].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    starts.forEach((s, i) => out.push({ family, first: s, last: i + 1 < starts.length ? starts[i + 1]! - 1n : MAX[family] }));
  }
  return out;
}

function rangeName(family: IPFamily, first: bigint, last: bigint): string {
  return `${formatIP(address(family, first))}-${formatIP(address(family, last))}[External]`;
}


/** The reachability matrix of a cluster. */
export function policyMatrix(cluster: Cluster, index: PolicyIndex, options: MatrixOptions = {}): Matrix {
  const granularity = options.granularity ?? 'pod';
  const only = onlyPort(options.port);
  const byName = groups(cluster, index, granularity);
  const names = [...byName.keys()];
  const rows = new PodConnections(index);
  const pairs: MatrixPair[] = [];
  for (const src of names) {
    const from = byName.get(src)!;
    const egress = new Map(from.map((p) => [p, rows.row(p, 'egress')]));
    for (const dst of names) {
      if (src === dst) continue;
      pairs.push({ src, dst, conn: groupConnections(rows, egress, from, byName.get(dst)!, only).toString() });
    }
  }
  const sources = externalRanges(index, 'ingress');
  const destinations = externalRanges(index, 'egress');
  const external: MatrixPair[] = [];
  for (const name of names) {
    const pods = byName.get(name)!;
    const row = (r: Range, outward: boolean): MatrixPair => {
      const ext: Peer = { address: address(r.family, r.first) };
      const conn = pods.reduce((acc, pod) => acc.union((outward ? allowedConnections(index, podPeer(pod), ext) : allowedConnections(index, ext, podPeer(pod))).intersect(only)), Connections.NONE).toString();
      const range = rangeName(r.family, r.first, r.last);
      return outward ? { src: name, dst: range, conn } : { src: range, dst: name, conn };
    };
    external.push(...sources.map((r) => row(r, false)), ...destinations.map((r) => row(r, true)));
  }
  return { granularity, peers: names, pairs, external };
}
