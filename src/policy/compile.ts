/**
 * The policy index: a Cluster's NetworkPolicies compiled once (selectors, parsed ipBlocks, port
 * entries, policyTypes with the API server's defaults) and indexed by namespace, its pods by
 * address, and which pods each selector picks, filled on first use. Everything the evaluation
 * needs, so that one verdict is a few lookups.
 *
 * @module
 */
import { type IPAddress, type IPNetwork, networkContains, parseNetwork, tryParseIP } from '../net/index.js';
import type { Cluster, ContainerPort, LabelSelector, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, Pod, PolicyType, Protocol } from '../cluster/index.js';
import { matchesSelector } from '../cluster/index.js';
import { Connections } from './connections.js';

export type Direction = 'ingress' | 'egress';

export interface PolicyOptions {
  /**
   * Whether an ipBlock matches the address of a pod. Kubernetes leaves it to the CNI: Calico and
   * kube-router match pod addresses like any other (the default); Cilium, and np-guard's analyzer,
   * match pods only by their selectors, so an ipBlock never selects a pod.
   */
  ipBlockMatchesPods?: boolean;
  /**
   * Whether policies select hostNetwork pods like any other pod. Not in a real cluster (the
   * default: their traffic is the node's, and podSelectors do not see it); np-guard's analyzer reads
   * manifests that way.
   */
  hostNetworkSelected?: boolean;
}

/** A pod as the engine sees it. */
export interface PodEntry {
  /** Position in {@link PolicyIndex.pods}. */
  readonly index: number;
  /** `NS/NAME`. */
  readonly ref: string;
  readonly pod: Pod;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly namespaceLabels: Readonly<Record<string, string>>;
  readonly hostNetwork: boolean;
  /** Policies apply to it and select it: not a hostNetwork pod (unless `hostNetworkSelected`). */
  readonly policed: boolean;
  readonly addresses: readonly IPAddress[];
  /** Container ports (and those of sidecar init containers), for named ports. */
  readonly ports: readonly ContainerPort[];
}

/** A peer of a rule, compiled. */
export type CompiledPeer =
  | {
      readonly kind: 'pods';
      readonly index: number;
      /** Absent: every pod of the namespaces. */
      readonly podSelector: LabelSelector | undefined;
      /** Absent: the policy's own namespace only. */
      readonly namespaceSelector: LabelSelector | undefined;
      readonly namespace: string;
      /** Per pod: 0 not yet known, 1 no, 2 yes. */
      readonly members: Uint8Array;
    }
  | { readonly kind: 'ipBlock'; readonly index: number; readonly cidr: IPNetwork; readonly except: readonly IPNetwork[]; readonly text: string };

export interface CompiledRule {
  readonly direction: Direction;
  /** Index in `spec.ingress` / `spec.egress`. */
  readonly index: number;
  /** undefined: `from`/`to` absent or empty, every peer. */
  readonly peers: readonly CompiledPeer[] | undefined;
  /** undefined: `ports` absent or empty, every port and protocol. */
  readonly ports: readonly NetworkPolicyPort[] | undefined;
  /** The ports when none is named (the same for every destination pod). */
  readonly fixed: Connections | undefined;
  /** With named ports: the ports per destination pod index, filled on first use. */
  readonly resolved: Map<number, Connections>;
}

export interface CompiledPolicy {
  /** `NS/NAME`. */
  readonly ref: string;
  readonly namespace: string;
  readonly policy: NetworkPolicy;
  /** The policy types in effect. */
  readonly policyTypes: readonly PolicyType[];
  /** True when `policyTypes` was not given and the API server's default applies. */
  readonly implied: boolean;
  readonly ingress: readonly CompiledRule[];
  readonly egress: readonly CompiledRule[];
  readonly podSelector: LabelSelector;
}

/** The policy types of a spec: as given, else Ingress plus Egress when it has egress rules (SetDefaults_NetworkPolicy). */
export function effectivePolicyTypes(policy: NetworkPolicy): { types: PolicyType[]; implied: boolean } {
  const given = policy.spec.policyTypes;
  if (given && given.length > 0) return { types: [...given], implied: false };
  return { types: (policy.spec.egress ?? []).length > 0 ? ['Ingress', 'Egress'] : ['Ingress'], implied: true };
}

/** The connections a port entry allows when it names no port by name (undefined when it does). */
export function fixedPortConnections(p: NetworkPolicyPort): Connections | undefined {
  const protocol: Protocol = p.protocol ?? 'TCP';
  if (typeof p.port === 'string') return undefined;
  return Connections.ports(protocol, p.port, p.port === undefined ? undefined : (p.endPort ?? p.port));
}

function addressKey(ip: IPAddress): string {
  return `${ip.family}:${ip.value}`;
}

/** Everything the engine needs, built once per cluster. */
export class PolicyIndex {
  readonly options: Required<PolicyOptions>;
  readonly pods: readonly PodEntry[];
  readonly policies: readonly CompiledPolicy[];
  readonly #byNamespace = new Map<string, CompiledPolicy[]>();
  readonly #byAddress = new Map<string, PodEntry>();
  readonly #byRef = new Map<string, PodEntry>();
  readonly #selecting: Record<Direction, (readonly CompiledPolicy[] | undefined)[]> = { ingress: [], egress: [] };

  constructor(cluster: Cluster, options: PolicyOptions = {}) {
    this.options = { ipBlockMatchesPods: options.ipBlockMatchesPods ?? true, hostNetworkSelected: options.hostNetworkSelected ?? false };
    const nsLabels = new Map(cluster.namespaces.map((n) => [n.metadata.name, n.metadata.labels ?? {}]));
    this.pods = cluster.pods.map((pod, index): PodEntry => {
      const namespace = pod.metadata.namespace ?? 'default';
      const addresses = (pod.status?.podIPs?.map((p) => p.ip) ?? (pod.status?.podIP ? [pod.status.podIP] : [])).flatMap((t) => tryParseIP(t) ?? []);
      const containers = [...pod.spec.containers, ...(pod.spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always')];
      return {
        index,
        ref: `${namespace}/${pod.metadata.name}`,
        pod,
        namespace,
        labels: pod.metadata.labels ?? {},
        namespaceLabels: nsLabels.get(namespace) ?? { 'kubernetes.io/metadata.name': namespace },
        hostNetwork: pod.spec.hostNetwork === true,
        policed: pod.spec.hostNetwork !== true || this.options.hostNetworkSelected,
        addresses,
        ports: containers.flatMap((c) => c.ports ?? []),
      };
    });
    for (const p of this.pods) {
      this.#byRef.set(p.ref, p);
      if (p.policed) for (const a of p.addresses) this.#byAddress.set(addressKey(a), p);
    }
    this.policies = (cluster.networkPolicies ?? []).map((policy) => this.#compile(policy));
    for (const p of this.policies) {
      const list = this.#byNamespace.get(p.namespace);
      if (list) list.push(p);
      else this.#byNamespace.set(p.namespace, [p]);
    }
  }

  #compile(policy: NetworkPolicy): CompiledPolicy {
    const namespace = policy.metadata.namespace ?? 'default';
    const { types, implied } = effectivePolicyTypes(policy);
    const peers = (list: readonly NetworkPolicyPeer[] | undefined) =>
      list && list.length > 0 ? list.map((peer, index) => this.#compilePeer(peer, index, namespace)) : undefined;
    const rule = (direction: Direction, index: number, list: readonly NetworkPolicyPeer[] | undefined, ports: readonly NetworkPolicyPort[] | undefined): CompiledRule => {
      const given = ports && ports.length > 0 ? ports : undefined;
      const fixed = given ? given.map(fixedPortConnections) : [Connections.ALL];
      return {
        direction,
        index,
        peers: peers(list),
        ports: given,
        fixed: fixed.every((c) => c !== undefined) ? fixed.reduce((a, b) => a!.union(b!), Connections.NONE) : undefined,
        resolved: new Map(),
      };
    };
    return {
      ref: `${namespace}/${policy.metadata.name}`,
      namespace,
      policy,
      policyTypes: types,
      implied,
      podSelector: policy.spec.podSelector,
      ingress: (policy.spec.ingress ?? []).map((r, i) => rule('ingress', i, r.from, r.ports)),
      egress: (policy.spec.egress ?? []).map((r, i) => rule('egress', i, r.to, r.ports)),
    };
  }

  #compilePeer(peer: NetworkPolicyPeer, index: number, namespace: string): CompiledPeer {
    if (peer.ipBlock) {
      return {
        kind: 'ipBlock',
        index,
        cidr: parseNetwork(peer.ipBlock.cidr),
        except: (peer.ipBlock.except ?? []).map((e) => parseNetwork(e)),
        text: peer.ipBlock.cidr + (peer.ipBlock.except?.length ? ` except ${peer.ipBlock.except.join(', ')}` : ''),
      };
    }
    return { kind: 'pods', index, podSelector: peer.podSelector, namespaceSelector: peer.namespaceSelector, namespace, members: new Uint8Array(this.pods.length) };
  }

  /** The pod (policed: not hostNetwork) that owns an address. */
  podByAddress(ip: IPAddress): PodEntry | undefined {
    return this.#byAddress.get(addressKey(ip));
  }

  /** A pod by `NS/NAME`. */
  pod(ref: string): PodEntry | undefined {
    return this.#byRef.get(ref);
  }

  /** The policies of a namespace. */
  policiesIn(namespace: string): readonly CompiledPolicy[] {
    return this.#byNamespace.get(namespace) ?? [];
  }

  /** The policies that select `pod` for `direction` (none for pods not policed). */
  selecting(pod: PodEntry, direction: Direction): readonly CompiledPolicy[] {
    const cache = this.#selecting[direction];
    let out = cache[pod.index];
    if (!out) {
      const type: PolicyType = direction === 'ingress' ? 'Ingress' : 'Egress';
      out = !pod.policed ? [] : this.policiesIn(pod.namespace).filter((p) => p.policyTypes.includes(type) && matchesSelector(p.podSelector, pod.labels));
      cache[pod.index] = out;
    }
    return out;
  }

  readonly #rules: Record<Direction, (readonly CompiledRule[] | undefined)[]> = { ingress: [], egress: [] };

  /** The rules of every policy selecting `pod` for `direction`, in order (empty when not isolated). */
  rulesAt(pod: PodEntry, direction: Direction): readonly CompiledRule[] {
    const cache = this.#rules[direction];
    let out = cache[pod.index];
    if (!out) {
      out = this.selecting(pod, direction).flatMap((p) => p[direction]);
      cache[pod.index] = out;
    }
    return out;
  }

  /** True when a pods peer selects `pod`. */
  peerSelectsPod(peer: Extract<CompiledPeer, { kind: 'pods' }>, pod: PodEntry): boolean {
    const known = peer.members[pod.index]!;
    if (known !== 0) return known === 2;
    const yes =
      pod.policed &&
      (peer.namespaceSelector ? matchesSelector(peer.namespaceSelector, pod.namespaceLabels) : pod.namespace === peer.namespace) &&
      (peer.podSelector ? matchesSelector(peer.podSelector, pod.labels) : true);
    peer.members[pod.index] = yes ? 2 : 1;
    return yes;
  }

  /** True when an ipBlock peer holds the address (and it is not in an except). */
  ipBlockHolds(peer: Extract<CompiledPeer, { kind: 'ipBlock' }>, ip: IPAddress): boolean {
    return networkContains(peer.cidr, ip) && !peer.except.some((e) => networkContains(e, ip));
  }

  /** The connections a rule's ports allow toward `destination` (named ports are its container ports). */
  ruleConnections(rule: CompiledRule, destination: PodEntry | undefined): Connections {
    if (rule.fixed) return rule.fixed;
    const key = destination?.index ?? -1;
    const known = rule.resolved.get(key);
    if (known) return known;
    let out = Connections.NONE;
    for (const p of rule.ports!) {
      const fixed = fixedPortConnections(p);
      if (fixed) out = out.union(fixed);
      else for (const c of namedPorts(p, destination)) out = out.union(Connections.ports(c.protocol ?? 'TCP', c.containerPort));
    }
    rule.resolved.set(key, out);
    return out;
  }
}

/** The container ports a named policy port resolves to on a pod: same name, same protocol. */
export function namedPorts(p: NetworkPolicyPort, pod: PodEntry | undefined): ContainerPort[] {
  if (typeof p.port !== 'string' || !pod) return [];
  const protocol = p.protocol ?? 'TCP';
  return pod.ports.filter((c) => c.name === p.port && (c.protocol ?? 'TCP') === protocol);
}

/** Compile a cluster's NetworkPolicies. */
export function compilePolicies(cluster: Cluster, options?: PolicyOptions): PolicyIndex {
  return new PolicyIndex(cluster, options);
}
