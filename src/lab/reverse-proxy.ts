/**
 * The Environment's reverse proxies (`proxies`: Envoy, HAProxy, e.g. an Istio ingress gateway) in
 * the lab, pure: Debian's HAProxy in the proxy's pods, configured from the entry as the trace reads
 * it (trace/listeners.ts `reverseProxyHop`). For HAProxy entries it is the thing itself; for Envoy it
 * stands in where the two behave the same for what `lab verify` compares (the client address, the
 * PROXY header, X-Forwarded-For):
 *
 * - `acceptProxyProtocol` (Envoy's proxy_protocol listener filter): `accept-proxy` on the bind line —
 *   both close a connection without the header and take its source as the client;
 * - `mode: http` with Envoy's `useRemoteAddress: true`, or HAProxy's `forwardFor`: `option forwardfor`
 *   — both append the downstream address (the PROXY source when there is one) to X-Forwarded-For;
 *   without, nothing is appended. `xffNumTrustedHops` changes only what Envoy believes
 *   (x-envoy-external-address, internal or not), not X-Forwarded-For;
 * - `sendProxyProtocol`: `send-proxy` / `send-proxy-v2`;
 * - the upstream: the Service's ClusterIP (kube-proxy balances), its ready endpoints with
 *   `upstreamEndpoints` (`balance random(1)`: equal shares), or the address; from the pod's address.
 *
 * Not the same, and not compared: Envoy's own headers (x-request-id, x-envoy-external-address,
 * x-forwarded-proto, x-envoy-internal), its 503 body, HTTP/2.
 *
 * @module
 */
import type { ReverseProxy } from '../cluster/index.js';
import { proxyUpstreamOf } from '../cluster/index.js';
import type { Pod } from '../cluster/objects.js';
import { tryParseIP } from '../net/index.js';
import { workloadRefs } from '../trace/app.js';
import { readyEndpoints } from '../trace/endpoints.js';
import type { World } from '../trace/world.js';

export interface LabReverseProxy {
  /** The Environment entry's name. */
  name: string;
  port: number;
  /** haproxy.cfg. */
  config: string;
  notes: string[];
}

/** The Environment proxies whose workload a pod belongs to. */
export function proxiesOf(world: World, pod: Pod | undefined): ReverseProxy[] {
  if (!pod) return [];
  const refs = workloadRefs(pod);
  return (world.cluster.proxies ?? []).filter((p) => refs.includes(p.workload));
}

/** HAProxy's configuration for one Environment proxy in a pod, or the reason it cannot be built. */
export function reverseProxyLab(world: World, proxy: ReverseProxy): LabReverseProxy | string {
  const up = proxyUpstreamOf(proxy, world.cluster.services);
  if (typeof up === 'string') return up;
  let servers: string[];
  if (up.kind === 'address') {
    if (tryParseIP(up.address)?.family !== 4) return `upstream ${proxy.upstream}: the lab is IPv4 only`;
    servers = [`${up.address}:${up.port}`];
  } else if (proxy.upstreamEndpoints) {
    servers = readyEndpoints(world, up.service, up.port, 4).map((e) => `${e.address}:${e.port}`);
  } else {
    const ip = (up.service.spec.clusterIPs ?? [up.service.spec.clusterIP]).find((x): x is string => x !== undefined && x !== 'None' && tryParseIP(x)?.family === 4);
    if (!ip) return `svc/${up.service.metadata.namespace}/${up.service.metadata.name} has no IPv4 ClusterIP`;
    servers = [`${ip}:${up.port.port}`];
  }
  const appends = proxy.mode === 'http' && (proxy.type === 'envoy' ? proxy.useRemoteAddress === true : proxy.forwardFor === true);
  const send = proxy.sendProxyProtocol === 2 ? ' send-proxy-v2' : proxy.sendProxyProtocol === 1 ? ' send-proxy' : '';
  const lines = [
    `# ${proxy.type === 'envoy' ? `Envoy "${proxy.name}", stood in for by HAProxy` : `HAProxy "${proxy.name}"`} (src/lab/reverse-proxy.ts)`,
    'global',
    '  maxconn 4096',
    'defaults',
    '  timeout connect 2s',
    '  timeout client 10s',
    '  timeout server 10s',
    'frontend in',
    `  bind 0.0.0.0:${proxy.port}${proxy.acceptProxyProtocol ? ' accept-proxy' : ''}`,
    `  mode ${proxy.mode}`,
    ...(appends ? ['  option forwardfor'] : []),
    '  default_backend upstream',
    'backend upstream',
    `  mode ${proxy.mode}`,
    '  balance random(1)',
    ...(proxy.mode === 'http' ? ['  http-reuse never'] : []),
    ...servers.map((s, i) => `  server u${i} ${s}${send}`),
    '',
  ];
  const notes = proxy.type === 'envoy' ? [`Envoy "${proxy.name}" is stood in for by HAProxy: the client address, the PROXY header and X-Forwarded-For behave the same; Envoy's own headers (x-request-id, x-envoy-external-address, x-forwarded-proto) are not written`] : [];
  return { name: proxy.name, port: proxy.port, config: lines.join('\n'), notes };
}
