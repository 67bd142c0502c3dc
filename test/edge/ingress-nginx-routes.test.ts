/**
 * ingress-nginx routing: which Ingresses it serves, hosts (exact, one-label wildcards, the
 * catch-all), pathType semantics as nginx locations, precedence, default backends, redirects,
 * access lists and the upstream it picks.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chartFullname, findIngressNginx, ingressNginxWatches, ingressNginxControllerDefaults, nginxUri, routeIngress, type IngressRoute } from '../../src/edge/ingress-nginx.js';
import type { Pod } from '../../src/cluster/index.js';
import { cluster, configMap, ingress, path, rule, tableOf } from './fixtures.js';

/** Where a request goes: `service:port <- ingress rule/path (location)`, or the refusal's status. */
function where(r: IngressRoute): string {
  if (r.kind === 'refuse') return `${r.status}${r.redirectTo ? ` ${r.redirectTo}` : ''}`;
  const l = r.location;
  return `${r.service.metadata.name}:${r.servicePort.name ?? r.servicePort.port} via ${l.match} ${l.path}${l.ingress ? ` of ${l.ingress.name}` : ''}`;
}

const SHOP = 'shop.example.com';

test('Exact, Prefix and ImplementationSpecific as ingress-nginx writes them for nginx', () => {
  const c = cluster(
    ingress('paths', `{ingressClassName: nginx, rules: [${rule(SHOP, path('/exact', 'Exact', 'web', 80), path('/foo', 'Prefix', 'api', 8080), path('/bar/', 'Prefix', 'api', 9000), path('/impl', 'ImplementationSpecific', 'web', 'http'))}]}`),
  );
  const t = tableOf(c);
  const go = (target: string) => where(routeIngress(t, { host: SHOP, target }));
  // Exact: only that path.
  assert.equal(go('/exact'), 'web:http via exact /exact of paths');
  assert.equal(go('/exact/'), '404', 'not /exact/: the host\'s root goes to the controller\'s default backend');
  // Prefix /foo: /foo, /foo/, /foo/x match element-wise; /foobar does not.
  assert.equal(go('/foo'), 'api:rest via exact /foo of paths');
  assert.equal(go('/foo/'), 'api:rest via prefix /foo/ of paths');
  assert.equal(go('/foo/bar?x=1'), 'api:rest via prefix /foo/ of paths');
  assert.equal(go('/foobar'), '404');
  // Prefix /bar/: /bar/x matches; /bar gets nginx's 301 to /bar/ (Kubernetes says it should match).
  assert.equal(go('/bar/x'), 'api:grpc via prefix /bar/ of paths');
  assert.equal(go('/bar?q=1'), '301 /bar/?q=1');
  // ImplementationSpecific: nginx's string prefix, so /implant matches too.
  assert.equal(go('/impl'), 'web:http via prefix /impl of paths');
  assert.equal(go('/implant'), 'web:http via prefix /impl of paths');
  // The locations nginx gets for the server, in ingress-nginx's order (longest first).
  const server = t.servers.find((s) => s.hostname === SHOP)!;
  assert.deepEqual(server.locations.map((l) => `${l.match} ${l.path}`), ['exact /exact', 'prefix /impl', 'prefix /foo/', 'prefix /bar/', 'exact /bar/', 'exact /foo', 'prefix /']);
});

test('precedence: an exact location, else the longest prefix; paths are case-sensitive, the URI normalised first', () => {
  const c = cluster(ingress('p', `{ingressClassName: nginx, rules: [${rule(SHOP, path('/', 'Prefix', 'web', 80), path('/api', 'Prefix', 'api', 8080), path('/api/v2', 'Prefix', 'api', 9000))}]}`));
  const t = tableOf(c);
  const go = (target: string) => where(routeIngress(t, { host: SHOP, target }));
  assert.equal(go('/api/v2/items'), 'api:grpc via prefix /api/v2/ of p');
  assert.equal(go('/api/v1'), 'api:rest via prefix /api/ of p');
  assert.equal(go('/API/v1'), 'web:http via prefix / of p', 'prefix locations are case-sensitive');
  assert.equal(go('/x/../api//v2/./items'), 'api:grpc via prefix /api/v2/ of p', 'dot segments resolved, slashes merged');
  assert.equal(go('/%61pi/v2/'), 'api:grpc via prefix /api/v2/ of p', 'percent-encoding decoded');
  assert.equal(go('/../etc'), '400');
  assert.deepEqual(nginxUri('/a//b/./c/../d?x=1'), { uri: '/a/b/d', args: 'x=1' });
});

test('use-regex: every location of the host becomes a case-insensitive regex, tried longest path first', () => {
  const c = cluster(
    ingress('r', `{ingressClassName: nginx, rules: [${rule(SHOP, path('/api/v[0-9]+', 'ImplementationSpecific', 'api', 8080), path('/static', 'Exact', 'web', 80))}]}`, { 'nginx.ingress.kubernetes.io/use-regex': 'true' }),
  );
  const t = tableOf(c);
  const go = (target: string) => where(routeIngress(t, { host: SHOP, target }));
  assert.equal(go('/API/v2/users'), 'api:rest via regex /api/v[0-9]+ of r');
  // With regexes on the host, even Exact is a prefix regex (~* "^/static").
  assert.equal(go('/static/logo.png'), 'web:http via regex /static of r');
  assert.equal(t.servers.find((s) => s.hostname === SHOP)!.enforceRegex, true);
  // Another host keeps plain locations.
  const other = cluster(ingress('a', `{ingressClassName: nginx, rules: [${rule('a.example.com', path('/static', 'Exact', 'web', 80))}]}`));
  assert.equal(where(routeIngress(tableOf(other), { host: 'a.example.com', target: '/static/logo.png' })), '404');
});

test('hosts: exact names first, a wildcard for exactly one label, the catch-all for the rest; Host is case-insensitive, port ignored', () => {
  const c = cluster(
    ingress('hosts', `{ingressClassName: nginx, rules: [${rule(SHOP, path('/', 'Prefix', 'web', 80))}, ${rule('*.example.com', path('/', 'Prefix', 'api', 8080))}, ${rule(undefined, path('/any', 'Prefix', 'api', 9000))}]}`),
  );
  const t = tableOf(c);
  const go = (host: string | undefined, target = '/') => where(routeIngress(t, { host, target }));
  assert.equal(go('shop.example.com'), 'web:http via prefix / of hosts');
  assert.equal(go('SHOP.Example.com:8443'), 'web:http via prefix / of hosts');
  assert.equal(go('blog.example.com'), 'api:rest via prefix / of hosts');
  assert.equal(go('a.b.example.com'), '404', 'two labels: not the wildcard; the catch-all has no / of its own');
  assert.equal(go('example.com'), '404');
  assert.equal(go('a.b.example.com', '/any/thing'), 'api:grpc via prefix /any/ of hosts', 'a rule without host is the catch-all server _');
  assert.equal(go(undefined, '/any'), 'api:grpc via exact /any of hosts');
});

test('default backends: the Ingress\'s for its hosts, an Ingress without rules for the catch-all, else the controller\'s 404', () => {
  const c = cluster(
    ingress('with-default', `{ingressClassName: nginx, defaultBackend: {service: {name: web, port: {name: http}}}, rules: [${rule(SHOP, path('/api', 'Prefix', 'api', 8080))}]}`),
    ingress('catch-all', `{ingressClassName: nginx, defaultBackend: {service: {name: api, port: {number: 9000}}}}`),
  );
  const t = tableOf(c);
  assert.equal(where(routeIngress(t, { host: SHOP, target: '/api/x' })), 'api:rest via prefix /api/ of with-default');
  const other = routeIngress(t, { host: SHOP, target: '/cart' });
  assert.equal(where(other), 'web:http via prefix / of with-default');
  assert.equal(other.kind === 'backend' && other.location.isDefaultBackend, true);
  assert.equal(where(routeIngress(t, { host: 'unknown.example.org', target: '/' })), 'api:grpc via prefix / of catch-all');
  // Without them: the controller's own default backend.
  const bare = cluster(ingress('one', `{ingressClassName: nginx, rules: [${rule(SHOP, path('/api', 'Prefix', 'api', 8080))}]}`));
  const r = routeIngress(tableOf(bare), { host: SHOP, target: '/cart' });
  assert.equal(r.kind, 'refuse');
  assert.equal(r.kind === 'refuse' && r.status, 404);
  assert.match(r.kind === 'refuse' ? r.reason : '', /the controller's default backend answers 404/);
});

test('which Ingresses the controller serves: ingressClassName, the annotation, the default class, --watch-ingress-without-class', () => {
  const backend = '{defaultBackend: {service: {name: web, port: {number: 80}}}}';
  const c = cluster(
    'apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: traefik}\nspec: {controller: traefik.io/ingress-controller}\n',
    ingress('by-class', `{ingressClassName: nginx, ${backend.slice(1)}`),
    ingress('other-class', `{ingressClassName: traefik, ${backend.slice(1)}`),
    ingress('missing-class', `{ingressClassName: gone, ${backend.slice(1)}`),
    ingress('annotated', backend, { 'kubernetes.io/ingress.class': 'nginx' }),
    ingress('annotated-other', backend, { 'kubernetes.io/ingress.class': 'traefik' }),
    ingress('no-class', backend),
  );
  const t = tableOf(c);
  assert.deepEqual(t.served.map((s) => s.ingress.name), ['by-class', 'annotated']);
  assert.deepEqual(
    t.skipped.map((s) => `${s.ingress.name}: ${s.why}`),
    [
      'other-class: spec.ingressClassName "traefik": IngressClass traefik names controller traefik.io/ingress-controller, not k8s.io/ingress-nginx',
      'missing-class: spec.ingressClassName "gone": no such IngressClass',
      'annotated-other: annotation kubernetes.io/ingress.class: "traefik" is not --ingress-class "nginx"',
      'no-class: no class (no spec.ingressClassName, no annotation, no default IngressClass) and --watch-ingress-without-class is off',
    ],
  );
  assert.deepEqual(tableOf(c, { watchIngressWithoutClass: true }).served.map((s) => s.ingress.name), ['by-class', 'annotated', 'no-class']);
  // A default IngressClass: the API server gives it to the Ingress, and the controller serves it.
  const withDefault = cluster(ingress('no-class', backend)).ingressClasses[0]!;
  assert.equal(withDefault.metadata.name, 'nginx');
  const def = cluster(
    'apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: public, annotations: {ingressclass.kubernetes.io/is-default-class: "true"}}\nspec: {controller: k8s.io/ingress-nginx}\n',
    ingress('no-class', backend),
  );
  assert.deepEqual(tableOf(def).served.map((s) => `${s.ingress.name}: ${s.why}`), ['no-class: spec.ingressClassName "public": IngressClass public names controller k8s.io/ingress-nginx']);
  // --ingress-class-by-name: a class named like --ingress-class counts even with another controller.
  const ctl = { ...ingressNginxControllerDefaults('x'), ingressClass: 'traefik', ingressClassByName: true };
  assert.equal(ingressNginxWatches(c.ingresses.find((i) => i.metadata.name === 'other-class')!, ctl, c.ingressClasses).watched, true);
});

test('the same path in two Ingresses: the first (oldest) wins', () => {
  const c = cluster(
    ingress('first', `{ingressClassName: nginx, rules: [${rule(SHOP, path('/api', 'Prefix', 'api', 8080))}]}`),
    ingress('second', `{ingressClassName: nginx, rules: [${rule(SHOP, path('/api', 'Prefix', 'web', 80), path('/web', 'Prefix', 'web', 80))}]}`),
  );
  const t = tableOf(c);
  assert.equal(where(routeIngress(t, { host: SHOP, target: '/api/x' })), 'api:rest via prefix /api/ of first');
  assert.equal(where(routeIngress(t, { host: SHOP, target: '/web' })), 'web:http via exact /web of second');
  assert.match(t.notes.join('\n'), /shop\/second spec\.rules\[0\]\.http\.paths\[0\]: Prefix \/api on shop\.example\.com is already served by Ingress shop\/first/);
});

test('ssl-redirect: http to a host with TLS gets 308 to https; not when the scheme believed is https, when turned off, or for ACME', () => {
  const tls = `tls: [{hosts: ["${SHOP}"], secretName: shop-tls}]`;
  const c = cluster(
    ingress('secure', `{ingressClassName: nginx, ${tls}, rules: [${rule(SHOP, path('/', 'Prefix', 'web', 80), path('/.well-known/acme-challenge', 'Prefix', 'web', 80))}]}`),
    ingress('plain', `{ingressClassName: nginx, rules: [${rule('plain.example.com', path('/', 'Prefix', 'web', 80))}]}`),
    ingress('forced', `{ingressClassName: nginx, rules: [${rule('forced.example.com', path('/', 'Prefix', 'web', 80))}]}`, { 'nginx.ingress.kubernetes.io/force-ssl-redirect': 'true' }),
    ingress('off', `{ingressClassName: nginx, tls: [{hosts: [off.example.com], secretName: off-tls}], rules: [${rule('off.example.com', path('/', 'Prefix', 'web', 80))}]}`, { 'nginx.ingress.kubernetes.io/ssl-redirect': 'false' }),
  );
  const t = tableOf(c);
  const go = (host: string, target: string, scheme: string) => where(routeIngress(t, { host, target, scheme }));
  assert.equal(go(SHOP, '/cart/?id=1', 'http'), '308 https://shop.example.com/cart/?id=1');
  assert.equal(go(SHOP, '/cart/', 'http'), '308 https://shop.example.com/cart', 'trailing slash dropped unless preserve-trailing-slash');
  assert.equal(go(SHOP, '/cart', 'https'), 'web:http via prefix / of secure');
  assert.equal(go(SHOP, '/.well-known/acme-challenge/tok', 'http'), 'web:http via prefix /.well-known/acme-challenge/ of secure');
  assert.equal(go('plain.example.com', '/', 'http'), 'web:http via prefix / of plain', 'no TLS: no redirect');
  assert.equal(go('forced.example.com', '/a', 'http'), '308 https://forced.example.com/a');
  assert.equal(go('off.example.com', '/a', 'http'), 'web:http via prefix / of off');
  // The code is the ConfigMap's http-redirect-code.
  const c301 = cluster(configMap({ 'http-redirect-code': '301' }), ingress('secure', `{ingressClassName: nginx, ${tls}, rules: [${rule(SHOP, path('/', 'Prefix', 'web', 80))}]}`));
  assert.equal(where(routeIngress(tableOf(c301), { host: SHOP, target: '/', scheme: 'http' })), '301 https://shop.example.com');
});

test('upstreams: the Service\'s ready endpoints by default, its ClusterIP with service-upstream; a port by name; 503 without endpoints', () => {
  const c = cluster(
    ingress('eps', `{ingressClassName: nginx, rules: [${rule(SHOP, path('/', 'Prefix', 'web', 'http'), path('/empty', 'Prefix', 'empty', 80), path('/gone', 'Prefix', 'gone', 80), path('/badport', 'Prefix', 'web', 81))}]}`),
    ingress('svc', `{ingressClassName: nginx, rules: [${rule('svc.example.com', path('/', 'Prefix', 'api', 'rest'))}]}`, { 'nginx.ingress.kubernetes.io/service-upstream': 'true' }),
  );
  const t = tableOf(c);
  const eps = routeIngress(t, { host: SHOP, target: '/' });
  assert.equal(eps.kind, 'backend');
  if (eps.kind !== 'backend') return;
  const web = c.pods.filter((p) => p.metadata.labels?.app === 'web');
  assert.deepEqual(
    eps.upstreams.map((u) => [u.address, u.pod, u.share]),
    web.map((p) => [`${p.status!.podIP}:8080`, `shop/${p.metadata.name}`, 0.5]).sort(),
  );
  assert.match(eps.notes.join('\n'), /balances over the ready endpoints itself/);
  const svc = routeIngress(t, { host: 'svc.example.com', target: '/' });
  const api = c.services.find((s) => s.metadata.name === 'api')!;
  assert.deepEqual(svc.kind === 'backend' && svc.upstreams.map((u) => u.address), [`${api.spec.clusterIP}:8080`]);
  for (const [target, why] of [
    ['/empty', /Service shop\/empty port 80 has no ready endpoints: the balancer answers 503/],
    ['/gone', /no Service shop\/gone/],
    ['/badport', /Service shop\/web has no port 81/],
  ] as const) {
    const r = routeIngress(t, { host: SHOP, target });
    assert.equal(r.kind === 'refuse' && r.status, 503, target);
    assert.match(r.kind === 'refuse' ? r.reason : '', why);
  }
});

test('access lists decide on $remote_addr: allowlist and denylist per location, block-cidrs where a location has none', () => {
  const c = cluster(
    configMap({ 'block-cidrs': '192.0.2.0/24' }),
    ingress('admin', `{ingressClassName: nginx, rules: [${rule('admin.example.com', path('/', 'Prefix', 'web', 80))}]}`, { 'nginx.ingress.kubernetes.io/allowlist-source-range': '10.0.0.0/8, 192.0.2.7' }),
    ingress('pub', `{ingressClassName: nginx, rules: [${rule(SHOP, path('/', 'Prefix', 'web', 80))}]}`, { 'nginx.ingress.kubernetes.io/denylist-source-range': '198.51.100.0/24' }),
    ingress('open', `{ingressClassName: nginx, rules: [${rule('open.example.com', path('/', 'Prefix', 'web', 80))}]}`),
  );
  const t = tableOf(c);
  const go = (host: string, clientAddress: string) => where(routeIngress(t, { host, target: '/', clientAddress }));
  assert.equal(go('admin.example.com', '10.1.2.3'), 'web:http via prefix / of admin');
  assert.equal(go('admin.example.com', '203.0.113.5'), '403');
  // The location's own rules replace the http-level block-cidrs (nginx does not merge allow/deny).
  assert.equal(go('admin.example.com', '192.0.2.7'), 'web:http via prefix / of admin');
  assert.equal(go(SHOP, '198.51.100.9'), '403');
  assert.equal(go(SHOP, '192.0.2.9'), 'web:http via prefix / of pub');
  assert.equal(go('open.example.com', '192.0.2.9'), '403');
  assert.equal(go('open.example.com', '203.0.113.5'), 'web:http via prefix / of open');
});

test('rewrite-target: the URI nginx sends upstream', () => {
  const c = cluster(ingress('rw', `{ingressClassName: nginx, rules: [${rule(SHOP, path('/shop(/|$)(.*)', 'ImplementationSpecific', 'web', 80))}]}`, { 'nginx.ingress.kubernetes.io/rewrite-target': '/$2' }));
  const r = routeIngress(tableOf(c), { host: SHOP, target: '/SHOP/cart/1?x=2' });
  assert.equal(r.kind === 'backend' && r.upstreamTarget, '/cart/1?x=2');
});

test('finding ingress-nginx: controller pods by the chart\'s labels, the ConfigMap by the chart\'s name, what was assumed', () => {
  const c = cluster(configMap({ 'use-forwarded-headers': 'true' }));
  const [install] = findIngressNginx(c);
  assert.equal(install!.configMapName, 'ingress-nginx/ingress-nginx-controller');
  assert.deepEqual(install!.configMap?.data, { 'use-forwarded-headers': 'true' });
  assert.deepEqual(install!.ingressClasses.map((k) => k.metadata.name), ['nginx']);
  assert.equal(install!.release, 'ingress-nginx');
  assert.match(install!.assumed.join('\n'), /the controller's args are not known/);
  assert.equal(chartFullname('edge'), 'edge-ingress-nginx');
  assert.equal(chartFullname('my-ingress-nginx'), 'my-ingress-nginx');
  // Args, when the pod carries them, win over the chart's names.
  const pod = structuredClone(c.pods.find((p) => p.metadata.name.startsWith('ingress-nginx'))!) as Pod;
  pod.metadata.labels = { ...pod.metadata.labels, 'app.kubernetes.io/instance': 'edge' };
  (pod.spec.containers[0] as { args?: string[] }).args = ['/nginx-ingress-controller', '--configmap=$(POD_NAMESPACE)/custom', '--ingress-class=public', '--watch-ingress-without-class=true', '--default-backend-service=shop/web'];
  const [fromArgs] = findIngressNginx({ pods: [pod], configMaps: [], ingressClasses: [] });
  assert.deepEqual(
    [fromArgs!.configMapName, fromArgs!.controller.ingressClass, fromArgs!.controller.watchIngressWithoutClass, fromArgs!.controller.defaultBackendService],
    ['ingress-nginx/custom', 'public', true, 'shop/web'],
  );
  const noArgs = structuredClone(pod);
  (noArgs.spec.containers[0] as { args?: string[] }).args = [];
  assert.equal(findIngressNginx({ pods: [noArgs], configMaps: [], ingressClasses: [] })[0]!.configMapName, 'ingress-nginx/edge-ingress-nginx-controller');
});
