/**
 * ingress-nginx in the lab, pure: Debian's nginx configured, in a controller pod's namespace, from
 * the same model the trace uses (edge/ingress-nginx*.ts): the controller's ConfigMap read by
 * `ingressNginxConfig`, the servers, locations and upstreams of `ingressNginxTable` (each
 * location's upstreams or answer from `routeIngress`, as the trace routes a request), and the
 * lines the controller's template writes for what kubepath models:
 *
 * - realip (`real_ip_header` X-Forwarded-For / forwarded-for-header, or `proxy_protocol`;
 *   `real_ip_recursive on`; `set_real_ip_from` each proxy-real-ip-cidr) when use-forwarded-headers,
 *   use-proxy-protocol or enable-real-ip is on; `listen … proxy_protocol` with use-proxy-protocol;
 * - the upstream request's fields in the template's order (Host, Upgrade, Connection,
 *   X-Request-ID, X-Real-IP, X-Forwarded-For — `$remote_addr`, or `$full_x_forwarded_for` with
 *   use-forwarded-headers and compute-full-forwarded-for —, X-Forwarded-Host/-Port/-Proto/-Scheme,
 *   X-Original-URI, X-Scheme, X-Original-Forwarded-For, Proxy cleared);
 * - `underscores_in_headers`, `ignore_invalid_headers`, upstream keepalive.
 *
 * What it leaves out, as notes: the HTTPS listener (no certificates), regex locations,
 * rewrite-target, access lists, redirects other than the model's answers. A location the model
 * answers itself (404 of the default backend, 503 without endpoints, a redirect) is `return`.
 *
 * @module
 */
import type { Pod } from '../cluster/objects.js';
import { findIngressNginx, ingressNginxConfig, type IngressNginxConfig, type IngressNginxServer, ingressNginxTable, type IngressNginxTable, routeIngress } from '../edge/ingress-nginx.js';
import { formatNetwork } from '../net/index.js';
import type { World } from '../trace/world.js';

/** nginx for one controller pod. */
export interface LabIngressNginx {
  /** `ingress-nginx/NAME` of the ConfigMap it was configured from. */
  configMap: string;
  /** The HTTP port nginx listens on (the controller's `http` container port, 80 by default). */
  port: number;
  /** nginx.conf; `@DIR@` stands for the directory it is written to (pid, temp files). */
  config: string;
  notes: string[];
}

/** The controller pods of the world's ingress-nginx installations, by host id. */
export function ingressControllers(world: World): Map<string, { pod: Pod; table: IngressNginxTable; config: IngressNginxConfig; configMap: string }> {
  const out = new Map<string, { pod: Pod; table: IngressNginxTable; config: IngressNginxConfig; configMap: string }>();
  for (const install of findIngressNginx(world.cluster)) {
    const read = ingressNginxConfig(install.configMap?.data ?? {}, `ConfigMap ${install.configMapName}`);
    const table = ingressNginxTable(world.cluster, install.controller, read.config);
    for (const pod of install.pods) out.set(`pod/${pod.metadata.namespace ?? 'default'}/${pod.metadata.name}`, { pod, table, config: read.config, configMap: install.configMapName });
  }
  return out;
}

/** The controller's HTTP port: its container port named http, else 80. */
export function controllerHttpPort(pod: Pod): number {
  return (pod.spec.containers ?? []).flatMap((c) => c.ports ?? []).find((p) => p.name === 'http')?.containerPort ?? 80;
}

const q = (s: string) => `"${s.replace(/["\\$]/g, (c) => `\\${c}`)}"`;

/** The server block of one model server. */
function serverBlock(table: IngressNginxTable, config: IngressNginxConfig, server: IngressNginxServer, listen: string, upstreams: Map<string, string>, notes: string[]): string[] {
  const catchAll = server.hostname === '_';
  const lines = [`  server {`, `    listen ${listen}${catchAll ? ' default_server' : ''};`, `    server_name ${server.hostname};`];
  const forwarded = config.useForwardedHeaders;
  lines.push(`    set $best_http_host ${forwarded ? '$fwd_host' : '$http_host'};`, `    set $pass_access_scheme ${forwarded ? '$fwd_proto' : '$scheme'};`, `    set $pass_port ${config.useProxyProtocol ? '$proxy_protocol_server_port' : forwarded ? '$fwd_port' : '$server_port'};`);
  for (const loc of server.locations) {
    if (loc.match === 'regex' || server.enforceRegex) {
      notes.push(`${server.hostname} ${loc.path}: a regex location is not built (nginx answers 404 there in the lab)`);
      continue;
    }
    if (loc.settings.rewriteTarget !== undefined || loc.settings.allow.length + loc.settings.deny.length > 0) notes.push(`${server.hostname} ${loc.path}: rewrite-target and access lists are not built`);
    const host = catchAll ? undefined : server.hostname.replace(/^\*\./, 'x.');
    const route = routeIngress({ ...table, config }, { host, target: loc.path });
    lines.push(`    location ${loc.match === 'exact' ? '= ' : ''}${loc.path} {`);
    if (route.kind === 'refuse') {
      lines.push(route.redirectTo ? `      return ${route.status} ${q(route.redirectTo)};` : `      return ${route.status};`);
    } else if (route.upstreams.length === 0) {
      lines.push('      return 503;');
    } else {
      const key = route.upstreams.map((u) => u.address).join(',');
      if (!upstreams.has(key)) upstreams.set(key, `upstream_${upstreams.size}`);
      const headers: [string, string][] = [
        ['Host', loc.settings.upstreamVhost ?? '$best_http_host'],
        ['Upgrade', '$http_upgrade'],
        ['Connection', '$connection_upgrade'],
        ['X-Request-ID', '$req_id'],
        ['X-Real-IP', '$remote_addr'],
        ['X-Forwarded-For', forwarded && config.computeFullForwardedFor ? '$full_x_forwarded_for' : '$remote_addr'],
        ['X-Forwarded-Host', '$best_http_host'],
        ['X-Forwarded-Port', '$pass_port'],
        ['X-Forwarded-Proto', '$pass_access_scheme'],
        ['X-Forwarded-Scheme', '$pass_access_scheme'],
        ...(config.proxyAddOriginalUriHeader ? ([['X-Original-URI', '$request_uri']] as [string, string][]) : []),
        ['X-Scheme', '$pass_access_scheme'],
        ['X-Original-Forwarded-For', `$http_${config.forwardedForHeader.toLowerCase().replace(/-/g, '_')}`],
        ['Proxy', ''],
        ...(loc.settings.xForwardedPrefix !== undefined ? ([['X-Forwarded-Prefix', loc.settings.xForwardedPrefix]] as [string, string][]) : []),
      ];
      lines.push('      proxy_http_version 1.1;', ...headers.map(([n, v]) => `      proxy_set_header ${n} ${v.startsWith('$') ? v : q(v)};`), `      proxy_pass http://${upstreams.get(key)!};`);
    }
    lines.push('    }');
  }
  lines.push('  }');
  return lines;
}

/** nginx.conf for a controller pod (see the module's comment). */
export function ingressNginxLab(world: World, podId: string): LabIngressNginx | undefined {
  const here = ingressControllers(world).get(podId);
  if (!here) return undefined;
  const { table, config, pod } = here;
  const notes: string[] = [];
  const port = controllerHttpPort(pod);
  const listen = `${port}${config.useProxyProtocol ? ' proxy_protocol' : ''}`;
  const upstreams = new Map<string, string>();
  const servers = table.servers.flatMap((s) => serverBlock(table, config, s, listen, upstreams, notes));
  const realipOn = config.useForwardedHeaders || config.useProxyProtocol || config.enableRealIp;
  const realip = realipOn
    ? [`  real_ip_header ${config.useProxyProtocol ? 'proxy_protocol' : config.forwardedForHeader};`, '  real_ip_recursive on;', ...config.proxyRealIpCidr.map((n) => `  set_real_ip_from ${formatNetwork(n)};`)]
    : [];
  const appended = config.useProxyProtocol ? '$proxy_protocol_addr' : '$realip_remote_addr';
  const lines = [
    '# ingress-nginx as kubepath models it (src/lab/ingress-nginx.ts), from the Ingress objects and the controller ConfigMap',
    'daemon off;',
    'master_process off;',
    'worker_processes 1;',
    'pid @DIR@/nginx.pid;',
    'error_log stderr notice;',
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    '  client_body_temp_path @DIR@/body;',
    '  proxy_temp_path @DIR@/proxy;',
    '  fastcgi_temp_path @DIR@/fastcgi;',
    '  uwsgi_temp_path @DIR@/uwsgi;',
    '  scgi_temp_path @DIR@/scgi;',
    `  underscores_in_headers ${config.enableUnderscoresInHeaders ? 'on' : 'off'};`,
    `  ignore_invalid_headers ${config.ignoreInvalidHeaders ? 'on' : 'off'};`,
    ...realip,
    `  map $http_upgrade $connection_upgrade { default upgrade; '' ${config.upstreamKeepaliveConnections > 0 ? "''" : 'close'}; }`,
    `  map $http_x_forwarded_for $full_x_forwarded_for { default "$http_x_forwarded_for, ${appended}"; '' "${appended}"; }`,
    "  map $http_x_request_id $req_id { default $http_x_request_id; '' $request_id; }",
    "  map $http_x_forwarded_host $fwd_host { default $http_x_forwarded_host; '' $http_host; }",
    "  map $http_x_forwarded_proto $fwd_proto { default $http_x_forwarded_proto; '' $scheme; }",
    "  map $http_x_forwarded_port $fwd_port { default $http_x_forwarded_port; '' $server_port; }",
  ];
  for (const [key, name] of upstreams) {
    lines.push(`  upstream ${name} {`, ...key.split(',').map((a) => `    server ${a};`), ...(config.upstreamKeepaliveConnections > 0 ? [`    keepalive ${config.upstreamKeepaliveConnections};`] : []), '  }');
  }
  if (!table.servers.some((s) => s.hostname === '_')) lines.push(`  server { listen ${listen} default_server; return 404; }`);
  lines.push(...servers, '}', '');
  notes.push(`the HTTPS listener (${table.controller.httpsPort}) is not built: no certificates`);
  return { configMap: here.configMap, port, config: lines.join('\n'), notes };
}
