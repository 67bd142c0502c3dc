/**
 * The application at the end of a journey: which AppSpec of the Environment describes a pod,
 * the kubepath/clientip strategy it runs, and what it makes of the connection it got — the
 * socket's peer, a PROXY header read or refused by its listener, the HTTP header fields — run
 * through the very strategy code an app would use.
 *
 * @module
 */
import type { AppSpec, ClientIPStrategySpec, Cluster } from '../cluster/index.js';
import type { Pod } from '../cluster/objects.js';
import {
  type ClientIpInput,
  LeftmostNonPrivate,
  ProxyProtocolSource,
  RemoteAddr,
  RightmostNonPrivate,
  RightmostTrustedCount,
  RightmostTrustedRange,
  SingleIPHeader,
  type Strategy,
  StrategyError,
} from '../clientip/index.js';
import { type ConnectionPayload, hostOf } from '../edge/request.js';

/** An application as the trace runs it: protocol, PROXY policy, strategy. */
export interface ResolvedApp {
  protocol: 'http' | 'tcp';
  proxyProtocol: 'none' | 'optional' | 'require';
  strategy: Strategy;
  /** Where the settings came from (`Environment apps[Deployment/shop/web]`, `--client-ip`, `default`). */
  from: string;
}

/** A `--client-ip` or Environment strategy that cannot be built. */
export class AppSpecError extends Error {
  override readonly name = 'AppSpecError';
}

/** The clientip strategy of a spec. */
export function strategyOf(spec: ClientIPStrategySpec): Strategy {
  const header = spec.header ?? 'X-Forwarded-For';
  try {
    switch (spec.strategy) {
      case 'RemoteAddr':
        return new RemoteAddr();
      case 'RightmostNonPrivate':
        return new RightmostNonPrivate(header);
      case 'LeftmostNonPrivate':
        return new LeftmostNonPrivate(header);
      case 'RightmostTrustedCount':
        return new RightmostTrustedCount(header, spec.count ?? 1, { trustedPeers: spec.trusted?.length ? spec.trusted : 'any' });
      case 'RightmostTrustedRange':
        return new RightmostTrustedRange(header, spec.trusted ?? []);
      case 'SingleIPHeader':
        return new SingleIPHeader(header, spec.trusted?.length ? { trustedPeers: spec.trusted } : {});
      case 'ProxyProtocol':
        return new ProxyProtocolSource(spec.trusted?.length ? spec.trusted : ['0.0.0.0/0', '::/0']);
    }
  } catch (e) {
    if (e instanceof StrategyError) throw new AppSpecError(e.message);
    throw e;
  }
}

/**
 * `--client-ip` text: `RemoteAddr`, `RightmostNonPrivate(X-Forwarded-For)`,
 * `RightmostTrustedRange(X-Forwarded-For, 10.0.0.0/8 192.168.0.0/16)`,
 * `RightmostTrustedCount(X-Forwarded-For, 2)`, `SingleIPHeader(X-Real-IP)`, `ProxyProtocol`.
 */
export function parseStrategySpec(text: string): ClientIPStrategySpec {
  const m = /^\s*([A-Za-z]+)\s*(?:\(([^)]*)\))?\s*$/.exec(text);
  const names: readonly ClientIPStrategySpec['strategy'][] = ['RemoteAddr', 'RightmostNonPrivate', 'LeftmostNonPrivate', 'RightmostTrustedCount', 'RightmostTrustedRange', 'SingleIPHeader', 'ProxyProtocol'];
  const strategy = names.find((n) => n.toLowerCase() === m?.[1]?.toLowerCase());
  if (!m || !strategy) throw new AppSpecError(`--client-ip ${JSON.stringify(text)}: expected one of ${names.join(', ')}, with arguments in parentheses, e.g. RightmostTrustedRange(X-Forwarded-For, 10.0.0.0/8)`);
  const args = (m[2] ?? '').split(/[\s,]+/).filter((a) => a !== '');
  const spec: ClientIPStrategySpec = { strategy };
  if (strategy === 'RemoteAddr' || strategy === 'ProxyProtocol') {
    if (strategy === 'ProxyProtocol' && args.length > 0) spec.trusted = args;
    else if (args.length > 0) throw new AppSpecError(`--client-ip ${text}: RemoteAddr takes no arguments`);
    return spec;
  }
  if (args.length === 0) throw new AppSpecError(`--client-ip ${text}: give the header it reads, e.g. ${strategy}(X-Forwarded-For)`);
  spec.header = args[0]!;
  const rest = args.slice(1);
  if (strategy === 'RightmostTrustedCount') {
    const n = Number(rest[0]);
    if (!Number.isInteger(n) || n < 1) throw new AppSpecError(`--client-ip ${text}: give the number of trusted proxies, e.g. RightmostTrustedCount(X-Forwarded-For, 1)`);
    spec.count = n;
    if (rest.length > 1) spec.trusted = rest.slice(1);
  } else if (strategy === 'RightmostTrustedRange') {
    if (rest.length === 0) throw new AppSpecError(`--client-ip ${text}: give the trusted ranges, e.g. RightmostTrustedRange(X-Forwarded-For, 10.0.0.0/8)`);
    spec.trusted = rest;
  } else if (rest.length > 0) {
    if (strategy === 'SingleIPHeader') spec.trusted = rest;
    else throw new AppSpecError(`--client-ip ${text}: ${strategy} takes only the header`);
  }
  strategyOf(spec);
  return spec;
}

/** `Deployment/NS/NAME` etc. of a pod, from its owner (a ReplicaSet's name is the Deployment's plus the template hash). */
export function workloadRefs(pod: Pod): string[] {
  const ns = pod.metadata.namespace ?? 'default';
  const out = [`pod/${ns}/${pod.metadata.name}`];
  for (const o of pod.metadata.ownerReferences ?? []) {
    out.push(`${o.kind}/${ns}/${o.name}`);
    if (o.kind === 'ReplicaSet') out.push(`Deployment/${ns}/${o.name.replace(/-[a-z0-9]+$/, '')}`);
  }
  return out;
}

/** The Environment's AppSpec for a pod (by pod or by its workload), if any. */
export function appSpecOf(cluster: Cluster, pod: Pod | undefined): { spec: AppSpec; ref: string } | undefined {
  if (!pod || !cluster.apps) return undefined;
  const refs = workloadRefs(pod);
  for (const ref of refs) {
    const spec = cluster.apps.find((a) => a.workload === ref);
    if (spec) return { spec, ref };
  }
  return undefined;
}

/** How the application in a pod is run: its AppSpec, with `--client-ip` over the strategy. */
export function resolveApp(cluster: Cluster, pod: Pod | undefined, override: ClientIPStrategySpec | undefined): ResolvedApp {
  const found = appSpecOf(cluster, pod);
  const spec = override ?? found?.spec.clientIP ?? { strategy: 'RemoteAddr' as const };
  const from = override ? '--client-ip' : found?.spec.clientIP ? `Environment apps[${found.ref}]` : 'default: the TCP peer, as r.RemoteAddr / req.socket.remoteAddress';
  return { protocol: found?.spec.protocol ?? 'http', proxyProtocol: found?.spec.proxyProtocol ?? 'none', strategy: strategyOf(spec), from };
}

/** What the application's listener does with the connection's first bytes. */
export type ListenerVerdict = { ok: true; remoteAddress: string; proxySource?: string } | { ok: false; reason: string };

/** The listener's view: a PROXY header read (its source becomes the socket's remote address) or refused. */
export function listen(app: ResolvedApp, payload: ConnectionPayload): ListenerVerdict {
  const h = payload.proxyHeader;
  if (h && app.proxyProtocol === 'none') {
    return {
      ok: false,
      reason:
        app.protocol === 'http'
          ? `the application does not read PROXY protocol: its first bytes are the v${h.version} header, not an HTTP request line (an HTTP server answers 400 Bad Request)`
          : `the application does not read PROXY protocol: it takes the v${h.version} header as the first bytes of its own protocol`,
    };
  }
  if (!h && app.proxyProtocol === 'require') return { ok: false, reason: 'the application requires a PROXY header and none came: it closes the connection' };
  if (h) return { ok: true, remoteAddress: hostOf(h.source), proxySource: hostOf(h.source) };
  return { ok: true, remoteAddress: hostOf(payload.peer) };
}

/** The client IP the app's strategy resolves from what reached it. */
export function resolveClientIP(app: ResolvedApp, payload: ConnectionPayload, verdict: Extract<ListenerVerdict, { ok: true }>): { ip: string | null; why: string } {
  const raw = app.protocol === 'http' ? (payload.http?.headers ?? []).flatMap(([n, v]) => [n, v]) : [];
  const input: ClientIpInput = { remoteAddress: verdict.remoteAddress, ...(verdict.proxySource ? { proxySource: verdict.proxySource } : {}), rawHeaders: raw };
  const r = app.strategy.resolve(input);
  if (!r.ok) return { ip: null, why: r.reason };
  const c = r.client;
  const where = c.source === 'remote-address' ? 'the TCP peer' : c.source === 'proxy-protocol' ? 'the PROXY header\'s source' : `${c.header}${c.hop !== undefined ? ` (hop ${c.hop} from the right)` : ''}`;
  return { ip: c.ip, why: `${app.strategy.name} takes ${where}` };
}
