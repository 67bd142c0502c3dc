/**
 * `kubepath/cluster`: Kubernetes manifests (and an Environment) loaded into a validated,
 * complete {@link Cluster} — what kube-proxy, the CNI and the rest of kubepath compile from.
 *
 * ```ts
 * import { loadCluster } from 'kubepath/cluster';
 * const cluster = loadCluster([{ file: 'web.yaml', text }]);
 * for (const a of cluster.assumptions) console.log(`${a.object} ${a.field}: ${a.value}`);
 * ```
 *
 * @module
 */
export * from './objects.js';
export * from './model.js';
export { loadCluster, type LoadClusterOptions } from './load.js';
export type { ClusterSource } from './documents.js';
export { ClusterLoadError, formatIssue, isClusterLoadError } from './issues.js';
export { ENVIRONMENT_API_VERSION, type Environment, type EnvironmentNode } from './environment.js';
export { KUBE_PROXY_API_VERSION, KUBE_PROXY_CONFIGMAP } from './kube-proxy-config.js';
export { MANAGED_BY_LABEL, MAX_ENDPOINTS_PER_SLICE, findPort, isPodReady, type ReadyEndpoint, readyEndpointsOf } from './endpointslices.js';
export { externallyAccessible, needsHealthCheck } from './services.js';
export { matchesMap, matchesSelector } from './selectors.js';
export { parsePatch, PatchError, type ObjectPatch } from './patches.js';
export { NETWORKING_API_VERSION, PATH_TYPES, POLICY_TYPES, ingressHostProblems, labelKeyProblem, labelValueProblem } from './decode-networking.js';
export { defaultIngressClass } from './ingresses.js';
export { proxyUpstreamOf, type ProxyUpstream } from './reverse-proxies.js';
