/**
 * Proxies other than ingress-nginx, each as a pure model of what it does with one connection:
 *
 * - Envoy's HTTP connection manager (the documented rules of `use_remote_address`,
 *   `xff_num_trusted_hops` and `skip_xff_append`: which address is the *trusted client address*,
 *   `x-envoy-external-address`, `x-envoy-internal`, what is appended to `x-forwarded-for`,
 *   `x-forwarded-proto`), with the `envoy.filters.listener.proxy_protocol` listener filter;
 * - HAProxy: `accept-proxy` on the bind line, `mode tcp|http`, `option forwardfor [except]
 *   [header] [if-none]` (a new field with the peer, after the others), `send-proxy`/`send-proxy-v2`;
 * - cloud load balancers that proxy: at L4 a new connection from the LB's own address, with a
 *   PROXY header when enabled; at L7 (AWS ALB, Alibaba Cloud CLB HTTP listeners, UCloud ULB7) a new
 *   connection with the client appended to X-Forwarded-For and the X-Forwarded-Proto/-Port each
 *   documents.
 *
 * A PROXY header is received when the bytes parse (kubepath's parser), and written with kubepath's
 * encoder: the decision's `upstream.proxyHeader` is then a full {@link ProxyHeaderSent}.
 *
 * @module
 */
import { formatNetwork, type IPAddress, type IPNetwork, networkContains, parseNetwork, tryParseIP } from '../net/index.js';
import { formatWire, portOf, proxyHeaderSent, readProxyHeader, type ProxyHeaderRead } from './proxy-wire.js';
import { type ConnectionPayload, type HeaderChange, type HeaderField, headerValues, hostOf, type HttpRequestHead, type ProxyDecision, type ProxyHeaderSent } from './request.js';

/** Envoy: a listener (optionally with the proxy_protocol listener filter) and its HTTP connection manager. */
export interface EnvoyProxy {
  readonly kind: 'envoy';
  /** `http` (default): the HTTP connection manager; `tcp`: tcp_proxy passes the bytes as they are. */
  readonly mode?: 'http' | 'tcp';
  /** Default false. */
  readonly useRemoteAddress?: boolean;
  /** Default 0. */
  readonly xffNumTrustedHops?: number;
  /** Default false. */
  readonly skipXffAppend?: boolean;
  /** The `envoy.filters.listener.proxy_protocol` listener filter. */
  readonly proxyProtocol?: { readonly allowRequestsWithoutProxyProtocol?: boolean } | boolean;
  /** `append_x_forwarded_port` (default false). */
  readonly appendXForwardedPort?: boolean;
  /** An upstream `proxy_protocol` transport socket: Envoy writes a PROXY header to the upstream. */
  readonly upstreamProxyProtocol?: 1 | 2;
}

/** HAProxy: one frontend (bind) and the server line of its backend. */
export interface HaproxyProxy {
  readonly kind: 'haproxy';
  readonly mode: 'http' | 'tcp';
  /** `accept-proxy` on the bind line. */
  readonly acceptProxy?: boolean;
  /** `option forwardfor [except NET] [header NAME] [if-none]` (http mode). */
  readonly forwardFor?: { readonly except?: string; readonly header?: string; readonly ifNone?: boolean } | undefined;
  /** `send-proxy` (1) or `send-proxy-v2` (2) on the server line. */
  readonly sendProxy?: 1 | 2 | undefined;
}

/** A cloud L4 load balancer that proxies: a new TCP connection from its own address. */
export interface CloudL4Proxy {
  readonly kind: 'cloud-l4-proxy';
  /** For notes, e.g. `AWS NLB (ip targets)`. */
  readonly name?: string;
  /** The address the LB connects to backends from. */
  readonly sourceAddress: string;
  /** A PROXY header at the start of the new connection (AWS NLB sends v2, Alibaba CLB/NLB v2 when on). */
  readonly proxyProtocol?: 1 | 2 | undefined;
}

/** The cloud L7 load balancers kubepath knows the headers of; `generic` is any other (X-Forwarded-For appended, nothing else assumed). */
export type CloudL7Provider = 'aws-alb' | 'alibaba-clb' | 'ucloud-ulb7' | 'generic';

/** A cloud HTTP(S) listener: TLS ends there, a new connection goes to the backend. */
export interface CloudL7Proxy {
  readonly kind: 'cloud-l7';
  readonly provider: CloudL7Provider;
  /** For notes, over the provider's name. */
  readonly name?: string;
  readonly sourceAddress: string;
  /** AWS `routing.http.xff_header_processing.mode` (default append). */
  readonly xffMode?: 'append' | 'preserve' | 'remove';
  /** AWS `routing.http.xff_client_port.enabled`: the client's port too (`ip:port`). */
  readonly xffClientPort?: boolean;
  /** Alibaba `…-xforwardedfor-proto: "on"` (default off): X-Forwarded-Proto. */
  readonly xForwardedProto?: boolean;
  /** Alibaba `…-xforwardedfor-slbport: "on"` (default off): X-Forwarded-Port. */
  readonly xForwardedPort?: boolean;
  /** The protocol to the backend (default HTTP). */
  readonly backendProtocol?: 'http' | 'https';
}

export type HttpProxy = EnvoyProxy | HaproxyProxy | CloudL4Proxy | CloudL7Proxy;

/** The value shown for identifiers a proxy generates per request (Envoy's x-request-id, ALB's X-Amzn-Trace-Id). */
export const GENERATED_ID = '<generated>';

/** RFC 1918 and RFC 4193: what Envoy calls internal. */
const INTERNAL = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'].map((c) => parseNetwork(c));
function isInternal(ip: IPAddress): boolean {
  return INTERNAL.some((n) => networkContains(n, ip));
}

/** Where the connection really comes from after a PROXY header was accepted: its source, or (LOCAL, UNKNOWN) the peer. */
function downstreamOf(payload: ConnectionPayload, pp: ProxyHeaderRead): { address: string; port: number | undefined; destination: string } {
  if (pp.kind === 'header' && pp.source) return { address: pp.source.ip, port: pp.source.port, destination: pp.destination ? formatWire(pp.destination) : payload.local };
  return { address: hostOf(payload.peer), port: portOf(payload.peer), destination: payload.local };
}

function endpoint(ip: string, port: number | undefined): string {
  return ip.includes(':') ? `[${ip}]:${port ?? 0}` : `${ip}:${port ?? 0}`;
}

/** Replace every field named `name` by one (in place of the first, or at the end), or remove them; record the change. */
function setField(headers: HeaderField[], name: string, value: string | undefined, why: string, changes: HeaderChange[], at: 'first' | 'end' = 'first'): HeaderField[] {
  const lower = name.toLowerCase();
  const matches = (h: HeaderField) => h[0].toLowerCase() === lower;
  const before = headers.filter(matches).map(([, v]) => v);
  const beforeText = before.length ? before.join(', ') : undefined;
  const out = headers.filter((h) => !matches(h));
  if (value !== undefined) {
    const first = headers.findIndex(matches);
    if (first >= 0 && at === 'first') out.splice(headers.slice(0, first).filter((h) => !matches(h)).length, 0, [headers[first]![0], value]);
    else out.push([name, value]);
  }
  if (beforeText !== value) changes.push({ header: name, before: beforeText, after: value, why });
  return out;
}

/** The XFF entries, every line, split on commas. */
function xffEntries(headers: readonly HeaderField[]): string[] {
  return headerValues(headers, 'X-Forwarded-For')
    .flatMap((v) => v.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function envoy(proxy: EnvoyProxy, payload: ConnectionPayload): ProxyDecision {
  const notes: string[] = [];
  const pp = readProxyHeader(payload);
  const filter = proxy.proxyProtocol === true ? {} : proxy.proxyProtocol || undefined;
  if (filter) {
    if (pp.kind === 'invalid') return { kind: 'refuse', reason: `the proxy_protocol listener filter cannot parse the PROXY header (${pp.reason}): Envoy closes the connection`, notes };
    if (pp.kind === 'none' && !filter.allowRequestsWithoutProxyProtocol) return { kind: 'refuse', reason: 'the proxy_protocol listener filter requires a PROXY header and none came: Envoy closes the connection', notes };
    if (pp.kind === 'header') notes.push(`${pp.summary}: the listener filter makes ${pp.source ? 'its source' : 'the TCP peer'} the downstream remote address`);
  } else if (pp.kind !== 'none') {
    return { kind: 'refuse', status: 400, reason: 'a PROXY header arrived at a listener without the proxy_protocol filter: the HTTP codec cannot parse it and Envoy answers 400', notes };
  }
  const down = downstreamOf(payload, pp);
  const http = payload.http;
  if (proxy.mode === 'tcp') {
    return { kind: 'forward', clientAddress: down.address, clientAddressWhy: `tcp_proxy: the downstream address ${down.address}; the bytes pass as they are`, upstream: { ...upstreamProxy(proxy.upstreamProxyProtocol, down, notes), ...(http ? { http } : {}) }, changes: [], notes };
  }
  if (!http) return { kind: 'forward', clientAddress: down.address, clientAddressWhy: 'not HTTP: the connection manager does not apply (tcp_proxy passes the bytes)', upstream: upstreamProxy(proxy.upstreamProxyProtocol, down, notes), changes: [], notes };

  const changes: HeaderChange[] = [];
  let headers: HeaderField[] = [...http.headers];
  const useRemote = proxy.useRemoteAddress ?? false;
  const hops = proxy.xffNumTrustedHops ?? 0;
  const xff = xffEntries(headers);
  // The trusted client address, before anything is appended.
  let trusted = down.address;
  let why: string;
  const pick = (fromRight: number) => {
    const entry = xff[xff.length - fromRight];
    const ip = entry === undefined ? undefined : tryParseIP(entry);
    return ip ? entry! : undefined;
  };
  if (!useRemote) {
    const n = hops + 1;
    const found = xff.length >= n ? pick(n) : undefined;
    if (found) {
      trusted = found;
      why = hops === 0 ? `use_remote_address is false: the last (rightmost) address of XFF, ${found}` : `use_remote_address is false, xff_num_trusted_hops ${hops}: the ${ordinal(n)} address from the right of XFF, ${found}`;
    } else why = xff.length < n ? `use_remote_address is false and XFF has fewer than ${n} address${n > 1 ? 'es' : ''}: the downstream address ${down.address}` : `the XFF entry Envoy would trust is not an IP address: the downstream address ${down.address}`;
  } else if (hops > 0) {
    const found = xff.length >= hops ? pick(hops) : undefined;
    if (found) {
      trusted = found;
      why = `use_remote_address is true, xff_num_trusted_hops ${hops}: the ${ordinal(hops)} address from the right of XFF, ${found}`;
    } else why = `use_remote_address is true and XFF has fewer than ${hops} address${hops > 1 ? 'es' : ''}: the downstream address ${down.address}`;
  } else why = `use_remote_address is true, xff_num_trusted_hops 0: the downstream address ${down.address}; XFF is not trusted`;

  // Internal or external (decides x-envoy-internal and x-envoy-external-address).
  const downIP = tryParseIP(down.address);
  const internal = useRemote ? xff.length === 0 && downIP !== undefined && isInternal(downIP) : xff.length === 1 && tryParseIP(xff[0]!) !== undefined && isInternal(tryParseIP(xff[0]!)!);
  if (useRemote && !(proxy.skipXffAppend ?? false)) {
    const value = [...xff, down.address].join(', ');
    headers = setField(headers, 'X-Forwarded-For', value, `use_remote_address is true: Envoy appends the downstream address ${down.address}`, changes);
  } else if (useRemote) notes.push('skip_xff_append: Envoy leaves X-Forwarded-For as it came');
  if (internal) headers = setField(headers, 'x-envoy-internal', 'true', useRemote ? 'no XFF and an internal (RFC 1918/4193) downstream address: internal request' : 'XFF holds one internal (RFC 1918/4193) address: internal request', changes);
  else headers = setField(headers, 'x-envoy-internal', undefined, 'an external request: Envoy removes x-envoy-internal', changes);
  if (useRemote && !internal) headers = setField(headers, 'x-envoy-external-address', trusted, `use_remote_address is true and the request is external: the trusted client address`, changes);
  // x-forwarded-proto: trusted only with trusted hops.
  const clientProto = headerValues(headers, 'X-Forwarded-Proto')[0];
  const trustedProto = hops > 0 && (clientProto === 'http' || clientProto === 'https') ? clientProto : undefined;
  headers = setField(headers, 'X-Forwarded-Proto', trustedProto ?? http.scheme, trustedProto ? 'xff_num_trusted_hops > 0: the downstream x-forwarded-proto is trusted' : `x-forwarded-proto from the downstream connection (${http.scheme === 'https' ? 'TLS' : 'plaintext'})${clientProto ? '; the client\'s value is not trusted (xff_num_trusted_hops is 0)' : ''}`, changes);
  if (hops === 0 && headerValues(headers, 'X-Forwarded-Port').length > 0 && !proxy.appendXForwardedPort) {
    headers = setField(headers, 'X-Forwarded-Port', undefined, 'xff_num_trusted_hops is 0: the downstream x-forwarded-port is not trusted', changes);
  }
  if (proxy.appendXForwardedPort && headerValues(headers, 'X-Forwarded-Port').length === 0) {
    const port = down.destination.slice(down.destination.lastIndexOf(':') + 1);
    headers = setField(headers, 'X-Forwarded-Port', port, 'append_x_forwarded_port: the listener port', changes, 'end');
  }
  const external = !internal;
  const rid = headerValues(headers, 'x-request-id')[0];
  if (external || rid === undefined) headers = setField(headers, 'x-request-id', GENERATED_ID, external ? 'an external request: Envoy generates x-request-id (the client\'s is not kept)' : 'none was sent: Envoy generates x-request-id', changes, 'end');
  const upstream: HttpRequestHead = { ...http, scheme: 'http', headers };
  return { kind: 'forward', clientAddress: trusted, clientAddressWhy: why, upstream: { ...upstreamProxy(proxy.upstreamProxyProtocol, down, notes), http: upstream }, changes, notes };
}

function ordinal(n: number): string {
  return n === 1 ? '1st' : n === 2 ? '2nd' : n === 3 ? '3rd' : `${n}th`;
}

function upstreamProxy(version: 1 | 2 | undefined, down: { address: string; port: number | undefined; destination: string }, notes: string[]): { proxyHeader?: ProxyHeaderSent } {
  if (!version) return {};
  const sent = proxyHeaderSent(version, endpoint(down.address, down.port), down.destination);
  notes.push(`sends PROXY protocol v${version} with source ${sent.source}, destination ${sent.destination}`);
  return { proxyHeader: sent };
}

function haproxy(proxy: HaproxyProxy, payload: ConnectionPayload): ProxyDecision {
  const notes: string[] = [];
  const pp = readProxyHeader(payload);
  if (proxy.acceptProxy) {
    if (pp.kind === 'none') return { kind: 'refuse', reason: 'accept-proxy: the bind line requires a PROXY header and none came; HAProxy closes the connection', notes };
    if (pp.kind === 'invalid') return { kind: 'refuse', reason: `accept-proxy: the PROXY header is not valid (${pp.reason}); HAProxy closes the connection`, notes };
    notes.push(`${pp.summary}: accepted (accept-proxy)`);
  } else if (pp.kind !== 'none') {
    if (proxy.mode === 'http') return { kind: 'refuse', status: 400, reason: 'a PROXY header arrived at a bind without accept-proxy: HAProxy cannot parse it as HTTP and answers 400', notes };
    notes.push('a PROXY header arrived at a bind without accept-proxy: in mode tcp its bytes are passed on as data');
  }
  const down = downstreamOf(payload, proxy.acceptProxy ? pp : { kind: 'none' });
  const clientWhy = proxy.acceptProxy && pp.kind === 'header' && pp.source ? `the PROXY header's source ${down.address} (accept-proxy)` : `the TCP peer ${down.address}`;
  const proxyHeader = upstreamProxy(proxy.sendProxy, down, notes);
  if (proxy.mode === 'tcp' || !payload.http) {
    // tcp mode: the bytes pass; a PROXY header not consumed here stays in the stream.
    const passed = !proxy.acceptProxy && pp.kind !== 'none' && !proxy.sendProxy ? { proxyHeader: payload.proxyHeader } : proxyHeader;
    if (!proxy.acceptProxy && pp.kind !== 'none' && proxy.sendProxy) notes.push('the client\'s own PROXY header follows HAProxy\'s as data: the next hop sees it as the start of the application bytes');
    return { kind: 'forward', clientAddress: down.address, clientAddressWhy: clientWhy, upstream: { ...passed, http: payload.http }, changes: [], notes: [...notes, 'mode tcp: no header is changed'] };
  }
  const changes: HeaderChange[] = [];
  let headers: HeaderField[] = [...payload.http.headers];
  const ff = proxy.forwardFor;
  if (ff) {
    const name = ff.header ?? 'X-Forwarded-For';
    const ip = tryParseIP(down.address);
    const except: IPNetwork | undefined = ff.except ? (ff.except.includes('/') ? parseNetwork(ff.except) : parseNetwork(`${ff.except}/${ff.except.includes(':') ? 128 : 32}`)) : undefined;
    if (except && ip && networkContains(except, ip)) notes.push(`option forwardfor except ${formatNetwork(except)}: the client ${down.address} is in it, no ${name} is added`);
    else if (ff.ifNone && headerValues(headers, name).length > 0) notes.push(`option forwardfor if-none: the request already has ${name}, nothing is added`);
    else {
      headers = [...headers, [name, down.address]];
      const existing = headerValues(payload.http.headers, name);
      changes.push({ header: name, before: existing.length ? existing.join(', ') : undefined, after: [...existing, down.address].join(', '), why: `option forwardfor: HAProxy adds a new ${name} field with the client ${down.address} after the others${existing.length ? ' (the client\'s fields stay: read together, the client\'s entries come first)' : ''}` });
    }
  }
  return { kind: 'forward', clientAddress: down.address, clientAddressWhy: clientWhy, upstream: { ...proxyHeader, http: { ...payload.http, headers } }, changes, notes };
}

function cloudL4(proxy: CloudL4Proxy, payload: ConnectionPayload): ProxyDecision {
  const notes: string[] = [`${proxy.name ?? 'the load balancer'} proxies at L4: the backend's TCP peer is ${proxy.sourceAddress}, the LB's own address`];
  const pp = readProxyHeader(payload);
  const down = downstreamOf(payload, { kind: 'none' });
  let upstream: { proxyHeader?: ProxyHeaderSent | undefined; http?: HttpRequestHead | undefined } = { http: payload.http };
  if (proxy.proxyProtocol) {
    const sent = proxyHeaderSent(proxy.proxyProtocol, endpoint(down.address, down.port), payload.local);
    upstream = { proxyHeader: sent, http: payload.http };
    notes.push(`PROXY protocol v${proxy.proxyProtocol}: the client ${sent.source} travels in the header`);
    if (pp.kind !== 'none') notes.push('the client\'s own PROXY header follows the LB\'s as data: the backend reads it as the start of the request');
  } else {
    if (pp.kind !== 'none') upstream = { proxyHeader: payload.proxyHeader, http: payload.http };
    notes.push('no PROXY protocol: the backend cannot learn the client address');
  }
  return { kind: 'forward', clientAddress: down.address, clientAddressWhy: `the LB's peer: ${down.address}`, upstream, changes: [], notes };
}

const L7_NAMES: Record<CloudL7Provider, string> = { 'aws-alb': 'AWS ALB', 'alibaba-clb': 'Alibaba Cloud CLB (HTTP listener)', 'ucloud-ulb7': 'UCloud ULB7', generic: 'the HTTP load balancer' };

function cloudL7(proxy: CloudL7Proxy, payload: ConnectionPayload): ProxyDecision {
  const name = proxy.name ?? L7_NAMES[proxy.provider];
  const notes: string[] = [`${name} ends the client's connection and opens a new one from ${proxy.sourceAddress}`];
  const pp = readProxyHeader(payload);
  if (pp.kind !== 'none') return { kind: 'refuse', status: 400, reason: `${name} does not accept the PROXY protocol on HTTP listeners: the header is not HTTP, 400`, notes };
  const http = payload.http;
  if (!http) return { kind: 'refuse', status: 400, reason: `${name} is an HTTP listener: bytes that are not HTTP get 400`, notes };
  const down = downstreamOf(payload, pp);
  const changes: HeaderChange[] = [];
  let headers: HeaderField[] = [...http.headers];
  const listenerPort = payload.local.slice(payload.local.lastIndexOf(':') + 1);
  const clientEntry = proxy.provider === 'aws-alb' && proxy.xffClientPort ? endpoint(down.address, down.port) : down.address;
  const mode = proxy.provider === 'aws-alb' ? (proxy.xffMode ?? 'append') : 'append';
  const xff = headerValues(headers, 'X-Forwarded-For').join(', ');
  if (mode === 'append') headers = setField(headers, 'X-Forwarded-For', xff ? `${xff}, ${clientEntry}` : clientEntry, `${name} appends the client address ${clientEntry} to X-Forwarded-For${proxy.provider === 'alibaba-clb' ? ' (always on for CLB layer-7 listeners)' : ''}`, changes);
  else if (mode === 'remove') headers = setField(headers, 'X-Forwarded-For', undefined, 'routing.http.xff_header_processing.mode remove: the ALB removes X-Forwarded-For', changes);
  else notes.push('routing.http.xff_header_processing.mode preserve: X-Forwarded-For passes unchanged');
  const proto = proxy.provider === 'aws-alb' || (proxy.provider === 'alibaba-clb' && proxy.xForwardedProto);
  if (proto) headers = setField(headers, 'X-Forwarded-Proto', http.scheme, `${name} sets X-Forwarded-Proto to the client's protocol (${http.scheme})`, changes);
  const port = proxy.provider === 'aws-alb' || (proxy.provider === 'alibaba-clb' && proxy.xForwardedPort);
  if (port) headers = setField(headers, 'X-Forwarded-Port', listenerPort, `${name} sets X-Forwarded-Port to the listener port ${listenerPort}`, changes);
  if (proxy.provider === 'aws-alb') headers = setField(headers, 'X-Amzn-Trace-Id', GENERATED_ID, 'the ALB adds or updates X-Amzn-Trace-Id (request tracing)', changes);
  if (proxy.provider === 'ucloud-ulb7') notes.push('UCloud documents X-Forwarded-For for ULB7; other X-Forwarded-* fields are not modelled');
  if (proxy.provider === 'generic') notes.push('X-Forwarded-For appended, as every HTTP load balancer does; what else this product adds (X-Forwarded-Proto, -Port) is not modelled');
  return {
    kind: 'forward',
    clientAddress: down.address,
    clientAddressWhy: `the LB's TCP peer ${down.address}`,
    upstream: { http: { ...http, scheme: proxy.backendProtocol ?? 'http', headers } },
    changes,
    notes,
  };
}

/** What a proxy does with one incoming connection. */
export function forwardThrough(proxy: HttpProxy, payload: ConnectionPayload): ProxyDecision {
  switch (proxy.kind) {
    case 'envoy':
      return envoy(proxy, payload);
    case 'haproxy':
      return haproxy(proxy, payload);
    case 'cloud-l4-proxy':
      return cloudL4(proxy, payload);
    case 'cloud-l7':
      return cloudL7(proxy, payload);
  }
}

/** True when a decision's upstream PROXY header carries its bytes (this module's senders always do). */
export function isProxyHeaderSent(h: { readonly version: 1 | 2 } | undefined): h is ProxyHeaderSent {
  return h !== undefined && typeof (h as Partial<ProxyHeaderSent>).hex === 'string';
}
