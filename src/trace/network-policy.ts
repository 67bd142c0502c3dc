/**
 * NetworkPolicy on a journey, judged where iptables policy agents (Calico, kube-router) judge it:
 * in the node's FORWARD path, on the packet after that node's DNAT and before its own SNAT —
 * egress for a packet that came from a local pod, ingress for one the node sends to a local pod.
 * A packet masqueraded on an earlier node arrives with that node's address: the classic reason an
 * ipBlock for the clients' range "does not work" with `externalTrafficPolicy: Cluster`.
 *
 * @module
 */
import { formatEndpoint, formatIP, type Packet, parseEndpoint } from '../net/index.js';
import type { Outcome } from '../netfilter/index.js';
import { type DirectionVerdict, evaluateEgress, evaluateIngress, type PolicyIndex, type PolicyPacket } from '../policy/index.js';
import type { JourneyStep } from './journey.js';

/** What a node's policy agent decides for one packet it forwards. */
export interface PolicyDecision {
  steps: JourneyStep[];
  /** Set when a check denies: the DROP's reason. */
  denied?: string;
}

/** The packet as FORWARD sees it: the outcome's packet with this host's POSTROUTING source NAT undone. */
export function packetAtForward(o: Outcome): Packet {
  const snat = [...o.nat].reverse().find((n) => n.hook === 'POSTROUTING' && (n.kind === 'SNAT' || n.kind === 'MASQUERADE'));
  if (!snat) return o.packet;
  const source = parseEndpoint(snat.before.split(' -> ')[0]!);
  return { ...o.packet, source: source.ip, sourcePort: source.port };
}

const podName = (host: string) => host.replace(/^pod\//, '');

function toPolicyPacket(p: Packet): PolicyPacket {
  return { source: p.source, destination: p.destination, protocol: p.protocol, destinationPort: p.destinationPort };
}

function stepOf(v: DirectionVerdict, at: string, p: Packet): JourneyStep {
  const direction = v.direction === 'egress' ? 'EGRESS' : 'INGRESS';
  const packet = `${formatEndpoint(p.source, p.sourcePort)} -> ${formatEndpoint(p.destination, p.destinationPort)}`;
  if (v.verdict === 'skip') return { state: `SKIP_${direction}_NETWORK_POLICY`, at, detail: v.reason };
  const policies = v.policies.map((c) => c.policy);
  return {
    state: `APPLY_${direction}_NETWORK_POLICY`,
    at,
    detail: `${packet}: ${v.verdict === 'allow' ? 'allowed' : 'denied'} — ${v.reason}`,
    networkPolicy: { direction: v.direction, verdict: v.verdict, source: formatIP(p.source), policies, ...(v.allowedBy ? { allowedBy: `${v.allowedBy.policy} ${v.allowedBy.direction}[${v.allowedBy.rule}]` } : {}) },
  };
}

/**
 * The checks a node makes on a packet it forwards or takes in: egress when it came from the local
 * pod `fromPod`, ingress when it goes to the local pod `toPod`. `client` is the address the
 * connection was opened from, to tell when only a rewritten source was denied.
 */
export function checkNetworkPolicy(index: PolicyIndex, o: Outcome, fromPod: string | undefined, toPod: string | undefined, client: Packet['source']): PolicyDecision {
  const p = packetAtForward(o);
  const steps: JourneyStep[] = [];
  const verdicts: DirectionVerdict[] = [];
  if (fromPod) verdicts.push(evaluateEgress(index, toPolicyPacket(p), { sourcePod: podName(fromPod) }));
  if (toPod) verdicts.push(evaluateIngress(index, toPolicyPacket(p), { destinationPod: podName(toPod) }));
  for (const v of verdicts) {
    const where = v.direction === 'egress' ? fromPod! : toPod!;
    steps.push(stepOf(v, where, p));
    if (v.verdict !== 'deny') continue;
    let denied = `NETWORK_POLICY: ${v.direction} of ${v.pod ?? podName(where)} denies ${formatIP(p.source)} -> ${formatEndpoint(p.destination, p.destinationPort)}; selecting: ${v.policies.map((c) => c.policy).join(', ')}`;
    // The trap: a source rewritten on the way, where the client's own address would pass.
    if (v.direction === 'ingress' && formatIP(p.source) !== formatIP(client)) {
      const asClient = evaluateIngress(index, toPolicyPacket({ ...p, source: client }), { destinationPod: podName(where) });
      if (asClient.verdict === 'allow' && asClient.allowedBy) {
        const rule = `${asClient.allowedBy.policy} ${asClient.allowedBy.direction}[${asClient.allowedBy.rule}]`;
        steps[steps.length - 1] = { ...steps[steps.length - 1]!, networkPolicy: { ...steps[steps.length - 1]!.networkPolicy!, clientWouldPass: rule } };
        denied += ` (the client's own address ${formatIP(client)} would pass ${rule}: the source was rewritten on the way)`;
      }
    }
    steps.push({ state: 'DROP', at: where, detail: denied, cause: 'NETWORK_POLICY' });
    return { steps, denied };
  }
  return { steps };
}
