/**
 * What an Environment reverse proxy refers to: the Service (and ServicePort) or address it sends
 * to, checked at load like an Ingress backend, so a trace never meets a proxy pointing nowhere.
 *
 * @module
 */
import type { Reporter } from './issues.js';
import type { ReverseProxy } from './model.js';
import type { Service, ServicePort } from './objects.js';

/** Where a reverse proxy sends: a ServicePort, or an address it names. */
export type ProxyUpstream = { kind: 'service'; service: Service; port: ServicePort } | { kind: 'address'; address: string; port: number };

/** An upstream as written: `svc/NS/NAME[:PORT]` or `IP:PORT` (IPv6 in brackets); undefined when it is neither. */
export function readProxyUpstream(text: string): { kind: 'service'; namespace: string; name: string; port: string | undefined } | { kind: 'address'; address: string; port: number } | undefined {
  const svc = /^svc\/([^/]+)\/([^/:]+)(?::([^:]+))?$/.exec(text);
  if (svc) return { kind: 'service', namespace: svc[1]!, name: svc[2]!, port: svc[3] };
  const ip = /^(\d+\.\d+\.\d+\.\d+|\[[0-9a-fA-F:.]+\]):(\d+)$/.exec(text);
  return ip ? { kind: 'address', address: ip[1]!.replace(/^\[|\]$/g, ''), port: Number(ip[2]) } : undefined;
}

/** `svc/NS/NAME[:PORT]` (PORT a ServicePort's name or number) or `IP:PORT` against the Services; a string says what is wrong. */
export function proxyUpstreamOf(proxy: Pick<ReverseProxy, 'upstream'>, services: readonly Service[]): ProxyUpstream | string {
  const ref = readProxyUpstream(proxy.upstream);
  if (!ref) return `"${proxy.upstream}" is neither svc/NS/NAME[:PORT] nor IP:PORT`;
  if (ref.kind === 'address') return ref;
  const { namespace: ns, name, port: portRef } = ref;
  const service = services.find((s) => s.metadata.namespace === ns && s.metadata.name === name);
  if (!service) return `no Service ${ns}/${name} in the manifests`;
  const ports = service.spec.ports ?? [];
  if (portRef === undefined) {
    if (ports.length === 1) return { kind: 'service', service, port: ports[0]! };
    return `Service ${ns}/${name} has ${ports.length} ports: name one (svc/${ns}/${name}:PORT)`;
  }
  const port = ports.find((p) => p.name === portRef || String(p.port) === portRef);
  return port ? { kind: 'service', service, port } : `Service ${ns}/${name} has no port "${portRef}" (ports: ${ports.map((p) => p.name ?? p.port).join(', ')})`;
}

/** Every proxy's upstream must resolve; `report` is the Environment's. */
export function checkProxyUpstreams(proxies: readonly ReverseProxy[], services: readonly Service[], report: Reporter): void {
  proxies.forEach((p, i) => {
    const up = proxyUpstreamOf(p, services);
    if (typeof up === 'string') report.error(`proxies[${i}].upstream`, `Not found: ${up}`);
    else if (up.kind === 'address' && p.upstreamEndpoints) report.error(`proxies[${i}].upstreamEndpoints`, 'Invalid value: true: only a Service upstream has endpoints to pick from');
  });
}
