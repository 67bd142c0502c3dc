/**
 * Ground truth 2: the Linux kernel. Each generated case is loaded with iptables-restore into a
 * real namespace (the node between a client and a server namespace), a real TCP or UDP packet
 * is sent, and what the kernel did — delivered where, seen as which addresses, the conntrack
 * entry, which nat rules counted the packet — is compared with the engine's trace of the same
 * rules. Statistic rules are probed many times: every endpoint the kernel picks must be a
 * predicted outcome, and the shares must fit the predicted probabilities.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { formatIP } from '../../src/net/index.js';
import { buildHost, parseRuleset } from '../../src/netfilter/index.js';
import { engineTrace, runGenerated } from './compare.js';
import { generateCases, generateCasesV6, generateStatisticCases } from './generate.js';
import { createKernelLab, type KernelLab, kernelLabAvailable } from './lab.js';
import { NODE_V6 } from './topology.js';

const availability = kernelLabAvailable();
const skip = availability.ok ? false : `kernel lab unavailable: ${availability.reason}`;


describe('kernel differential', { skip, concurrency: 1 }, () => {
  let lab: KernelLab;
  before(async () => {
    lab = await createKernelLab({ name: 'diff' });
  });
  after(async () => {
    await lab?.close();
  });

  test('generated rule sets: the engine predicts what the kernel does', async () => {
    const cases = generateCases();
    const r = await runGenerated(lab, cases, 4);
    for (const [group, g] of r.byGroup) console.log(`kernel differential (${group}): ${g.passed} passed, ${g.failed} failed`);
    console.log(`kernel differential: ${r.passed} passed, ${r.failures.length} failed`);
    console.log(`kernel iptables-save output parsed and traced alike: ${r.resaved} passed, ${cases.length - r.resaved} failed`);
    assert.ok(cases.length >= 200, `at least 200 cases (${cases.length})`);
    assert.deepEqual(r.failures, []);
  });

  test('IPv6 generated rule sets: the engine predicts what the kernel does', async () => {
    // KUBEPATH_DIFF6_SEED / KUBEPATH_DIFF6_COUNT: explore other cases (the defaults are the suite's).
    const seed = process.env['KUBEPATH_DIFF6_SEED'];
    const count = process.env['KUBEPATH_DIFF6_COUNT'];
    const cases = generateCasesV6({ ...(seed ? { seed: Number(seed) } : {}), ...(count ? { count: Number(count) } : {}) });
    assert.ok(cases.length >= 60, `at least 60 IPv6 cases (${cases.length})`);
    const started = Date.now();
    const lab6 = await createKernelLab({ name: 'diff6', ipv6: true });
    try {
      // The engine's host must know the node's IPv6 addresses.
      const addresses = lab6.hostSpec.interfaces.flatMap((i) => i.addresses);
      for (const a of [`${NODE_V6.eth0}/64`, `${NODE_V6.eth1}/64`, `${NODE_V6.extra}/128`]) assert.ok(addresses.includes(a), `hostSpec lacks ${a}: ${JSON.stringify(lab6.hostSpec)}`);
      // ip6tables-save output is recognised as IPv6 without being told.
      assert.equal(parseRuleset(await lab6.exec('node', 'ip6tables-save -c'), { file: 'ip6tables-save' }).family, 6);
      const r = await runGenerated(lab6, cases, 6);
      for (const [group, g] of r.byGroup) console.log(`kernel differential (${group}): ${g.passed} passed, ${g.failed} failed`);
      console.log(`kernel differential IPv6: ${r.passed} passed, ${r.failures.length} failed (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      console.log(`kernel ip6tables-save output parsed and traced alike: ${r.resaved} passed, ${cases.length - r.resaved} failed`);
      assert.deepEqual(r.failures, []);
    } finally {
      await lab6.close();
    }
  });

  test('statistic rules: each endpoint the kernel picks is predicted, with fitting shares', async () => {
    const cases = generateStatisticCases();
    const host = buildHost(lab.hostSpec);
    const runs = Number(process.env['KUBEPATH_STAT_RUNS'] ?? 60);
    let passed = 0;
    const failures: string[] = [];
    for (const c of cases) {
      const ruleset = parseRuleset(c.rules, { file: c.name, family: 4 });
      await lab.loadRules(c.rules);
      const counts = new Map<string, number>();
      let predicted: Map<string, number> | undefined;
      for (let i = 0; i < runs; i++) {
        const obs = await lab.probe(c.probe);
        const r = obs.received[0];
        const key = r ? `${r.localAddress === '0.0.0.0' ? '*' : r.localAddress}:${r.localPort}` : obs.sent;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        if (!predicted) {
          const trace = engineTrace(ruleset, host, c, obs);
          predicted = new Map();
          for (const o of trace.outcomes) {
            const k = `${formatIP(o.packet.destination)}:${o.packet.destinationPort}`;
            predicted.set(k, (predicted.get(k) ?? 0) + o.probability);
          }
        }
      }
      // Every observed endpoint must be predicted; chi-square against the predicted shares.
      let chi2 = 0;
      const problems: string[] = [];
      for (const [k, n] of counts) {
        const match = [...predicted!.keys()].find((p) => p === k || (k.startsWith('*:') && p.endsWith(k.slice(1))));
        if (!match) problems.push(`kernel chose ${k} (${n}x), not predicted`);
      }
      for (const [k, p] of predicted!) {
        const observed = [...counts].filter(([o]) => o === k || (o.startsWith('*:') && k.endsWith(o.slice(1)))).reduce((a, [, n]) => a + n, 0);
        const expected = p * runs;
        chi2 += (observed - expected) ** 2 / expected;
      }
      const dof = Math.max(1, predicted!.size - 1);
      // Critical values at p = 0.001 for 1-3 degrees of freedom: the test fails only on a real mismatch.
      const critical = [10.83, 13.82, 16.27][dof - 1] ?? 18.47;
      if (chi2 > critical) problems.push(`chi-square ${chi2.toFixed(2)} > ${critical} (observed ${JSON.stringify([...counts])}, predicted ${JSON.stringify([...predicted!])})`);
      if (problems.length === 0) passed++;
      else failures.push(`${c.name}: ${problems.join('; ')}`);
    }
    console.log(`kernel statistic distributions: ${passed} passed, ${cases.length - passed} failed (${runs} connections each)`);
    assert.deepEqual(failures, []);
  });
});
