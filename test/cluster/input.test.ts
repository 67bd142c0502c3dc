/**
 * Manifests from files, directories and stdin (cli/cluster-input.ts), and the example cluster.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { readClusterSources } from '../../src/cli/cluster-input.js';
import { isUserError, UserError } from '../../src/cli/errors.js';
import { loadCluster } from '../../src/cluster/index.js';
import { projectRoot } from '../support/shared.js';
import { errorsOf } from './helpers.js';

test('directories are read recursively, manifests only, in sorted order; files and stdin as given', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kubepath-cluster-'));
  try {
    mkdirSync(join(dir, 'b'));
    writeFileSync(join(dir, 'b', 'svc.yaml'), 'b/svc');
    writeFileSync(join(dir, 'a.yml'), 'a');
    writeFileSync(join(dir, 'c.json'), 'c');
    writeFileSync(join(dir, 'README.md'), 'not a manifest');
    writeFileSync(join(dir, 'x.txt'), 'not a manifest');
    const sources = readClusterSources([dir, join(dir, 'x.txt'), '-'], () => 'from stdin');
    assert.deepEqual(
      sources.map((s) => [s.file.replace(dir, 'D'), s.text]),
      [
        ['D/a.yml', 'a'],
        ['D/b/svc.yaml', 'b/svc'],
        ['D/c.json', 'c'],
        ['D/x.txt', 'not a manifest'],
        ['-', 'from stdin'],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unreadable paths are a UserError naming every one of them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kubepath-cluster-'));
  try {
    assert.throws(() => readClusterSources(['/nonexistent/a.yaml']), (e: unknown) => e instanceof UserError && e.message === 'cannot read manifests "/nonexistent/a.yaml": no such file or directory');
    assert.throws(
      () => readClusterSources(['/nonexistent/a.yaml', dir]),
      (e: unknown) => e instanceof UserError && e.message === `cannot read manifests:\n  "/nonexistent/a.yaml": no such file or directory\n  "${dir}": no *.yaml, *.yml or *.json files in the directory`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a ClusterLoadError is a user error (one message, exit 1, no stack)', () => {
  let caught: unknown;
  try {
    loadCluster([{ file: 'x.yaml', text: 'kind: Service\n' }]);
  } catch (e) {
    caught = e;
  }
  assert.equal(isUserError(caught), true);
  assert.deepEqual(errorsOf('kind: Service\n'), ['test.yaml#1 apiVersion: Required value']);
});

test('examples/cluster loads cleanly: nodes, Services of every kind, pods, slices', () => {
  const c = loadCluster(readClusterSources([resolve(projectRoot, 'examples/cluster')]));
  assert.deepEqual(c.warnings, []);
  assert.deepEqual(c.ignored, []);
  assert.deepEqual(
    c.nodes.map((n) => [n.name, n.internalIPs, n.podCIDRs, n.zone]),
    [
      ['node-a', ['192.168.0.2'], ['10.244.1.0/24'], 'zone-a'],
      ['node-b', ['192.168.0.3'], ['10.244.2.0/24'], 'zone-a'],
      ['node-c', ['192.168.0.4'], ['10.244.3.0/24'], 'zone-b'],
    ],
  );
  const svc = Object.fromEntries(c.services.map((s) => [s.metadata.name, s.spec]));
  assert.deepEqual(Object.keys(svc).sort(), ['api', 'db', 'ingress-nginx-controller', 'payments', 'web']);
  assert.equal(svc.web!.type, 'ClusterIP');
  assert.deepEqual([svc.api!.type, svc.api!.ports![0]!.nodePort, svc.api!.externalTrafficPolicy], ['NodePort', 30080, 'Cluster']);
  const lb = svc['ingress-nginx-controller']!;
  assert.deepEqual([lb.type, lb.externalTrafficPolicy, typeof lb.healthCheckNodePort], ['LoadBalancer', 'Local', 'number']);
  assert.equal(c.services.find((s) => s.metadata.name === 'ingress-nginx-controller')!.status?.loadBalancer?.ingress?.[0]?.ip, '198.51.100.10');
  assert.equal(svc.db!.clusterIP, 'None');
  assert.deepEqual([svc.payments!.type, svc.payments!.externalName], ['ExternalName', 'api.payments.example.com']);
  const endpoints = (name: string) => c.endpointSlices.filter((s) => s.metadata.labels!['kubernetes.io/service-name'] === name).flatMap((s) => s.endpoints);
  assert.deepEqual([endpoints('web').length, endpoints('api').length, endpoints('ingress-nginx-controller').length, endpoints('db').length, endpoints('payments').length], [3, 2, 2, 2, 0]);
  assert.ok(endpoints('web').every((e) => e.conditions?.ready && e.zone));
  assert.deepEqual(c.externalClients.map((x) => x.name), ['office', 'load-balancer-health-checker']);
});
