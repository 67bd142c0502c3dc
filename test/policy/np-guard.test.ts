/**
 * Ground truth: np-guard's netpol-analyzer (golden connlist outputs of its own tests, read from
 * ../shared/conformance/netpol/np-guard-cases.json, never copied). The core NetworkPolicy v1 cases
 * (those using only NetworkPolicy, workloads, Services and Ingress/Route; AdminNetworkPolicy and
 * multi-network cases are skipped as its README says) are loaded, their workload matrix computed
 * with np-guard's semantics (an ipBlock never selects a pod, hostNetwork pods are policed), and every ordered pair compared.
 * `{ingress-controller}` rows (np-guard's pseudo-source for what an Ingress or Route exposes) are
 * not NetworkPolicy verdicts and are left out. Disagreements are listed (docs/networkpolicy.md
 * explains each); at least 99% of pairs must agree.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ClusterSource, isClusterLoadError, loadCluster } from '../../src/cluster/index.js';
import { compilePolicies, policyMatrix, type PolicyOptions } from '../../src/policy/index.js';
import { readConformance, sharedDir } from '../support/shared.js';

interface Case {
  id: string;
  categories: string[];
  resources: Record<string, unknown>[];
  matrix?: Record<string, Record<string, string>>;
  golden?: { sections: { allowed: { src: string; dst: string; conn: string }[] }[] };
}

const CORE = new Set(['networkpolicy-v1', 'no-policies', 'ingress-route']);
const API_VERSIONS: Record<string, string> = { Pod: 'v1', Namespace: 'v1', NetworkPolicy: 'networking.k8s.io/v1', Deployment: 'apps/v1', ReplicaSet: 'apps/v1', StatefulSet: 'apps/v1', DaemonSet: 'apps/v1' };
/** Only for the `{ingress-controller}` rows, which are not compared (np-guard's inputs leave out port names the API server requires). */
const NOT_POLICY = new Set(['Service', 'Ingress', 'Route']);
const INGRESS_CONTROLLER = '{ingress-controller}';
/** np-guard's reading of manifests: an ipBlock never selects a pod, and hostNetwork pods are pods like any other. */
const NP_GUARD: PolicyOptions = { ipBlockMatchesPods: false, hostNetworkSelected: true };

/**
 * np-guard's inputs as the API server would take them: `kind: List` items without apiVersion get
 * their kind's, containers without a name get one, and the nodes pods name (not in the inputs) are
 * given, since kubepath places pods on nodes. None of it changes a verdict.
 */
function sources(c: Case): ClusterSource[] {
  const nodes = new Set<string>();
  const objects = c.resources
    .filter((r) => !NOT_POLICY.has(String(r['kind'])))
    .map((r) => {
      const o = structuredClone(r);
      if (o['apiVersion'] === undefined && API_VERSIONS[String(o['kind'])]) o['apiVersion'] = API_VERSIONS[String(o['kind'])];
      const spec = o['spec'] as { nodeName?: string; containers?: { name?: string }[] } | undefined;
      spec?.containers?.forEach((c, i) => (c.name ??= `container-${i}`));
      const nodeName = spec?.nodeName;
      if (o['kind'] === 'Pod' && nodeName) nodes.add(nodeName);
      return o;
    });
  for (const name of nodes) objects.push({ apiVersion: 'v1', kind: 'Node', metadata: { name } });
  return objects.map((o, i) => ({ file: `${c.id}/${i}.json`, text: JSON.stringify(o) }));
}

interface Outcome {
  id: string;
  pairs: number;
  agreed: number;
  disagreements: string[];
  skipped?: string;
}

function score(c: Case, options: PolicyOptions = NP_GUARD): Outcome {
  const expected = Object.entries(c.matrix!).filter(([src]) => src !== INGRESS_CONTROLLER);
  const total = expected.reduce((n, [, row]) => n + Object.keys(row).length, 0);
  let cluster;
  try {
    cluster = loadCluster(sources(c));
  } catch (e) {
    if (!isClusterLoadError(e)) throw e;
    return { id: c.id, pairs: total, agreed: 0, disagreements: [], skipped: `the API server would refuse the input: ${e.issues[0]!.source.path} ${e.issues[0]!.message}` };
  }
  const matrix = policyMatrix(cluster, compilePolicies(cluster, options), { granularity: 'workload' });
  const ours = new Map(matrix.pairs.map((p) => [`${p.src} => ${p.dst}`, p.conn]));
  const out: Outcome = { id: c.id, pairs: total, agreed: 0, disagreements: [] };
  for (const [src, row] of expected) {
    for (const [dst, conn] of Object.entries(row)) {
      const got = ours.get(`${src} => ${dst}`);
      if (got === conn) out.agreed++;
      else out.disagreements.push(`${c.id}: ${src} => ${dst}: np-guard ${conn}, kubepath ${got ?? '(no such pair)'}`);
    }
  }
  return out;
}

test('np-guard netpol-analyzer: core NetworkPolicy v1 workload matrices agree on at least 99% of pairs', { skip: sharedDir() ? false : 'no ../shared' }, () => {
  const data = readConformance<{ cases: Case[] }>('netpol/np-guard-cases.json');
  const cases = data.cases.filter((c) => c.matrix && c.categories.every((k) => CORE.has(k)));
  const outcomes = cases.map((c) => score(c));
  const scored = outcomes.filter((o) => !o.skipped);
  const pairs = scored.reduce((n, o) => n + o.pairs, 0);
  const agreed = scored.reduce((n, o) => n + o.agreed, 0);
  const skipped = outcomes.filter((o) => o.skipped);
  console.log(`np-guard core v1: ${cases.length} cases, ${scored.length} scored; ${agreed}/${pairs} pairs agree (${((100 * agreed) / pairs).toFixed(2)}%)`);
  for (const o of skipped) console.log(`  skipped ${o.id} (${o.pairs} pairs): ${o.skipped}`);
  for (const o of scored) for (const d of o.disagreements) console.log(`  differs ${d}`);
  assert.ok(agreed / pairs >= 0.99, `${agreed}/${pairs} pairs agree`);
});

test('np-guard: in a real cluster (the defaults) hostNetwork pods are not policed and ipBlocks match pod addresses, so some verdicts differ', { skip: sharedDir() ? false : 'no ../shared' }, () => {
  const data = readConformance<{ cases: Case[] }>('netpol/np-guard-cases.json');
  const outcomes = data.cases.filter((c) => c.matrix && c.categories.every((k) => CORE.has(k))).map((c) => score(c, {}));
  const scored = outcomes.filter((o) => !o.skipped);
  const pairs = scored.reduce((n, o) => n + o.pairs, 0);
  const agreed = scored.reduce((n, o) => n + o.agreed, 0);
  const byCase = scored.filter((o) => o.disagreements.length > 0).map((o) => `${o.id} ${o.disagreements.length}`);
  console.log(`np-guard core v1, kubepath's defaults: ${agreed}/${pairs} pairs agree; differing pairs by case: ${byCase.join(', ')}`);
  assert.ok(agreed < pairs, 'the cases with hostNetwork pods and ipBlocks over pod addresses differ');
});

test('np-guard: the [External] ranges cut from ipBlocks, and what they reach, are np-guard\'s', { skip: sharedDir() ? false : 'no ../shared' }, () => {
  const data = readConformance<{ cases: Case[] }>('netpol/np-guard-cases.json');
  let lines = 0;
  let agreed = 0;
  const differ: string[] = [];
  for (const c of data.cases.filter((c) => c.matrix && c.categories.every((k) => CORE.has(k)))) {
    let cluster;
    try {
      cluster = loadCluster(sources(c));
    } catch {
      continue;
    }
    const ours = new Set(
      policyMatrix(cluster, compilePolicies(cluster, NP_GUARD), { granularity: 'workload' })
        .external.filter((p) => p.conn !== 'No Connections')
        .map((p) => `${p.src} => ${p.dst}: ${p.conn}`),
    );
    const golden = (c.golden?.sections ?? []).flatMap((s) => s.allowed).filter((a) => a.src.endsWith('[External]') || a.dst.endsWith('[External]')).map((a) => `${a.src} => ${a.dst}: ${a.conn}`);
    for (const g of golden) {
      lines++;
      if (ours.has(g)) agreed++;
      else differ.push(`${c.id}: ${g}`);
    }
  }
  console.log(`np-guard [External] lines: ${agreed}/${lines} found as np-guard lists them`);
  for (const d of differ.slice(0, 20)) console.log(`  missing ${d}`);
  assert.ok(agreed / lines >= 0.99, `${agreed}/${lines}`);
});
