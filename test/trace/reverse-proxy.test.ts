/**
 * Reverse proxies of the Environment as hops of `kubepath trace --json`, as a user runs it on
 * seed 002's cluster (examples/seeds/09-istio-sidecar): the Istio ingress gateway as Envoy with
 * the proxy_protocol listener filter behind an L4 load balancer that sends PROXY v2, and the
 * same gateway changed by `--set env.proxies[…]` into the other shapes users describe — a
 * ClusterIP upstream, HAProxy with and without `option forwardfor`, Envoy's tcp_proxy writing
 * PROXY v2, `use_remote_address` off — each asserted by what the application receives.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { parseProxyHeader } from '../../src/clientip/index.js';
import { formatIP } from '../../src/net/index.js';
import { projectRoot } from '../support/shared.js';

const BIN = resolve(projectRoot, 'dist', 'src', 'cli', 'bin.js');
const SEED = join(projectRoot, 'examples', 'seeds', '09-istio-sidecar');
const CLIENT = '114.248.238.236';
const GATEWAY_POD = '172.17.0.60';
const GW = 'env.proxies[istio-ingressgateway]';
const LB = 'env.loadBalancers[istio-system/istio-ingressgateway]';
const HTTPBIN = 'pod/foo/httpbin-74fb669cc6-qvlb5';

interface Outcome {
  disposition: string;
  reason: string;
  endpoint: string | null;
  steps: { state: string; at: string; detail: string; before?: string; after?: string }[];
  legs: { by: string; src: string; dst: string }[];
  app: { client_address: string | null; client_ip?: string | null; forgeable?: boolean; headers?: [string, string][]; proxy_header?: { version: number; source: string; hex: string } | null };
}
interface Out {
  outcomes: Outcome[];
  findings: { title: string; fix?: string }[];
}

function trace(...args: string[]): { status: number | null; out?: Out; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'trace', '-f', SEED, '--from', 'user', '--to', 'lb/istio-system/istio-ingressgateway', '--json', ...args], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr, ...(r.status === 0 || r.status === 2 ? { out: JSON.parse(r.stdout) as Out } : {}) };
}

function only(...args: string[]): { o: Outcome; out: Out } {
  const r = trace(...args);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.out!.outcomes.length, 1);
  return { o: r.out!.outcomes[0]!, out: r.out! };
}

function header(o: Outcome, name: string): string | undefined {
  const values = (o.app.headers ?? []).filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
  return values.length > 0 ? values.join(', ') : undefined;
}

test('the ingress gateway reads the LB\'s PROXY v2 header, appends the client to X-Forwarded-For and connects to httpbin\'s endpoint itself (EDS)', () => {
  const { o } = only('--client-ip', 'RightmostNonPrivate(X-Forwarded-For)');
  assert.equal(o.disposition, 'deliver');
  assert.equal(o.endpoint, HTTPBIN);
  assert.equal(o.app.client_address, '127.0.0.6', 'httpbin\'s own sidecar (REDIRECT) is its peer');
  assert.equal(header(o, 'X-Forwarded-For'), CLIENT);
  assert.equal(header(o, 'x-envoy-external-address'), CLIENT);
  assert.equal(o.app.client_ip, CLIENT);
  assert.equal(o.app.forgeable, false, 'Envoy appends the address from the PROXY header after anything the client wrote');
  const gatewayLeg = o.legs.find((l) => l.by.startsWith('Envoy "istio-ingressgateway"'))!;
  assert.equal(gatewayLeg.src, `${GATEWAY_POD}:50400`);
  assert.ok(o.steps.some((s) => s.state === 'APPLY_PROXY_PROTOCOL' && s.at.includes('istio-ingressgateway') && s.detail.includes(`${CLIENT}:40000`)));
  assert.ok(o.steps.some((s) => s.state === 'ROUTE' && /by its endpoints.*172\.17\.0\.57:80/.test(s.detail)));
  assert.ok(!o.steps.some((s) => s.at === 'pod/istio-system/istio-ingressgateway-6b4d8c9c5f-x2kqp' && s.state === 'NAT' && /REDIRECT/.test(s.detail)), 'a gateway pod has no sidecar capture');
});

test('without upstreamEndpoints the gateway connects to the ClusterIP and kube-proxy picks the endpoint', () => {
  const { o } = only('--set', `${GW}.upstreamEndpoints=false`);
  assert.equal(o.endpoint, HTTPBIN);
  const route = o.steps.find((s) => s.state === 'ROUTE' && s.detail.includes('ClusterIP'));
  assert.ok(route, 'a ROUTE step names the ClusterIP');
  const clusterIP = /ClusterIP (\S+)/.exec(route.detail)![1]!;
  assert.ok(o.steps.some((s) => s.state === 'NAT' && s.detail.startsWith('DNAT') && s.before === `${GATEWAY_POD}:50400 -> ${clusterIP}:8000` && s.after === `${GATEWAY_POD}:50400 -> 172.17.0.57:80`), 'kube-proxy DNATs the ClusterIP to httpbin');
});

test('a PROXY header at an Envoy listener without the proxy_protocol filter: 400', () => {
  const { o } = only('--set', `${GW}.acceptProxyProtocol=false`);
  assert.equal(o.disposition, 'reject');
  assert.match(o.reason, /answers 400: a PROXY header arrived at a listener without the proxy_protocol filter/);
});

test('HAProxy with accept-proxy: option forwardfor carries the client; without it the address is lost, the finding names the fix, and a client-sent X-Forwarded-For goes through', () => {
  const haproxy = ['--set', `${GW}.type=haproxy`, '--set', `${GW}.useRemoteAddress=null`, '--set', `${GW}.xffNumTrustedHops=null`];
  const withFF = only(...haproxy, '--set', `${GW}.forwardFor=true`).o;
  assert.equal(header(withFF, 'X-Forwarded-For'), CLIENT);
  const without = only(...haproxy, '--client-ip', 'RightmostNonPrivate(X-Forwarded-For)');
  assert.equal(header(without.o, 'X-Forwarded-For'), undefined);
  assert.equal(without.o.app.client_ip, null);
  assert.equal(without.o.app.forgeable, true);
  assert.ok(without.out.findings.some((f) => f.fix === `${GW}.forwardFor=true`), JSON.stringify(without.out.findings));
});

test('Envoy tcp_proxy writing PROXY v2: an app that reads PROXY protocol gets the client from the header; behind a sidecar\'s HTTP port the header gets 400', () => {
  const tcp = ['--set', `${GW}.mode=tcp`, '--set', `${GW}.sendProxyProtocol=v2`];
  const direct = only(...tcp, '--set', `${HTTPBIN}.metadata.labels[sidecar.istio.io/inject]=false`, '--set', 'env.apps[Deployment/foo/httpbin].proxyProtocol=require').o;
  assert.equal(direct.disposition, 'deliver');
  assert.equal(direct.app.client_address, CLIENT);
  const h = parseProxyHeader(Buffer.from(direct.app.proxy_header!.hex, 'hex'));
  assert.equal(h.version, 2);
  assert.ok(h.source && 'ip' in h.source);
  assert.equal(formatIP(h.source.ip), CLIENT);
  assert.equal(h.source.port, 40000);
  const sidecar = only(...tcp).o;
  assert.equal(sidecar.disposition, 'reject');
  assert.match(sidecar.reason, /istio-proxy \(REDIRECT\).*answers 400: a PROXY header arrived at the inbound listener of port 80 \(svc\/foo\/httpbin port "http", declared HTTP\)/);
});

test('Envoy with use_remote_address off appends nothing: the finding says so, and its fix brings the client back', () => {
  const direct = ['--set', `${LB}.mode=passthrough`, '--set', `${LB}.proxyProtocol=null`, '--set', `${GW}.acceptProxyProtocol=false`, '--set', 'svc/istio-system/istio-ingressgateway.spec.externalTrafficPolicy=Local'];
  const off = only(...direct, '--set', `${GW}.useRemoteAddress=false`, '--client-ip', 'RightmostNonPrivate(X-Forwarded-For)');
  assert.equal(header(off.o, 'X-Forwarded-For'), undefined);
  const finding = off.out.findings.find((f) => f.fix === `${GW}.useRemoteAddress=true`);
  assert.ok(finding, JSON.stringify(off.out.findings));
  const fixed = only(...direct, '--set', finding.fix!, '--client-ip', 'RightmostNonPrivate(X-Forwarded-For)').o;
  assert.equal(header(fixed, 'X-Forwarded-For'), CLIENT);
  assert.equal(fixed.app.client_ip, CLIENT);
});

test('bad proxies are load errors naming the field; --set env with an unknown item lists the items', () => {
  const missing = trace('--set', `${GW}.upstream=svc/foo/nope`);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /environment\.yaml.*proxies\[0\]\.upstream: Not found: no Service foo\/nope in the manifests/);
  const port = trace('--set', `${GW}.upstream=svc/foo/httpbin:grpc`);
  assert.match(port.stderr, /proxies\[0\]\.upstream: Not found: Service foo\/httpbin has no port "grpc" \(ports: http\)/);
  const tcpForward = trace('--set', `${GW}.type=haproxy`, '--set', `${GW}.useRemoteAddress=null`, '--set', `${GW}.xffNumTrustedHops=null`, '--set', `${GW}.mode=tcp`, '--set', `${GW}.forwardFor=true`);
  assert.equal(tcpForward.status, 1);
  assert.match(tcpForward.stderr, /proxies\[0\]\.forwardFor: Invalid value: true: option forwardfor needs mode http/);
  const item = trace('--set', 'env.proxies[edge].port=1');
  assert.equal(item.status, 1);
  assert.match(item.stderr, /--set env\.proxies\[edge\]\.port=1: no item "edge" in the list; items: istio-ingressgateway/);
  assert.doesNotMatch(missing.stderr + item.stderr, /\n\s+at /, 'no stack trace');
});
