/**
 * Envoy (the HTTP connection manager's documented examples), HAProxy, and cloud load balancers
 * that proxy at L4 and L7 — and a chain of them into ingress-nginx, the PROXY header carried as bytes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseProxyHeader } from '../../src/clientip/proxy-protocol/index.js';
import { formatIP } from '../../src/net/index.js';
import { forwardThrough, GENERATED_ID, isProxyHeaderSent, type HttpProxy } from '../../src/edge/http-proxy.js';
import { ingressNginxConfig, ingressNginxForward } from '../../src/edge/ingress-nginx.js';
import { proxyHeaderSent } from '../../src/edge/proxy-wire.js';
import type { ConnectionPayload, ProxyDecision } from '../../src/edge/request.js';
import { cluster, ingress, path, rule, tableOf } from './fixtures.js';
import { field, forwarded, payload } from './helpers.js';

const XFF3 = '203.0.113.128, 203.0.113.10, 203.0.113.1';
const envoy = (useRemoteAddress: boolean, xffNumTrustedHops: number): HttpProxy => ({ kind: 'envoy', useRemoteAddress, xffNumTrustedHops });
const req = (peer: string, xff?: string) => payload({ peer: `${peer}:40000`, headers: xff ? [['X-Forwarded-For', xff]] : [] });

// Envoy's docs, "x-forwarded-for", examples 1–6 (7 and 8 need xff_trusted_cidrs, the xff original IP detection extension, not modelled).
test('Envoy example 1: edge proxy, no trusted proxy in front (use_remote_address, 0 hops)', () => {
  const d = forwarded(forwardThrough(envoy(true, 0), req('192.0.2.5', XFF3)));
  assert.equal(d.clientAddress, '192.0.2.5');
  assert.equal(field(d, 'x-envoy-external-address'), '192.0.2.5');
  assert.equal(field(d, 'X-Forwarded-For'), `${XFF3}, 192.0.2.5`);
  assert.equal(field(d, 'x-envoy-internal'), undefined);
});

test('Envoy example 2: internal proxy behind the edge Envoy (0 hops, use_remote_address false)', () => {
  const d = forwarded(forwardThrough(envoy(false, 0), req('10.11.12.13', `${XFF3}, 192.0.2.5`)));
  assert.equal(d.clientAddress, '192.0.2.5');
  assert.equal(field(d, 'X-Forwarded-For'), `${XFF3}, 192.0.2.5`, 'not appended');
  assert.equal(field(d, 'x-envoy-external-address'), undefined, 'not modified');
});

test('Envoy example 3: edge proxy with two trusted proxies in front (use_remote_address, 2 hops)', () => {
  const d = forwarded(forwardThrough(envoy(true, 2), req('192.0.2.5', XFF3)));
  assert.equal(d.clientAddress, '203.0.113.10');
  assert.equal(field(d, 'x-envoy-external-address'), '203.0.113.10');
  assert.equal(field(d, 'X-Forwarded-For'), `${XFF3}, 192.0.2.5`);
});

test('Envoy example 4: internal proxy behind the edge of example 3 (2 hops, use_remote_address false)', () => {
  const d = forwarded(forwardThrough(envoy(false, 2), req('10.11.12.13', `${XFF3}, 192.0.2.5`)));
  assert.equal(d.clientAddress, '203.0.113.10');
  assert.equal(field(d, 'x-envoy-external-address'), undefined);
});

test('Envoy examples 5 and 6: internal requests (one RFC 1918 address, or none with an internal peer)', () => {
  const five = forwarded(forwardThrough(envoy(false, 0), req('10.20.30.40')));
  assert.equal(five.clientAddress, '10.20.30.40');
  assert.equal(field(five, 'x-envoy-external-address'), undefined);
  const six = forwarded(forwardThrough(envoy(false, 0), req('10.20.30.50', '10.20.30.40')));
  assert.equal(six.clientAddress, '10.20.30.40');
  assert.equal(field(six, 'x-envoy-internal'), 'true');
});

test('Envoy: fewer XFF addresses than hops fall back to the downstream address; skip_xff_append; x-forwarded-proto trusted only with hops', () => {
  assert.equal(forwarded(forwardThrough(envoy(true, 2), req('192.0.2.5', '203.0.113.1'))).clientAddress, '192.0.2.5');
  assert.equal(forwarded(forwardThrough(envoy(false, 1), req('192.0.2.5', '203.0.113.1'))).clientAddress, '192.0.2.5');
  const skip = forwarded(forwardThrough({ kind: 'envoy', useRemoteAddress: true, skipXffAppend: true }, req('192.0.2.5', '6.6.6.6')));
  assert.equal(field(skip, 'X-Forwarded-For'), '6.6.6.6');
  const proto = (hops: number) => field(forwardThrough(envoy(true, hops), payload({ peer: '192.0.2.5:1', headers: [['X-Forwarded-Proto', 'https']] })), 'X-Forwarded-Proto');
  assert.equal(proto(0), 'http');
  assert.equal(proto(1), 'https');
  assert.equal(field(forwardThrough(envoy(true, 0), req('192.0.2.5')), 'x-request-id'), GENERATED_ID);
});

test('Envoy with the proxy_protocol listener filter: the header\'s source is the downstream address; without a header the connection closes', () => {
  const pp = proxyHeaderSent(2, '198.51.100.20:5555', '203.0.113.50:443');
  const p: ConnectionPayload = { ...req('10.0.0.7'), proxyHeader: pp };
  const d = forwarded(forwardThrough({ kind: 'envoy', useRemoteAddress: true, proxyProtocol: true }, p));
  assert.equal(d.clientAddress, '198.51.100.20');
  assert.equal(field(d, 'X-Forwarded-For'), '198.51.100.20');
  const none = forwardThrough({ kind: 'envoy', useRemoteAddress: true, proxyProtocol: true }, req('10.0.0.7'));
  assert.equal(none.kind, 'refuse');
  assert.equal(forwarded(forwardThrough({ kind: 'envoy', useRemoteAddress: true, proxyProtocol: { allowRequestsWithoutProxyProtocol: true } }, req('10.0.0.7'))).clientAddress, '10.0.0.7');
  const unexpected = forwardThrough({ kind: 'envoy' }, p);
  assert.equal(unexpected.kind === 'refuse' && unexpected.status, 400);
});

test('Envoy tcp_proxy passes the bytes: no header changed, the PROXY header\'s source taken, a new one written when configured', () => {
  const pp = proxyHeaderSent(2, '198.51.100.20:5555', '203.0.113.50:443');
  const p: ConnectionPayload = { ...req('10.0.0.7', '6.6.6.6'), proxyHeader: pp };
  const d = forwarded(forwardThrough({ kind: 'envoy', mode: 'tcp', useRemoteAddress: true, proxyProtocol: true, upstreamProxyProtocol: 1 }, p));
  assert.equal(d.clientAddress, '198.51.100.20');
  assert.deepEqual(d.changes, []);
  assert.equal(field(d, 'X-Forwarded-For'), '6.6.6.6', 'the request passes untouched');
  const sent = d.upstream.proxyHeader;
  assert.ok(isProxyHeaderSent(sent));
  assert.equal(Buffer.from(sent.hex, 'hex').toString('latin1'), 'PROXY TCP4 198.51.100.20 203.0.113.50 5555 443\r\n');
});

test('HAProxy option forwardfor adds a new field with the peer, after the client\'s; except, header, if-none', () => {
  const p = payload({ peer: '203.0.113.9:1', headers: [['X-Forwarded-For', '6.6.6.6']] });
  const d = forwarded(forwardThrough({ kind: 'haproxy', mode: 'http', forwardFor: {} }, p));
  assert.deepEqual(d.upstream.http!.headers.filter(([n]) => n === 'X-Forwarded-For'), [['X-Forwarded-For', '6.6.6.6'], ['X-Forwarded-For', '203.0.113.9']]);
  assert.equal(d.changes[0]!.after, '6.6.6.6, 203.0.113.9');
  assert.equal(field(forwardThrough({ kind: 'haproxy', mode: 'http', forwardFor: { ifNone: true } }, p), 'X-Forwarded-For'), '6.6.6.6');
  assert.equal(field(forwardThrough({ kind: 'haproxy', mode: 'http', forwardFor: { except: '203.0.113.0/24' } }, p), 'X-Forwarded-For'), '6.6.6.6');
  assert.equal(field(forwardThrough({ kind: 'haproxy', mode: 'http', forwardFor: { header: 'X-Client-IP' } }, p), 'X-Client-IP'), '203.0.113.9');
  assert.equal(field(forwardThrough({ kind: 'haproxy', mode: 'http' }, p), 'X-Forwarded-For'), '6.6.6.6', 'without option forwardfor nothing is added');
});

test('HAProxy accept-proxy and send-proxy: the client passes in the header; mode tcp changes nothing', () => {
  const inbound: ConnectionPayload = { ...payload({ peer: '10.0.0.7:1', local: '10.0.1.1:443' }), proxyHeader: proxyHeaderSent(1, '198.51.100.20:5555', '203.0.113.50:443') };
  const d = forwarded(forwardThrough({ kind: 'haproxy', mode: 'tcp', acceptProxy: true, sendProxy: 2 }, inbound));
  assert.equal(d.clientAddress, '198.51.100.20');
  const sent = d.upstream.proxyHeader;
  assert.ok(isProxyHeaderSent(sent));
  const parsed = parseProxyHeader(Buffer.from(sent.hex, 'hex'));
  assert.equal(parsed.version, 2);
  assert.equal(parsed.source && 'ip' in parsed.source ? `${formatIP(parsed.source.ip)}:${parsed.source.port}` : '', '198.51.100.20:5555');
  assert.equal(parsed.destination && 'ip' in parsed.destination ? `${formatIP(parsed.destination.ip)}:${parsed.destination.port}` : '', '203.0.113.50:443');
  assert.deepEqual(d.changes, []);
  assert.equal(forwardThrough({ kind: 'haproxy', mode: 'tcp', acceptProxy: true }, payload({ peer: '10.0.0.7:1' })).kind, 'refuse');
  const v1 = forwarded(forwardThrough({ kind: 'haproxy', mode: 'http', sendProxy: 1 }, payload({ peer: '203.0.113.9:4444', local: '10.0.1.1:80' })));
  assert.equal(Buffer.from(v1.upstream.proxyHeader?.hex ?? '', 'hex').toString(), 'PROXY TCP4 203.0.113.9 10.0.1.1 4444 80\r\n');
});

test('a cloud L4 proxy: the backend\'s peer is the LB; with PROXY protocol v2 the client travels in the header', () => {
  const d = forwarded(forwardThrough({ kind: 'cloud-l4-proxy', name: 'AWS NLB (ip targets)', sourceAddress: '10.0.3.17', proxyProtocol: 2 }, payload({ peer: '198.51.100.20:5555', local: '203.0.113.50:443' })));
  assert.equal(d.clientAddress, '198.51.100.20');
  const sent = d.upstream.proxyHeader;
  assert.ok(isProxyHeaderSent(sent));
  assert.deepEqual([sent.version, sent.source, sent.destination], [2, '198.51.100.20:5555', '203.0.113.50:443']);
  const without = forwarded(forwardThrough({ kind: 'cloud-l4-proxy', sourceAddress: '10.0.3.17' }, payload({ peer: '198.51.100.20:5555' })));
  assert.equal(without.upstream.proxyHeader, undefined);
  assert.match(without.notes.join('\n'), /cannot learn the client address/);
});

test('cloud L7: AWS ALB appends to X-Forwarded-For and sets X-Forwarded-Proto/-Port; preserve and remove; Alibaba CLB only X-Forwarded-For unless asked', () => {
  const p = payload({ peer: '198.51.100.20:5555', local: '203.0.113.50:443', scheme: 'https', headers: [['X-Forwarded-For', '6.6.6.6'], ['X-Forwarded-Proto', 'http']] });
  const alb = forwarded(forwardThrough({ kind: 'cloud-l7', provider: 'aws-alb', sourceAddress: '10.0.3.17' }, p));
  assert.equal(field(alb, 'X-Forwarded-For'), '6.6.6.6, 198.51.100.20');
  assert.equal(field(alb, 'X-Forwarded-Proto'), 'https');
  assert.equal(field(alb, 'X-Forwarded-Port'), '443');
  assert.equal(field(alb, 'X-Amzn-Trace-Id'), GENERATED_ID);
  assert.equal(alb.upstream.http!.scheme, 'http', 'TLS ends at the ALB');
  assert.equal(field(forwardThrough({ kind: 'cloud-l7', provider: 'aws-alb', sourceAddress: '10.0.3.17', xffClientPort: true }, p), 'X-Forwarded-For'), '6.6.6.6, 198.51.100.20:5555');
  assert.equal(field(forwardThrough({ kind: 'cloud-l7', provider: 'aws-alb', sourceAddress: '10.0.3.17', xffMode: 'preserve' }, p), 'X-Forwarded-For'), '6.6.6.6');
  assert.equal(field(forwardThrough({ kind: 'cloud-l7', provider: 'aws-alb', sourceAddress: '10.0.3.17', xffMode: 'remove' }, p), 'X-Forwarded-For'), undefined);
  const clb = forwarded(forwardThrough({ kind: 'cloud-l7', provider: 'alibaba-clb', sourceAddress: '100.64.1.2' }, p));
  assert.equal(field(clb, 'X-Forwarded-For'), '6.6.6.6, 198.51.100.20');
  assert.equal(field(clb, 'X-Forwarded-Proto'), 'http', 'the client\'s value passes: the CLB adds X-Forwarded-Proto only when asked');
  assert.equal(field(forwardThrough({ kind: 'cloud-l7', provider: 'alibaba-clb', sourceAddress: '100.64.1.2', xForwardedProto: true }, p), 'X-Forwarded-Proto'), 'https');
  const ulb7 = forwarded(forwardThrough({ kind: 'cloud-l7', provider: 'ucloud-ulb7', sourceAddress: '10.9.0.3' }, payload({ peer: '198.51.100.20:5555' })));
  assert.equal(field(ulb7, 'X-Forwarded-For'), '198.51.100.20');
  assert.equal(forwardThrough({ kind: 'cloud-l7', provider: 'aws-alb', sourceAddress: '10.0.3.17' }, { ...p, proxyHeader: proxyHeaderSent(1, '1.2.3.4:1', '5.6.7.8:2') }).kind, 'refuse');
});

test('a chain: NLB with PROXY v2 → ingress-nginx with use-proxy-protocol; the app sees the client in X-Real-IP and X-Forwarded-For', () => {
  const c = cluster(ingress('shop', `{ingressClassName: nginx, rules: [${rule('shop.example.com', path('/', 'Prefix', 'web', 80))}]}`));
  const nlb = forwarded(forwardThrough({ kind: 'cloud-l4-proxy', sourceAddress: '10.0.3.17', proxyProtocol: 2 }, payload({ peer: '198.51.100.20:5555', local: '203.0.113.50:80' })));
  // The next hop's connection: from the NLB's address, carrying what it sent.
  const sent = nlb.upstream.proxyHeader;
  assert.ok(isProxyHeaderSent(sent));
  const next: ConnectionPayload = { peer: '10.0.3.17:33000', local: '10.244.1.5:80', proxyHeader: sent, http: nlb.upstream.http };
  const on = ingressNginxConfig({ 'use-proxy-protocol': 'true' }, 'cm').config;
  const d: ProxyDecision = ingressNginxForward(next, on, tableOf(c));
  assert.equal(forwarded(d).clientAddress, '198.51.100.20');
  assert.equal(field(d, 'X-Real-IP'), '198.51.100.20');
  assert.equal(field(d, 'X-Forwarded-For'), '198.51.100.20');
  // The same NLB in front of a controller that does not expect the header: 400.
  const off = ingressNginxForward(next, ingressNginxConfig({}, 'cm').config, tableOf(c));
  assert.equal(off.kind === 'refuse' && off.status, 400);
});
