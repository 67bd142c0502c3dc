/**
 * The DNS models feature by feature: kubelet's pod resolv.conf, CoreDNS's answers from a cluster,
 * and resolver behaviour the observed runs do not cover (rotate, REFUSED, single-request after
 * SERVFAIL, a lost reply making later names sequential, musl's ndots rule, c-ares without search).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCluster } from '../../src/cluster/index.js';
import { caresResolve, ClusterDNSModel, type DnsReply, formatResolvConf, glibcLookup, muslLookup, podResolvConf, type Transport } from '../../src/dns/index.js';

const ENV = `apiVersion: kubepath.dev/v1alpha1
kind: Environment
dns:
  node: {nameservers: [192.168.0.1, 192.168.0.2], searches: [corp.example], options: [{name: timeout, value: "2"}]}
  external:
    - {name: example.com, addresses: [192.0.2.1, "2001:db8::1"]}
    - {name: alias.example.com, cname: example.com}
`;
const PODS = `
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: shop}
spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: hostnet, namespace: shop}
spec: {hostNetwork: true, containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: hostnet-cluster, namespace: shop}
spec: {hostNetwork: true, dnsPolicy: ClusterFirstWithHostNet, containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: custom, namespace: shop}
spec:
  dnsPolicy: None
  dnsConfig: {nameservers: [1.1.1.1], searches: [a.example], options: [{name: ndots, value: "2"}, {name: edns0}]}
  containers: [{name: c}]
---
apiVersion: v1
kind: Pod
metadata: {name: extra, namespace: shop}
spec:
  dnsConfig: {nameservers: [10.96.0.10, 1.1.1.1], searches: [svc.cluster.local, b.example], options: [{name: ndots, value: "2"}]}
  containers: [{name: c}]
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: shop, labels: {app: db}}
spec: {hostname: db-0, subdomain: db, containers: [{name: c, ports: [{name: pg, containerPort: 5432}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db-1, namespace: shop, labels: {app: db}}
spec: {hostname: db-1, subdomain: db, containers: [{name: c, ports: [{name: pg, containerPort: 5432}]}]}
status: {phase: Running, conditions: [{type: Ready, status: "False"}]}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {clusterIP: None, selector: {app: db}, ports: [{name: pg, port: 5432}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}, ports: [{name: http, port: 80}, {port: 8080, name: admin, protocol: TCP}]}
---
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: shop}
spec: {clusterIP: None, selector: {app: nothing}, ports: [{port: 1}]}
---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: shop}
spec: {type: ExternalName, externalName: example.com}
`;

const cluster = loadCluster([{ file: 'env.yaml', text: ENV }, { file: 'pods.yaml', text: PODS }]);
const model = new ClusterDNSModel(cluster);
const pod = (name: string) => cluster.pods.find((p) => p.metadata.name === name)!;
const web = cluster.services.find((s) => s.metadata.name === 'web')!.spec.clusterIPs![0]!;

test('ClusterFirst: the DNS Service, the cluster search list then the node\'s, ndots:5 only', () => {
  const r = podResolvConf(pod('client'), model.dns);
  assert.equal(formatResolvConf(r.conf), 'nameserver 10.96.0.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local corp.example\noptions ndots:5\n');
});

test('hostNetwork with ClusterFirst gets the node\'s file; ClusterFirstWithHostNet the cluster\'s', () => {
  const h = podResolvConf(pod('hostnet'), model.dns);
  assert.deepEqual(h.conf.nameservers, ['192.168.0.1', '192.168.0.2']);
  assert.deepEqual(h.conf.options, [{ name: 'timeout', value: '2' }]);
  assert.match(h.policy, /as Default/);
  assert.deepEqual(podResolvConf(pod('hostnet-cluster'), model.dns).conf.nameservers, ['10.96.0.10']);
});

test('None: only dnsConfig; dnsConfig on ClusterFirst is appended without duplicates, options merged by name', () => {
  assert.equal(formatResolvConf(podResolvConf(pod('custom'), model.dns).conf), 'nameserver 1.1.1.1\nsearch a.example\noptions ndots:2 edns0\n');
  const e = podResolvConf(pod('extra'), model.dns).conf;
  assert.deepEqual(e.nameservers, ['10.96.0.10', '1.1.1.1']);
  assert.deepEqual(e.searches, ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example', 'b.example']);
  assert.deepEqual(e.options, [{ name: 'ndots', value: '2' }]);
});

test("kubelet cuts the search list to its limits and says so (6 domains / 256 characters before ExpandedDNSConfig)", () => {
  const p = structuredClone(pod('extra'));
  p.spec.dnsConfig = { searches: ['a.example', 'b.example', 'c.example'] };
  const r = podResolvConf(p, model.dns, { expandedDNSConfig: false });
  assert.equal(r.conf.searches.length, 6);
  assert.ok(r.notes.some((n) => n.includes('Search Line limits were exceeded')));
  assert.equal(podResolvConf(p, model.dns).conf.searches.length, 7);
});

const ask = (name: string, type: 'A' | 'AAAA' | 'SRV' | 'CNAME' = 'A'): DnsReply => model.answer(name, type);

test('CoreDNS: a ClusterIP Service answers A with its ClusterIP and AAAA with NODATA', () => {
  assert.deepEqual(ask('web.shop.svc.cluster.local').answers.map((r) => r.data), [web]);
  const aaaa = ask('web.shop.svc.cluster.local', 'AAAA');
  assert.equal(aaaa.rcode, 'NOERROR');
  assert.equal(aaaa.answers.length, 0);
  assert.equal(ask('nothing.shop.svc.cluster.local').rcode, 'NXDOMAIN');
});

test('CoreDNS: a headless Service answers with its ready endpoints; hostnames answer one by one; none ready is NXDOMAIN', () => {
  const db0 = pod('db-0').status!.podIP!;
  assert.deepEqual(ask('db.shop.svc.cluster.local').answers.map((r) => r.data), [db0], 'db-1 is not ready');
  assert.deepEqual(ask('db-0.db.shop.svc.cluster.local').answers.map((r) => r.data), [db0]);
  assert.equal(ask('db-1.db.shop.svc.cluster.local').rcode, 'NXDOMAIN');
  assert.equal(ask('empty.shop.svc.cluster.local').rcode, 'NXDOMAIN');
});

test('CoreDNS: SRV for named ports only, headless per endpoint with its hostname', () => {
  assert.deepEqual(ask('_http._tcp.web.shop.svc.cluster.local', 'SRV').answers.map((r) => r.data), ['0 100 80 web.shop.svc.cluster.local']);
  assert.equal(ask('_x._tcp.web.shop.svc.cluster.local', 'SRV').rcode, 'NXDOMAIN');
  assert.equal(ask('_pg._udp.db.shop.svc.cluster.local', 'SRV').rcode, 'NXDOMAIN');
  assert.deepEqual(ask('_pg._tcp.db.shop.svc.cluster.local', 'SRV').answers.map((r) => r.data), ['0 100 5432 db-0.db.shop.svc.cluster.local']);
});

test('CoreDNS: ExternalName is a CNAME with the target\'s records; names outside come from the Environment or are NXDOMAIN', () => {
  const r = ask('ext.shop.svc.cluster.local');
  assert.deepEqual(r.answers.map((x) => `${x.type} ${x.data}`), ['CNAME example.com', 'A 192.0.2.1']);
  assert.deepEqual(ask('alias.example.com', 'AAAA').answers.map((x) => `${x.type} ${x.data}`), ['CNAME example.com', 'AAAA 2001:db8::1']);
  assert.equal(ask('nosuch.example').rcode, 'NXDOMAIN');
});

test('CoreDNS: pod records under pods insecure; namespaces exist without addresses (NODATA)', () => {
  assert.deepEqual(ask('10-244-9-9.shop.pod.cluster.local').answers.map((r) => r.data), ['10.244.9.9']);
  const ns = ask('shop.svc.cluster.local');
  assert.deepEqual([ns.rcode, ns.answers.length], ['NOERROR', 0]);
  assert.equal(ask('nowhere.svc.cluster.local').rcode, 'NXDOMAIN');
});

test('CoreDNS: pods disabled answers no pod record; verified only pods that exist', () => {
  const c = loadCluster([{ file: 'e.yaml', text: 'apiVersion: kubepath.dev/v1alpha1\nkind: Environment\ndns: {pods: verified}\n' }, { file: 'p.yaml', text: PODS }]);
  const v = new ClusterDNSModel(c);
  const ip = c.pods.find((p) => p.metadata.name === 'client')!.status!.podIP!;
  assert.equal(v.answer(`${ip.replace(/\./g, '-')}.shop.pod.cluster.local`, 'A').answers.length, 1);
  assert.equal(v.answer('10-244-9-9.shop.pod.cluster.local', 'A').rcode, 'NXDOMAIN');
  const d = new ClusterDNSModel(loadCluster([{ file: 'e.yaml', text: 'apiVersion: kubepath.dev/v1alpha1\nkind: Environment\ndns: {pods: disabled}\n' }]));
  assert.equal(d.answer(`${ip.replace(/\./g, '-')}.shop.pod.cluster.local`, 'A').rcode, 'NXDOMAIN');
});

/** A zone of names and answers, everything else NXDOMAIN. */
function zone(entries: Record<string, DnsReply | undefined>, log: string[] = []): Transport {
  return (q) => {
    log.push(`${q.server} ${q.name} ${q.type}`);
    if (q.name in entries) return entries[q.name];
    return { rcode: 'NXDOMAIN', answers: [] };
  };
}
const A = (name: string, ip: string): DnsReply => ({ rcode: 'NOERROR', answers: [{ name, type: 'A', data: ip }] });
const CONF = 'nameserver 10.0.0.1\nnameserver 10.0.0.2\nsearch a.example b.example\noptions ndots:5 timeout:1\n';

test('glibc: REFUSED from a search domain ends the search; the name is still asked as-is', () => {
  const r = glibcLookup(CONF, 'x', zone({ 'x.a.example': { rcode: 'REFUSED', answers: [] }, x: A('x', '192.0.2.9') }));
  assert.deepEqual([...new Set(r.queries.map((q) => q.name))], ['x.a.example', 'x']);
  assert.deepEqual(r.addresses, ['192.0.2.9']);
});

test('glibc: rotate starts each name at the next nameserver', () => {
  const r = glibcLookup(CONF.replace('timeout:1', 'timeout:1 rotate'), 'x', zone({}));
  assert.deepEqual(r.queries.filter((q) => q.type === 'A').map((q) => q.server), ['10.0.0.1', '10.0.0.2', '10.0.0.1']);
});

test('glibc: with single-request, a SERVFAIL for A leaves AAAA unsent and the server times out', () => {
  const t = zone({ 'x.a.example': { rcode: 'SERVFAIL', answers: [] } });
  const r = glibcLookup('nameserver 10.0.0.1\nsearch a.example\noptions ndots:5 timeout:1 attempts:1 single-request\n', 'x', t);
  assert.deepEqual(r.queries.slice(0, 1).map((q) => `${q.name} ${q.type} ${q.answer}`), ['x.a.example A SERVFAIL']);
  assert.equal(r.queries[1]!.name, 'x', 'no AAAA for x.a.example');
  assert.equal(r.time, 1000);
});

test('glibc: after a lost reply the rest of the lookup asks A and AAAA one after the other', () => {
  let n = 0;
  const t: Transport = (q) => (++n === 2 ? undefined : zone({})(q));
  const r = glibcLookup('nameserver 10.0.0.1\nsearch a.example b.example\noptions ndots:5 timeout:1\n', 'x', t);
  assert.equal(r.error, 'EAI_NONAME');
  assert.equal(r.time, 1000);
  // The pair after the timeout and every later name go out one at a time on one socket each.
  assert.deepEqual(r.queries.map((q) => `${q.name} ${q.type} ${q.socket}`), [
    'x.a.example A s1', 'x.a.example AAAA s1', 'x.a.example A s1', 'x.a.example AAAA s1',
    'x.b.example A s2', 'x.b.example AAAA s2', 'x A s3', 'x AAAA s3',
  ]);
});

test('musl: a name with ndots dots is asked only as-is; a 1-dot name that misses with ndots:1 fails', () => {
  const t = zone({ 'svc.ns.a.example': A('svc.ns.a.example', '10.0.0.9') });
  const r = muslLookup('nameserver 10.0.0.1\nsearch a.example\noptions ndots:1\n', 'svc.ns', t);
  assert.equal(r.error, 'EAI_NONAME');
  assert.deepEqual(r.queries.map((q) => q.name), ['svc.ns', 'svc.ns']);
  assert.deepEqual(glibcLookup('nameserver 10.0.0.1\nsearch a.example\noptions ndots:1\n', 'svc.ns', t).addresses, ['10.0.0.9']);
});

test('musl: NODATA from a search domain ends the lookup (EAI_NODATA since 1.2.4)', () => {
  const t = zone({ 'x.a.example': { rcode: 'NOERROR', answers: [] }, x: A('x', '192.0.2.1') });
  assert.equal(muslLookup(CONF, 'x', t).error, 'EAI_NODATA');
  assert.equal(muslLookup(CONF, 'x', t, { version: '1.2.3' }).error, 'EAI_NONAME');
});

test('Node dns.resolve4: one question, the name as given, no search list', () => {
  const r = caresResolve(CONF, 'my-svc', 'A', zone({}));
  assert.deepEqual(r.queries.map((q) => `${q.name} ${q.type}`), ['my-svc A']);
  assert.equal(r.error, 'ENOTFOUND');
});
