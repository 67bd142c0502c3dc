/**
 * Ground truth 1: kube-proxy's own packet cases. TestTracePacket restores a full kube-proxy
 * ruleset and states, per packet, which endpoints DNAT picks (all of them, in order), whether
 * KUBE-MARK-MASQ was hit, and ACCEPT/DROP/REJECT. We trace the same packets through the same
 * text with the real Linux order of hooks and compare.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRuleset, type Ruleset } from '../../src/netfilter/index.js';
import { expectedView, fakeProxierHost, quoteBareComments, runPacketCase, type Scenario } from '../support/kube-proxy.js';
import { readConformance } from '../support/shared.js';

const data = readConformance<{ scenarios: Scenario[] }>('kube-proxy/iptables-cases.json');
const restoreScenarios = data.scenarios.filter((s) => s.steps.some((st) => st.op === 'restoreRules'));

test('kube-proxy packet cases over restored dumps (TestTracePacket)', () => {
  let passed = 0;
  let total = 0;
  const failures: string[] = [];
  for (const scenario of restoreScenarios) {
    let ruleset: Ruleset | undefined;
    for (const st of scenario.steps) {
      if (st.op === 'restoreRules') ruleset = parseRuleset(quoteBareComments(st.text!), { file: scenario.id, family: 4 });
      if (st.op !== 'packetFlow') continue;
      const host = fakeProxierHost(st.nodeIPs!);
      for (const c of st.cases!) {
        total++;
        const { probability, ...got } = runPacketCase(ruleset!, host, st.nodeIPs!, c);
        const want = expectedView(c);
        if (got.output === want.output && got.masq === want.masq && Math.abs(probability - 1) < 1e-12) passed++;
        else failures.push(`${scenario.id} "${c.name}": got ${JSON.stringify(got)} want ${JSON.stringify(want)}`);
      }
    }
  }
  console.log(`kube-proxy restoreRules packet cases: ${passed} passed, ${total - passed} failed`);
  assert.deepEqual(failures, []);
  assert.equal(total, 7);
});
