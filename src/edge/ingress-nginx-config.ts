/**
 * ingress-nginx's controller ConfigMap (`ingress-nginx-controller` in the default install): the keys
 * that decide which client address nginx believes, what it sends upstream, and when it redirects,
 * read with the controller's defaults (internal/ingress/controller/config/config.go, controller
 * v1.11–v1.12) and the controller's own parsing: booleans as Go's strconv.ParseBool reads them,
 * lists split on commas. A value the controller cannot read keeps the default, as the controller
 * does; kubepath reports it, naming the key.
 *
 * @module
 */
import { formatNetwork, hostNetwork, type IPNetwork, parseNetwork, tryParseIP } from '../net/index.js';

/** What kubepath models of ingress-nginx's configuration, every value filled. */
export interface IngressNginxConfig {
  /** Trust the client's X-Forwarded-Proto/-Port/-Host, turn realip on (X-Forwarded-For by default). */
  readonly useForwardedHeaders: boolean;
  /** Turn realip on without trusting the other X-Forwarded-* fields. */
  readonly enableRealIp: boolean;
  /** Every HTTP/HTTPS listener requires a PROXY protocol header; realip reads it. */
  readonly useProxyProtocol: boolean;
  /** The header realip reads (`real_ip_header`) when the PROXY protocol is off. */
  readonly forwardedForHeader: string;
  /** With use-forwarded-headers: append to the client's X-Forwarded-For instead of replacing it. */
  readonly computeFullForwardedFor: boolean;
  /** `set_real_ip_from`: the peers realip trusts. */
  readonly proxyRealIpCidr: readonly IPNetwork[];
  readonly generateRequestId: boolean;
  readonly proxyAddOriginalUriHeader: boolean;
  readonly sslRedirect: boolean;
  readonly forceSslRedirect: boolean;
  readonly httpRedirectCode: 301 | 302 | 307 | 308;
  readonly noTlsRedirectLocations: readonly string[];
  readonly enableUnderscoresInHeaders: boolean;
  readonly ignoreInvalidHeaders: boolean;
  /** 0 sends `Connection: close` upstream; more keeps upstream connections alive (no Connection field). */
  readonly upstreamKeepaliveConnections: number;
  /** `deny` at the http level: these client addresses get 403. */
  readonly blockCidrs: readonly IPNetwork[];
  /** Default allow list of every location (`whitelist-source-range`); empty allows all. */
  readonly whitelistSourceRange: readonly IPNetwork[];
}

/** The controller's defaults for the keys kubepath models. */
export const INGRESS_NGINX_DEFAULTS: IngressNginxConfig = {
  useForwardedHeaders: false,
  enableRealIp: false,
  useProxyProtocol: false,
  forwardedForHeader: 'X-Forwarded-For',
  computeFullForwardedFor: false,
  proxyRealIpCidr: [parseNetwork('0.0.0.0/0')],
  generateRequestId: true,
  proxyAddOriginalUriHeader: false,
  sslRedirect: true,
  forceSslRedirect: false,
  httpRedirectCode: 308,
  noTlsRedirectLocations: ['/.well-known/acme-challenge'],
  enableUnderscoresInHeaders: false,
  ignoreInvalidHeaders: true,
  upstreamKeepaliveConnections: 320,
  blockCidrs: [],
  whitelistSourceRange: [],
};

/** The configuration read from a ConfigMap, with what was wrong and what was assumed. */
export interface IngressNginxConfigResult {
  readonly config: IngressNginxConfig;
  /** `ConfigMap ns/name data[key]: Invalid value: …`, each naming the key; the default was kept. */
  readonly errors: readonly string[];
  /** Modelled keys the ConfigMap does not set: `use-forwarded-headers: false (ingress-nginx's default)`. */
  readonly defaults: readonly string[];
  /** Keys that change requests in ways kubepath does not model. */
  readonly unmodelled: readonly string[];
}

// strconv.ParseBool.
const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Keys whose effect on requests kubepath does not model, and why that matters. */
const UNMODELLED: Record<string, string> = {
  'proxy-set-headers': 'headers from that ConfigMap are added to every upstream request',
  'http-snippet': 'its directives apply to every request',
  'server-snippet': 'its directives apply to every server',
  'location-snippet': 'its directives apply to every location',
  'forwarded-for-proxy-protocol-header': 'newer controllers use it when both the PROXY protocol and forwarded headers are on',
  'forwarded-host-header': 'newer controllers read the client host from that header',
  'use-geoip2': 'no effect on addresses, but GeoIP variables follow $remote_addr',
};

/** A CIDR or single address as nginx's `set_real_ip_from`/`deny` take it (host bits are masked, as nginx does with a warning). */
function readNetwork(text: string): IPNetwork | string {
  const t = text.trim();
  if (!t.includes('/')) {
    const ip = tryParseIP(t);
    return ip ? hostNetwork(ip) : 'must be an IP address or a CIDR (e.g. 10.0.0.0/8)';
  }
  try {
    return parseNetwork(t);
  } catch {
    return 'must be an IP address or a CIDR (e.g. 10.0.0.0/8)';
  }
}

/**
 * Read the controller's ConfigMap data. `where` names it in messages, e.g.
 * `ConfigMap ingress-nginx/ingress-nginx-controller`.
 */
export function ingressNginxConfig(data: Readonly<Record<string, string>>, where: string): IngressNginxConfigResult {
  const errors: string[] = [];
  const defaults: string[] = [];
  const at = (key: string, value: string, why: string, kept: string) => errors.push(`${where} data[${key}]: Invalid value: ${JSON.stringify(value)}: ${why}; ingress-nginx keeps the default ${kept}`);
  const has = (key: string) => Object.hasOwn(data, key);
  const bool = (key: string, def: boolean): boolean => {
    if (!has(key)) {
      defaults.push(`${key}: ${def} (ingress-nginx's default)`);
      return def;
    }
    const v = data[key]!;
    if (TRUE.has(v)) return true;
    // The controller decodes weakly: an empty string is false.
    if (FALSE.has(v) || v === '') return false;
    at(key, v, 'must be a boolean ("true" or "false")', String(def));
    return def;
  };
  const int = (key: string, def: number, ok: (n: number) => boolean, rule: string): number => {
    if (!has(key)) {
      defaults.push(`${key}: ${def} (ingress-nginx's default)`);
      return def;
    }
    const v = data[key]!.trim();
    if (/^[+-]?[0-9]+$/.test(v) && ok(Number(v))) return Number(v);
    at(key, data[key]!, rule, String(def));
    return def;
  };
  const list = (key: string, def: readonly string[]): string[] | undefined => {
    if (!has(key)) {
      defaults.push(`${key}: ${def.length ? def.join(',') : '(empty)'} (ingress-nginx's default)`);
      return undefined;
    }
    return data[key]!.split(',').map((s) => s.trim()).filter((s) => s !== '');
  };
  const networks = (key: string, def: readonly IPNetwork[]): IPNetwork[] => {
    const items = list(key, def.map(formatNetwork));
    if (!items) return [...def];
    const out: IPNetwork[] = [];
    for (const item of items) {
      const n = readNetwork(item);
      if (typeof n === 'string') errors.push(`${where} data[${key}]: Invalid value: ${JSON.stringify(item)}: ${n}; nginx refuses the configuration, so the controller keeps running the previous one`);
      else out.push(n);
    }
    return out;
  };

  const forwardedForHeader = has('forwarded-for-header') && data['forwarded-for-header']!.trim() !== '' ? data['forwarded-for-header']!.trim() : INGRESS_NGINX_DEFAULTS.forwardedForHeader;
  if (!has('forwarded-for-header')) defaults.push(`forwarded-for-header: X-Forwarded-For (ingress-nginx's default)`);
  const code = int('http-redirect-code', 308, (n) => [301, 302, 307, 308].includes(n), 'must be one of 301, 302, 307, 308');
  const config: IngressNginxConfig = {
    useForwardedHeaders: bool('use-forwarded-headers', false),
    enableRealIp: bool('enable-real-ip', false),
    useProxyProtocol: bool('use-proxy-protocol', false),
    forwardedForHeader,
    computeFullForwardedFor: bool('compute-full-forwarded-for', false),
    proxyRealIpCidr: networks('proxy-real-ip-cidr', INGRESS_NGINX_DEFAULTS.proxyRealIpCidr),
    generateRequestId: bool('generate-request-id', true),
    proxyAddOriginalUriHeader: bool('proxy-add-original-uri-header', false),
    sslRedirect: bool('ssl-redirect', true),
    forceSslRedirect: bool('force-ssl-redirect', false),
    httpRedirectCode: code as IngressNginxConfig['httpRedirectCode'],
    noTlsRedirectLocations: list('no-tls-redirect-locations', INGRESS_NGINX_DEFAULTS.noTlsRedirectLocations) ?? [...INGRESS_NGINX_DEFAULTS.noTlsRedirectLocations],
    enableUnderscoresInHeaders: bool('enable-underscores-in-headers', false),
    ignoreInvalidHeaders: bool('ignore-invalid-headers', true),
    upstreamKeepaliveConnections: int('upstream-keepalive-connections', 320, (n) => n >= 0, 'must be a whole number, 0 or more'),
    blockCidrs: networks('block-cidrs', []),
    whitelistSourceRange: networks('whitelist-source-range', []),
  };
  const unmodelled = Object.keys(data)
    .filter((k) => Object.hasOwn(UNMODELLED, k) && data[k]!.trim() !== '')
    .map((k) => `${k} is set: ${UNMODELLED[k]}; kubepath does not model it`);
  return { config, errors, defaults, unmodelled };
}
