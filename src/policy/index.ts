/**
 * `policy/`: the NetworkPolicy engine (networking.k8s.io/v1). Compile a Cluster's policies once
 * ({@link compilePolicies}), then judge packets where the CNI judges them — egress at the source
 * pod, ingress at the destination pod, on the packet as it is there, after DNAT and SNAT — or
 * compute reachability matrices and lint findings. Pure: no I/O.
 *
 * ```ts
 * const index = compilePolicies(cluster);
 * const v = evaluateIngress(index, { source, destination, protocol: 6, destinationPort: 8080 });
 * if (v.verdict === 'deny') console.log(v.reason, v.policies.map((p) => p.policy));
 * ```
 *
 * @module
 */
export { compilePolicies, effectivePolicyTypes, namedPorts, PolicyIndex, type CompiledPeer, type CompiledPolicy, type CompiledRule, type Direction, type PodEntry, type PolicyOptions } from './compile.js';
export { Connections, PORT_PROTOCOLS } from './connections.js';
export {
  allowedConnections,
  directionConnections,
  evaluateDirection,
  evaluateEgress,
  evaluateIngress,
  evaluatePacket,
  peerText,
  selectorText,
  type DirectionVerdict,
  type EvaluateOptions,
  type PacketVerdict,
  type Peer,
  type PeerCheck,
  type PolicyCheck,
  type PolicyPacket,
  type RuleCheck,
  type RuleRef,
  type SkipReason,
} from './evaluate.js';
export { externalRanges, policyMatrix, workloadName, type Granularity, type Matrix, type MatrixOptions, type MatrixPair } from './matrix.js';
export { DNS_LABEL, lintPolicies, type LintFinding, type LintKind } from './lint.js';
