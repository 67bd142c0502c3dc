/**
 * The lab's plan, without root: the namespaces, addresses, routes and rules are the world's and
 * kube-proxy's (what the simulator and `kubepath rules` give), the load balancer's rules spread
 * connections over the healthy nodes, and the share comparison tolerates chance but not a
 * wrong answer.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { readClusterSources } from '../../src/cli/cluster-input.js';
import { loadCluster, parsePatch } from '../../src/cluster/index.js';
import { compileNodeRules } from '../../src/kubeproxy/index.js';
import { eligible, haproxyConfig, loadBalancerRules } from '../../src/lab/loadbalancer.js';
import { outcomeKey } from '../../src/lab/outcome.js';
import { configBatch, LAB_NAME, NAMESPACE_PATTERN, planLab, vethBatch } from '../../src/lab/topology.js';
import { checksOf, compareShares } from '../../src/lab/verify.js';
import { buildWorld } from '../../src/trace/world.js';
import { projectRoot } from '../support/shared.js';

const BIN = resolve(projectRoot, 'dist', 'src', 'cli', 'bin.js');
const SEEDS = join(projectRoot, 'examples', 'seeds');

function worldOf(seed: string) {
  return buildWorld(loadCluster(readClusterSources([join(SEEDS, seed)])));
}

describe('lab plan', () => {
  const seeds = readdirSync(SEEDS).filter((d) => /^\d\d-/.test(d));

  test('every namespace is kp-LAB-ROLE…, found again by the pattern; interface names fit the kernel', () => {
    for (const seed of seeds) {
      const plan = planLab(worldOf(seed), 'ptest');
      for (const n of plan.namespaces) {
        assert.ok(n.name.startsWith('kp-ptest-'), n.name);
        assert.equal(NAMESPACE_PATTERN.exec(n.name)?.[1], 'ptest', n.name);
      }
      assert.equal(new Set(plan.namespaces.map((n) => n.name)).size, plan.namespaces.length, `${seed}: names are unique`);
      for (const v of plan.veths) {
        assert.ok(v.name.length <= 15 && v.peerName.length <= 15, `${v.name}/${v.peerName}`);
        assert.ok(plan.namespaces.some((n) => n.name === v.peerNs) && plan.namespaces.some((n) => n.name === v.ns));
      }
      // Every interface an address is put on is made by a veth or a bridge of that namespace.
      for (const n of plan.namespaces) {
        const devs = new Set([...n.bridges, ...plan.veths.filter((v) => v.ns === n.name).map((v) => v.name), ...plan.veths.filter((v) => v.peerNs === n.name).map((v) => v.peerName), 'lo']);
        for (const a of n.addresses) assert.ok(devs.has(a.dev), `${n.name}: ${a.dev}`);
      }
    }
  });

  test("nodes, pods and clients take the world's addresses and routes, and the nodes kube-proxy's rules as `kubepath rules` prints them", () => {
    const world = worldOf('05-loadbalancer-cluster');
    const plan = planLab(world, 'ptest');
    for (const node of world.cluster.nodes) {
      const ns = plan.namespaces.find((n) => n.id === `node/${node.name}`)!;
      assert.deepEqual(ns.addresses.filter((a) => a.dev === 'eth0').map((a) => a.cidr.split('/')[0]), node.internalIPs);
      const rules = compileNodeRules(world.cluster, node.name, 'IPv4').loadable;
      assert.equal(ns.iptables, rules);
      const printed = spawnSync(process.execPath, [BIN, 'rules', '-f', join(SEEDS, '05-loadbalancer-cluster'), '--node', node.name], { encoding: 'utf8' }).stdout;
      assert.ok(printed.includes(rules), `${node.name}: the rules kubepath rules prints`);
      // Routes to every other node's podCIDR through that node.
      for (const other of world.cluster.nodes.filter((o) => o !== node)) for (const cidr of other.podCIDRs) assert.ok(ns.routes.includes(`${cidr} via ${other.internalIPs[0]} dev eth0`), `${node.name} → ${cidr}`);
      assert.ok(ns.sysctls.some(([k, v]) => k === 'net.ipv4.ip_forward' && v === '1'));
    }
    for (const pod of world.cluster.pods) {
      const ns = plan.namespaces.find((n) => n.id === `pod/${pod.metadata.namespace}/${pod.metadata.name}`)!;
      assert.deepEqual(ns.addresses.map((a) => a.cidr.split('/')[0]), pod.status!.podIPs!.map((p) => p.ip));
      const node = plan.namespaces.find((n) => n.id === `node/${pod.spec.nodeName}`)!;
      const gw = node.addresses.find((a) => a.dev === 'cni0')!.cidr.split('/')[0];
      assert.deepEqual(ns.routes, [`default via ${gw} dev eth0`]);
    }
    assert.deepEqual(plan.clients.map((c) => c.address), world.cluster.externalClients.map((c) => c.address));
    assert.ok(plan.loadBalancer, 'a LoadBalancer Service gets the load balancer');
    assert.equal(plan.loadBalancer.vips[0]!.vip, world.cluster.services.find((s) => s.spec.type === 'LoadBalancer')!.status!.loadBalancer!.ingress![0]!.ip);
  });

  test('ip batches: bridges and veths made where they belong, hairpin on pod ports, routes after addresses', () => {
    const plan = planLab(worldOf('02-pod-to-clusterip'), 'ptest');
    const node = plan.namespaces.find((n) => n.role === 'node' && n.bridges.includes('cni0'))!;
    const batch = vethBatch(plan, node.name);
    assert.match(batch, /^link add cni0 type bridge$/m);
    assert.match(batch, /^link set veth0 type bridge_slave hairpin on$/m);
    const pod = plan.namespaces.find((n) => n.role === 'pod')!;
    const lines = configBatch(pod).trim().split('\n');
    assert.ok(lines.findIndex((l) => l.startsWith('addr add')) < lines.findIndex((l) => l.startsWith('route add')));
  });

  test('a lab name that would not make a kp- name is refused', () => {
    for (const bad of ['', 'Lab', '1lab', 'a-b', 'thirteenchars']) assert.ok(!LAB_NAME.test(bad), bad);
    assert.throws(() => planLab(worldOf('01-pod-to-pod'), 'Bad'), /lab name "Bad"/);
  });

  test('the load balancer spreads new connections over the healthy nodes only', () => {
    const plan = planLab(worldOf('06-loadbalancer-local'), 'ptest');
    const lb = plan.loadBalancer!;
    const v = lb.vips[0]!;
    assert.equal(v.local, true);
    const all = loadBalancerRules(lb, new Map([[v.service, v.backends.map((b) => b.node)]]));
    assert.equal((all.match(/--probability/g) ?? []).length, v.backends.length - 1, 'n-1 statistic rules, the last takes the rest');
    const one = loadBalancerRules(lb, new Map([[v.service, [v.backends[0]!.node]]]));
    assert.equal((one.match(/--probability/g) ?? []).length, 0);
    assert.equal(eligible(v, new Map([[v.service, [v.backends[0]!.node]]])).length, 1);
    assert.match(loadBalancerRules(lb, new Map()), /-j DROP/, 'no healthy node: dropped');
  });

  test('a proxying load balancer (ULB7, mode http) is HAProxy in the LB namespace: the VIP bound, the source address on the node network', () => {
    const world = worldOf('08-ucloud-ulb7');
    const plan = planLab(world, 'ptest');
    const lb = plan.loadBalancer!;
    assert.deepEqual(lb.vips, []);
    const p = lb.proxies![0]!;
    assert.equal(p.mode, 'http');
    assert.equal(p.source, '10.9.0.250');
    assert.equal(p.nodePort, 43832);
    const ns = plan.namespaces.find((n) => n.role === 'lb')!;
    assert.ok(ns.addresses.some((a) => a.dev === 'lo' && a.cidr === '117.50.3.206/32'), 'the VIP is local: HAProxy binds it');
    assert.ok(ns.addresses.some((a) => a.dev === 'eth0' && a.cidr === '10.9.0.250/16'));
    const cfg = haproxyConfig(lb.proxies!, new Map());
    assert.match(cfg, /bind 117\.50\.3\.206:80\n  mode http\n  option forwardfor/);
    assert.match(cfg, /source 10\.9\.0\.250/);
    assert.match(cfg, /server node1 10\.9\.31\.26:43832\n  server node2 10\.9\.31\.27:43832/);
    assert.equal(checksOf(world, plan).filter((c) => c.way === 'external → LB' && !c.skip).length, 1);
    // Without HAProxy on the host: a note, and the check is skipped with the reason.
    const bare = planLab(worldOf('08-ucloud-ulb7'), 'ptest', { haproxy: false, nginx: true, python3: true });
    assert.equal(bare.loadBalancer, undefined);
    assert.ok(bare.notes.some((n) => /HAProxy, which is not installed/.test(n)));
    const skipped = checksOf(worldOf('08-ucloud-ulb7'), bare).filter((c) => c.skip);
    assert.equal(skipped.length, 1);
    assert.match(skipped[0]!.skip!, /apt-get install haproxy/);
  });

  test('HAProxy for a TCP proxy with PROXY protocol: send-proxy-v2 / send-proxy, Local nodes by health', () => {
    const proxies = [
      { service: 'lb/a/b:80', product: 'x', vip: '203.0.113.1', port: 80, nodePort: 30001, mode: 'tcp' as const, sendProxy: 2 as const, source: '10.0.0.250', local: true, healthCheckNodePort: 32000, backends: [{ node: 'n1', address: '10.0.0.1' }, { node: 'n2', address: '10.0.0.2' }] },
      { service: 'lb/a/c:80', product: 'x', vip: '203.0.113.2', port: 80, nodePort: 30002, mode: 'tcp' as const, sendProxy: 1 as const, source: '10.0.0.250', local: false, healthCheckNodePort: 0, backends: [{ node: 'n1', address: '10.0.0.1' }] },
    ];
    const cfg = haproxyConfig(proxies, new Map([['lb/a/b:80', ['n2']]]));
    assert.match(cfg, /server n2 10\.0\.0\.2:30001 send-proxy-v2\n/);
    assert.doesNotMatch(cfg, /server n1 10\.0\.0\.1:30001/, 'a Local node failing its health check is left out');
    assert.match(cfg, /server n1 10\.0\.0\.1:30002 send-proxy\n/);
    assert.doesNotMatch(cfg, /option forwardfor/);
  });

  test('ingress-nginx is nginx from the model: servers, locations, upstreams, realip and the template\'s headers', () => {
    const world = worldOf('10-ingress-nginx-slb');
    const plan = planLab(world, 'ptest');
    const ng = plan.servers.find((x) => x.kind === 'nginx');
    assert.ok(ng && ng.kind === 'nginx');
    assert.equal(ng.port, 80);
    assert.match(ng.config, /server_name app\.example\.com;[\s\S]*location \/ \{[\s\S]*proxy_set_header X-Forwarded-For \$remote_addr;[\s\S]*proxy_pass http:\/\/upstream_0;/);
    assert.match(ng.config, /upstream upstream_0 \{\n    server 10\.244\.2\.2:8080;/);
    assert.match(ng.config, /listen 80 default_server;\n    server_name _;[\s\S]*return 404;/);
    assert.doesNotMatch(ng.config, /real_ip_header/, 'realip is off by default');
    const echo = plan.servers.find((x) => x.kind === 'echo' && x.id === ng.id);
    assert.ok(!echo || (echo.kind === 'echo' && !echo.ports.includes(80)), 'the echo server leaves port 80 to nginx');
    // use-forwarded-headers, compute-full-forwarded-for and proxy-real-ip-cidr, through the same ConfigMap reader as the trace.
    const patched = buildWorld(
      loadCluster(readClusterSources([join(SEEDS, '10-ingress-nginx-slb')]), {
        patches: ['use-forwarded-headers=true', 'compute-full-forwarded-for=true', 'proxy-real-ip-cidr=192.168.0.0/24'].map((kv) => parsePatch(`cm/ingress-nginx/ingress-nginx-controller.data.${kv}`)),
      }),
    );
    const cfg = (planLab(patched, 'ptest').servers.find((x) => x.kind === 'nginx') as { config: string }).config;
    assert.match(cfg, /real_ip_header X-Forwarded-For;\n  real_ip_recursive on;\n  set_real_ip_from 192\.168\.0\.0\/24;/);
    assert.match(cfg, /proxy_set_header X-Forwarded-For \$full_x_forwarded_for;/);
    // Without nginx on the host: the echo server stays, a note, and checks through the controller are skipped.
    const bare = planLab(worldOf('10-ingress-nginx-slb'), 'ptest', { haproxy: true, nginx: false, python3: true });
    assert.ok(!bare.servers.some((x) => x.kind === 'nginx'));
    assert.ok(bare.notes.some((n) => /nginx, which is not installed/.test(n)));
  });

  test('an Istio sidecar: istio-init\'s rules in the pod, the proxy as its user, Services\' endpoints for its outbound side', () => {
    const plan = planLab(worldOf('09-istio-sidecar'), 'ptest');
    const sc = plan.servers.filter((x) => x.kind === 'sidecar');
    assert.equal(sc.length, 2, 'httpbin and sleep');
    const httpbin = sc.find((x) => x.id === 'pod/foo/httpbin-74fb669cc6-qvlb5')!;
    assert.ok(httpbin.kind === 'sidecar');
    assert.deepEqual([httpbin.config.mode, httpbin.config.uid, httpbin.config.gid, httpbin.config.proxyPort, httpbin.config.inboundPort], ['REDIRECT', 1337, 1337, 15001, 15006]);
    assert.ok(Object.values(httpbin.config.services).some((eps) => eps.includes('172.17.0.57:80')));
    const ns = plan.namespaces.find((n) => n.id === httpbin.id)!;
    assert.match(ns.iptables ?? '', /-A ISTIO_OUTPUT -o lo -s 127\.0\.0\.6\/32 -j RETURN/);
    const tproxy = planLab(
      buildWorld(loadCluster(readClusterSources([join(SEEDS, '09-istio-sidecar')]), { patches: [parsePatch('pod/foo/httpbin-74fb669cc6-qvlb5.metadata.annotations[sidecar.istio.io/interceptionMode]=TPROXY')] })),
      'ptest',
    );
    const t = tproxy.servers.find((x) => x.id === httpbin.id && x.kind === 'sidecar');
    assert.ok(t && t.kind === 'sidecar' && t.config.mode === 'TPROXY' && t.config.uid === 0 && t.config.gid === 1337);
    const tns = tproxy.namespaces.find((n) => n.id === httpbin.id)!;
    assert.ok(tns.policyRules.some((r) => /fwmark 1337 lookup 133/.test(r)));
    assert.ok(tns.routes.some((r) => /local default dev lo table 133/.test(r)));
    // Without python3: a note, the app alone, and the sidecar is unbuilt.
    const bare = planLab(worldOf('09-istio-sidecar'), 'ptest', { haproxy: true, nginx: true, python3: false });
    assert.ok(!bare.servers.some((x) => x.kind === 'sidecar'));
    assert.ok((bare.unbuilt ?? []).some((u) => u.target === httpbin.id));
  });

  test('an Environment proxy (the Istio ingress gateway) is HAProxy in its pod: accept-proxy, forwardfor for use_remote_address, the endpoints', () => {
    const plan = planLab(worldOf('09-istio-sidecar'), 'ptest');
    const gw = plan.servers.find((x) => x.kind === 'haproxy');
    assert.ok(gw && gw.kind === 'haproxy');
    assert.equal(gw.port, 8080);
    assert.match(gw.config, /bind 0\.0\.0\.0:8080 accept-proxy\n  mode http\n  option forwardfor\n/);
    assert.match(gw.config, /server u0 172\.17\.0\.57:80\n/);
    assert.ok(plan.notes.some((n) => /stood in for by HAProxy/.test(n)));
    const off = planLab(
      buildWorld(loadCluster(readClusterSources([join(SEEDS, '09-istio-sidecar')]), { patches: [parsePatch('env.proxies[istio-ingressgateway].useRemoteAddress=false')] })),
      'ptest',
    );
    assert.doesNotMatch((off.servers.find((x) => x.kind === 'haproxy') as { config: string }).config, /forwardfor/, 'use_remote_address false: nothing appended');
  });

  test('outcomes: the client address, the PROXY source and X-Forwarded-For, in one form for the echo and the trace', () => {
    assert.equal(outcomeKey({ clientAddress: '10.0.0.1' }), '10.0.0.1');
    assert.equal(outcomeKey({ clientAddress: '10.0.0.1', headers: [['Host', 'x'], ['X-Forwarded-For', '1.1.1.1, 2.2.2.2'], ['x-forwarded-for', '3.3.3.3']] }), '10.0.0.1 · XFF 1.1.1.1, 2.2.2.2, 3.3.3.3');
    assert.equal(outcomeKey({ clientAddress: '198.51.100.7', proxy: { version: 2, source: '198.51.100.7:40000' } }), '198.51.100.7 · PROXY v2 198.51.100.7');
    assert.equal(outcomeKey({ clientAddress: '198.51.100.7', proxy: { version: 1, source: '198.51.100.7' } }), '198.51.100.7 · PROXY v1 198.51.100.7');
  });

  test('checks: pods to ClusterIPs, clients to every NodePort and load balancer', () => {
    const world = worldOf('05-loadbalancer-cluster');
    const plan = planLab(world, 'ptest');
    const checks = checksOf(world, plan);
    assert.equal(checks.filter((c) => c.way === 'external → NodePort').length, world.cluster.nodes.length);
    assert.equal(checks.filter((c) => c.way === 'external → LB').length, 1);
    assert.ok(checks.some((c) => c.way === 'pod → ClusterIP'));
  });

  test('shares: exact for certain outcomes, within four standard deviations for random ones', () => {
    assert.equal(compareShares({ a: 1 }, { a: 60 }).ok, true);
    assert.equal(compareShares({ a: 1 }, { a: 59, b: 1 }).ok, false);
    assert.equal(compareShares({ a: 0.5, b: 0.5 }, { a: 35, b: 25 }).ok, true);
    assert.equal(compareShares({ a: 0.5, b: 0.5 }, { a: 55, b: 5 }).ok, false);
    assert.equal(compareShares({ a: 0.5, b: 0.5 }, { a: 30, c: 30 }).ok, false);
  });

  test('lab up with a bad manifest fails before anything is built, in one line', () => {
    const r = spawnSync(process.execPath, [BIN, 'lab', 'up', '-f', '-', '--name', 'kpbad'], { input: 'apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: 99999}]}\n', encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^kubepath: error: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    const bad = spawnSync(process.execPath, [BIN, 'lab', 'up', '-f', join(SEEDS, '01-pod-to-pod'), '--name', 'Bad'], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--name Bad: expected lower-case/);
  });
});
