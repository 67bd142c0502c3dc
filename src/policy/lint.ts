/**
 * Findings about NetworkPolicies that do not do what their authors likely meant: policies that
 * select no pod, rules whose peers or ports can never match, named ports no pod has, and egress
 * policies that leave their pods without DNS.
 *
 * @module
 */
import type { Cluster, NetworkPolicyPort, Pod } from '../cluster/index.js';
import { compilePolicies, type CompiledPolicy, type CompiledRule, namedPorts, type PodEntry, type PolicyIndex, type PolicyOptions } from './compile.js';
import { directionConnections, peerText } from './evaluate.js';

export type LintKind = 'selects-nothing' | 'peer-selects-nothing' | 'rule-never-matches' | 'unknown-named-port' | 'blocks-dns';

export interface LintFinding {
  readonly kind: LintKind;
  /** `NS/NAME` of the policy. */
  readonly policy: string;
  /** The field concerned, e.g. `spec.ingress[0].from[1]`; empty for the whole policy. */
  readonly field: string;
  readonly message: string;
}

/** Labels of the cluster DNS pods (CoreDNS and kube-dns both carry it). */
export const DNS_LABEL = { key: 'k8s-app', value: 'kube-dns' } as const;

const rulePath = (rule: CompiledRule) => `spec.${rule.direction}[${rule.index}]`;

function portName(p: NetworkPolicyPort): string {
  return `${p.protocol ?? 'TCP'}/${String(p.port)}`;
}

/** Findings for each rule of a policy: peers that select nothing, named ports no destination has. */
function lintRule(index: PolicyIndex, policy: CompiledPolicy, rule: CompiledRule, selected: readonly PodEntry[]): LintFinding[] {
  const out: LintFinding[] = [];
  const policed = index.pods.filter((p) => p.policed);
  const peers = rule.peers ?? [];
  const empty = peers.filter((p) => p.kind === 'pods' && !policed.some((pod) => index.peerSelectsPod(p, pod)));
  const side = rule.direction === 'ingress' ? 'from' : 'to';
  for (const p of empty) {
    out.push({ kind: 'peer-selects-nothing', policy: policy.ref, field: `${rulePath(rule)}.${side}[${p.index}]`, message: `${peerText(p)} selects no pod` });
  }
  // Where named ports resolve: the policy's own pods for ingress, the peers' pods (or any pod) for egress.
  const destinations =
    rule.direction === 'ingress' ? selected : rule.peers ? policed.filter((pod) => rule.peers!.some((p) => p.kind === 'pods' && index.peerSelectsPod(p, pod))) : policed;
  const named = (rule.ports ?? []).filter((p) => typeof p.port === 'string');
  const missing = named.filter((p) => !destinations.some((d) => namedPorts(p, d).length > 0));
  for (const p of missing) {
    out.push({
      kind: 'unknown-named-port',
      policy: policy.ref,
      field: `${rulePath(rule)}.ports[${rule.ports!.indexOf(p)}]`,
      message: `no ${rule.direction === 'ingress' ? 'pod this policy selects' : 'destination pod'} has a container port named ${portName(p)}`,
    });
  }
  const peersNever = peers.length > 0 && empty.length === peers.length;
  const portsNever = rule.ports !== undefined && rule.ports.length === missing.length;
  if (peersNever || portsNever) {
    const why = peersNever ? 'none of its peers selects a pod' : 'none of its ports resolves on a destination pod';
    out.push({ kind: 'rule-never-matches', policy: policy.ref, field: rulePath(rule), message: `this rule can never allow anything: ${why}` });
  }
  return out;
}

/** A DNS pod to test egress against: the cluster's own, else one like kubeadm's CoreDNS (no address). */
function dnsPeer(cluster: Cluster, options: PolicyOptions): { index: PolicyIndex; dns: PodEntry; assumed: boolean } {
  const index = compilePolicies(cluster, options);
  const dns = index.pods.find((p) => p.namespace === 'kube-system' && p.labels[DNS_LABEL.key] === DNS_LABEL.value && p.policed);
  if (dns) return { index, dns, assumed: false };
  const coredns: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'coredns', namespace: 'kube-system', labels: { [DNS_LABEL.key]: DNS_LABEL.value } },
    spec: { containers: [{ name: 'coredns', ports: [{ name: 'dns', containerPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' }] }] },
  };
  const withDns = compilePolicies({ ...cluster, pods: [...cluster.pods, coredns] }, options);
  return { index: withDns, dns: withDns.pods[withDns.pods.length - 1]!, assumed: true };
}

/** Every finding for the cluster's NetworkPolicies, policy by policy in load order. */
export function lintPolicies(cluster: Cluster, options: PolicyOptions = {}): LintFinding[] {
  const { index, dns, assumed } = dnsPeer(cluster, options);
  const out: LintFinding[] = [];
  const real = index.pods.filter((p) => p.policed && p !== (assumed ? dns : undefined));
  for (const policy of index.policies) {
    const selected = real.filter((pod) => index.selecting(pod, 'ingress').includes(policy) || index.selecting(pod, 'egress').includes(policy));
    const matching = real.filter((pod) => pod.namespace === policy.namespace && index.selecting(pod, policy.policyTypes.includes('Ingress') ? 'ingress' : 'egress').includes(policy));
    if (matching.length === 0) {
      out.push({ kind: 'selects-nothing', policy: policy.ref, field: 'spec.podSelector', message: `selects no pod in namespace ${policy.namespace}: it has no effect` });
    }
    for (const rule of [...policy.ingress, ...policy.egress]) out.push(...lintRule(index, policy, rule, selected));
    if (!policy.policyTypes.includes('Egress')) continue;
    const blocked = matching.filter((pod) => !directionConnections(index, 'egress', pod, { pod: dns, address: dns.addresses[0] }).has('UDP', 53));
    if (blocked.length > 0) {
      const names = blocked.slice(0, 3).map((p) => p.ref).join(', ') + (blocked.length > 3 ? ` and ${blocked.length - 3} more` : '');
      const target = assumed ? 'a CoreDNS pod in kube-system (k8s-app=kube-dns; none was given)' : dns.ref;
      out.push({ kind: 'blocks-dns', policy: policy.ref, field: 'spec.egress', message: `isolates egress of ${names} and no egress rule of theirs allows UDP 53 to ${target}: name lookups fail` });
    }
  }
  return out;
}
