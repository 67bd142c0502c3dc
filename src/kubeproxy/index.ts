/**
 * `kubepath/kubeproxy`: kube-proxy's iptables proxier (v1.33 behaviour) as a compiler from
 * Services and EndpointSlices to the restore text it writes on a node.
 *
 * ```ts
 * import { IptablesProxier, proxierConfig } from 'kubepath/kubeproxy';
 * const proxier = new IptablesProxier(proxierConfig('IPv4', { nodeName: 'node-1', nodeIP: '192.168.0.2' }));
 * proxier.onServiceAdd(service);
 * proxier.onEndpointSliceAdd(slice);
 * const { restore } = proxier.sync();
 * ```
 *
 * @module
 */
export * from './config.js';
export * from './names.js';
export * from './service-port.js';
export * from './endpoints.js';
export * from './service-rules.js';
export * from './proxier.js';
export * from './ensured.js';
export * from './loadable.js';
export { probabilityText } from './probability.js';
export * from './healthcheck.js';
export * from './node.js';
