/**
 * Proxying load balancers end to end (`kubepath trace --json`, as a user runs it): an L4 proxy
 * with PROXY protocol v2 — the bytes decoded by the project's parser name the client, an app that
 * reads them sees the client, one that does not answers 400, one that requires them refuses a
 * bare connection — the clouds' annotations, and the Environment's errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { parseProxyHeader } from '../../src/clientip/index.js';
import { formatIP } from '../../src/net/index.js';
import { projectRoot } from '../support/shared.js';

const BIN = resolve(projectRoot, 'dist', 'src', 'cli', 'bin.js');
const SEED = join(projectRoot, 'examples', 'seeds', '07-ucloud-ulb4');

interface Out {
  outcomes: { disposition: string; reason: string; app: { client_address: string | null; client_ip?: string | null; proxy_header?: { version: number; source: string; hex: string } | null } }[];
  notes: string[];
}

/** Seed 07's cluster with the Environment's `loadBalancer` and `apps` replaced. */
function cluster(lb: string, apps: string, annotations = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'kp-lb-'));
  cpSync(SEED, dir, { recursive: true });
  const env = readFileSync(join(dir, 'environment.yaml'), 'utf8').replace(/^loadBalancer:\n(  .*\n)+/m, `${lb}\n${apps}\n`);
  writeFileSync(join(dir, 'environment.yaml'), env);
  if (annotations) writeFileSync(join(dir, 'app.yaml'), readFileSync(join(dir, 'app.yaml'), 'utf8').replace('  annotations:\n', `  annotations:\n${annotations}`));
  return dir;
}

function trace(dir: string, ...args: string[]): { status: number | null; out?: Out; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'trace', '-f', dir, '--from', 'browser', '--to', 'lb/default/ucloud-nginx', '--set', 'svc/default/ucloud-nginx.spec.externalTrafficPolicy=Local', '--json', ...args], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr, ...(r.status === 0 || r.status === 2 ? { out: JSON.parse(r.stdout) as Out } : {}) };
}

const PROXY_V2 = 'loadBalancer:\n  mode: proxy\n  proxyProtocol: v2\n  sourceAddress: 10.9.0.250\n  delivery: NodePort';

test('L4 proxy with PROXY v2: the header on the wire names the client; an app that reads it sees the client', () => {
  const dir = cluster(PROXY_V2, 'apps:\n  - workload: pod/default/test-nginx\n    proxyProtocol: require');
  try {
    const r = trace(dir);
    assert.equal(r.status, 0, r.stderr);
    const [o] = r.out!.outcomes;
    assert.equal(o!.disposition, 'deliver');
    assert.equal(o!.app.client_address, '114.248.238.236');
    assert.equal(o!.app.client_ip, '114.248.238.236');
    const h = parseProxyHeader(Buffer.from(o!.app.proxy_header!.hex, 'hex'));
    assert.equal(h.version, 2);
    assert.ok(h.source && 'ip' in h.source && h.destination && 'ip' in h.destination);
    assert.equal(formatIP(h.source.ip), '114.248.238.236');
    assert.equal(h.source.port, 40000);
    assert.equal(formatIP(h.destination.ip), '117.50.3.206');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('L4 proxy with PROXY v2 to an app that does not read it: 400; without the header to one that requires it: closed', () => {
  const plain = cluster(PROXY_V2, 'apps:\n  - workload: pod/default/test-nginx\n    proxyProtocol: none');
  const bare = cluster('loadBalancer:\n  mode: proxy\n  sourceAddress: 10.9.0.250', 'apps:\n  - workload: pod/default/test-nginx\n    proxyProtocol: require');
  try {
    const a = trace(plain).out!.outcomes[0]!;
    assert.equal(a.disposition, 'reject');
    assert.match(a.reason, /does not read PROXY protocol.*400 Bad Request/);
    const b = trace(bare).out!.outcomes[0]!;
    assert.equal(b.disposition, 'reject');
    assert.match(b.reason, /requires a PROXY header and none came/);
  } finally {
    rmSync(plain, { recursive: true, force: true });
    rmSync(bare, { recursive: true, force: true });
  }
});

test('L4 proxy without PROXY protocol: the app sees only the LB (through the node), and the fix says so', () => {
  const dir = cluster('loadBalancer:\n  mode: proxy\n  sourceAddress: 10.9.0.250', '');
  try {
    const o = trace(dir).out!.outcomes[0]!;
    assert.equal(o.disposition, 'deliver');
    assert.equal(o.app.client_address, '10.9.0.250');
    assert.equal(o.app.client_ip, '10.9.0.250');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("AWS's proxy-protocol annotation makes a classic ELB a TCP proxy writing PROXY v1", () => {
  const dir = cluster('loadBalancer:\n  sourceAddress: 10.9.0.250', 'apps:\n  - workload: pod/default/test-nginx\n    proxyProtocol: require', '    service.beta.kubernetes.io/aws-load-balancer-proxy-protocol: "*"\n');
  try {
    const o = trace(dir).out!.outcomes[0]!;
    assert.equal(o.disposition, 'deliver');
    assert.equal(o.app.proxy_header?.version, 1);
    assert.equal(Buffer.from(o.app.proxy_header!.hex, 'hex').toString('latin1'), 'PROXY TCP4 114.248.238.236 117.50.3.206 40000 80\r\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the Environment: unknown fields and bad strategies are errors naming the field; --client-ip is checked', () => {
  const typo = cluster('loadBalancer:\n  mdoe: proxy', '');
  const strategy = cluster('loadBalancer:\n  mode: proxy', 'apps:\n  - workload: pod/default/test-nginx\n    clientIP: {strategy: RightmostTrustedRange, header: X-Forwarded-For}');
  try {
    const a = trace(typo);
    assert.equal(a.status, 1);
    assert.match(a.stderr, /loadBalancer\.mdoe: Unsupported field/);
    assert.doesNotMatch(a.stderr, /at .*\.js:\d+/);
    const b = trace(strategy);
    assert.equal(b.status, 1);
    assert.match(b.stderr, /apps\[0\]\.clientIP\.trusted: Required value/);
    const c = trace(SEED, '--client-ip', 'Rightmost(X-Forwarded-For)');
    assert.equal(c.status, 1);
    assert.match(c.stderr, /--client-ip "Rightmost\(X-Forwarded-For\)": expected one of RemoteAddr/);
  } finally {
    rmSync(typo, { recursive: true, force: true });
    rmSync(strategy, { recursive: true, force: true });
  }
});
