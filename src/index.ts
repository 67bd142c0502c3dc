/**
 * kubepath: shows, and proves, what happens to a connection on its way through a cluster.
 *
 * @module
 */
export * as net from './net/index.js';
export * as netfilter from './netfilter/index.js';
export * as cluster from './cluster/index.js';
export * as kubeproxy from './kubeproxy/index.js';
export * as sidecar from './sidecar/index.js';
export * as clientip from './clientip/index.js';
