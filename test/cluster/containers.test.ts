/**
 * Containers keep their `command` and `args` (istio-init's are an istio-iptables command line the
 * sidecar compiler reads), in pods and in the pods workloads make; wrong types name the field.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorsOf, load } from './helpers.js';

const INIT = `
  initContainers:
    - name: istio-init
      image: istio/proxyv2
      args: [istio-iptables, -p, "15001", -z, "15006", -u, "1337", -m, REDIRECT, -i, "*", -x, "", -b, "*", -d, "15090,15021,15020"]
  containers:
    - name: app
      command: [/bin/server, --port=8080]
      ports: [{containerPort: 8080}]
    - name: istio-proxy
      args: [proxy, sidecar]
`;

test('a pod keeps command and args of its containers and init containers, and its annotations', () => {
  const c = load(`apiVersion: v1\nkind: Pod\nmetadata: {name: web, annotations: {sidecar.istio.io/status: injected}}\nspec:${INIT}`);
  const spec = c.pods[0]!.spec;
  assert.deepEqual(spec.initContainers![0]!.args, ['istio-iptables', '-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '', '-b', '*', '-d', '15090,15021,15020']);
  assert.deepEqual(spec.containers[0]!.command, ['/bin/server', '--port=8080']);
  assert.equal(spec.containers[0]!.args, undefined);
  assert.deepEqual(spec.containers[1]!.args, ['proxy', 'sidecar']);
  assert.deepEqual(c.pods[0]!.metadata.annotations, { 'sidecar.istio.io/status': 'injected' });
});

test("a Deployment's pods carry the template's labels, annotations, command and args", () => {
  const c = load(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web, sidecar.istio.io/inject: "true"}
      annotations: {traffic.sidecar.istio.io/excludeInboundPorts: "9090"}
    spec:${INIT.replace(/\n {2}/g, '\n      ')}`);
  assert.equal(c.pods.length, 2);
  for (const p of c.pods) {
    assert.equal(p.metadata.labels!['sidecar.istio.io/inject'], 'true');
    assert.deepEqual(p.metadata.annotations, { 'traffic.sidecar.istio.io/excludeInboundPorts': '9090' });
    assert.equal(p.spec.initContainers![0]!.args![0], 'istio-iptables');
    assert.deepEqual(p.spec.containers[0]!.command, ['/bin/server', '--port=8080']);
  }
});

test('command and args must be lists of strings; the error names the field', () => {
  assert.deepEqual(errorsOf('apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n    - {name: app, command: /bin/server, args: [--port, 8080]}\n'), [
    'test.yaml#1 spec.containers[0].command: Invalid value: "/bin/server": must be a list',
    'test.yaml#1 spec.containers[0].args[1]: Invalid value: 8080: must be a string',
  ]);
  assert.deepEqual(errorsOf('apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers: [{name: app}]\n  initContainers:\n    - {name: istio-init, args: {a: b}}\n'), [
    'test.yaml#1 spec.initContainers[0].args: Invalid value: {"a":"b"}: must be a list',
  ]);
});
