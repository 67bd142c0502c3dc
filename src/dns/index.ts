/**
 * `dns/`: what a pod's resolver really sends for a name. The pod's resolv.conf as kubelet writes
 * it, CoreDNS's answers from the cluster, and the resolvers (glibc, musl, Node's c-ares) simulated
 * query by query with their sockets and timeouts. Pure: no I/O.
 *
 * @module
 */
export * from './types.js';
export * from './resolv-conf.js';
export { addressesIn, glibcLookup, type LookupOptions, questionTypes } from './glibc.js';
export { muslLookup, type MuslOptions } from './musl.js';
export { caresResolve } from './cares.js';
export { podResolvConf, type KubeletDNSOptions, type PodResolvConf } from './kubelet.js';
export { ClusterDNSModel, dashed } from './coredns.js';
export { type Finding, lookupFromPod, type PodLookup, type PodLookupOptions, PodNotFoundError, type Resolver } from './lookup.js';
