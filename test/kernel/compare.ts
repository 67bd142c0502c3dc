/**
 * Engine against kernel, one case at a time: trace what the engine predicts for a probe the lab
 * sent and decide whether the kernel's observation is one of the predicted outcomes (where it
 * ended, the addresses seen, the conntrack entry, the nat rules counted). Shared by every
 * kernel differential test.
 */
import { formatIP, parseIP, type Packet, protocolNumber } from '../../src/net/index.js';
import {
  buildHost,
  type Host,
  type Outcome,
  parseRuleset,
  type Ruleset,
  type Trace,
  type TraceRequest,
  traceNextPacket,
  tracePacket,
  traceReply,
} from '../../src/netfilter/index.js';
import type { DiffCase } from './generate.js';
import type { KernelLab, Observation } from './lab.js';


/** The family of a case: its `family`, else that of the probe's source address. */
export function familyOf(c: DiffCase): 4 | 6 {
  return c.family ?? (c.probe.src.includes(':') ? 6 : 4);
}

/** Canonical text of an address (RFC 5952 for IPv6), to compare the lab's text with the engine's. */
export function canon(ip: string): string {
  try {
    return formatIP(parseIP(ip));
  } catch {
    return ip;
  }
}

export function engineRequest(c: DiffCase, o: Observation): TraceRequest {
  const p = c.probe;
  const packet: Packet = {
    family: familyOf(c),
    protocol: protocolNumber(p.proto)!,
    source: parseIP(p.src),
    destination: parseIP(p.dst),
    sourcePort: o.localPort ?? p.sport,
    destinationPort: p.dport,
    tcpFlags: undefined,
    icmpType: undefined,
    icmpCode: undefined,
    length: undefined,
  };
  const entry =
    p.from === 'node'
      ? ({ kind: 'local', socket: { uid: 0, gid: 0, supplementaryGids: [] } } as const)
      : ({ kind: 'incoming', interface: p.from === 'client' ? 'eth0' : 'eth1' } as const);
  return { packet, entry };
}

export function engineTrace(ruleset: Ruleset, host: Host, c: DiffCase, o: Observation): Trace {
  return tracePacket(ruleset, host, engineRequest(c, o));
}

/**
 * What the sender can see depends on more than the first packet: TCP's connect() completes,
 * and the receiver accepts, only when the SYN-ACK comes back and the ACK gets through too.
 * Returns why the connection fails after its first packet, or undefined when it does not.
 */
export function laterPacketsFail(ruleset: Ruleset, host: Host, request: TraceRequest, o: Outcome): string | undefined {
  const passes = (t: Trace | undefined) => !!t && t.outcomes.every((x) => x.disposition === 'deliver' || x.disposition === 'forward');
  const reply = traceReply(ruleset, host, o, request);
  if (!passes(reply)) return `the reply: ${reply?.outcomes.map((x) => x.reason).join(' | ') ?? 'none'}`;
  // The sender's socket takes the reply only if it comes back as the exact inverse of what it sent.
  const sent = request.packet;
  for (const r of reply!.outcomes) {
    const back = r.packet;
    if (formatIP(back.source) !== formatIP(sent.destination) || back.sourcePort !== sent.destinationPort || formatIP(back.destination) !== formatIP(sent.source)) {
      return `the reply arrives as ${formatIP(back.source)}:${back.sourcePort} -> ${formatIP(back.destination)}, not from ${formatIP(sent.destination)}:${sent.destinationPort}`;
    }
  }
  if (request.packet.protocol !== 6 || o.packet.destinationPort === 7) return undefined;
  const next = traceNextPacket(ruleset, host, o, request);
  if (!passes(next)) return `the ACK: ${next.outcomes.map((x) => x.reason).join(' | ')}`;
  return undefined;
}

/**
 * The engine traces one host; what happens outside it is the lab's topology. A packet the node
 * forwards to a host on the same link as its (post-NAT) source, or to the source itself, is
 * answered directly, not through the node (e.g. a DNAT back to the sending client without
 * masquerading): the sender sees an answer from an address it did not send to, so a TCP
 * handshake fails. Returns why, or undefined.
 */
export function replyBypassesNode(o: Outcome, lab: KernelLab): string | undefined {
  if (o.disposition !== 'forward') return undefined;
  const src = formatIP(o.packet.source);
  const dst = formatIP(o.packet.destination);
  const side = (ip: string) => (lab.addresses.client.includes(ip) ? 'client' : lab.addresses.server.includes(ip) ? 'server' : undefined);
  if (side(src) === undefined || side(src) !== side(dst)) return undefined;
  return `the reply: ${dst} answers ${src} directly (same link${src === dst ? ', same host' : ''}), not through the node`;
}

/** Where the engine says the packet ends up, in the lab's terms. */
export function engineWhere(o: Outcome, lab: KernelLab): string {
  if (o.disposition === 'deliver') return 'node';
  if (o.disposition !== 'forward') return o.disposition;
  const dst = formatIP(o.packet.destination);
  const src = formatIP(o.packet.source);
  // An IPv4 host drops a packet that arrives with one of its own addresses as source (a martian,
  // fib_validate_source). IPv6 has no such check: a hairpin back to the sender is delivered.
  if (
    o.packet.family === 4 &&
    ((lab.addresses.client.includes(dst) && lab.addresses.client.includes(src)) || (lab.addresses.server.includes(dst) && lab.addresses.server.includes(src)))
  ) {
    return 'drop';
  }
  if (o.outInterface === 'eth1' && lab.addresses.server.includes(dst)) return 'server';
  if (o.outInterface === 'eth0' && lab.addresses.client.includes(dst)) return 'client';
  return 'nowhere'; // forwarded to an address no namespace has
}

/** Where the kernel delivered it, or how the sender failed. */
export function kernelWhere(obs: Observation): string {
  const r = obs.received[0];
  if (r) return r.at;
  return obs.sent;
}

/** Are the engine's and the kernel's ends the same? `later` says why later packets fail, if they do. */
export function sameEnd(engine: string, o: Outcome, kernel: string, c: DiffCase, later: string | undefined): boolean {
  const arrived = engine === 'node' || engine === 'server' || engine === 'client';
  if (arrived && c.probe.proto === 'tcp' && later) {
    // The sender's connect() completes with the SYN-ACK: when only the ACK (and the data after
    // it) is lost, the sender says connected and the receiver never accepts.
    if (kernel === 'connected' && later.startsWith('the ACK')) return true;
    return kernel === 'timeout' || kernel === 'refused' || kernel === 'unreachable';
  }
  if (engine === kernel) return true;
  const closed = o.packet.destinationPort === 7; // nothing listens there: the receiver refuses
  if (arrived && closed) return kernel === 'refused' || (c.probe.proto === 'udp' && kernel === 'sent' && !!later);
  if (engine === 'reject' && c.probe.from === 'node') {
    // A locally generated packet rejected in OUTPUT: the socket gets EPERM (UDP) or retries (TCP).
    return kernel === 'denied' || kernel === 'timeout' || kernel === 'refused' || kernel === 'unreachable';
  }
  if (engine === 'drop' || engine === 'nowhere') {
    return kernel === 'timeout' || (c.probe.proto === 'udp' && kernel === 'sent') || kernel === 'denied' || kernel === 'unreachable';
  }
  if (engine === 'reject') {
    // The node answers with an ICMP error or a RST, which the node's own rules may in turn drop.
    const how = o.rejectWith ?? '';
    const lost = kernel === 'timeout' || (c.probe.proto === 'udp' && kernel === 'sent');
    if (how === 'tcp-reset' || how.includes('port-unreachable')) return kernel === 'refused' || lost;
    return kernel === 'unreachable' || kernel === 'refused' || kernel === 'denied' || lost;
  }
  return false;
}

export function endpointText(ip: string, port: number | undefined): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Compare one case; returns the differences (empty when the engine agrees with the kernel). */
export function compare(ruleset: Ruleset, host: Host, lab: KernelLab, c: DiffCase, obs: Observation): string[] {
  const request = engineRequest(c, obs);
  const trace = tracePacket(ruleset, host, request);
  const diffs: string[] = [];
  if (trace.outcomes.some((o) => o.disposition === 'undetermined')) {
    return [`engine undetermined: ${trace.outcomes.find((o) => o.disposition === 'undetermined')!.reason}`];
  }
  const kernel = kernelWhere(obs);
  const later = new Map(trace.outcomes.map((o) => [o, replyBypassesNode(o, lab) ?? laterPacketsFail(ruleset, host, request, o)]));
  const candidates = trace.outcomes.filter((o) => sameEnd(engineWhere(o, lab), o, kernel, c, later.get(o)));
  if (candidates.length === 0) {
    return [`kernel: ${kernel}; engine: ${trace.outcomes.map((o) => `${engineWhere(o, lab)} (${o.reason}${later.get(o) ? `; then ${later.get(o)}` : ''})`).join(' | ')}`];
  }
  const received = obs.received[0];
  // Among the outcomes that end the same way, one must also agree on addresses and NAT.
  const explained = candidates.find((o) => {
    const local: string[] = [];
    if (received) {
      const wildcard = received.localAddress === '0.0.0.0' || received.localAddress === '::';
      if (!wildcard && canon(received.localAddress) !== formatIP(o.packet.destination)) local.push(`destination ${received.localAddress} vs ${formatIP(o.packet.destination)}`);
      if (received.localPort !== o.packet.destinationPort) local.push(`destination port ${received.localPort} vs ${o.packet.destinationPort}`);
      if (canon(received.remoteAddress) !== formatIP(o.packet.source)) local.push(`source ${received.remoteAddress} vs ${formatIP(o.packet.source)}`);
      if (!c.varies.includes('sourcePort') && received.remotePort !== o.packet.sourcePort) local.push(`source port ${received.remotePort} vs ${o.packet.sourcePort}`);
    }
    const ct = obs.conntrack[0];
    if (ct && o.conntrack && (kernel === 'node' || kernel === 'server' || kernel === 'client')) {
      const reply = o.conntrack.reply;
      if (canon(ct.reply.src) !== formatIP(reply.source) || ct.reply.sport !== reply.sourcePort) {
        local.push(`conntrack reply source ${endpointText(ct.reply.src, ct.reply.sport)} vs ${endpointText(formatIP(reply.source), reply.sourcePort)}`);
      }
      if (canon(ct.reply.dst) !== formatIP(reply.destination) || (!c.varies.includes('sourcePort') && ct.reply.dport !== reply.destinationPort)) {
        local.push(`conntrack reply destination ${endpointText(ct.reply.dst, ct.reply.dport)} vs ${endpointText(formatIP(reply.destination), reply.destinationPort)}`);
      }
    }
    // The nat table sees only a connection's first packet: its counters are that packet's path.
    const engineNat = new Set(o.steps.filter((s) => s.kind === 'rule' && s.matched === true && s.table === 'nat').map((s) => `${s.chain}#${s.rule!.number}`));
    const kernelNat = new Set(obs.counters.filter((k) => k.table === 'nat' && k.packets > 0 && k.family === o.packet.family).map((k) => `${k.chain}#${k.rule}`));
    for (const k of kernelNat) if (!engineNat.has(k)) local.push(`nat rule ${k} counted by the kernel, not matched by the engine`);
    for (const k of engineNat) if (!kernelNat.has(k)) local.push(`nat rule ${k} matched by the engine, not counted by the kernel`);
    // Other tables see later packets and replies too: each rule the first packet matched has counted.
    for (const s of o.steps) {
      if (s.kind !== 'rule' || s.matched !== true || s.table === 'nat' || !s.rule) continue;
      const k = obs.counters.find((x) => x.family === o.packet.family && x.table === s.table && x.chain === s.chain && x.rule === s.rule!.number);
      if (k && k.packets === 0) local.push(`${s.table} rule ${s.chain}#${s.rule.number} matched by the engine, not counted by the kernel`);
    }
    // The other way round, where it is exact: a UDP probe is one datagram (nothing answers it; ICMP
    // errors and neighbour discovery are not UDP), so a `-p udp` rule the kernel counted must have
    // been matched by the probe, and thus by the engine. (TCP: replies and later packets count too.)
    if (c.probe.proto === 'udp') {
      const matched = new Set(o.steps.filter((s) => s.kind === 'rule' && s.matched === true && s.rule).map((s) => `${s.table}/${s.chain}#${s.rule!.number}`));
      for (const k of obs.counters) {
        if (k.family !== o.packet.family || k.table === 'nat' || k.packets === 0 || !/(?<!!) -p udp /.test(k.text)) continue;
        if (!matched.has(`${k.table}/${k.chain}#${k.rule}`)) local.push(`${k.table} rule ${k.chain}#${k.rule} counted by the kernel, not matched by the engine: ${k.text}`);
      }
    }
    if (local.length === 0) return true;
    diffs.push(...local.map((d) => `${engineWhere(o, lab)}: ${d}`));
    return false;
  });
  return explained ? [] : diffs;
}

/** Outcomes of a trace, for comparing two parses of the same rules. */
export function traceSummary(ruleset: Ruleset, host: Host, c: DiffCase, obs: Observation): unknown[] {
  return engineTrace(ruleset, host, c, obs).outcomes.map((o) => [o.disposition, o.probability, formatIP(o.packet.source), o.packet.sourcePort, formatIP(o.packet.destination), o.packet.destinationPort]);
}

/**
 * Load each case, probe it once, compare; also parse the kernel's own `iptables-save -c` /
 * `ip6tables-save -c` (strict) and check that it traces the same. With KUBEPATH_DIFF_VERBOSE
 * set, every failing case is printed in full (rules, probe, observation).
 */
export async function runGenerated(
  lab: KernelLab,
  cases: readonly DiffCase[],
  family: 4 | 6,
): Promise<{ passed: number; failures: string[]; resaved: number; byGroup: Map<string, { passed: number; failed: number }> }> {
  const host = buildHost(lab.hostSpec);
  const failures: string[] = [];
  const byGroup = new Map<string, { passed: number; failed: number }>();
  let resaved = 0;
  let passed = 0;
  for (const c of cases) {
    let diffs: string[];
    let obs: Observation | undefined;
    const text = family === 6 ? c.rules6 : c.rules;
    try {
      if (text === undefined) throw new Error(`case has no ${family === 6 ? 'rules6' : 'rules'}`);
      if (familyOf(c) !== family) throw new Error(`an IPv${familyOf(c)} case in the IPv${family} run`);
      const ruleset = parseRuleset(text, { file: c.name, family });
      if (family === 6) await lab.loadRules(c.rules, text);
      else await lab.loadRules(text);
      // The same rules as the kernel prints them back (nf_tables normalisation, counters): same trace.
      const save = family === 6 ? 'ip6tables-save -c' : 'iptables-save -c';
      const saved = parseRuleset(await lab.exec('node', save), { file: `${c.name} (${save.split(' ')[0]})`, family });
      obs = await lab.probe(c.probe);
      diffs = compare(ruleset, host, lab, c, obs);
      const a = traceSummary(ruleset, host, c, obs);
      const b = traceSummary(saved, host, c, obs);
      if (JSON.stringify(a) === JSON.stringify(b)) resaved++;
      else diffs.push(`${save.split(' ')[0]} output traces differently: ${JSON.stringify(b)} vs ${JSON.stringify(a)}`);
    } catch (e) {
      diffs = [`error: ${(e as Error).message}`];
    }
    const g = byGroup.get(c.group) ?? { passed: 0, failed: 0 };
    if (diffs.length === 0) {
      g.passed++;
      passed++;
    } else {
      g.failed++;
      failures.push(`${c.name}: ${diffs.join('; ')}`);
      if (process.env['KUBEPATH_DIFF_VERBOSE']) {
        console.log(`--- ${c.name}: ${diffs.join('; ')}\n${text}probe ${JSON.stringify(c.probe)}`);
        if (obs) {
          console.log(`kernel: ${obs.sent}${obs.error ? ` (${obs.error})` : ''}, received ${JSON.stringify(obs.received)}, conntrack ${JSON.stringify(obs.conntrack.map((x) => x.text))}`);
          console.log(`counters: ${obs.counters.filter((k) => k.packets > 0).map((k) => `${k.family}/${k.table}/${k.chain}#${k.rule}=${k.packets}`).join(' ')}`);
        }
      }
    }
    byGroup.set(c.group, g);
  }
  return { passed, failures, resaved, byGroup };
}
