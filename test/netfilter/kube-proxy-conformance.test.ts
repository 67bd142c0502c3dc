/**
 * Ground truth 1: kube-proxy's own packet cases. TestTracePacket restores a full kube-proxy
 * ruleset and states, per packet, which endpoints DNAT picks (all of them, in order), whether
 * KUBE-MARK-MASQ was hit, and ACCEPT/DROP/REJECT. We trace the same packets through the same
 * text with the real Linux order of hooks and compare.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseIP, type Packet, protocolNumber } from '../../src/net/index.js';
import { buildHost, parseRuleset, type Ruleset, tracePacket, type Trace } from '../../src/netfilter/index.js';
import { readConformance } from '../support/shared.js';

interface PacketCase {
  name: string;
  sourceIP: string;
  protocol: string;
  destIP: string;
  destPort: number;
  output: string;
  masq: boolean;
}
interface Step {
  op: string;
  text?: string;
  nodeIPs?: string[];
  cases?: PacketCase[];
}
interface Scenario {
  id: string;
  steps: Step[];
}

/**
 * kube-proxy's FakeIPTables accepts `--comment` followed by unquoted words (its EnsureRule
 * text); iptables-restore does not. Quote them as iptables-save would before parsing.
 */
export function quoteBareComments(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const words = line.split(' ');
      const at = words.indexOf('--comment');
      if (at < 0 || words[at + 1]?.startsWith('"')) return line;
      let end = at + 1;
      while (end < words.length && !words[end]!.startsWith('-')) end++;
      if (end - at <= 2) return line;
      return [...words.slice(0, at + 1), `"${words.slice(at + 1, end).join(' ')}"`, ...words.slice(end)].join(' ');
    })
    .join('\n');
}

/** The fake proxier's host: lo, eth0 with the test node IPs, pods behind cni0 in 10.0.0.0/8. */
export function fakeProxierHost(nodeIPs: readonly string[]) {
  return buildHost({
    interfaces: [
      { name: 'eth0', addresses: nodeIPs.map((ip) => (ip.includes(':') ? `${ip}/64` : `${ip}/24`)) },
      { name: 'cni0', addresses: ['10.0.0.1/8'] },
    ],
    routes: ['default via 192.168.0.1 dev eth0'],
  });
}

/** The kube-proxy tracer's view of a trace: DNAT destinations and KUBE-* verdicts, and masq. */
export function kubeProxyView(ruleset: Ruleset, trace: Trace): { output: string; masq: boolean } {
  const outputs: string[] = [];
  let masq = false;
  for (const o of trace.outcomes) {
    for (const n of o.nat) if (n.kind === 'DNAT' && n.rule?.chain.startsWith('KUBE-SEP-')) outputs.push(n.after.split(' -> ')[1]!);
    if (o.nat.some((n) => n.kind === 'MASQUERADE')) masq = true;
    for (const s of o.steps) {
      if (s.kind !== 'rule' || s.matched !== true || !s.rule || !s.rule.chain.startsWith('KUBE-')) continue;
      const rule = ruleset.tables.get(s.rule.table)?.chains.get(s.rule.chain)?.rules[s.rule.number - 1];
      const kind = rule?.target?.kind;
      if (kind === 'accept' || kind === 'drop' || kind === 'reject') outputs.push(kind.toUpperCase());
    }
  }
  return { output: [...new Set(outputs)].sort().join(', '), masq };
}

export function packetOf(c: PacketCase): Packet {
  const proto = protocolNumber((c.protocol || 'tcp').toLowerCase())!;
  return {
    family: c.sourceIP.includes(':') ? 6 : 4,
    protocol: proto,
    source: parseIP(c.sourceIP),
    destination: parseIP(c.destIP),
    sourcePort: 40000,
    destinationPort: c.destPort,
    tcpFlags: undefined,
    icmpType: undefined,
    icmpCode: undefined,
    length: undefined,
  };
}

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
      const local = new Set(['127.0.0.1', '::1', ...st.nodeIPs!]);
      for (const c of st.cases!) {
        total++;
        const trace = tracePacket(ruleset!, host, {
          packet: packetOf(c),
          entry: local.has(c.sourceIP) ? { kind: 'local' } : { kind: 'incoming', interface: c.sourceIP.startsWith('10.') ? 'cni0' : 'eth0' },
        });
        const got = kubeProxyView(ruleset!, trace);
        const want = { output: c.output.split(', ').filter((s) => s !== '').sort().join(', '), masq: c.masq };
        const sum = trace.outcomes.reduce((a, o) => a + o.probability, 0);
        if (got.output === want.output && got.masq === want.masq && Math.abs(sum - 1) < 1e-12) passed++;
        else failures.push(`${scenario.id} "${c.name}": got ${JSON.stringify(got)} want ${JSON.stringify(want)}`);
      }
    }
  }
  console.log(`kube-proxy restoreRules packet cases: ${passed} passed, ${total - passed} failed`);
  assert.deepEqual(failures, []);
  assert.equal(total, 7);
});
