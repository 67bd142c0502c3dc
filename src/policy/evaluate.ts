/**
 * Verdicts. A connection passes NetworkPolicy when the source pod's egress allows it and the
 * destination pod's ingress allows it, each judged on the packet as it is at that pod: egress at
 * the source pod, ingress at the destination pod, after any DNAT to the endpoint and SNAT on the
 * way. A pod no policy selects for a direction is not isolated in it; an isolated pod takes the
 * union of every selecting policy's rules. Replies of an allowed connection are allowed
 * (conntrack); hostNetwork pods are never selected.
 *
 * Two forms: {@link evaluateEgress}/{@link evaluateIngress}/{@link evaluatePacket} judge one
 * packet and say why (every selecting policy, every rule, the rule that allowed it);
 * {@link allowedConnections} gives the whole set of connections between two peers, for matrices.
 *
 * @module
 */
import { formatIP, type IPAddress } from '../net/index.js';
import type { LabelSelector, PolicyType, Protocol } from '../cluster/index.js';
import { type CompiledPeer, type CompiledRule, type Direction, namedPorts, type PodEntry, type PolicyIndex } from './compile.js';
import { Connections } from './connections.js';

/** One end of a connection: a pod, an address, or both (a pod's address). */
export interface Peer {
  readonly pod?: PodEntry | undefined;
  readonly address?: IPAddress | undefined;
}

/** The packet as the CNI sees it at the pod (the fields of a net/ FiveTuple it needs). */
export interface PolicyPacket {
  readonly source: IPAddress;
  readonly destination: IPAddress;
  /** IANA protocol number (6 TCP, 17 UDP, 132 SCTP; others match only rules without ports). */
  readonly protocol: number;
  readonly destinationPort: number | undefined;
}

export interface EvaluateOptions {
  /** `NS/NAME` of the source pod, when the address alone does not say (a hostNetwork pod). */
  readonly sourcePod?: string;
  /** `NS/NAME` of the destination pod, likewise. */
  readonly destinationPod?: string;
  /** The packet belongs to a connection already allowed (a reply, a later packet): conntrack lets it through. */
  readonly established?: boolean;
}

/** Why a direction's check did not apply. */
export type SkipReason = 'not-a-pod' | 'host-network' | 'established';

export interface PeerCheck {
  /** Index in the rule's `from`/`to`. */
  readonly peer: number;
  readonly text: string;
  readonly matched: boolean;
}

export interface RuleCheck {
  /** Index in the policy's `spec.ingress`/`spec.egress`. */
  readonly rule: number;
  /** `all` when the rule has no `from`/`to` (every peer). */
  readonly peers: 'all' | readonly PeerCheck[];
  readonly peerMatched: boolean;
  /** The connections the rule's ports allow toward the destination, np-guard's text (named ports resolved). */
  readonly ports: string;
  /** Named ports the destination pod does not have (for that protocol). */
  readonly unresolved: readonly string[];
  readonly portMatched: boolean;
  readonly allows: boolean;
}

export interface PolicyCheck {
  /** `NS/NAME`. */
  readonly policy: string;
  readonly policyTypes: readonly PolicyType[];
  /** policyTypes was not given: the API server's default applied. */
  readonly implied: boolean;
  readonly rules: readonly RuleCheck[];
  readonly allows: boolean;
}

/** Which rule allowed a packet: `spec.<direction>[rule]` of `policy`. */
export interface RuleRef {
  readonly policy: string;
  readonly direction: Direction;
  readonly rule: number;
}

export interface DirectionVerdict {
  readonly direction: Direction;
  /** `skip`: there is no pod to apply policy at (see `skip`). */
  readonly verdict: 'allow' | 'deny' | 'skip';
  /** `NS/NAME` of the pod where the check applies. */
  readonly pod?: string;
  readonly isolated: boolean;
  readonly skip?: SkipReason;
  /** One sentence, e.g. `allowed by shop/allow-web ingress[0]`. */
  readonly reason: string;
  /** Every policy selecting the pod for this direction, each rule considered. */
  readonly policies: readonly PolicyCheck[];
  readonly allowedBy?: RuleRef;
}

export interface PacketVerdict {
  readonly allowed: boolean;
  readonly egress: DirectionVerdict;
  readonly ingress: DirectionVerdict;
}

const PROTOCOL_NAMES = new Map<number, Protocol>([
  [6, 'TCP'],
  [17, 'UDP'],
  [132, 'SCTP'],
]);

/** A selector as people write it: `app=web,tier in (a,b),!legacy`; `{}` is `all`. */
export function selectorText(s: LabelSelector): string {
  const parts = [
    ...Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(s.matchExpressions ?? []).map((e) =>
      e.operator === 'Exists' ? e.key : e.operator === 'DoesNotExist' ? `!${e.key}` : `${e.key} ${e.operator === 'In' ? 'in' : 'notin'} (${(e.values ?? []).join(',')})`,
    ),
  ];
  return parts.length === 0 ? 'all' : parts.join(',');
}

/** A compiled peer as text: `namespaceSelector team=a, podSelector app=x`, `ipBlock 10.0.0.0/8 except 10.1.0.0/16`. */
export function peerText(p: CompiledPeer): string {
  if (p.kind === 'ipBlock') return `ipBlock ${p.text}`;
  const parts: string[] = [];
  if (p.namespaceSelector) parts.push(`namespaceSelector ${selectorText(p.namespaceSelector)}`);
  if (p.podSelector) parts.push(`podSelector ${selectorText(p.podSelector)}`);
  if (!p.namespaceSelector) parts.push(`in namespace ${p.namespace}`);
  return parts.join(', ');
}

/** True when a rule's peer is the given one. */
export function peerMatches(index: PolicyIndex, p: CompiledPeer, who: Peer): boolean {
  if (p.kind === 'pods') return who.pod !== undefined && index.peerSelectsPod(p, who.pod);
  if (!who.address) return false;
  if (who.pod?.policed && !index.options.ipBlockMatchesPods) return false;
  return index.ipBlockHolds(p, who.address);
}

function ruleMatchesPeer(index: PolicyIndex, rule: CompiledRule, who: Peer): boolean {
  return !rule.peers || rule.peers.some((p) => peerMatches(index, p, who));
}

/**
 * The connections one direction allows at pod `at` with `peer` (the source for ingress, the
 * destination for egress): every connection when no policy isolates it, else the union of the
 * ports of every rule whose peers include `peer`.
 */
export function directionConnections(index: PolicyIndex, direction: Direction, at: PodEntry, peer: Peer): Connections {
  if (index.selecting(at, direction).length === 0) return Connections.ALL;
  const rules = index.rulesAt(at, direction);
  const destination = direction === 'ingress' ? at : peer.pod;
  let out = Connections.NONE;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    if (!ruleMatchesPeer(index, rule, peer)) continue;
    out = out.union(index.ruleConnections(rule, destination));
    if (out.all) return out;
  }
  return out;
}

/** Everything `source` may open to `destination`: its egress intersected with the destination's ingress. */
export function allowedConnections(index: PolicyIndex, source: Peer, destination: Peer): Connections {
  const egress = source.pod ? directionConnections(index, 'egress', source.pod, destination) : Connections.ALL;
  if (egress.empty) return egress;
  const ingress = destination.pod ? directionConnections(index, 'ingress', destination.pod, source) : Connections.ALL;
  return egress.intersect(ingress);
}

function checkRule(index: PolicyIndex, rule: CompiledRule, who: Peer, destination: PodEntry | undefined, protocol: Protocol | undefined, port: number | undefined): RuleCheck {
  const peers = rule.peers ? rule.peers.map((p) => ({ peer: p.index, text: peerText(p), matched: peerMatches(index, p, who) })) : 'all';
  const peerMatched = peers === 'all' || peers.some((p) => p.matched);
  const conns = index.ruleConnections(rule, destination);
  const unresolved = (rule.ports ?? []).filter((p) => typeof p.port === 'string' && namedPorts(p, destination).length === 0).map((p) => `${p.protocol ?? 'TCP'}/${p.port}`);
  const portMatched = conns.has(protocol, port);
  return { rule: rule.index, peers, peerMatched, ports: conns.toString(), unresolved, portMatched, allows: peerMatched && portMatched };
}

function packetText(packet: PolicyPacket): string {
  const proto = PROTOCOL_NAMES.get(packet.protocol) ?? `protocol ${packet.protocol}`;
  return `${proto} ${formatIP(packet.source)} → ${formatIP(packet.destination)}${packet.destinationPort === undefined ? '' : `:${packet.destinationPort}`}`;
}

function skipped(direction: Direction, skip: SkipReason, reason: string, pod?: string): DirectionVerdict {
  return { direction, verdict: 'skip', skip, reason, isolated: false, policies: [], ...(pod ? { pod } : {}) };
}

/** Judge one packet in one direction at the pod it leaves (egress) or reaches (ingress). */
export function evaluateDirection(index: PolicyIndex, direction: Direction, packet: PolicyPacket, options: EvaluateOptions = {}): DirectionVerdict {
  const egress = direction === 'egress';
  const atAddress = egress ? packet.source : packet.destination;
  const peerAddress = egress ? packet.destination : packet.source;
  const atRef = egress ? options.sourcePod : options.destinationPod;
  const peerRef = egress ? options.destinationPod : options.sourcePod;
  const at = atRef ? index.pod(atRef) : index.podByAddress(atAddress);
  const side = egress ? 'source' : 'destination';
  if (!at) return skipped(direction, 'not-a-pod', `the ${side} ${atRef ?? formatIP(atAddress)} is not a pod's address (a node, or outside the cluster): no NetworkPolicy applies`);
  if (!at.policed) return skipped(direction, 'host-network', `${at.ref} uses the host's network: NetworkPolicies do not select hostNetwork pods`, at.ref);
  if (options.established) return skipped(direction, 'established', `the packet belongs to a connection already allowed: conntrack lets it through`, at.ref);
  const peerPod = peerRef ? index.pod(peerRef) : index.podByAddress(peerAddress);
  const who: Peer = { pod: peerPod, address: peerAddress };
  const destination = egress ? peerPod : at;
  const protocol = PROTOCOL_NAMES.get(packet.protocol);
  const policies = index.selecting(at, direction).map((p): PolicyCheck => {
    const rules = p[direction].map((r) => checkRule(index, r, who, destination, protocol, packet.destinationPort));
    return { policy: p.ref, policyTypes: p.policyTypes, implied: p.implied, rules, allows: rules.some((r) => r.allows) };
  });
  if (policies.length === 0) {
    return { direction, verdict: 'allow', pod: at.ref, isolated: false, reason: `no NetworkPolicy selects ${at.ref} for ${direction}: it is not isolated, everything is allowed`, policies };
  }
  for (const p of policies) {
    const rule = p.rules.find((r) => r.allows);
    if (rule) {
      const allowedBy: RuleRef = { policy: p.policy, direction, rule: rule.rule };
      return { direction, verdict: 'allow', pod: at.ref, isolated: true, reason: `allowed by ${p.policy} ${direction}[${rule.rule}]`, policies, allowedBy };
    }
  }
  const names = policies.map((p) => p.policy).join(', ');
  return {
    direction,
    verdict: 'deny',
    pod: at.ref,
    isolated: true,
    reason: `${at.ref} is isolated for ${direction} by ${names}, and no rule allows ${packetText(packet)}`,
    policies,
  };
}

/** Egress, judged at the source pod on the packet as it leaves it. */
export function evaluateEgress(index: PolicyIndex, packet: PolicyPacket, options?: EvaluateOptions): DirectionVerdict {
  return evaluateDirection(index, 'egress', packet, options);
}

/** Ingress, judged at the destination pod on the packet as it arrives (after DNAT and any SNAT). */
export function evaluateIngress(index: PolicyIndex, packet: PolicyPacket, options?: EvaluateOptions): DirectionVerdict {
  return evaluateDirection(index, 'ingress', packet, options);
}

/** Both directions of one packet that is the same at both pods (no NAT between them). */
export function evaluatePacket(index: PolicyIndex, packet: PolicyPacket, options?: EvaluateOptions): PacketVerdict {
  const egress = evaluateEgress(index, packet, options);
  const ingress = evaluateIngress(index, packet, options);
  return { allowed: egress.verdict !== 'deny' && ingress.verdict !== 'deny', egress, ingress };
}
