/**
 * Pod DNS fields and the Environment's dns: what the API server refuses, in its words, and what a
 * load fills in.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorsOf, load } from './helpers.js';

const pod = (spec: string) => `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}], ${spec}}\n`;

test('dnsPolicy None needs dnsConfig with a nameserver', () => {
  assert.deepEqual(errorsOf(pod('dnsPolicy: None')), ['test.yaml#1 spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None']);
  assert.deepEqual(errorsOf(pod('dnsPolicy: None, dnsConfig: {searches: [a.example]}')), [
    'test.yaml#1 spec.dnsConfig.nameservers: Required value: must provide at least one DNS nameserver when `dnsPolicy` is None',
  ]);
});

test('dnsConfig: at most 3 nameservers, each an IP; search domains are subdomains; option names are required; the policy is an enum', () => {
  const errors = errorsOf(pod('dnsPolicy: Clusterfirst, dnsConfig: {nameservers: [1.1.1.1, 1.0.0.1, 8.8.8.8, 9.9.9.9, "010.0.0.1"], searches: [Bad_Domain, ok.example.], options: [{value: "2"}]}'));
  assert.ok(errors.some((e) => e.startsWith('test.yaml#1 spec.dnsPolicy: Unsupported value: "Clusterfirst"')), errors.join('\n'));
  assert.ok(errors.some((e) => /spec\.dnsConfig\.nameservers: Invalid value: .*must not have more than 3 nameservers/.test(e)), errors.join('\n'));
  assert.ok(errors.some((e) => /spec\.dnsConfig\.nameservers\[4\]: Invalid value: "010\.0\.0\.1": must not have leading zeros/.test(e)), errors.join('\n'));
  assert.ok(errors.some((e) => /spec\.dnsConfig\.searches\[0\]: Invalid value: "Bad_Domain"/.test(e)), errors.join('\n'));
  assert.ok(!errors.some((e) => e.includes('searches[1]')), 'a trailing dot is allowed');
  assert.ok(errors.some((e) => e === 'test.yaml#1 spec.dnsConfig.options[0]: Required value: must not be empty'), errors.join('\n'));
});

test('dnsConfig: more than 32 search paths, or more than 2048 characters, is refused', () => {
  const many = Array.from({ length: 33 }, (_, i) => `d${i}.example`).join(', ');
  assert.ok(errorsOf(pod(`dnsConfig: {searches: [${many}]}`)).some((e) => e.includes('must not have more than 32 search paths')));
  const long = Array.from({ length: 12 }, (_, i) => `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.d${i}`).join(', ');
  assert.ok(errorsOf(pod(`dnsConfig: {searches: [${long}]}`)).some((e) => e.includes('must not have more than 2048 characters (including spaces) in the search list')));
});

test("the Environment's dns: unknown fields and bad entries are errors naming the field", () => {
  const env = (dns: string) => `apiVersion: kubepath.dev/v1alpha1\nkind: Environment\ndns: ${dns}\n`;
  assert.deepEqual(errorsOf(env('{clusterDomian: x}')), ['test.yaml#1 dns.clusterDomian: Unsupported field: expected one of clusterDomain, service, clusterDNS, node, pods, external']);
  assert.ok(errorsOf(env('{pods: on}')).some((e) => e.startsWith('test.yaml#1 dns.pods: Unsupported value: "on"')));
  assert.deepEqual(errorsOf(env('{external: [{name: a.example, addresses: [192.0.2.1], cname: b.example}]}')), ['test.yaml#1 dns.external[0]: Invalid value: give exactly one of addresses, cname or rcode']);
  assert.deepEqual(errorsOf(env('{service: kube-system/coredns}')), ['test.yaml#1 dns.service: Not found: "kube-system/coredns": no such Service was given (or give dns.clusterDNS)']);
});

test('the DNS Service given in manifests is the cluster DNS; without one, the tenth address of the service CIDR is assumed', () => {
  const svc = 'apiVersion: v1\nkind: Service\nmetadata: {name: kube-dns, namespace: kube-system}\nspec: {clusterIP: 10.96.0.53, ports: [{name: dns, port: 53, protocol: UDP}]}\n';
  assert.deepEqual(load(svc).dns?.serviceIPs, ['10.96.0.53']);
  const c = load(pod(''));
  assert.deepEqual(c.dns?.serviceIPs, ['10.96.0.10']);
  assert.equal(c.dns?.clusterDomain, 'cluster.local');
  assert.ok(c.assumptions.some((a) => a.field === 'dns.clusterDNS'));
});
