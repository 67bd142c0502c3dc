/**
 * How ingress-nginx routes a request, as a pure model of what the controller builds from Ingresses
 * (internal/ingress/controller/controller.go, controller v1.11–v1.12) and how nginx then picks a
 * server and a location:
 *
 * - which Ingresses it serves: `spec.ingressClassName` naming an IngressClass of its controller
 *   class, else the deprecated annotation equal to `--ingress-class`, else only with
 *   `--watch-ingress-without-class`; canary Ingresses are merged into other backends (not modelled);
 * - one server per host, `_` the catch-all; each server's root location `/` goes to the Ingress's
 *   `defaultBackend` (of the first Ingress naming the host), else to the controller's default
 *   backend, which answers 404; a rule path `/` replaces it; the same path and type in a later
 *   Ingress is ignored (the oldest Ingress wins: kubepath takes load order for age);
 * - wildcard hosts `*.example.com` become a regex matching exactly one label;
 * - Exact paths are `location = /p`; Prefix `/p` becomes `location /p/` plus `location = /p`, so
 *   `/p` and `/p/x` match and `/px` does not, while Prefix `/p/` asked for `/p` gets nginx's 301 to
 *   `/p/`; ImplementationSpecific is nginx's string prefix (`/p` matches `/px`); with `use-regex`
 *   or `rewrite-target` on any location of a host, every location of that host becomes a
 *   case-insensitive regex anchored at the start, tried longest path first;
 * - nginx's choice: an exact location, else the longest prefix, else (regex hosts) the first regex
 *   in ingress-nginx's order (longest path first);
 * - then the location's rewrite phase (`ssl-redirect` to https for hosts with TLS, default 308),
 *   its access phase (deny/allow lists, `block-cidrs`), and the upstream: the Service's ready
 *   endpoints (ingress-nginx balances itself; kube-proxy is not on the path), or its ClusterIP with
 *   `service-upstream`; none: 503.
 *
 * @module
 */
import type { Cluster, EndpointSlice, Ingress, IngressBackend, IngressClass, PathType, Service, ServicePort } from '../cluster/index.js';
import { INGRESS_CLASS_ANNOTATION, readyEndpointsOf, SERVICE_NAME_LABEL } from '../cluster/index.js';
import { formatEndpoint, hostNetwork, type IPNetwork, networkContains, parseNetwork, tryParseIP } from '../net/index.js';
import { INGRESS_NGINX_DEFAULTS, type IngressNginxConfig } from './ingress-nginx-config.js';
import type { IngressNginxController } from './ingress-nginx-install.js';

/** ingress-nginx's annotation prefix (`--annotations-prefix`). */
export const INGRESS_NGINX_ANNOTATION_PREFIX = 'nginx.ingress.kubernetes.io/';

export interface IngressRef {
  readonly namespace: string;
  readonly name: string;
}

/** What a location does besides matching, from its Ingress's annotations (or the ConfigMap's defaults). */
export interface LocationSettings {
  readonly useRegex: boolean;
  readonly rewriteTarget?: string | undefined;
  readonly serviceUpstream: boolean;
  readonly sslRedirect: boolean;
  readonly forceSslRedirect: boolean;
  readonly preserveTrailingSlash: boolean;
  readonly upstreamVhost?: string | undefined;
  readonly allow: readonly IPNetwork[];
  readonly deny: readonly IPNetwork[];
  readonly xForwardedPrefix?: string | undefined;
  /** `backend-protocol`: HTTP (default), HTTPS, GRPC, GRPCS, AUTO_HTTP, FCGI. */
  readonly backendProtocol: string;
}

/** One nginx location of a server. */
export interface IngressNginxLocation {
  /** The location's path as nginx has it (`/api/` for Prefix `/api`). */
  readonly path: string;
  readonly match: 'exact' | 'prefix' | 'regex';
  /** The Ingress path this location stands for, as written (empty means `/`). */
  readonly ingressPath: string;
  readonly pathType: PathType;
  /** Undefined for the catch-all server's root when no Ingress gives it a backend. */
  readonly ingress?: IngressRef | undefined;
  readonly rule?: number | undefined;
  readonly pathIndex?: number | undefined;
  /** Undefined: the controller's default backend. */
  readonly backend?: IngressBackend | undefined;
  /** The server's root made from a default backend (the Ingress's, or the controller's). */
  readonly isDefaultBackend: boolean;
  readonly settings: LocationSettings;
}

/** One nginx server: a host (or `_`, the catch-all), its locations in the order nginx tries regexes. */
export interface IngressNginxServer {
  readonly hostname: string;
  /** A TLS section of one of its Ingresses names the host with a secret: ssl-redirect applies. */
  readonly tls: boolean;
  /** Some location uses a regex: all of them are regexes. */
  readonly enforceRegex: boolean;
  readonly locations: readonly IngressNginxLocation[];
}

/** What the controller built from the cluster. */
export interface IngressNginxTable {
  readonly controller: IngressNginxController;
  readonly config: IngressNginxConfig;
  readonly servers: readonly IngressNginxServer[];
  readonly served: readonly { readonly ingress: IngressRef; readonly why: string }[];
  readonly skipped: readonly { readonly ingress: IngressRef; readonly why: string }[];
  readonly notes: readonly string[];
  readonly services: ReadonlyMap<string, Service>;
  readonly slices: ReadonlyMap<string, readonly EndpointSlice[]>;
}

const refOf = (ing: Ingress): IngressRef => ({ namespace: ing.metadata.namespace ?? 'default', name: ing.metadata.name });
const refText = (r: IngressRef) => `${r.namespace}/${r.name}`;

/** Whether the controller serves an Ingress, and why (GetIngressClass, and its IngressClass lister). */
export function ingressNginxWatches(ing: Ingress, controller: IngressNginxController, classes: readonly IngressClass[]): { watched: boolean; why: string } {
  const className = ing.spec.ingressClassName;
  if (className !== undefined) {
    const cls = classes.find((c) => c.metadata.name === className);
    if (!cls) return { watched: false, why: `spec.ingressClassName "${className}": no such IngressClass` };
    if (cls.spec.controller === controller.controllerClass) return { watched: true, why: `spec.ingressClassName "${className}": IngressClass ${className} names controller ${controller.controllerClass}` };
    if (controller.ingressClassByName && className === controller.ingressClass) return { watched: true, why: `spec.ingressClassName "${className}" is --ingress-class and --ingress-class-by-name is on` };
    return { watched: false, why: `spec.ingressClassName "${className}": IngressClass ${className} names controller ${cls.spec.controller ?? '(none)'}, not ${controller.controllerClass}` };
  }
  const annotated = ing.metadata.annotations?.[INGRESS_CLASS_ANNOTATION];
  if (annotated !== undefined) {
    return annotated === controller.ingressClass
      ? { watched: true, why: `annotation ${INGRESS_CLASS_ANNOTATION}: "${annotated}" is --ingress-class` }
      : { watched: false, why: `annotation ${INGRESS_CLASS_ANNOTATION}: "${annotated}" is not --ingress-class "${controller.ingressClass}"` };
  }
  return controller.watchIngressWithoutClass
    ? { watched: true, why: 'no class, and --watch-ingress-without-class is on' }
    : { watched: false, why: 'no class (no spec.ingressClassName, no annotation, no default IngressClass) and --watch-ingress-without-class is off' };
}

// strconv.ParseBool, as the controller's annotation parser reads booleans.
function parseBool(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

function cidrList(v: string | undefined, notes: string[], what: string): IPNetwork[] | undefined {
  if (v === undefined) return undefined;
  const out: IPNetwork[] = [];
  for (const item of v.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    try {
      const ip = item.includes('/') ? undefined : tryParseIP(item);
      if (!item.includes('/') && !ip) throw new Error(item);
      out.push(ip ? hostNetwork(ip) : parseNetwork(item));
    } catch {
      notes.push(`${what}: "${item}" is not a CIDR; the controller refuses the annotation`);
      return undefined;
    }
  }
  return out;
}

/** A location's settings from its Ingress's annotations, the ConfigMap's values as defaults. */
export function locationSettings(ing: Ingress | undefined, config: IngressNginxConfig, notes: string[] = []): LocationSettings {
  const a = (k: string) => ing?.metadata.annotations?.[INGRESS_NGINX_ANNOTATION_PREFIX + k];
  const where = ing ? `Ingress ${refText(refOf(ing))}` : 'the default backend';
  const bool = (k: string, def: boolean) => {
    const raw = a(k);
    const v = parseBool(raw);
    if (raw !== undefined && v === undefined) notes.push(`${where}: annotation ${INGRESS_NGINX_ANNOTATION_PREFIX}${k}: "${raw}" is not a boolean; the controller uses ${def}`);
    return v ?? def;
  };
  return {
    useRegex: bool('use-regex', false),
    rewriteTarget: a('rewrite-target'),
    serviceUpstream: bool('service-upstream', false),
    sslRedirect: bool('ssl-redirect', config.sslRedirect),
    forceSslRedirect: bool('force-ssl-redirect', config.forceSslRedirect),
    preserveTrailingSlash: bool('preserve-trailing-slash', false),
    upstreamVhost: a('upstream-vhost'),
    allow: cidrList(a('allowlist-source-range') ?? a('whitelist-source-range'), notes, `${where} allowlist-source-range`) ?? config.whitelistSourceRange,
    deny: cidrList(a('denylist-source-range'), notes, `${where} denylist-source-range`) ?? [],
    xForwardedPrefix: a('x-forwarded-prefix'),
    backendProtocol: (a('backend-protocol') ?? 'HTTP').toUpperCase(),
  };
}

function needsRewrite(l: { settings: LocationSettings; path: string }): boolean {
  return l.settings.rewriteTarget !== undefined && l.settings.rewriteTarget !== '' && l.settings.rewriteTarget !== l.path;
}

/** One label of a wildcard host matches `*` (ingress-nginx's server_name regex). */
export function wildcardHostMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*.')) return false;
  const suffix = pattern.slice(1);
  if (!host.endsWith(suffix)) return false;
  return /^[A-Za-z0-9_-]+$/.test(host.slice(0, host.length - suffix.length));
}

interface MutableLocation {
  path: string;
  ingressPath: string;
  pathType: PathType;
  ingress?: IngressRef | undefined;
  rule?: number | undefined;
  pathIndex?: number | undefined;
  backend?: IngressBackend | undefined;
  isDefaultBackend: boolean;
  settings: LocationSettings;
}

/** updateServerLocations: Prefix `/p` → `/p/` plus an exact `/p`, unless an Exact `/p` exists or the location is a regex/rewrite. */
function normalizeLocations(locations: MutableLocation[]): MutableLocation[] {
  const exact = new Set(locations.filter((l) => l.pathType === 'Exact').map((l) => l.path));
  const out: MutableLocation[] = [];
  for (const l of locations) {
    if (l.path === '/' || l.pathType !== 'Prefix' || needsRewrite(l) || l.settings.useRegex) {
      out.push(l);
      continue;
    }
    const slashed = l.path.endsWith('/') ? l.path : `${l.path}/`;
    if (exact.has(l.path)) {
      out.push({ ...l, path: slashed });
      continue;
    }
    out.push({ ...l, path: slashed });
    out.push({ ...l, pathType: 'Exact' });
  }
  return out;
}

/** Build the servers ingress-nginx makes from a cluster's Ingresses. */
export function ingressNginxTable(
  cluster: Pick<Cluster, 'ingresses' | 'ingressClasses' | 'services' | 'endpointSlices'>,
  controller: IngressNginxController,
  config: IngressNginxConfig = INGRESS_NGINX_DEFAULTS,
): IngressNginxTable {
  const notes: string[] = [];
  const served: { ingress: IngressRef; why: string }[] = [];
  const skipped: { ingress: IngressRef; why: string }[] = [];
  const ingresses: Ingress[] = [];
  for (const ing of cluster.ingresses) {
    const w = ingressNginxWatches(ing, controller, cluster.ingressClasses);
    if (!w.watched) skipped.push({ ingress: refOf(ing), why: w.why });
    else if (parseBool(ing.metadata.annotations?.[`${INGRESS_NGINX_ANNOTATION_PREFIX}canary`])) skipped.push({ ingress: refOf(ing), why: `${w.why}; a canary: it splits traffic of another Ingress's backend, which kubepath does not model` });
    else {
      served.push({ ingress: refOf(ing), why: w.why });
      ingresses.push(ing);
    }
  }

  const defaultSettings = locationSettings(undefined, config, notes);
  const servers = new Map<string, { locations: MutableLocation[]; tls: boolean }>();
  servers.set('_', { tls: false, locations: [{ path: '/', ingressPath: '/', pathType: 'Prefix', isDefaultBackend: true, settings: { ...defaultSettings, sslRedirect: false, forceSslRedirect: false } }] });
  for (const ing of ingresses) {
    const settings = locationSettings(ing, config, notes);
    const def = ing.spec.defaultBackend?.service ? ing.spec.defaultBackend : undefined;
    if (ing.spec.defaultBackend?.resource) notes.push(`Ingress ${refText(refOf(ing))}: its defaultBackend is a resource; ingress-nginx ignores resource backends`);
    if (def && (ing.spec.rules ?? []).length === 0) {
      const root = servers.get('_')!.locations[0]!;
      // The catch-all takes the Ingress's annotations except its redirect and rewrite settings.
      const kept = { useRegex: false, rewriteTarget: undefined, sslRedirect: false, forceSslRedirect: false, preserveTrailingSlash: false };
      if (root.isDefaultBackend && root.backend === undefined) Object.assign(root, { backend: def, ingress: refOf(ing), settings: { ...settings, ...kept } });
    }
    for (const rule of ing.spec.rules ?? []) {
      const host = rule.host ?? '_';
      if (servers.has(host)) continue;
      servers.set(host, { tls: false, locations: [{ path: '/', ingressPath: '/', pathType: 'Prefix', isDefaultBackend: true, backend: def, ingress: refOf(ing), settings }] });
    }
  }
  for (const ing of ingresses) {
    const settings = locationSettings(ing, config);
    (ing.spec.rules ?? []).forEach((rule, r) => {
      const host = rule.host ?? '_';
      const server = servers.get(host)!;
      for (const tls of ing.spec.tls ?? []) {
        if (!tls.secretName || host === '_') continue;
        if ((tls.hosts ?? []).some((h) => h === host || wildcardHostMatches(h, host))) server.tls = true;
      }
      rule.http?.paths.forEach((p, i) => {
        const where = `Ingress ${refText(refOf(ing))} spec.rules[${r}].http.paths[${i}]`;
        if (!p.backend.service) {
          notes.push(`${where}: a resource backend; ingress-nginx skips paths without a Service`);
          return;
        }
        const nginxPath = p.path || '/';
        const same = server.locations.find((l) => l.path === nginxPath && (l.pathType === p.pathType || (l.isDefaultBackend && nginxPath === '/' && p.pathType !== 'Exact')));
        if (same && !same.isDefaultBackend) {
          notes.push(`${where}: ${p.pathType} ${nginxPath} on ${host} is already served by Ingress ${same.ingress ? refText(same.ingress) : '?'} (the oldest Ingress wins; kubepath takes load order for age)`);
          return;
        }
        if (same) {
          Object.assign(same, { backend: p.backend, ingress: refOf(ing), rule: r, pathIndex: i, isDefaultBackend: false, pathType: p.pathType, ingressPath: p.path ?? '', settings });
          return;
        }
        server.locations.push({ path: nginxPath, ingressPath: p.path ?? '', pathType: p.pathType, ingress: refOf(ing), rule: r, pathIndex: i, backend: p.backend, isDefaultBackend: false, settings });
      });
    });
  }

  const built: IngressNginxServer[] = [];
  for (const [hostname, s] of [...servers].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const locations = normalizeLocations(s.locations);
    locations.sort((a, b) => (a.path > b.path ? -1 : a.path < b.path ? 1 : 0));
    locations.sort((a, b) => b.path.length - a.path.length);
    const enforceRegex = locations.some((l) => needsRewrite(l) || l.settings.useRegex);
    built.push({
      hostname,
      tls: s.tls,
      enforceRegex,
      locations: locations.map((l) => ({ ...l, match: enforceRegex ? 'regex' : l.pathType === 'Exact' ? 'exact' : 'prefix' })),
    });
  }
  if (built.some((s) => s.tls)) notes.push('TLS Secrets are not read: a host listed under an Ingress\'s tls with a secretName is taken to have its certificate');

  const services = new Map(cluster.services.map((s) => [`${s.metadata.namespace ?? 'default'}/${s.metadata.name}`, s]));
  const slices = new Map<string, EndpointSlice[]>();
  for (const sl of cluster.endpointSlices) {
    const svc = sl.metadata.labels?.[SERVICE_NAME_LABEL];
    if (!svc) continue;
    const key = `${sl.metadata.namespace ?? 'default'}/${svc}`;
    slices.set(key, [...(slices.get(key) ?? []), sl]);
  }
  return { controller, config, servers: built, served, skipped, notes, services, slices };
}

// ---------------------------------------------------------------------------------------------
// Matching a request.

/** A request as routing needs it. */
export interface IngressRequest {
  /** The Host header's value (`shop.example.com:8080` allowed); undefined when absent. */
  readonly host?: string | undefined;
  /** The request target, e.g. `/cart?id=1`. */
  readonly target: string;
  /** `$pass_access_scheme`: the scheme ingress-nginx believes; ssl-redirect is decided only when given. */
  readonly scheme?: string | undefined;
  /** `$remote_addr` after realip; the access lists are decided only when given. */
  readonly clientAddress?: string | undefined;
  /** `$best_http_host`, for the redirect's URL (defaults to the Host header). */
  readonly redirectHost?: string | undefined;
}

/** One upstream server ingress-nginx balances over. */
export interface IngressUpstream {
  /** `IP:port` (or `name:port` for an ExternalName Service). */
  readonly address: string;
  /** The Pod behind it (`ns/name`) when the EndpointSlice says. */
  readonly pod?: string | undefined;
  readonly node?: string | undefined;
  /** Share of requests (round robin over the list). */
  readonly share: number;
}

export type IngressRoute =
  | {
      readonly kind: 'backend';
      readonly server: string;
      readonly location: IngressNginxLocation;
      readonly ingress?: IngressRef | undefined;
      readonly service: Service;
      readonly servicePort: ServicePort;
      readonly upstreams: readonly IngressUpstream[];
      /** The URI sent upstream (after rewrite-target). */
      readonly upstreamTarget: string;
      readonly why: string;
      readonly notes: readonly string[];
    }
  | {
      readonly kind: 'refuse';
      /** What nginx answers: 301/308 redirects, 400, 403, 404, 503. */
      readonly status: number;
      readonly reason: string;
      /** For redirects: the Location header. */
      readonly redirectTo?: string | undefined;
      readonly server?: string | undefined;
      readonly location?: IngressNginxLocation | undefined;
      readonly notes: readonly string[];
    };

/** nginx's normalization of the request URI into `$uri`: query cut, %XX decoded, `//` merged, `.` and `..` resolved. */
export function nginxUri(target: string): { uri: string; args: string } | undefined {
  const q = target.indexOf('?');
  const raw = q < 0 ? target : target.slice(0, q);
  const args = q < 0 ? '' : target.slice(q + 1);
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  if (!decoded.startsWith('/')) return undefined;
  const out: string[] = [];
  const parts = decoded.split('/');
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i]!;
    if (p === '' && i < parts.length - 1) continue;
    if (p === '.') {
      if (i === parts.length - 1) out.push('');
      continue;
    }
    if (p === '..') {
      if (out.length === 0) return undefined;
      out.pop();
      if (i === parts.length - 1) out.push('');
      continue;
    }
    out.push(p);
  }
  return { uri: `/${out.join('/')}`, args };
}

/** The server nginx picks for a Host header: the exact name, else a wildcard's regex, else `_`. */
export function selectServer(table: IngressNginxTable, hostHeader: string | undefined): IngressNginxServer {
  const host = hostOnly(hostHeader);
  const byName = (n: string) => table.servers.find((s) => s.hostname === n);
  return (host && byName(host)) || (host && table.servers.find((s) => s.hostname.startsWith('*.') && wildcardHostMatches(s.hostname, host))) || byName('_')!;
}

/** The host of a Host header as nginx validates it: lower case, no port, no trailing dot. */
function hostOnly(host: string | undefined): string | undefined {
  if (!host) return undefined;
  let h = host.trim().toLowerCase();
  if (h.startsWith('[')) h = h.slice(0, h.indexOf(']') + 1);
  else if (h.includes(':')) h = h.slice(0, h.indexOf(':'));
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/** nginx's location choice in a server. */
export function selectLocation(server: IngressNginxServer, uri: string): { location: IngressNginxLocation; why: string } | { redirect: string } | undefined {
  if (server.enforceRegex) {
    for (const l of server.locations) {
      let re: RegExp;
      try {
        re = new RegExp(`^${l.path}`, 'i');
      } catch {
        continue;
      }
      if (re.test(uri)) return { location: l, why: `location ~* "^${l.path}" (regex, case-insensitive: use-regex or rewrite-target on this host), the first that matches in ingress-nginx's order (longest path first)` };
    }
    return undefined;
  }
  const exact = server.locations.find((l) => l.match === 'exact' && l.path === uri);
  if (exact) return { location: exact, why: `location = ${exact.path} (exact)` };
  const prefixes = server.locations.filter((l) => l.match === 'prefix');
  const same = prefixes.find((l) => l.path === uri);
  if (same) return { location: same, why: `location ${same.path}: the longest prefix` };
  // nginx answers a URI one slash short of a prefix location that proxies with a 301 to it.
  // (An exact location ending in a slash does the same: nginx marks the tree node, not the location type.)
  if (server.locations.some((l) => l.path === `${uri}/`)) return { redirect: `${uri}/` };
  const best = prefixes.filter((l) => uri.startsWith(l.path)).sort((a, b) => b.path.length - a.path.length)[0];
  return best && { location: best, why: `location ${best.path}: the longest prefix of ${uri}` };
}

/** nginx's access rules in order: the location's deny list, then its allow list with `deny all`; without them, block-cidrs. */
function accessDenied(location: IngressNginxLocation, config: IngressNginxConfig, client: string): string | undefined {
  const ip = tryParseIP(client);
  if (!ip) return undefined;
  const s = location.settings;
  if (s.deny.length > 0 || s.allow.length > 0) {
    const d = s.deny.find((n) => networkContains(n, ip));
    if (d) return `denylist-source-range: ${client} is denied`;
    if (s.allow.length > 0 && !s.allow.some((n) => networkContains(n, ip))) return `allowlist-source-range: ${client} is not allowed ("deny all" after the allowed ranges)`;
    return undefined;
  }
  if (config.blockCidrs.some((n) => networkContains(n, ip))) return `block-cidrs: ${client} is denied`;
  return undefined;
}

function rewriteUri(location: IngressNginxLocation, uri: string, args: string): string | undefined {
  const target = location.settings.rewriteTarget;
  if (!needsRewrite(location) || target === undefined) return undefined;
  let re: RegExp;
  try {
    re = new RegExp(location.path, 'i');
  } catch {
    return undefined;
  }
  const m = re.exec(uri);
  if (!m) return undefined;
  const replaced = target.replace(/\$(\d)/g, (_, d: string) => m[Number(d)] ?? '');
  if (replaced.endsWith('?')) return replaced.slice(0, -1);
  return args ? `${replaced}${replaced.includes('?') ? '&' : '?'}${args}` : replaced;
}

/** The ready endpoints of a Service port (ingress-nginx reads EndpointSlices; ready unset counts as ready; TCP only). */
function endpointsOf(table: IngressNginxTable, svc: Service, sp: ServicePort): IngressUpstream[] {
  const found = readyEndpointsOf(table.slices.get(`${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}`) ?? [], sp, { protocol: 'TCP' });
  return found.map((e) => ({ address: formatEndpoint(e.ip, e.port), pod: e.pod, node: e.nodeName, share: 1 / found.length }));
}

type BackendResult = { service: Service; servicePort: ServicePort; upstreams: IngressUpstream[]; notes: string[] } | { status: number; reason: string };

function resolveBackend(table: IngressNginxTable, namespace: string, backend: IngressBackend, serviceUpstream: boolean): BackendResult {
  const ref = backend.service!;
  const key = `${namespace}/${ref.name}`;
  const svc = table.services.get(key);
  if (!svc) return { status: 503, reason: `no Service ${key}: the upstream has no endpoints, the balancer answers 503` };
  const sp = (svc.spec.ports ?? []).find((p) => (ref.port.name !== undefined ? p.name === ref.port.name : p.port === ref.port.number));
  if (!sp) return { status: 503, reason: `Service ${key} has no port ${ref.port.name !== undefined ? `named "${ref.port.name}"` : ref.port.number}: the upstream has no endpoints, the balancer answers 503` };
  const notes: string[] = [];
  if (svc.spec.type === 'ExternalName') {
    notes.push(`Service ${key} is ExternalName: ingress-nginx resolves ${svc.spec.externalName} itself (DNS is not modelled)`);
    return { service: svc, servicePort: sp, upstreams: [{ address: `${svc.spec.externalName ?? ''}:${sp.port}`, share: 1 }], notes };
  }
  if (serviceUpstream) {
    const clusterIP = svc.spec.clusterIPs?.[0] ?? svc.spec.clusterIP;
    if (clusterIP && clusterIP !== 'None' && tryParseIP(clusterIP)) {
      notes.push(`service-upstream: nginx sends to the ClusterIP ${formatEndpoint(tryParseIP(clusterIP)!, sp.port)}; kube-proxy on the controller's node picks the endpoint`);
      return { service: svc, servicePort: sp, upstreams: [{ address: formatEndpoint(tryParseIP(clusterIP)!, sp.port), share: 1 }], notes };
    }
    notes.push(`service-upstream: Service ${key} has no ClusterIP; the controller falls back to its endpoints`);
  }
  const upstreams = endpointsOf(table, svc, sp);
  if (upstreams.length === 0) return { status: 503, reason: `Service ${key} port ${sp.name ?? sp.port} has no ready endpoints: the balancer answers 503` };
  notes.push(`ingress-nginx balances over the ready endpoints itself (round robin): the connection goes from the controller pod straight to a pod, not through kube-proxy`);
  return { service: svc, servicePort: sp, upstreams, notes };
}

/** The controller's default backend: `--default-backend-service`'s first port, or nginx's own 404. */
function defaultBackend(table: IngressNginxTable): BackendResult {
  const dbs = table.controller.defaultBackendService;
  if (!dbs) return { status: 404, reason: 'no location of an Ingress matches: the controller\'s default backend answers 404' };
  const svc = table.services.get(dbs);
  const sp = svc?.spec.ports?.[0];
  if (!svc || !sp) return { status: 503, reason: `--default-backend-service ${dbs} is not a Service with a port: 503` };
  const upstreams = endpointsOf(table, svc, sp);
  if (upstreams.length === 0) return { status: 404, reason: `--default-backend-service ${dbs} has no ready endpoints: the controller answers 404 itself` };
  return { service: svc, servicePort: sp, upstreams, notes: [`no Ingress location matches: --default-backend-service ${dbs}`] };
}

/** Route one request through the controller's servers. */
export function routeIngress(table: IngressNginxTable, request: IngressRequest): IngressRoute {
  const notes: string[] = [];
  const server = selectServer(table, request.host);
  const norm = nginxUri(request.target);
  if (!norm) return { kind: 'refuse', status: 400, reason: `the request target ${request.target} is not a valid URI to nginx`, server: server.hostname, notes };
  const hostWhy = server.hostname === '_' ? `no server for host ${hostOnly(request.host) ?? '(none)'}: the catch-all server _` : server.hostname.startsWith('*.') ? `server ${server.hostname} (one label matches *)` : `server ${server.hostname}`;
  const chosen = selectLocation(server, norm.uri);
  if (!chosen) return { kind: 'refuse', status: 404, reason: `${hostWhy}: no location matches ${norm.uri}`, server: server.hostname, notes };
  if ('redirect' in chosen) {
    return { kind: 'refuse', status: 301, reason: `${hostWhy}: ${norm.uri} is one slash short of the prefix location ${chosen.redirect}; nginx answers 301 to it`, redirectTo: `${chosen.redirect}${norm.args ? `?${norm.args}` : ''}`, server: server.hostname, notes };
  }
  const { location } = chosen;
  const where = `${hostWhy}, ${chosen.why}${location.ingress ? ` from Ingress ${refText(location.ingress)}${location.rule !== undefined ? ` rule ${location.rule} path ${location.pathIndex}` : ' (its defaultBackend)'}` : ''}`;

  // Rewrite phase: ssl-redirect (lua_ingress.rewrite).
  if (request.scheme !== undefined) {
    const s = location.settings;
    const noRedirect = table.config.noTlsRedirectLocations.some((p) => location.path.startsWith(p));
    const redirect = !noRedirect && ((s.forceSslRedirect && request.scheme === 'http') || (request.scheme === 'http' && s.sslRedirect && server.tls));
    if (redirect) {
      const host = hostOnly(request.redirectHost ?? request.host) ?? server.hostname;
      let uri = request.target;
      if (!s.preserveTrailingSlash && uri.endsWith('/')) uri = uri.slice(0, -1);
      const code = table.config.httpRedirectCode;
      return {
        kind: 'refuse',
        status: code,
        reason: `${where}: the scheme is http and ${s.forceSslRedirect ? 'force-ssl-redirect is on' : `the host has TLS and ssl-redirect is on`}: ingress-nginx answers ${code} to https`,
        redirectTo: `https://${host}${uri}`,
        server: server.hostname,
        location,
        notes,
      };
    }
  }
  // Access phase.
  if (request.clientAddress !== undefined) {
    const denied = accessDenied(location, table.config, request.clientAddress);
    if (denied) return { kind: 'refuse', status: 403, reason: `${where}: ${denied} ($remote_addr after realip)`, server: server.hostname, location, notes };
  }
  const namespace = location.ingress?.namespace ?? 'default';
  const result = location.backend ? resolveBackend(table, namespace, location.backend, location.settings.serviceUpstream) : defaultBackend(table);
  if ('status' in result) return { kind: 'refuse', status: result.status, reason: `${where}: ${result.reason}`, server: server.hostname, location, notes };
  const rewritten = rewriteUri(location, norm.uri, norm.args);
  if (rewritten !== undefined) notes.push(`rewrite-target: ${norm.uri} is sent upstream as ${rewritten}`);
  return {
    kind: 'backend',
    server: server.hostname,
    location,
    ingress: location.ingress,
    service: result.service,
    servicePort: result.servicePort,
    upstreams: result.upstreams,
    upstreamTarget: rewritten ?? request.target,
    why: `${where} → Service ${result.service.metadata.namespace}/${result.service.metadata.name} port ${result.servicePort.name ?? result.servicePort.port}`,
    notes: [...notes, ...result.notes],
  };
}
