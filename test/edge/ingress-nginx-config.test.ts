/**
 * ingress-nginx's ConfigMap: defaults, the controller's way of reading values, errors naming the key.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatNetwork } from '../../src/net/index.js';
import { INGRESS_NGINX_DEFAULTS, ingressNginxConfig } from '../../src/edge/ingress-nginx.js';

const WHERE = 'ConfigMap ingress-nginx/ingress-nginx-controller';

test('an empty ConfigMap: every modelled key at the controller\'s default, each reported', () => {
  const r = ingressNginxConfig({}, WHERE);
  assert.deepEqual(r.config, INGRESS_NGINX_DEFAULTS);
  assert.deepEqual(r.errors, []);
  assert.equal(r.config.proxyRealIpCidr.map(formatNetwork).join(), '0.0.0.0/0');
  assert.equal(r.config.forwardedForHeader, 'X-Forwarded-For');
  assert.equal(r.config.httpRedirectCode, 308);
  assert.ok(r.defaults.includes('use-forwarded-headers: false (ingress-nginx\'s default)'));
  assert.ok(r.defaults.includes('proxy-real-ip-cidr: 0.0.0.0/0 (ingress-nginx\'s default)'));
  assert.ok(r.defaults.includes('generate-request-id: true (ingress-nginx\'s default)'));
});

test('values as the controller reads them: Go booleans, comma lists, redirect codes', () => {
  const r = ingressNginxConfig(
    {
      'use-forwarded-headers': 'True',
      'compute-full-forwarded-for': '1',
      'use-proxy-protocol': 'f',
      'enable-real-ip': '',
      'forwarded-for-header': ' CF-Connecting-IP ',
      'proxy-real-ip-cidr': '10.0.0.0/8, 192.168.0.1 ,fd00::/8',
      'http-redirect-code': '301',
      'no-tls-redirect-locations': '/.well-known/acme-challenge,/health',
      'block-cidrs': '192.0.2.0/24',
    },
    WHERE,
  );
  assert.deepEqual(r.errors, []);
  const c = r.config;
  assert.deepEqual([c.useForwardedHeaders, c.computeFullForwardedFor, c.useProxyProtocol, c.enableRealIp], [true, true, false, false]);
  assert.equal(c.forwardedForHeader, 'CF-Connecting-IP');
  assert.deepEqual(c.proxyRealIpCidr.map(formatNetwork), ['10.0.0.0/8', '192.168.0.1/32', 'fd00::/8']);
  assert.equal(c.httpRedirectCode, 301);
  assert.deepEqual(c.noTlsRedirectLocations, ['/.well-known/acme-challenge', '/health']);
  assert.deepEqual(c.blockCidrs.map(formatNetwork), ['192.0.2.0/24']);
});

test('a value the controller cannot read keeps the default, and the error names the key', () => {
  const r = ingressNginxConfig({ 'use-forwarded-headers': 'yes', 'http-redirect-code': '303', 'proxy-real-ip-cidr': '10.0.0.0/8,not-a-cidr', 'upstream-keepalive-connections': '-1' }, WHERE);
  assert.deepEqual(r.errors, [
    'ConfigMap ingress-nginx/ingress-nginx-controller data[http-redirect-code]: Invalid value: "303": must be one of 301, 302, 307, 308; ingress-nginx keeps the default 308',
    'ConfigMap ingress-nginx/ingress-nginx-controller data[use-forwarded-headers]: Invalid value: "yes": must be a boolean ("true" or "false"); ingress-nginx keeps the default false',
    'ConfigMap ingress-nginx/ingress-nginx-controller data[proxy-real-ip-cidr]: Invalid value: "not-a-cidr": must be an IP address or a CIDR (e.g. 10.0.0.0/8); nginx refuses the configuration, so the controller keeps running the previous one',
    'ConfigMap ingress-nginx/ingress-nginx-controller data[upstream-keepalive-connections]: Invalid value: "-1": must be a whole number, 0 or more; ingress-nginx keeps the default 320',
  ]);
  assert.equal(r.config.useForwardedHeaders, false);
  assert.equal(r.config.httpRedirectCode, 308);
});

test('keys that change requests in ways kubepath does not model are named', () => {
  const r = ingressNginxConfig({ 'proxy-set-headers': 'ingress-nginx/custom-headers', 'location-snippet': 'more_set_input_headers "X-Foo: bar";', 'server-snippet': '' }, WHERE);
  assert.deepEqual(r.unmodelled, [
    'proxy-set-headers is set: headers from that ConfigMap are added to every upstream request; kubepath does not model it',
    'location-snippet is set: its directives apply to every location; kubepath does not model it',
  ]);
});
