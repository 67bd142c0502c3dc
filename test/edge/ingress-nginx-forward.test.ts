/**
 * ingress-nginx on one connection: the client address it believes and the fields it sends upstream
 * for each ConfigMap combination, the PROXY protocol from the bytes, and the refusals.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GENERATED_REQUEST_ID, ingressNginxConfig, ingressNginxForward, type IngressNginxConfig } from '../../src/edge/ingress-nginx.js';
import { proxyHeaderSent } from '../../src/edge/proxy-wire.js';
import { encodeProxyHeader } from '../../src/clientip/proxy-protocol/index.js';
import { cluster, ingress, path, rule, tableOf } from './fixtures.js';
import { field, forwarded, payload } from './helpers.js';

const SHOP = 'shop.example.com';
const C = cluster(ingress('shop', `{ingressClassName: nginx, rules: [${rule(SHOP, path('/', 'Prefix', 'web', 80))}]}`));
const TABLE = tableOf(C);
const cfg = (data: Record<string, string>): IngressNginxConfig => {
  const r = ingressNginxConfig(data, 'ConfigMap ingress-nginx/ingress-nginx-controller');
  assert.deepEqual(r.errors, []);
  return r.config;
};
const SPOOF: [string, string][] = [
  ['X-Forwarded-For', '6.6.6.6'],
  ['X-Real-IP', '6.6.6.6'],
  ['X-Forwarded-Proto', 'https'],
  ['X-Forwarded-Host', 'evil.example'],
  ['X-Forwarded-Port', '8443'],
];

test('defaults: realip off; the client address is the TCP peer; every forwarded field is replaced', () => {
  const whole = ingressNginxForward(payload({ peer: '203.0.113.9:51000', headers: [...SPOOF, ['Accept', '*/*']] }), cfg({}), TABLE);
  const d = forwarded(whole);
  assert.equal(d.clientAddress, '203.0.113.9');
  assert.match(d.clientAddressWhy, /realip is off/);
  assert.deepEqual(d.upstream.http!.headers, [
    ['Host', SHOP],
    ['X-Request-ID', GENERATED_REQUEST_ID],
    ['X-Real-IP', '203.0.113.9'],
    ['X-Forwarded-For', '203.0.113.9'],
    ['X-Forwarded-Host', SHOP],
    ['X-Forwarded-Port', '80'],
    ['X-Forwarded-Proto', 'http'],
    ['X-Forwarded-Scheme', 'http'],
    ['X-Scheme', 'http'],
    ['X-Original-Forwarded-For', '6.6.6.6'],
    ['Accept', '*/*'],
  ]);
  const xff = d.changes.find((c) => c.header === 'X-Forwarded-For')!;
  assert.deepEqual([xff.before, xff.after], ['6.6.6.6', '203.0.113.9']);
  assert.match(xff.why, /replacing the client's value/);
  assert.match(d.changes.find((c) => c.header === 'X-Forwarded-Proto')!.why, /the client's X-Forwarded-Proto is ignored \(use-forwarded-headers off\)/);
  assert.equal(d.upstream.http!.scheme, 'http');
  assert.equal(d.upstream.proxyHeader, undefined);
  assert.equal(whole.route?.kind, 'backend');
});

test('use-forwarded-headers with the default proxy-real-ip-cidr 0.0.0.0/0: a client-sent X-Forwarded-For is believed (spoofing)', () => {
  const d = forwarded(ingressNginxForward(payload({ peer: '203.0.113.9:51000', headers: SPOOF }), cfg({ 'use-forwarded-headers': 'true' }), TABLE));
  assert.equal(d.clientAddress, '6.6.6.6');
  assert.match(d.clientAddressWhy, /any client can choose this address/);
  assert.equal(field(d, 'X-Real-IP'), '6.6.6.6');
  assert.equal(field(d, 'X-Forwarded-For'), '6.6.6.6');
  // The other forwarded fields are trusted too: Host itself comes from X-Forwarded-Host.
  assert.equal(field(d, 'X-Forwarded-Proto'), 'https');
  assert.equal(field(d, 'X-Forwarded-Port'), '8443');
  assert.equal(field(d, 'X-Forwarded-Host'), 'evil.example');
  assert.equal(field(d, 'Host'), 'evil.example');
});

test('use-forwarded-headers with proxy-real-ip-cidr set to the LB: the address the LB appended', () => {
  const config = cfg({ 'use-forwarded-headers': 'true', 'proxy-real-ip-cidr': '10.0.0.0/8' });
  const viaLB = forwarded(ingressNginxForward(payload({ peer: '10.0.0.7:40000', headers: [['X-Forwarded-For', '6.6.6.6, 203.0.113.9']] }), config, TABLE));
  assert.equal(viaLB.clientAddress, '203.0.113.9');
  assert.equal(field(viaLB, 'X-Forwarded-For'), '203.0.113.9');
  // Straight from the internet, bypassing the LB: the header is not read.
  const direct = forwarded(ingressNginxForward(payload({ peer: '198.51.100.4:40000', headers: [['X-Forwarded-For', '6.6.6.6']] }), config, TABLE));
  assert.equal(direct.clientAddress, '198.51.100.4');
});

test('compute-full-forwarded-for: the client\'s list plus $realip_remote_addr — only with use-forwarded-headers', () => {
  const p = payload({ peer: '10.0.0.7:40000', headers: [['X-Forwarded-For', '6.6.6.6, 203.0.113.9']] });
  const full = forwarded(ingressNginxForward(p, cfg({ 'use-forwarded-headers': 'true', 'compute-full-forwarded-for': 'true', 'proxy-real-ip-cidr': '10.0.0.0/8' }), TABLE));
  assert.equal(field(full, 'X-Forwarded-For'), '6.6.6.6, 203.0.113.9, 10.0.0.7');
  assert.equal(field(full, 'X-Real-IP'), '203.0.113.9');
  assert.equal(field(full, 'X-Original-Forwarded-For'), '6.6.6.6, 203.0.113.9');
  const noXff = forwarded(ingressNginxForward(payload({ peer: '10.0.0.7:40000' }), cfg({ 'use-forwarded-headers': 'true', 'compute-full-forwarded-for': 'true' }), TABLE));
  assert.equal(field(noXff, 'X-Forwarded-For'), '10.0.0.7');
  assert.equal(field(noXff, 'X-Original-Forwarded-For'), undefined, 'an empty value is not sent');
  const alone = forwarded(ingressNginxForward(p, cfg({ 'compute-full-forwarded-for': 'true' }), TABLE));
  assert.equal(field(alone, 'X-Forwarded-For'), '10.0.0.7');
  assert.match(alone.changes.find((c) => c.header === 'X-Forwarded-For')!.why, /compute-full-forwarded-for needs use-forwarded-headers too/);
});

test('enable-real-ip alone: realip believes X-Forwarded-For, the other forwarded fields are not trusted', () => {
  const d = forwarded(ingressNginxForward(payload({ peer: '203.0.113.9:51000', headers: SPOOF }), cfg({ 'enable-real-ip': 'true' }), TABLE));
  assert.equal(d.clientAddress, '6.6.6.6');
  assert.equal(field(d, 'X-Forwarded-Proto'), 'http');
  assert.equal(field(d, 'Host'), SHOP);
  // forwarded-for-header names another header: only its first line is read.
  const cf = forwarded(ingressNginxForward(payload({ peer: '10.0.0.7:1', headers: [['CF-Connecting-IP', '198.51.100.5'], ['CF-Connecting-IP', '6.6.6.6'], ['X-Forwarded-For', '7.7.7.7']] }), cfg({ 'enable-real-ip': 'true', 'forwarded-for-header': 'CF-Connecting-IP', 'proxy-real-ip-cidr': '10.0.0.0/8' }), TABLE));
  assert.equal(cf.clientAddress, '198.51.100.5');
  assert.equal(field(cf, 'X-Original-Forwarded-For'), '198.51.100.5, 6.6.6.6', 'X-Original-Forwarded-For is $http_<forwarded-for-header>');
});

test('use-proxy-protocol: the client from the PROXY header; its destination port 443 means https', () => {
  const pp = proxyHeaderSent(1, '198.51.100.20:5555', '203.0.113.50:443');
  const p = payload({ peer: '10.0.0.7:40000', local: '10.244.1.5:443', scheme: 'https', proxyHeader: pp, headers: [['X-Forwarded-For', '6.6.6.6'], ['X-Forwarded-Proto', 'http']] });
  const d = forwarded(ingressNginxForward(p, cfg({ 'use-proxy-protocol': 'true' }), TABLE));
  assert.equal(d.clientAddress, '198.51.100.20');
  assert.match(d.clientAddressWhy, /PROXY protocol header/);
  assert.equal(field(d, 'X-Real-IP'), '198.51.100.20');
  assert.equal(field(d, 'X-Forwarded-For'), '198.51.100.20', 'the client\'s X-Forwarded-For is not what realip reads');
  assert.equal(field(d, 'X-Forwarded-Proto'), 'https');
  assert.equal(field(d, 'X-Forwarded-Port'), '443');
  // With use-forwarded-headers and compute-full-forwarded-for: the list plus $proxy_protocol_addr.
  const full = forwarded(ingressNginxForward(p, cfg({ 'use-proxy-protocol': 'true', 'use-forwarded-headers': 'true', 'compute-full-forwarded-for': 'true' }), TABLE));
  assert.equal(field(full, 'X-Forwarded-For'), '6.6.6.6, 198.51.100.20');
  assert.equal(field(full, 'X-Forwarded-Proto'), 'https', 'destination port 443 wins over the client\'s X-Forwarded-Proto');
  // A v2 header works the same; a LOCAL one carries no client: the TCP peer stays.
  const v2 = forwarded(ingressNginxForward(payload({ peer: '10.0.0.7:40000', proxyHeader: proxyHeaderSent(2, '198.51.100.21:1', '203.0.113.50:80') }), cfg({ 'use-proxy-protocol': 'true' }), TABLE));
  assert.equal(v2.clientAddress, '198.51.100.21');
  const local = { version: 2 as const, source: '', destination: '', hex: encodeProxyHeader({ version: 2, command: 'LOCAL' }).toString('hex') };
  const l = forwarded(ingressNginxForward(payload({ peer: '10.0.0.7:40000', proxyHeader: local }), cfg({ 'use-proxy-protocol': 'true' }), TABLE));
  assert.equal(l.clientAddress, '10.0.0.7');
  assert.match(l.notes.join('\n'), /carries no client address/);
  // An untrusted peer: the header is read, but realip does not use it.
  const untrusted = forwarded(ingressNginxForward(p, cfg({ 'use-proxy-protocol': 'true', 'proxy-real-ip-cidr': '10.9.0.0/16' }), TABLE));
  assert.equal(untrusted.clientAddress, '10.0.0.7');
});

test('PROXY protocol mismatches: required but absent closes; sent but not expected is 400 (or a failed TLS handshake); bad bytes close', () => {
  const need = ingressNginxForward(payload({ peer: '203.0.113.9:1' }), cfg({ 'use-proxy-protocol': 'true' }), TABLE);
  assert.equal(need.kind, 'refuse');
  assert.equal(need.kind === 'refuse' && need.status, undefined);
  assert.match(need.kind === 'refuse' ? need.reason : '', /broken header/);
  const pp = proxyHeaderSent(1, '198.51.100.20:5555', '203.0.113.50:80');
  const unexpected = ingressNginxForward(payload({ peer: '10.0.0.7:1', proxyHeader: pp }), cfg({}), TABLE);
  assert.equal(unexpected.kind === 'refuse' && unexpected.status, 400);
  const tls = ingressNginxForward(payload({ peer: '10.0.0.7:1', proxyHeader: pp, scheme: 'https' }), cfg({}), TABLE);
  assert.equal(tls.kind === 'refuse' && tls.status, undefined);
  assert.match(tls.kind === 'refuse' ? tls.reason : '', /TLS handshake fails/);
  const garbage = ingressNginxForward(payload({ peer: '10.0.0.7:1', proxyHeader: { ...pp, hex: Buffer.from('PROXY TCP4 1.2.3.4\r\n').toString('hex') } }), cfg({ 'use-proxy-protocol': 'true' }), TABLE);
  assert.equal(garbage.kind, 'refuse');
  assert.match(garbage.kind === 'refuse' ? garbage.reason : '', /not valid/);
  const raw = ingressNginxForward(payload({ peer: '10.0.0.7:1', raw: true }), cfg({}), TABLE);
  assert.equal(raw.kind === 'refuse' && raw.status, 400);
});

test('fields nginx drops or rewrites: underscores, X-Request-ID passed through, X-Original-URI, Upgrade, TE/Expect, Proxy', () => {
  const p = payload({
    peer: '203.0.113.9:1',
    path: '/cart?id=1',
    headers: [['X_Forwarded_For', '6.6.6.6'], ['X-Request-ID', 'abc123'], ['Proxy', 'http://evil'], ['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['TE', 'trailers'], ['Expect', '100-continue']],
  });
  const d = forwarded(ingressNginxForward(p, cfg({ 'use-forwarded-headers': 'true', 'proxy-add-original-uri-header': 'true' }), TABLE));
  assert.equal(d.clientAddress, '203.0.113.9', 'X_Forwarded_For is ignored: underscores_in_headers is off');
  assert.match(d.changes.find((c) => c.header === 'X_Forwarded_For')!.why, /underscores_in_headers off/);
  assert.equal(field(d, 'X-Request-ID'), 'abc123');
  assert.equal(field(d, 'X-Original-URI'), '/cart?id=1');
  assert.equal(field(d, 'Proxy'), undefined);
  assert.equal(field(d, 'Upgrade'), 'websocket');
  assert.equal(field(d, 'Connection'), 'upgrade');
  assert.equal(field(d, 'TE'), undefined);
  assert.equal(field(d, 'Expect'), undefined);
  // With underscores allowed, nginx's $http_x_forwarded_for reads X_Forwarded_For too (the variable name folds - into _).
  const u = forwarded(ingressNginxForward(payload({ peer: '203.0.113.9:1', headers: [['X_Forwarded_For', '6.6.6.6']] }), cfg({ 'use-forwarded-headers': 'true', 'compute-full-forwarded-for': 'true', 'enable-underscores-in-headers': 'true' }), TABLE));
  assert.equal(field(u, 'X-Forwarded-For'), '6.6.6.6, 203.0.113.9');
  // generate-request-id off and none sent: no X-Request-ID; upstream keepalive off: Connection: close.
  const g = forwarded(ingressNginxForward(payload({ peer: '203.0.113.9:1' }), cfg({ 'generate-request-id': 'false', 'upstream-keepalive-connections': '0' }), TABLE));
  assert.equal(field(g, 'X-Request-ID'), undefined);
  assert.equal(field(g, 'Connection'), 'close');
});

test('refusals from routing come back with their status: redirect, 404, 403', () => {
  const c = cluster(ingress('secure', `{ingressClassName: nginx, tls: [{hosts: ["${SHOP}"], secretName: t}], rules: [${rule(SHOP, path('/', 'Prefix', 'web', 80))}]}`, { 'nginx.ingress.kubernetes.io/allowlist-source-range': '10.0.0.0/8' }));
  const t = tableOf(c);
  const redirect = ingressNginxForward(payload({ peer: '203.0.113.9:1', path: '/a' }), cfg({}), t);
  assert.equal(redirect.kind === 'refuse' && redirect.status, 308);
  assert.match(redirect.kind === 'refuse' ? redirect.reason : '', /Location: https:\/\/shop\.example\.com\/a/);
  // Behind a TLS-terminating LB that says https: no redirect, and the allowlist sees the believed client.
  const behind = ingressNginxForward(payload({ peer: '10.0.0.7:1', headers: [['X-Forwarded-Proto', 'https'], ['X-Forwarded-For', '203.0.113.9']] }), cfg({ 'use-forwarded-headers': 'true', 'proxy-real-ip-cidr': '10.0.0.0/8' }), t);
  assert.equal(behind.kind === 'refuse' && behind.status, 403);
  const inside = ingressNginxForward(payload({ peer: '10.0.0.7:1', headers: [['X-Forwarded-Proto', 'https'], ['X-Forwarded-For', '10.3.3.3']] }), cfg({ 'use-forwarded-headers': 'true', 'proxy-real-ip-cidr': '10.0.0.0/8' }), t);
  assert.equal(forwarded(inside).clientAddress, '10.3.3.3');
  const lost = ingressNginxForward(payload({ peer: '203.0.113.9:1', host: 'nobody.example.org' }), cfg({}), t);
  assert.equal(lost.kind === 'refuse' && lost.status, 404);
});
