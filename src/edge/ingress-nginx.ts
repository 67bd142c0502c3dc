/**
 * ingress-nginx's behaviour on one connection as a pure model: what its nginx believes about the
 * client and what it sends upstream, following the controller's template (rootfs/etc/nginx/
 * template/nginx.tmpl and lua/lua_ingress.lua of controller v1.11–v1.12; the header block of the
 * location has been the same since v1.0) — docs/ingress-nginx.md says what is and is not modelled.
 *
 * - PROXY protocol: `use-proxy-protocol: "true"` makes every listener require the header (without
 *   one nginx logs "broken header" and closes the connection); a header sent to a listener without
 *   `proxy_protocol` is read as the request line: 400 (on TLS, the handshake fails). Whether a
 *   header arrived is decided by parsing the bytes the sender wrote.
 * - realip is on with use-forwarded-headers, use-proxy-protocol or enable-real-ip:
 *   `real_ip_header` is `proxy_protocol` with the PROXY protocol, else forwarded-for-header
 *   (X-Forwarded-For); `real_ip_recursive on`; `set_real_ip_from` each proxy-real-ip-cidr, by
 *   default 0.0.0.0/0 — any IPv4 peer is trusted, so a client's own X-Forwarded-For is believed.
 * - Upstream fields, in the template's order: Host and X-Forwarded-Host (`$best_http_host`), Upgrade,
 *   Connection, X-Request-ID, X-Real-IP (`$remote_addr`), X-Forwarded-For (`$remote_addr`, or with
 *   use-forwarded-headers and compute-full-forwarded-for the client's list plus
 *   `$realip_remote_addr` / `$proxy_protocol_addr`), X-Forwarded-Port, X-Forwarded-Proto,
 *   X-Forwarded-Scheme, X-Original-URI (proxy-add-original-uri-header), X-Scheme,
 *   X-Original-Forwarded-For (the client's forwarded-for-header), `Proxy` removed; then nginx's own
 *   (TE, Keep-Alive, Expect removed), then every other field of the client. A field set to an empty
 *   value is not sent: the client's field of that name is gone too.
 *
 * @module
 */
import { formatNetwork, type IPNetwork } from '../net/index.js';
import type { IngressNginxConfig } from './ingress-nginx-config.js';
import { type IngressRoute, type IngressNginxTable, routeIngress } from './ingress-nginx-routes.js';
import { nginxRealIp, type RealIpResult } from './nginx-realip.js';
import { portOf, readProxyHeader } from './proxy-wire.js';
import { type ConnectionPayload, type HeaderChange, type HeaderField, headerValues, hostOf, type HttpRequestHead, type ProxyDecision } from './request.js';

export { ingressNginxConfig, INGRESS_NGINX_DEFAULTS, type IngressNginxConfig, type IngressNginxConfigResult } from './ingress-nginx-config.js';
export {
  chartFullname,
  findIngressNginx,
  INGRESS_NGINX_CONTROLLER_CLASS,
  INGRESS_NGINX_POD_LABELS,
  ingressNginxControllerDefaults,
  type IngressNginxController,
  type IngressNginxInstallation,
} from './ingress-nginx-install.js';
export {
  INGRESS_NGINX_ANNOTATION_PREFIX,
  ingressNginxTable,
  ingressNginxWatches,
  locationSettings,
  nginxUri,
  routeIngress,
  selectLocation,
  selectServer,
  wildcardHostMatches,
  type IngressNginxLocation,
  type IngressNginxServer,
  type IngressNginxTable,
  type IngressRef,
  type IngressRequest,
  type IngressRoute,
  type IngressUpstream,
  type LocationSettings,
} from './ingress-nginx-routes.js';
export { nginxParseAddrPort, nginxRealIp, type RealIpInput, type RealIpResult } from './nginx-realip.js';

/** The value shown for an X-Request-ID nginx generates (`$request_id`: 32 random hex digits, different on every request). */
export const GENERATED_REQUEST_ID = '<$request_id>';

export interface IngressNginxForwardOptions {
  /** The `$request_id` nginx would generate; default {@link GENERATED_REQUEST_ID}. */
  readonly requestId?: string | undefined;
}

/** ingress-nginx's decision, with the route it took (absent when the request never reached routing). */
export type IngressNginxDecision = ProxyDecision & { readonly route?: IngressRoute | undefined };

/** nginx's `$http_<name>`: every field whose name, lower-cased with `-` as `_`, is the variable's name; lines joined with ", ". */
function httpVar(headers: readonly HeaderField[], name: string): string {
  const key = name.toLowerCase().replace(/-/g, '_');
  return headers
    .filter(([n]) => n.toLowerCase().replace(/-/g, '_') === key)
    .map(([, v]) => v)
    .join(', ');
}

/** A header name nginx accepts with ignore_invalid_headers: letters, digits, `-`, and `_` only with underscores_in_headers. */
function validHeaderName(name: string, underscores: boolean): boolean {
  return (underscores ? /^[A-Za-z0-9_-]+$/ : /^[A-Za-z0-9-]+$/).test(name);
}

const cidrs = (nets: readonly IPNetwork[]) => nets.map(formatNetwork).join(', ');

/** What one incoming connection becomes at ingress-nginx. */
export function ingressNginxForward(
  payload: ConnectionPayload,
  config: IngressNginxConfig,
  table: IngressNginxTable,
  options: IngressNginxForwardOptions = {},
): IngressNginxDecision {
  const notes: string[] = [];
  const peer = hostOf(payload.peer);
  const tls = payload.http?.scheme === 'https';

  // The PROXY protocol, from the bytes.
  const pp = readProxyHeader(payload);
  if (config.useProxyProtocol) {
    if (pp.kind === 'none') return { kind: 'refuse', reason: 'use-proxy-protocol is on: every listener expects a PROXY protocol header and this connection has none; nginx logs "broken header" and closes it', notes };
    if (pp.kind === 'invalid') return { kind: 'refuse', reason: `use-proxy-protocol is on and the PROXY header is not valid (${pp.reason}); nginx logs "broken header" and closes the connection`, notes };
    notes.push(`${pp.summary}: read and removed by nginx (listen … proxy_protocol)`);
  } else if (pp.kind !== 'none') {
    return tls
      ? { kind: 'refuse', reason: 'a PROXY protocol header arrived but use-proxy-protocol is off: the TLS handshake fails on its bytes and nginx closes the connection', notes }
      : { kind: 'refuse', status: 400, reason: 'a PROXY protocol header arrived but use-proxy-protocol is off: nginx reads it as the request line and answers 400 Bad Request', notes };
  }
  const ppSource = pp.kind === 'header' ? pp.source : undefined;
  const ppDestPort = pp.kind === 'header' ? pp.destination?.port : undefined;
  if (pp.kind === 'header' && !ppSource) notes.push(`${pp.summary}: it carries no client address; $proxy_protocol_addr is empty and realip keeps the TCP peer`);

  const http = payload.http;
  if (!http) return { kind: 'refuse', status: 400, reason: 'not an HTTP request: ingress-nginx\'s HTTP listeners answer 400 (TCP services need the tcp-services ConfigMap, which kubepath does not model)', notes };

  // Header fields nginx drops (ignore_invalid_headers, underscores_in_headers).
  const changes: HeaderChange[] = [];
  let headers: readonly HeaderField[] = http.headers;
  if (config.ignoreInvalidHeaders) {
    const kept = headers.filter(([n]) => validHeaderName(n, config.enableUnderscoresInHeaders));
    for (const [n, v] of headers.filter((h) => !kept.includes(h))) {
      changes.push({ header: n, before: v, why: n.includes('_') && !config.enableUnderscoresInHeaders ? 'a name with "_": nginx ignores it (underscores_in_headers off, ignore_invalid_headers on)' : 'not a valid header name: nginx ignores it (ignore_invalid_headers on)' });
    }
    headers = kept;
  }

  // realip.
  const realipOn = config.useForwardedHeaders || config.useProxyProtocol || config.enableRealIp;
  let realip: RealIpResult;
  if (!realipOn) {
    realip = { address: peer, original: peer, changed: false, why: `the TCP peer ${peer}: realip is off (use-forwarded-headers, use-proxy-protocol and enable-real-ip are all off)`, walk: [] };
  } else if (config.useProxyProtocol) {
    realip = nginxRealIp({ peer, trusted: config.proxyRealIpCidr, values: ppSource ? [ppSource.ip] : [], sourceName: 'the PROXY protocol header', recursive: true });
  } else {
    const name = config.forwardedForHeader;
    const lines = headerValues(headers, name);
    // X-Forwarded-For is read from every line; any other header from its first line only.
    realip = nginxRealIp({ peer, trusted: config.proxyRealIpCidr, values: name === 'X-Forwarded-For' ? lines : lines.slice(0, 1), sourceName: name, recursive: true });
  }
  const remoteAddr = realip.address;
  let clientWhy = realip.why;
  if (realipOn && config.proxyRealIpCidr.some((n) => n.prefixLength === 0) && realip.changed && !config.useProxyProtocol) {
    clientWhy += ` — proxy-real-ip-cidr trusts ${cidrs(config.proxyRealIpCidr.filter((n) => n.prefixLength === 0))}, so any client can choose this address by sending ${config.forwardedForHeader}`;
  }

  // The variables lua_ingress.rewrite sets.
  const serverPort = portOf(payload.local);
  let passScheme: string = http.scheme;
  let passServerPort = config.useProxyProtocol ? (ppDestPort !== undefined ? String(ppDestPort) : '') : String(serverPort ?? '');
  const hostHeader = headerValues(headers, 'Host')[0] ?? http.host;
  let bestHost = hostHeader;
  const xfProto = httpVar(headers, 'X-Forwarded-Proto');
  const xfPort = httpVar(headers, 'X-Forwarded-Port');
  const xfHost = httpVar(headers, 'X-Forwarded-Host');
  if (config.useForwardedHeaders) {
    if (xfProto) passScheme = xfProto;
    if (xfPort) passServerPort = xfPort;
    if (xfHost) bestHost = xfHost.split(',')[0]!;
  }
  if (config.useProxyProtocol && ppDestPort === 443) passScheme = 'https';
  const passPort = passServerPort === String(table.controller.httpsPort) ? '443' : passServerPort;

  // Routing, redirects, access lists, backend.
  const route = routeIngress({ ...table, config }, { host: hostHeader, target: http.path, scheme: passScheme, clientAddress: remoteAddr, redirectHost: bestHost });
  if (route.kind === 'refuse') {
    return { kind: 'refuse', status: route.status, reason: route.redirectTo ? `${route.reason} (Location: ${route.redirectTo})` : route.reason, notes: [...notes, ...route.notes], route };
  }
  notes.push(`route: ${route.why}`, ...route.notes);
  const settings = route.location.settings;

  // What nginx sends: proxy_set_header in the template's order, then its defaults, then the client's other fields.
  const set: [string, string, string][] = [];
  const put = (name: string, value: string, why: string) => set.push([name, value, why]);
  put('Host', settings.upstreamVhost ?? bestHost, settings.upstreamVhost ? `upstream-vhost annotation: nginx sends Host ${settings.upstreamVhost}` : hostWhy('Host', config, xfHost, bestHost));
  const upgrade = httpVar(headers, 'Upgrade');
  put('Upgrade', upgrade, 'nginx passes the client\'s Upgrade ($http_upgrade) for WebSockets');
  put('Connection', upgrade ? 'upgrade' : config.upstreamKeepaliveConnections > 0 ? '' : 'close', upgrade ? 'the client asked to upgrade: Connection: upgrade' : config.upstreamKeepaliveConnections > 0 ? 'upstream keepalive is on (upstream-keepalive-connections): no Connection field is sent' : 'upstream-keepalive-connections is 0: Connection: close');
  const clientRequestId = httpVar(headers, 'X-Request-ID');
  const requestId = clientRequestId || (config.generateRequestId ? (options.requestId ?? GENERATED_REQUEST_ID) : '');
  put('X-Request-ID', requestId, clientRequestId ? 'nginx passes the client\'s X-Request-ID ($req_id)' : config.generateRequestId ? 'the client sent none: nginx generates one ($request_id)' : 'the client sent none and generate-request-id is off: none is sent');
  if (!clientRequestId && config.generateRequestId && options.requestId === undefined) notes.push('X-Request-ID is generated per request: its value differs on every request');
  put('X-Real-IP', remoteAddr, `nginx sets X-Real-IP to $remote_addr (${remoteAddr}: ${realip.changed ? 'from realip' : 'the TCP peer'}), replacing any the client sent`);
  const clientXff = httpVar(headers, 'X-Forwarded-For');
  if (config.useForwardedHeaders && config.computeFullForwardedFor) {
    const appended = config.useProxyProtocol ? (ppSource?.ip ?? '') : realip.original;
    const value = clientXff ? `${clientXff}, ${appended}` : appended;
    put('X-Forwarded-For', value, `use-forwarded-headers and compute-full-forwarded-for: nginx appends ${config.useProxyProtocol ? '$proxy_protocol_addr' : '$realip_remote_addr (the TCP peer)'} ${appended || '(empty)'} to the client's X-Forwarded-For`);
  } else {
    put('X-Forwarded-For', remoteAddr, `${config.computeFullForwardedFor ? 'compute-full-forwarded-for needs use-forwarded-headers too: ' : ''}nginx sets X-Forwarded-For to $remote_addr (${remoteAddr}), replacing the client's value`);
  }
  put('X-Forwarded-Host', bestHost, hostWhy('X-Forwarded-Host', config, xfHost, bestHost));
  const portWhy = config.useForwardedHeaders && xfPort ? 'use-forwarded-headers: the client\'s X-Forwarded-Port' : config.useProxyProtocol ? 'the PROXY header\'s destination port ($proxy_protocol_server_port)' : 'the port the connection arrived at ($server_port)';
  put('X-Forwarded-Port', passPort, `${portWhy}${passPort !== passServerPort ? `, reported as 443 (the HTTPS port)` : ''}`);
  const schemeWhy = config.useForwardedHeaders && xfProto ? 'use-forwarded-headers: the client\'s X-Forwarded-Proto' : config.useProxyProtocol && ppDestPort === 443 ? 'the PROXY header\'s destination port is 443' : `the connection's scheme (${http.scheme})${xfProto ? '; the client\'s X-Forwarded-Proto is ignored (use-forwarded-headers off)' : ''}`;
  put('X-Forwarded-Proto', passScheme, schemeWhy);
  put('X-Forwarded-Scheme', passScheme, schemeWhy);
  if (config.proxyAddOriginalUriHeader) put('X-Original-URI', http.path, 'proxy-add-original-uri-header: the request URI as received');
  put('X-Scheme', passScheme, schemeWhy);
  const originalXff = httpVar(headers, config.forwardedForHeader);
  put('X-Original-Forwarded-For', originalXff, originalXff ? `the client's ${config.forwardedForHeader}, kept for reference` : `the client sent no ${config.forwardedForHeader}: none is sent`);
  put('Proxy', '', 'nginx clears Proxy (httpoxy mitigation)');
  if (settings.xForwardedPrefix !== undefined) put('X-Forwarded-Prefix', settings.xForwardedPrefix, 'x-forwarded-prefix annotation');
  for (const name of ['TE', 'Keep-Alive', 'Expect']) put(name, '', `nginx's proxy module does not pass ${name}`);

  const setNames = new Set(set.map(([n]) => n.toLowerCase()));
  const out: HeaderField[] = [];
  for (const [name, value, why] of set) {
    const before = headerValues(headers, name);
    const beforeText = before.length ? before.join(', ') : undefined;
    if (value !== '') out.push([name, value]);
    const after = value === '' ? undefined : value;
    if (beforeText !== after) changes.push({ header: name, before: beforeText, after, why });
  }
  for (const h of headers) if (!setNames.has(h[0].toLowerCase())) out.push(h);

  const backendTLS = settings.backendProtocol === 'HTTPS' || settings.backendProtocol === 'GRPCS';
  if (settings.backendProtocol !== 'HTTP') notes.push(`backend-protocol ${settings.backendProtocol}: nginx speaks ${settings.backendProtocol} to the upstream`);
  const upstream: HttpRequestHead = { method: http.method, host: out.find(([n]) => n === 'Host')?.[1] ?? bestHost, path: route.upstreamTarget, scheme: backendTLS ? 'https' : 'http', headers: out };
  if (tls) notes.push('TLS is terminated at ingress-nginx');
  notes.push(`upstreams: ${route.upstreams.map((u) => `${u.address}${u.pod ? ` (${u.pod})` : ''}`).join(', ')}`);
  return { kind: 'forward', clientAddress: remoteAddr, clientAddressWhy: clientWhy, upstream: { http: upstream }, changes, notes, route };
}

function hostWhy(name: string, config: IngressNginxConfig, xfHost: string, bestHost: string): string {
  if (config.useForwardedHeaders && xfHost) return `use-forwarded-headers: the first host of the client's X-Forwarded-Host (${bestHost}) — nginx sends it as ${name}`;
  return `$best_http_host: the client's Host header${name === 'X-Forwarded-Host' ? ', replacing any X-Forwarded-Host the client sent' : ''}`;
}
