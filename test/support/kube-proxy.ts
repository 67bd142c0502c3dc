/**
 * Helpers to run kube-proxy's packet-flow cases through our netfilter engine: the fake
 * proxier's host, the kube-proxy tracer's view of a Trace, and packets from cases.
 */
import { parseIP, type Packet, protocolNumber } from '../../src/net/index.js';
import { buildHost, type Host, type Ruleset, tracePacket, type Trace } from '../../src/netfilter/index.js';

export interface PacketCase {
  name: string;
  sourceIP: string;
  protocol: string;
  destIP: string;
  destPort: number;
  output: string;
  masq: boolean;
}
export interface Step {
  op: string;
  text?: string;
  nodeIPs?: string[];
  cases?: PacketCase[];
}
export interface Scenario {
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
      { name: 'cni0', addresses: ['10.0.0.1/8', 'fd00:10::1/64'] },
    ],
    routes: ['default via 192.168.0.1 dev eth0', 'default via 2001:db8::ffff dev eth0'],
  });
}

/**
 * The filter chains kube-proxy's tracer runs (directly); KUBE-FORWARD and KUBE-FIREWALL are
 * outside its model, so their verdicts are not part of its output.
 */
const TRACED_FILTER_CHAINS = new Set(['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-NODEPORTS', 'KUBE-PROXY-FIREWALL']);

/** The kube-proxy tracer's view of a trace: DNAT destinations and KUBE-* verdicts, and masq. */
export function kubeProxyView(ruleset: Ruleset, trace: Trace): { output: string; masq: boolean } {
  const outputs: string[] = [];
  let masq = false;
  for (const o of trace.outcomes) {
    for (const n of o.nat) if (n.kind === 'DNAT' && n.rule?.chain.startsWith('KUBE-SEP-')) outputs.push(n.after.split(' -> ')[1]!);
    for (const s of o.steps) {
      if (s.kind !== 'rule' || s.matched !== true || !s.rule) continue;
      const rule = ruleset.tables.get(s.rule.table)?.chains.get(s.rule.chain)?.rules[s.rule.number - 1];
      const kind = rule?.target?.kind;
      // MASQUERADE ran (even when it keeps the source address, which makes no NAT event).
      if (kind === 'masquerade') masq = true;
      if (!TRACED_FILTER_CHAINS.has(s.rule.chain)) continue;
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


/** Trace one case as kube-proxy's tracer would see it: local sources from the host, pods via cni0. */
export function runPacketCase(ruleset: Ruleset, host: Host, nodeIPs: readonly string[], c: PacketCase): { output: string; masq: boolean; probability: number } {
  const local = new Set(['127.0.0.1', '::1', ...nodeIPs]);
  const pod = c.sourceIP.startsWith('10.') || c.sourceIP.startsWith('fd00:10:');
  const trace = tracePacket(ruleset, host, {
    packet: packetOf(c),
    entry: local.has(c.sourceIP) ? { kind: 'local' } : { kind: 'incoming', interface: pod ? 'cni0' : 'eth0' },
  });
  return { ...kubeProxyView(ruleset, trace), probability: trace.outcomes.reduce((a, o) => a + o.probability, 0) };
}

/** kube-proxy's expected output, normalised as {@link kubeProxyView} prints ours. */
export function expectedView(c: PacketCase): { output: string; masq: boolean } {
  return { output: c.output.split(', ').filter((s) => s !== '').sort().join(', '), masq: c.masq };
}
