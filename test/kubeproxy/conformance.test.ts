/**
 * Ground truth: kube-proxy's own unit-test scenarios, replayed step by step into our iptables
 * Proxier. Full restore blocks must match byte for byte after kube-proxy's test sort; partial
 * sync blocks are compared too and counted apart; single-chain expectations, assertions and
 * every packet case (traced through our netfilter engine over the cumulative rule state) must
 * agree. Pass counts are printed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EndpointSlice, Service } from '../../src/cluster/objects.js';
import { type LocalDetector, type ProxierConfig, proxierConfig } from '../../src/kubeproxy/config.js';
import { IptablesProxier } from '../../src/kubeproxy/proxier.js';
import { servicePortChains, endpointChain } from '../../src/kubeproxy/names.js';
import { parseRuleset } from '../../src/netfilter/index.js';
import { expectedView, fakeProxierHost, type PacketCase, runPacketCase } from '../support/kube-proxy.js';
import { readConformance } from '../support/shared.js';
import { FakeIptables, sortIPTablesRules } from './fake-iptables.js';

interface ScenarioConfig {
  ipFamily: 'IPv4' | 'IPv6';
  nodeName: string;
  nodeIP: string;
  localDetector: { type: 'cidr'; podCIDR: string } | 'noop' | null;
  masqueradeAll: boolean;
  masqueradeMark: string;
  localhostNodePorts: boolean;
  nodePortAddresses: string[] | null;
  conntrackTCPLiberal: boolean;
  nfAcctCounters: Record<string, boolean>;
  hasRandomFully: boolean;
  networkInterfaces: Record<string, string[]>;
  featureGates: Record<string, boolean | string> | null;
}

interface Step {
  op: string;
  line?: number;
  object?: Service & EndpointSlice;
  old?: Service & EndpointSlice;
  force?: boolean;
  key?: string;
  value?: unknown;
  text?: string;
  checkConsistency?: boolean;
  table?: string;
  chain?: string;
  nodeIPs?: string[];
  cases?: PacketCase[];
  fn?: string;
  args?: unknown[];
  destination?: string;
  present?: boolean;
}

interface Scenario {
  id: string;
  config: ScenarioConfig | null;
  steps: Step[];
}

interface ChainNameCheck {
  chain: string;
  input: string[];
}

const data = readConformance<{ scenarios: Scenario[]; chainNameChecks: ChainNameCheck[] }>('kube-proxy/iptables-cases.json');

function detector(d: ScenarioConfig['localDetector']): LocalDetector {
  return d && d !== 'noop' ? { mode: 'ClusterCIDR', cidr: d.podCIDR } : { mode: 'None' };
}

function counters(c: Record<string, boolean>): ProxierConfig['nfacctCounters'] {
  return { ctStateInvalidDroppedPkts: c['ct_state_invalid_dropped_pkts'] === true, localhostNodePortsAcceptedPkts: c['localhost_nps_accepted_pkts'] === true };
}

function configOf(c: ScenarioConfig): ProxierConfig {
  return proxierConfig(c.ipFamily, {
    nodeName: c.nodeName,
    nodeIP: c.nodeIP,
    localDetector: detector(c.localDetector),
    masqueradeAll: c.masqueradeAll,
    masqueradeMark: c.masqueradeMark,
    localhostNodePorts: c.localhostNodePorts,
    nodePortAddresses: c.nodePortAddresses ?? [],
    interfaceAddresses: Object.values(c.networkInterfaces).flat(),
    conntrackTCPLiberal: c.conntrackTCPLiberal,
    nfacctCounters: counters(c.nfAcctCounters),
    randomFully: c.hasRandomFully,
    featureGates: { loadBalancerIPMode: c.featureGates?.['LoadBalancerIPMode'] !== false, preferSameTrafficDistribution: false },
  });
}

/** The rules of one chain in a restore text, each line with its newline. */
function chainRules(restore: string, table: string, chain: string): string {
  let inTable = false;
  let out = '';
  for (const line of restore.split('\n')) {
    if (line.startsWith('*')) inTable = line === `*${table}`;
    else if (inTable && line.startsWith(`-A ${chain} `)) out += line + '\n';
  }
  return out;
}

/** kube-proxy's countEndpointsAndComments: the last DNAT rule of a KUBE-SEP chain naming the endpoint. */
function endpointRule(restore: string, endpoint: string): string {
  let matched = '';
  for (const line of restore.split('\n')) if (line.startsWith('-A KUBE-SEP-') && line.includes('-j DNAT') && line.includes(endpoint)) matched = line;
  return matched;
}

function goValue(arg: unknown, restore: string): unknown {
  if (typeof arg !== 'object' || arg === null || !('$go' in arg)) return arg;
  const go = (arg as { $go: string }).$go;
  const m = /^countEndpointsAndComments\(fp\.iptablesData\.String\(\), "([^"]+)"\)$/.exec(go);
  if (m) return endpointRule(restore, m[1]!);
  if (go === 'fp.iptablesData.String()') return restore;
  throw new Error(`unknown Go expression ${go}`);
}

const counts = { expectFull: [0, 0], expectPartial: [0, 0], expectChain: [0, 0], assert: [0, 0], destPresence: [0, 0], packets: [0, 0] };
const failures: string[] = [];

function record(kind: keyof typeof counts, ok: boolean, what: string): void {
  counts[kind][1]!++;
  if (ok) counts[kind][0]!++;
  else failures.push(what);
}

function replay(scenario: Scenario): void {
  const config = scenario.config!;
  const proxier = new IptablesProxier(configOf(config));
  const fake = new FakeIptables();
  let restore = '';
  for (const st of scenario.steps) {
    const where = `${scenario.id} line ${st.line ?? '?'}`;
    switch (st.op) {
      case 'addService':
        proxier.onServiceAdd(st.object!);
        break;
      case 'updateService':
        proxier.onServiceUpdate(st.old, st.object!);
        break;
      case 'deleteService':
        proxier.onServiceDelete(st.object!);
        break;
      case 'addEndpointSlice':
        proxier.onEndpointSliceAdd(st.object!);
        break;
      case 'updateEndpointSlice':
        proxier.onEndpointSliceUpdate(st.old, st.object!);
        break;
      case 'deleteEndpointSlice':
        proxier.onEndpointSliceDelete(st.object!);
        break;
      case 'setConfig':
        applySetting(proxier, st.key!, st.value);
        break;
      case 'sync': {
        const result = proxier.sync({ force: st.force === true });
        if (result.full) fake.ensureJumps();
        restore = result.restore;
        if (fake.restore(restore) !== undefined) proxier.restoreFailed();
        break;
      }
      case 'injectRule':
        fake.append(st.table!, st.chain!, st.args as string[]);
        break;
      case 'expectRules': {
        const want = st.text!.replace(/^\s+/, '');
        const got = sortIPTablesRules(restore);
        record(st.checkConsistency ? 'expectFull' : 'expectPartial', got === want, `${where} expectRules:\n--- want\n${want}--- got\n${got}`);
        break;
      }
      case 'expectChain': {
        const got = chainRules(restore, st.table!, st.chain!);
        record('expectChain', got === st.text, `${where} expectChain ${st.table} ${st.chain}:\n--- want\n${st.text}--- got\n${got}`);
        break;
      }
      case 'assert': {
        const [a, b] = st.args!.map((x) => goValue(x, restore));
        const ok = st.fn === 'assert.Equal' ? a === b : st.fn === 'assert.Contains' ? String(a).includes(String(b)) : !String(a).includes(String(b));
        record('assert', ok, `${where} ${st.fn}(${JSON.stringify(a)}, ${JSON.stringify(b)})`);
        break;
      }
      case 'expectDestRulePresence': {
        const present = chainRules(restore, st.table!, st.chain!).split('\n').some((l) => l.includes(` -d ${st.destination} `));
        record('destPresence', present === st.present, `${where} rule to ${st.destination} present=${present}, want ${st.present}`);
        break;
      }
      case 'packetFlow': {
        const ruleset = parseRuleset(fake.save(), { file: scenario.id, family: config.ipFamily === 'IPv6' ? 6 : 4 });
        const host = fakeProxierHost(st.nodeIPs!);
        for (const c of st.cases!) {
          const { probability, ...got } = runPacketCase(ruleset, host, st.nodeIPs!, c);
          const want = expectedView(c);
          const ok = got.output === want.output && got.masq === want.masq && Math.abs(probability - 1) < 1e-12;
          record('packets', ok, `${where} packet "${c.name}" (${c.sourceIP} -> ${c.destIP}:${c.destPort}): got ${JSON.stringify(got)} want ${JSON.stringify(want)}`);
        }
        break;
      }
      default:
        throw new Error(`${where}: unknown step ${st.op}`);
    }
  }
}

function applySetting(proxier: IptablesProxier, key: string, value: unknown): void {
  const keepPartial = { fullSync: false };
  switch (key) {
    case 'localhostNodePorts':
    case 'masqueradeAll':
    case 'conntrackTCPLiberal':
      proxier.updateConfig({ [key]: value as boolean }, keepPartial);
      return;
    case 'nodePortAddresses':
      proxier.updateConfig({ nodePortAddresses: value as string[] }, keepPartial);
      return;
    case 'nfAcctCounters':
      proxier.updateConfig({ nfacctCounters: counters(value as Record<string, boolean>) }, keepPartial);
      return;
    case 'localDetector':
      proxier.updateConfig({ localDetector: detector(value as ScenarioConfig['localDetector']) }, keepPartial);
      return;
    case 'syncPeriod':
      assert.equal((value as { $go: string }).$go, '30 * time.Second');
      proxier.setSyncPeriod(30);
      return;
    case 'lastIPTablesCleanup': {
      const go = (value as { $go: string }).$go;
      if (go === 'time.Now()') proxier.setLastCleanup(0);
      else if (go === 'time.Now().Add(-fp.syncPeriod).Add(-1)') proxier.setLastCleanup(30 + 1e-9);
      else throw new Error(`unknown lastIPTablesCleanup ${go}`);
      return;
    }
    default:
      throw new Error(`unknown setting ${key}`);
  }
}

test('kube-proxy scenarios replayed into the iptables Proxier', () => {
  const scenarios = data.scenarios.filter((s) => s.config !== null && !s.steps.some((st) => st.op === 'restoreRules'));
  for (const s of scenarios) replay(s);
  const line = (k: keyof typeof counts) => `${counts[k][0]}/${counts[k][1]}`;
  console.log(
    `kube-proxy scenarios: ${scenarios.length}; full restore blocks ${line('expectFull')}, partial restore blocks ${line('expectPartial')}, ` +
      `expectChain ${line('expectChain')}, asserts ${line('assert')}, LB ipMode presence ${line('destPresence')}, packet cases ${line('packets')}`,
  );
  assert.deepEqual(failures, []);
  assert.equal(counts.packets[1], 246 - 7); // the other 7 run over TestTracePacket's static dump (netfilter tests)
});

test('kube-proxy chain names (chainNameChecks)', () => {
  let passed = 0;
  for (const c of data.chainNameChecks) {
    const [portName, proto, endpoint] = c.input as [string, string, string | undefined];
    const chains = servicePortChains(portName, proto);
    const got =
      endpoint !== undefined
        ? endpointChain(portName, proto, endpoint)
        : c.chain.startsWith('KUBE-SVL-')
          ? chains.local
          : c.chain.startsWith('KUBE-EXT-')
            ? chains.external
            : c.chain.startsWith('KUBE-FW-')
              ? chains.firewall
              : chains.cluster;
    assert.equal(got, c.chain, `chain name for ${c.input.join(' + ')}`);
    passed++;
  }
  console.log(`kube-proxy chain names: ${passed}/${data.chainNameChecks.length}`);
  assert.equal(passed, 23);
});
