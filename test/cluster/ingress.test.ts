/**
 * kubepath/cluster: Ingress, IngressClass and ConfigMaps read and checked as the API server does,
 * the default IngressClass given as its admission plugin gives it, references warned about.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ingressHostProblems } from '../../src/cluster/index.js';
import { assumption, errorsOf, load, service } from './helpers.js';

const NGINX_CLASS = 'apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: nginx}\nspec: {controller: k8s.io/ingress-nginx}\n';

function ingress(name: string, spec: string, meta = ''): string {
  return `apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: ${name}${meta}}\nspec: ${spec}\n`;
}

test('an Ingress is read with every field kubepath models', () => {
  const c = load([
    service('web', '{ports: [{name: http, port: 80, targetPort: 8080}]}'),
    service('api', '{ports: [{port: 8080}]}'),
    NGINX_CLASS,
    `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  annotations: {nginx.ingress.kubernetes.io/use-regex: "true"}
spec:
  ingressClassName: nginx
  defaultBackend: {service: {name: web, port: {name: http}}}
  tls: [{hosts: [shop.example.com, "*.example.com"], secretName: shop-tls}]
  rules:
    - host: shop.example.com
      http:
        paths:
          - {path: /api, pathType: Prefix, backend: {service: {name: api, port: {number: 8080}}}}
          - {path: /static, pathType: ImplementationSpecific, backend: {resource: {apiGroup: k8s.example.com, kind: StorageBucket, name: assets}}}
    - host: "*.example.com"
      http:
        paths: [{path: /, pathType: Exact, backend: {service: {name: web, port: {number: 80}}}}]
`,
  ]);
  assert.equal(c.ingresses.length, 1);
  const ing = c.ingresses[0]!;
  assert.equal(ing.metadata.namespace, 'default');
  assert.equal(ing.metadata.annotations?.['nginx.ingress.kubernetes.io/use-regex'], 'true');
  assert.deepEqual(ing.spec, {
    ingressClassName: 'nginx',
    defaultBackend: { service: { name: 'web', port: { name: 'http' } } },
    rules: [
      {
        host: 'shop.example.com',
        http: {
          paths: [
            { path: '/api', pathType: 'Prefix', backend: { service: { name: 'api', port: { number: 8080 } } } },
            { path: '/static', pathType: 'ImplementationSpecific', backend: { resource: { apiGroup: 'k8s.example.com', kind: 'StorageBucket', name: 'assets' } } },
          ],
        },
      },
      { host: '*.example.com', http: { paths: [{ path: '/', pathType: 'Exact', backend: { service: { name: 'web', port: { number: 80 } } } }] } },
    ],
    tls: [{ hosts: ['shop.example.com', '*.example.com'], secretName: 'shop-tls' }],
  });
  assert.deepEqual(c.ingressClasses.map((k) => [k.metadata.name, k.spec.controller]), [['nginx', 'k8s.io/ingress-nginx']]);
  // The resource backend is kept, with a warning that it is not traced.
  assert.deepEqual(
    c.warnings?.map((w) => `${w.source.path}: ${w.message}`),
    ['spec.rules[0].http.paths[1].backend.resource: a StorageBucket resource backend: kept, but kubepath does not trace where it leads'],
  );
});

test('paths as the API server checks them: pathType required and one of three, absolute Exact/Prefix paths, no // or /./', () => {
  const paths = `{rules: [{http: {paths: [
    {path: /a, backend: {service: {name: web, port: {number: 80}}}},
    {path: /b, pathType: prefix, backend: {service: {name: web, port: {number: 80}}}},
    {path: c, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}},
    {pathType: Exact, backend: {service: {name: web, port: {number: 80}}}},
    {path: "/x//y", pathType: Exact, backend: {service: {name: web, port: {number: 80}}}},
    {path: /x/., pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}},
    {path: rel, pathType: ImplementationSpecific, backend: {service: {name: web, port: {number: 80}}}},
    {pathType: ImplementationSpecific, backend: {service: {name: web, port: {number: 80}}}}
  ]}}]}`;
  assert.deepEqual(errorsOf(ingress('p', paths)), [
    'test.yaml#1 spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified',
    'test.yaml#1 spec.rules[0].http.paths[1].pathType: Unsupported value: "prefix": supported values: "Exact", "ImplementationSpecific", "Prefix"',
    'test.yaml#1 spec.rules[0].http.paths[2].path: Invalid value: "c": must be an absolute path',
    'test.yaml#1 spec.rules[0].http.paths[3].path: Invalid value: "": must be an absolute path',
    "test.yaml#1 spec.rules[0].http.paths[4].path: Invalid value: \"/x//y\": must not contain '//'",
    "test.yaml#1 spec.rules[0].http.paths[5].path: Invalid value: \"/x/.\": cannot end with '/.'",
    'test.yaml#1 spec.rules[0].http.paths[6].path: Invalid value: "rel": must be an absolute path',
  ]);
});

test('backends: a port by number or by name, not both and not neither; a service or a resource, not both and not neither', () => {
  const spec = `{rules: [{http: {paths: [
    {path: /a, pathType: Prefix, backend: {service: {name: web, port: {number: 80, name: http}}}},
    {path: /b, pathType: Prefix, backend: {service: {name: web, port: {}}}},
    {path: /c, pathType: Prefix, backend: {service: {name: web}}},
    {path: /d, pathType: Prefix, backend: {service: {name: web, port: {number: 70000}}}},
    {path: /e, pathType: Prefix, backend: {service: {name: web, port: {name: HTTP}}}},
    {path: /f, pathType: Prefix, backend: {service: {name: Web_1, port: {number: 80}}}},
    {path: /g, pathType: Prefix, backend: {}},
    {path: /h, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}, resource: {kind: Bucket, name: b}}},
    {path: /i, pathType: Prefix}
  ]}}]}`;
  assert.deepEqual(errorsOf(ingress('b', spec)), [
    'test.yaml#1 spec.rules[0].http.paths[0].backend.service.port: Invalid value: {"name":"http","number":80}: cannot set both port name & port number',
    'test.yaml#1 spec.rules[0].http.paths[1].backend.service.port: Required value: port name or number is required',
    'test.yaml#1 spec.rules[0].http.paths[2].backend.service.port: Required value: port name or number is required',
    'test.yaml#1 spec.rules[0].http.paths[3].backend.service.port.number: Invalid value: 70000: must be between 1 and 65535, inclusive',
    'test.yaml#1 spec.rules[0].http.paths[4].backend.service.port.name: Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
    "test.yaml#1 spec.rules[0].http.paths[5].backend.service.name: Invalid value: \"Web_1\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
    'test.yaml#1 spec.rules[0].http.paths[6].backend: Invalid value: "": resource or service backend is required',
    'test.yaml#1 spec.rules[0].http.paths[7].backend: Invalid value: "": cannot set both resource and service backends',
    'test.yaml#1 spec.rules[0].http.paths[8].backend: Invalid value: "": resource or service backend is required',
  ]);
});

test('hosts: DNS names or *. wildcards of lower-case labels, never IP addresses; TLS hosts too', () => {
  const rule = (host: string) => `{host: "${host}", http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}`;
  const spec = `{rules: [${['10.0.0.1', 'Shop.example.com', '*.*.example.com', 'foo.*.com', 'shop.example.com:8080', '*.example.com', 'a.b.c'].map(rule).join(', ')}], tls: [{hosts: ["10.1.1.1", "*.ok.com"]}]}`;
  assert.deepEqual(errorsOf(ingress('h', spec)), [
    'test.yaml#1 spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address',
    "test.yaml#1 spec.rules[1].host: Invalid value: \"Shop.example.com\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
    "test.yaml#1 spec.rules[2].host: Invalid value: \"*.*.example.com\": a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character",
    "test.yaml#1 spec.rules[3].host: Invalid value: \"foo.*.com\": a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character",
    "test.yaml#1 spec.rules[4].host: Invalid value: \"shop.example.com:8080\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
    'test.yaml#1 spec.tls[0].hosts[0]: Invalid value: "10.1.1.1": must be a DNS name, not an IP address',
  ]);
  // An address with leading zeros is an address to the API server's sloppy parser too.
  assert.deepEqual(ingressHostProblems('010.0.0.1'), ['must be a DNS name, not an IP address']);
  assert.deepEqual(ingressHostProblems('*.example.com'), []);
});

test('an Ingress needs a default backend or rules; the class annotation and field may not both be set', () => {
  assert.deepEqual(
    errorsOf([
      'apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: empty}\n',
      ingress('none', '{tls: [{hosts: [a.com]}]}'),
      ingress('both', '{ingressClassName: nginx, defaultBackend: {service: {name: web, port: {number: 80}}}}', ', annotations: {kubernetes.io/ingress.class: nginx}'),
      'apiVersion: networking.k8s.io/v1beta1\nkind: Ingress\nmetadata: {name: old}\n',
    ]),
    [
      'f1.yaml#1 spec: Invalid value: null: either `defaultBackend` or `rules` must be specified',
      'f2.yaml#1 spec: Invalid value: null: either `defaultBackend` or `rules` must be specified',
      'f3.yaml#1 metadata.annotations[kubernetes.io/ingress.class]: Invalid value: "nginx": can not be set when the class field is also set',
      'f4.yaml#1 apiVersion: Unsupported value: "networking.k8s.io/v1beta1": supported values: "networking.k8s.io/v1"',
    ],
  );
});

test('IngressClass: the controller is a domain-prefixed path; parameters scoped Cluster (the default) or Namespace', () => {
  const cls = (name: string, spec: string) => `apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: ${name}}\nspec: ${spec}\n`;
  assert.deepEqual(
    errorsOf([
      cls('a', '{controller: ingress-nginx}'),
      cls('b', '{}'),
      cls('c', '{controller: K8s.io/x}'),
      cls('d', '{controller: example.com/lb, parameters: {kind: LBConfig, name: x, scope: Namespace}}'),
      cls('e', '{controller: example.com/lb, parameters: {kind: LBConfig, name: x, namespace: infra}}'),
      cls('f', '{controller: example.com/lb, parameters: {name: x}}'),
    ]),
    [
      'f1.yaml#1 spec.controller: Invalid value: "ingress-nginx": must be a domain-prefixed path (such as "acme.io/foo")',
      'f2.yaml#1 spec.controller: Required value',
      "f3.yaml#1 spec.controller: Invalid value: \"K8s.io\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
      "f4.yaml#1 spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'",
      "f5.yaml#1 spec.parameters.namespace: Forbidden: `parameters.scope` is set to 'Cluster'",
      'f6.yaml#1 spec.parameters.kind: Required value',
    ],
  );
  const c = load(cls('lb', '{controller: example.com/lb, parameters: {apiGroup: example.com, kind: LBConfig, name: x}}'));
  assert.deepEqual(c.ingressClasses[0]!.spec.parameters, { apiGroup: 'example.com', kind: 'LBConfig', name: 'x', scope: 'Cluster' });
  assert.equal(assumption(c, 'IngressClass lb', 'spec.parameters.scope'), 'Cluster');
  // Cluster-scoped: a namespace given on it is dropped, as the API server drops it.
  assert.equal(load(cls('lb', '{controller: example.com/lb}').replace('{name: lb}', '{name: lb, namespace: x}')).ingressClasses[0]!.metadata.namespace, undefined);
});

test('the default IngressClass is given to Ingresses that name no class, as the admission plugin does', () => {
  const def = (name: string) => `apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: ${name}, annotations: {ingressclass.kubernetes.io/is-default-class: "true"}}\nspec: {controller: k8s.io/ingress-nginx}\n`;
  const backend = '{defaultBackend: {service: {name: web, port: {number: 80}}}}';
  const c = load([service('web', '{ports: [{port: 80}]}'), def('nginx'), NGINX_CLASS.replace('name: nginx', 'name: other'), ingress('plain', backend), ingress('annotated', backend, ', annotations: {kubernetes.io/ingress.class: traefik}'), ingress('named', `{ingressClassName: other, ${backend.slice(1)}`)]);
  assert.deepEqual(c.ingresses.map((i) => [i.metadata.name, i.spec.ingressClassName]), [['plain', 'nginx'], ['annotated', undefined], ['named', 'other']]);
  assert.equal(assumption(c, 'Ingress default/plain', 'spec.ingressClassName'), 'nginx (the default IngressClass, ingressclass.kubernetes.io/is-default-class: "true")');
  // A value other than "true" is not default; of two defaults, the first by name (no creation times).
  const notDefault = load([service('web', '{ports: [{port: 80}]}'), def('nginx').replace('"true"', '"yes"'), ingress('plain', backend)]);
  assert.equal(notDefault.ingresses[0]!.spec.ingressClassName, undefined);
  const two = load([service('web', '{ports: [{port: 80}]}'), def('zeta'), def('alpha'), ingress('plain', backend)]);
  assert.equal(two.ingresses[0]!.spec.ingressClassName, 'alpha');
  assert.match(assumption(two, 'Ingress default/plain', 'spec.ingressClassName') ?? '', /2 classes are marked default \(alpha, zeta\): the API server takes the newest/);
});

test('what an Ingress points at that is not there is a warning: the Service, its port, the class', () => {
  const c = load([
    service('web', '{ports: [{name: http, port: 80}]}'),
    ingress('refs', '{ingressClassName: missing, defaultBackend: {service: {name: gone, port: {number: 80}}}, rules: [{http: {paths: [{path: /a, pathType: Prefix, backend: {service: {name: web, port: {name: grpc}}}}, {path: /b, pathType: Prefix, backend: {service: {name: web, port: {number: 81}}}}]}}]}'),
  ]);
  assert.deepEqual(
    c.warnings?.map((w) => `${w.source.file}#${w.source.document} ${w.source.path}: ${w.message}`),
    [
      'f2.yaml#1 spec.ingressClassName: no IngressClass "missing" was given: no controller serves this Ingress unless one is watching that class',
      'f2.yaml#1 spec.defaultBackend.service.name: no Service default/gone: the controller has no endpoints for it (ingress-nginx answers 503)',
      'f2.yaml#1 spec.rules[0].http.paths[0].backend.service.port.name: Service default/web has no port named "grpc" (its ports: http (80)): the controller has no endpoints for it',
      'f2.yaml#1 spec.rules[0].http.paths[1].backend.service.port.number: Service default/web has no port 81 (its ports: http (80)): the controller has no endpoints for it',
    ],
  );
});

test('every ConfigMap keeps its data; keys are checked; only kube-proxy\'s counts as its configuration', () => {
  const cm = (ns: string, name: string, data: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}, namespace: ${ns}}\ndata: ${data}\n`;
  const c = load([
    cm('ingress-nginx', 'ingress-nginx-controller', '{use-forwarded-headers: "true", proxy-real-ip-cidr: "10.0.0.0/8"}'),
    cm('kube-system', 'kube-proxy', '{config.conf: "kind: KubeProxyConfiguration\\nmode: iptables\\n"}'),
    cm('default', 'settings', '{a: "1"}'),
  ]);
  assert.deepEqual(
    c.configMaps.map((m) => [`${m.metadata.namespace}/${m.metadata.name}`, m.data]),
    [
      ['ingress-nginx/ingress-nginx-controller', { 'use-forwarded-headers': 'true', 'proxy-real-ip-cidr': '10.0.0.0/8' }],
      ['kube-system/kube-proxy', { 'config.conf': 'kind: KubeProxyConfiguration\nmode: iptables\n' }],
      ['default/settings', { a: '1' }],
    ],
  );
  assert.equal(c.nodes[0]!.kubeProxy.mode, 'iptables');
  assert.deepEqual(c.ignored, []);
  // Two ordinary ConfigMaps are not "two kube-proxy configurations"; a bad key and a value that is not a string are errors.
  assert.deepEqual(errorsOf([cm('a', 'x', '{k: v}'), cm('b', 'x', '{k: v}'), cm('c', 'y', '{"bad key": v, n: 1}')]), [
    'f3.yaml#1 data.n: Invalid value: 1: must be a string',
    "f3.yaml#1 data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
  ]);
});

test('Ingresses of other API groups are ignored with where they were', () => {
  const c = load('apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: legacy}\nspec: {backend: {serviceName: web, servicePort: 80}}\n');
  assert.deepEqual(c.ignored.map((i) => [i.kind, i.apiVersion, i.name]), [['Ingress', 'extensions/v1beta1', 'legacy']]);
  assert.equal(c.ingresses.length, 0);
});

test('--set reaches Ingresses and ConfigMaps', async () => {
  const { parsePatch } = await import('../../src/cluster/index.js');
  const c = load(
    [service('web', '{ports: [{port: 80}]}'), ingress('shop', '{defaultBackend: {service: {name: web, port: {number: 80}}}}'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ingress-nginx-controller, namespace: ingress-nginx}\ndata: {}\n'],
    { patches: [parsePatch('ing/default/shop.spec.ingressClassName=nginx'), parsePatch('cm/ingress-nginx/ingress-nginx-controller.data.use-forwarded-headers="true"')] },
  );
  assert.equal(c.ingresses[0]!.spec.ingressClassName, 'nginx');
  assert.deepEqual(c.configMaps[0]!.data, { 'use-forwarded-headers': 'true' });
});
