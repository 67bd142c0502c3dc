/**
 * `kubepath lab` on the kernel (root): the built CLI run as a user runs it. `lab verify` holds
 * real connections against the trace on seed examples 01–07; bring-up and teardown leave no
 * namespace, link or process; a killed `lab up` is cleaned by `lab down`; bad manifests and a
 * foreign namespace stop `lab up` before it builds anything.
 *
 * Namespaces `kp-kptXRUN-…` (RUN from the process id: another checkout's tests on the same host
 * keep theirs); the state directory is a temporary one (KUBEPATH_LAB_DIR). Skipped
 * when not root on Linux or without ip/iptables.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { processAlive } from '../../src/lab/exec.js';
import { labNamespaces, processesIn } from '../../src/lab/namespaces.js';
import { kernelLabAvailable } from '../kernel/lab.js';
import { projectRoot } from '../support/shared.js';

const BIN = resolve(projectRoot, 'dist', 'src', 'cli', 'bin.js');
const SEEDS = join(projectRoot, 'examples', 'seeds');
const availability = kernelLabAvailable();
const skip = availability.ok ? false : `kernel lab unavailable: ${availability.reason}`;
const STATE = mkdtempSync(join(tmpdir(), 'kp-labtest-'));
const env = { ...process.env, NO_COLOR: '1', KUBEPATH_LAB_DIR: STATE };
// Lab names of this run only (another checkout's tests may run labs on the same host at the same time).
const RUN = (process.pid % 46656).toString(36).padStart(3, '0');
const LAB = { verify: `kptv${RUN}`, idem: `kpti${RUN}`, killed: `kptk${RUN}`, bad: `kptb${RUN}`, foreign: `kptf${RUN}`, proxy: `kptp${RUN}` };

function kubepath(args: string[], input?: string) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env, ...(input !== undefined ? { input } : {}), timeout: 120000 });
}

/** Nothing of the lab is left: namespaces, processes, state. */
function assertGone(lab: string, pids: readonly number[]): void {
  assert.deepEqual(labNamespaces(lab), [], `no kp-${lab}- namespace left`);
  assert.deepEqual(pids.filter((p) => processAlive(p)), [], 'no lab process left');
  assert.equal(existsSync(join(STATE, lab)), false, 'no state left');
}

function labPids(lab: string): number[] {
  return [...processesIn(labNamespaces(lab)).values()].flat();
}

describe('kubepath lab on the kernel', { skip, concurrency: 1 }, () => {
  after(() => {
    for (const lab of Object.values(LAB)) kubepath(['lab', 'down', '--name', lab]);
    const ours = Object.values(LAB).map((l) => `kp-${l}-`);
    for (const n of existsSync('/run/netns') ? readdirSync('/run/netns').filter((x) => ours.some((o) => x.startsWith(o))) : []) spawnSync('ip', ['netns', 'del', n]);
    rmSync(STATE, { recursive: true, force: true });
  });

  const seeds = readdirSync(SEEDS).filter((d) => /^(0[1-8]|10)-/.test(d)).sort();
  for (const seed of seeds) {
    test(`lab verify agrees with the trace: ${seed}`, () => {
      const r = kubepath(['lab', 'verify', '-f', join(SEEDS, seed), '--name', LAB.verify, '--connections', '40', '--json']);
      assert.ok(r.status === 0 || r.status === 2, `lab verify exited ${r.status}: ${r.stderr}`);
      const doc = JSON.parse(r.stdout) as { ok: boolean; checks: { from: string; to: string; ok: boolean; predicted: Record<string, number>; observed: Record<string, number> }[] };
      const pids = labPids(LAB.verify);
      assert.ok(pids.length > 0, 'the lab runs servers');
      try {
        assert.ok(doc.checks.length > 0, 'some checks');
        for (const c of doc.checks) {
          assert.ok(c.ok, `${c.from} → ${c.to}: predicted ${JSON.stringify(c.predicted)}, observed ${JSON.stringify(c.observed)}`);
          // Observed outcomes are what the echo server said (or how the connection ended), all among the predicted ones.
          for (const k of Object.keys(c.observed)) assert.ok(k in c.predicted, k);
        }
        assert.equal(doc.ok, true);
        assert.equal(r.status, 0, r.stderr);
      } finally {
        const d = kubepath(['lab', 'down', '--name', LAB.verify]);
        assert.equal(d.status, 0, d.stderr);
      }
      assertGone(LAB.verify, pids);
    });
  }

  const haproxy = spawnSync('haproxy', ['-v']).error ? 'haproxy is not installed (apt-get install haproxy)' : false;
  test('proxying load balancers are real HAProxy: PROXY v2 and v1 carry the client, a plain TCP proxy loses it, Local health checks pick the node', { skip: haproxy }, () => {
    const r = kubepath(['lab', 'verify', '-f', join(projectRoot, 'test', 'lab', 'fixtures', 'proxy-lb.yaml'), '--name', LAB.proxy, '--connections', '40', '--json']);
    const pids = labPids(LAB.proxy);
    try {
      const doc = JSON.parse(r.stdout) as { ok: boolean; checks: { from: string; to: string; ok: boolean; skipped?: string; observed: Record<string, number>; predicted: Record<string, number> }[] };
      for (const c of doc.checks) assert.ok(c.ok && !c.skipped, `${c.from} → ${c.to}: predicted ${JSON.stringify(c.predicted)}, observed ${JSON.stringify(c.observed)}`);
      const lb = (name: string) => doc.checks.find((c) => c.to === `lb/default/${name}:80`)!;
      // What the echo server behind HAProxy really got: the PROXY header's source is the client.
      assert.deepEqual(lb('lb-v2').observed, { '198.51.100.7 · PROXY v2 198.51.100.7': 1 });
      assert.deepEqual(lb('lb-v1').observed, { '198.51.100.7 · PROXY v1 198.51.100.7': 1 });
      // Without a header the app sees a node (node2 SNATs to its own address, node1 to its cni0 gateway towards its local pod).
      assert.deepEqual(Object.keys(lb('lb-plain').observed).sort(), ['10.244.1.1', '10.9.0.12']);
      // Without the header a PROXY-requiring app closes the connection, as the trace says.
      assert.deepEqual(doc.checks.find((c) => c.to === 'nodeport/node2/31080')!.observed, { '(closed)': 1 });
      assert.equal(r.status, 0, r.stderr);
      const status = kubepath(['lab', 'status', '--name', LAB.proxy]);
      assert.match(status.stdout, /HAProxy 203\.0\.113\.20:80 \(tcp, PROXY v2\) → nodePort 31080 from 10\.9\.0\.250/);
      assert.match(status.stdout, /lb\/default\/lb-v2:80: sends to node2\n/, 'the Local health check leaves node1 out');
    } finally {
      assert.equal(kubepath(['lab', 'down', '--name', LAB.proxy]).status, 0);
    }
    assertGone(LAB.proxy, pids);
  });

  const nginx = spawnSync('nginx', ['-v']).error ? 'nginx is not installed (apt-get install nginx-light)' : false;
  test('ingress-nginx is real nginx from the model: X-Forwarded-For at the app with Local, the node with Cluster, the client through HAProxy PROXY v2 and use-proxy-protocol', { skip: nginx || haproxy }, () => {
    const seed = join(SEEDS, '10-ingress-nginx-slb');
    const lbCheck = (set: string[]) => {
      const r = kubepath(['lab', 'verify', '-f', seed, '--name', LAB.proxy, '--connections', '30', '--json', ...set.flatMap((x) => ['--set', x])]);
      const doc = JSON.parse(r.stdout) as { ok: boolean; checks: { from: string; to: string; ok: boolean; skipped?: string; observed: Record<string, number>; predicted: Record<string, number> }[] };
      for (const c of doc.checks) assert.ok(c.ok, `${c.from} → ${c.to}: predicted ${JSON.stringify(c.predicted)}, observed ${JSON.stringify(c.observed)}`);
      assert.equal(r.status, 0, r.stderr);
      const https = doc.checks.find((c) => c.to === 'lb/ingress-nginx/ingress-nginx-controller:https')!;
      assert.match(https.skipped ?? '', /port 80 only/, 'the HTTPS listener is skipped, with the reason');
      return doc.checks.find((c) => c.to === 'lb/ingress-nginx/ingress-nginx-controller:http')!;
    };
    const pids: number[] = [];
    try {
      // As given (Local): the app's peer is the controller pod, X-Forwarded-For the client (what nginx really sent).
      assert.deepEqual(lbCheck([]).observed, { '10.244.1.2 · XFF 114.248.238.236': 1 });
      pids.push(...labPids(LAB.proxy));
      // Cluster: nginx sees a node (SNAT) and writes it.
      assert.deepEqual(Object.keys(lbCheck(['svc/ingress-nginx/ingress-nginx-controller.spec.externalTrafficPolicy=Cluster']).observed).sort(), ['10.244.1.2 · XFF 10.244.1.1', '10.244.1.2 · XFF 192.168.0.11']);
      // HAProxy with send-proxy-v2 in front, nginx listening with proxy_protocol: the client again.
      const pp = lbCheck(['env.loadBalancer.mode=proxy', 'env.loadBalancer.proxyProtocol=v2', 'env.loadBalancer.sourceAddress=192.168.0.250', 'cm/ingress-nginx/ingress-nginx-controller.data.use-proxy-protocol=true']);
      assert.deepEqual(pp.observed, { '10.244.1.2 · XFF 114.248.238.236': 1 });
      pids.push(...labPids(LAB.proxy));
    } finally {
      assert.equal(kubepath(['lab', 'down', '--name', LAB.proxy]).status, 0);
    }
    assertGone(LAB.proxy, pids);
  });

  const python3 = spawnSync('python3', ['-V']).error ? 'python3 is not installed' : false;
  test('Istio sidecars: REDIRECT gives the app 127.0.0.6, TPROXY the caller; the ingress gateway behind the CLB carries the user in X-Forwarded-For', { skip: python3 || haproxy }, () => {
    const seed = join(SEEDS, '09-istio-sidecar');
    const TPROXY = 'pod/foo/httpbin-74fb669cc6-qvlb5.metadata.annotations[sidecar.istio.io/interceptionMode]=TPROXY';
    const verify = (set: string[]) => {
      const r = kubepath(['lab', 'verify', '-f', seed, '--name', LAB.verify, '--connections', '20', '--json', ...set.flatMap((x) => ['--set', x])]);
      assert.ok(r.stdout, r.stderr);
      const doc = JSON.parse(r.stdout) as { ok: boolean; checks: { from: string; to: string; ok: boolean; skipped?: string; connections: number; observed: Record<string, number>; predicted: Record<string, number> }[] };
      for (const c of doc.checks) assert.ok(c.ok, `${c.from} → ${c.to}: predicted ${JSON.stringify(c.predicted)}, observed ${JSON.stringify(c.observed)}`);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(doc.checks.filter((c) => c.skipped), [], 'every way in is built');
      return (from: string, to = 'svc/foo/httpbin:http') => doc.checks.find((c) => c.from === from && c.to === to)!.observed;
    };
    const pids: number[] = [];
    try {
      // sleep → httpbin's ClusterIP: sleep's proxy picks the endpoint, httpbin's connects to the app from 127.0.0.6.
      const given = verify([]);
      assert.deepEqual(given('pod/foo/sleep-74b7c4c84c-9nbtr'), { '127.0.0.6': 1 });
      // From outside: the CLB (HAProxy, send-proxy-v2) → the gateway (HAProxy for Envoy: accept-proxy, the PROXY source appended to
      // X-Forwarded-For) → httpbin's endpoint → its sidecar → the app, from 127.0.0.6 with the user's address in X-Forwarded-For.
      assert.deepEqual(given('user', 'lb/istio-system/istio-ingressgateway:http2'), { '127.0.0.6 · XFF 114.248.238.236': 1 });
      // Straight to the NodePort, without a PROXY header: the gateway's listener closes the connection.
      assert.deepEqual(given('user', 'nodeport/10.206.2.144/31380'), { '(closed)': 1 });
      pids.push(...labPids(LAB.verify));
      // TPROXY (the annotation): the app sees sleep's own address.
      assert.deepEqual(verify([TPROXY])('pod/foo/sleep-74b7c4c84c-9nbtr'), { '172.17.0.58': 1 });
      pids.push(...labPids(LAB.verify));
      const status = kubepath(['lab', 'status', '--name', LAB.verify]);
      assert.match(status.stdout, /istio-proxy stand-in \(TPROXY\) :15001,15006/);
    } finally {
      assert.equal(kubepath(['lab', 'down', '--name', LAB.verify]).status, 0);
    }
    assertGone(LAB.verify, pids);
  });

  test('lab up is idempotent per name; status and exec see the lab; down twice is fine', () => {
    const seed = join(SEEDS, '06-loadbalancer-local');
    const first = kubepath(['lab', 'up', '-f', seed, '--name', LAB.idem, '--json']);
    assert.equal(first.status, 0, first.stderr);
    assert.equal(JSON.parse(first.stdout).already, false);
    const pids = labPids(LAB.idem);
    try {
      const again = kubepath(['lab', 'up', '-f', seed, '--name', LAB.idem, '--json']);
      assert.equal(again.status, 0, again.stderr);
      assert.equal(JSON.parse(again.stdout).already, true);
      assert.deepEqual(labPids(LAB.idem).sort(), pids.sort(), 'the same processes');
      const status = kubepath(['lab', 'status', '--name', LAB.idem]);
      assert.match(status.stdout, /kubepath echo :8080/);
      assert.doesNotMatch(status.stdout, /missing|stopped/);
      const saved = kubepath(['lab', 'exec', 'kubernetes-node-6jst', '--name', LAB.idem, '--', 'iptables-save', '-t', 'nat']);
      assert.equal(saved.status, 0, saved.stderr);
      assert.match(saved.stdout, /KUBE-SERVICES/);
      const curl = kubepath(['lab', 'curl', '--name', LAB.idem, '--from', 'client', '--to', 'lb/default/loadbalancer', '--count', '5', '--json']);
      assert.equal(curl.status, 0, curl.stderr);
      const c = JSON.parse(curl.stdout) as { predicted: Record<string, number>; observed: Record<string, number>; echo: { client_address: string } };
      assert.deepEqual(Object.keys(c.observed), Object.keys(c.predicted));
      assert.equal(c.echo.client_address, Object.keys(c.observed)[0]);
    } finally {
      assert.equal(kubepath(['lab', 'down', '--name', LAB.idem]).status, 0);
    }
    assertGone(LAB.idem, pids);
    const twice = kubepath(['lab', 'down', '--name', LAB.idem]);
    assert.equal(twice.status, 0);
    assert.match(twice.stdout, /nothing to remove/);
  });

  test('a killed lab up is cleaned by lab down', async () => {
    const child = spawn(process.execPath, [BIN, 'lab', 'up', '-f', join(SEEDS, '05-loadbalancer-cluster'), '--name', LAB.killed], { env, stdio: 'ignore' });
    // Kill it once it has made namespaces (mid-build).
    const until = Date.now() + 10000;
    while (labNamespaces(LAB.killed).length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 150));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.ok(labNamespaces(LAB.killed).length > 0, 'it left namespaces behind');
    const pids = labPids(LAB.killed);
    const d = kubepath(['lab', 'down', '--name', LAB.killed]);
    assert.equal(d.status, 0, d.stderr);
    assertGone(LAB.killed, pids);
  });

  test('bad manifests fail before anything is built; a foreign namespace of the same name is refused', () => {
    const r = kubepath(['lab', 'up', '-f', '-', '--name', LAB.bad], 'apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: 99999}]}\n');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^kubepath: error: /);
    assert.deepEqual(labNamespaces(LAB.bad), []);
    assert.equal(existsSync(join(STATE, LAB.bad)), false);

    spawnSync('ip', ['netns', 'add', `kp-${LAB.foreign}-router`]);
    try {
      const f = kubepath(['lab', 'up', '-f', join(SEEDS, '03-nodeport-cluster'), '--name', LAB.foreign]);
      assert.equal(f.status, 1);
      assert.ok(f.stderr.includes(`kp-${LAB.foreign}-router exists and lab "${LAB.foreign}" did not make it`), f.stderr);
      assert.deepEqual(labNamespaces(LAB.foreign), [`kp-${LAB.foreign}-router`], 'nothing else made, the foreign one kept');
    } finally {
      spawnSync('ip', ['netns', 'del', `kp-${LAB.foreign}-router`]);
    }
  });
});
