/**
 * The clouds' Service annotations as resolveLoadBalancer reads them, and their order: the
 * Environment's cluster-wide entry, then the annotations, then the Environment's per-Service entry.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Service } from '../../src/cluster/index.js';
import { proxyModelOf, resolveLoadBalancer } from '../../src/edge/loadbalancer.js';

const svc = (annotations: Record<string, string>): Service => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop', annotations }, spec: { type: 'LoadBalancer', ports: [{ port: 80 }] } }) as Service;
const resolve = (annotations: Record<string, string>, cluster?: Parameters<typeof resolveLoadBalancer>[1], perService?: Parameters<typeof resolveLoadBalancer>[2]) => resolveLoadBalancer(svc(annotations), cluster, perService);

test('AWS: classic ELB proxy-protocol is a TCP proxy with v1; on an NLB it is v2 with the packets passed through; IP targets deliver to pods', () => {
  assert.deepEqual([resolve({ 'service.beta.kubernetes.io/aws-load-balancer-proxy-protocol': '*' })].map((l) => [l.mode, l.proxyProtocol]), [['proxy', 1]]);
  const nlb = resolve({ 'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb', 'service.beta.kubernetes.io/aws-load-balancer-proxy-protocol': '*' });
  assert.deepEqual([nlb.mode, nlb.proxyProtocol, nlb.product], ['passthrough', 2, 'AWS NLB']);
  const ip = resolve({ 'service.beta.kubernetes.io/aws-load-balancer-type': 'external', 'service.beta.kubernetes.io/aws-load-balancer-nlb-target-type': 'ip' });
  assert.deepEqual([ip.delivery, ip.mode], ['Pod', 'proxy']);
});

test('Alibaba and UCloud: HTTP listeners are layer 7 with their providers; ULB4 passes through', () => {
  const slb = resolve({ 'service.beta.kubernetes.io/alibaba-cloud-loadbalancer-protocol-port': 'http:80' });
  assert.deepEqual([slb.mode, slb.l7Provider], ['http', 'alibaba-clb']);
  assert.equal(resolve({ 'service.beta.kubernetes.io/alibaba-cloud-loadbalancer-proxy-protocol': 'on' }).proxyProtocol, 2);
  assert.equal(resolve({ 'service.beta.kubernetes.io/ucloud-load-balancer-vserver-protocol': 'HTTP' }).l7Provider, 'ucloud-ulb7');
  assert.equal(resolve({ 'service.beta.kubernetes.io/ucloud-load-balancer-vserver-protocol': 'tcp' }).mode, 'passthrough');
});

test('Tencent: direct-access delivers to the pods; an HTTP extension protocol makes a layer-7 listener (generic X-Forwarded-For)', () => {
  const direct = resolve({ 'service.cloud.tencent.com/direct-access': 'true' });
  assert.deepEqual([direct.delivery, direct.mode, direct.product], ['Pod', 'passthrough', 'Tencent CLB (direct access)']);
  const http = resolve({ 'service.cloud.tencent.com/specify-protocol': '{"80":{"protocol":["HTTP"],"hosts":{"a.tencent.com":{}}}}' });
  assert.equal(http.mode, 'http');
  assert.equal(proxyModelOf({ ...http, sourceAddress: '10.0.0.9' }).kind, 'cloud-l7');
  assert.equal(resolve({ 'service.cloud.tencent.com/specify-protocol': '{"80":{"protocol":["TCP","UDP"]}}' }).mode, 'passthrough');
});

test('order: the per-Service Environment entry over annotations over the cluster-wide entry; a proxying LB never takes VIP delivery', () => {
  const a = { 'service.beta.kubernetes.io/ucloud-load-balancer-vserver-protocol': 'http' };
  assert.equal(resolve(a, { mode: 'proxy' }).mode, 'http');
  assert.equal(resolve(a, undefined, { mode: 'passthrough' }).mode, 'passthrough');
  const vip = resolve(a, { delivery: 'VIP' });
  assert.equal(vip.delivery, 'NodePort');
  assert.ok(vip.origin.some((o) => /delivery: NodePort \(a layer-7 load balancer opens its own connections/.test(o)), vip.origin.join('\n'));
  assert.equal(resolve({}, { delivery: 'VIP' }).delivery, 'VIP', 'a passthrough LB keeps it');
});
