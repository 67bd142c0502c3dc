/**
 * `kubepath/sidecar`: service-mesh sidecars as the rules they put in a pod's network namespace.
 * For now Istio's: whether a pod has a sidecar ({@link istioCaptureOf}), and the rules
 * istio-iptables writes for it ({@link compileIstioRules}).
 *
 * @module
 */
export * from './istio.js';
