/**
 * The evaluator's semantics, each on the smallest ruleset that shows it: hook order, NAT on the
 * first packet only, conntrack on replies, branches, gotos, marks, routing decisions.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseIP, type Packet } from '../../src/net/index.js';
import {
  buildHost,
  ConntrackTable,
  type HostSpec,
  kernelProbability,
  newEntry,
  type Outcome,
  parseIpsetSave,
  parseRuleset,
  type Trace,
  type TraceRequest,
  tracePacket,
  traceReply,
} from '../../src/netfilter/index.js';

const NODE: HostSpec = {
  interfaces: [
    { name: 'eth0', addresses: ['192.168.0.2/24'] },
    { name: 'cni0', addresses: ['10.244.1.1/24'] },
  ],
  routes: ['default via 192.168.0.1 dev eth0'],
};

function pkt(src: string, dst: string, proto = 6): Packet {
  const [s, sp] = src.startsWith('[') ? [src.slice(1, src.indexOf(']')), src.slice(src.indexOf(']') + 2)] : src.split(':');
  const [d, dp] = dst.startsWith('[') ? [dst.slice(1, dst.indexOf(']')), dst.slice(dst.indexOf(']') + 2)] : dst.split(':');
  const source = parseIP(s!);
  return {
    family: source.family,
    protocol: proto,
    source,
    destination: parseIP(d!),
    sourcePort: sp ? Number(sp) : undefined,
    destinationPort: dp ? Number(dp) : undefined,
    tcpFlags: undefined,
    icmpType: undefined,
    icmpCode: undefined,
    length: undefined,
  };
}

function run(rules: string, request: Omit<TraceRequest, 'entry'> & { entry?: TraceRequest['entry'] }, host: HostSpec = NODE, lenient = false): Trace {
  const ruleset = parseRuleset(rules, { file: 'test.rules', lenient, family: request.packet.family });
  return tracePacket(ruleset, buildHost(host), { entry: { kind: 'incoming', interface: 'eth0' }, ...request });
}

function only(trace: Trace): Outcome {
  assert.equal(trace.outcomes.length, 1, `expected one outcome, got ${trace.outcomes.length}`);
  return trace.outcomes[0]!;
}

function srcDst(o: Outcome): [string, string] {
  const fmt = (p: Outcome['packet'], which: 'source' | 'destination') => {
    const ip = p[which];
    const port = which === 'source' ? p.sourcePort : p.destinationPort;
    const text = ip.family === 4 ? [ip.value >>> 24, (ip.value >>> 16) & 255, (ip.value >>> 8) & 255, ip.value & 255].join('.') : `v6:${ip.value.toString(16)}`;
    return port === undefined ? text : `${text}:${port}`;
  };
  return [fmt(o.packet, 'source'), fmt(o.packet, 'destination')];
}

describe('NAT and conntrack', () => {
  const dnat = `*nat
-A PREROUTING -d 192.168.0.2/32 -p tcp --dport 80 -j DNAT --to-destination 10.244.1.5:8080
-A POSTROUTING -o eth0 -s 10.244.0.0/16 -j MASQUERADE
COMMIT
`;
  test('DNAT in PREROUTING rewrites the destination, then routing forwards to the new one', () => {
    const o = only(run(dnat, { packet: pkt('203.0.113.7:5000', '192.168.0.2:80') }));
    assert.equal(o.disposition, 'forward');
    assert.equal(o.outInterface, 'cni0');
    assert.deepEqual(srcDst(o), ['203.0.113.7:5000', '10.244.1.5:8080']);
    assert.equal(o.nat[0]?.kind, 'DNAT');
    assert.equal(o.nat[0]?.rule?.line, 2);
    assert.ok(o.conntrack?.dstNat);
    assert.equal(o.conntrack?.reply.sourcePort, 8080);
  });

  test('the reply is un-DNATed from the conntrack entry, without walking the nat table', () => {
    const ruleset = parseRuleset(dnat, { file: 'test.rules' });
    const host = buildHost(NODE);
    const request: TraceRequest = { packet: pkt('203.0.113.7:5000', '192.168.0.2:80'), entry: { kind: 'incoming', interface: 'eth0' } };
    const o = only(tracePacket(ruleset, host, request));
    const reply = traceReply(ruleset, host, o, request)!;
    const r = only(reply);
    assert.equal(r.disposition, 'forward');
    assert.equal(r.outInterface, 'eth0');
    assert.deepEqual(srcDst(r), ['192.168.0.2:80', '203.0.113.7:5000']);
    assert.equal(r.ctDirection, 'REPLY');
    assert.ok(r.nat.some((n) => n.kind === 'un-DNAT'));
    assert.ok(!r.steps.some((s) => s.kind === 'rule' && s.table === 'nat'), 'nat rules are not walked for a reply');
  });

  test('MASQUERADE takes the outgoing interface address; the reply is un-SNATed', () => {
    const ruleset = parseRuleset(dnat, { file: 'test.rules' });
    const host = buildHost(NODE);
    const request: TraceRequest = { packet: pkt('10.244.1.5:33000', '1.1.1.1:443'), entry: { kind: 'incoming', interface: 'cni0' } };
    const o = only(tracePacket(ruleset, host, request));
    assert.deepEqual(srcDst(o), ['192.168.0.2:33000', '1.1.1.1:443']);
    assert.equal(o.nat[0]?.kind, 'MASQUERADE');
    const r = only(traceReply(ruleset, host, o, request)!);
    assert.deepEqual(srcDst(r), ['1.1.1.1:443', '10.244.1.5:33000']);
    assert.equal(r.outInterface, 'cni0');
  });

  test('a later packet of an existing connection is translated but the nat table is not walked', () => {
    const ruleset = parseRuleset(dnat, { file: 'test.rules' });
    const conntrack = new ConntrackTable();
    const entry = newEntry(4, 6, { source: parseIP('203.0.113.7'), destination: parseIP('192.168.0.2'), sourcePort: 5000, destinationPort: 80 });
    entry.reply = { ...entry.reply, source: parseIP('10.244.1.9'), sourcePort: 9090 };
    entry.dstNat = true;
    entry.seenReply = true;
    conntrack.add(entry);
    const o = only(tracePacket(ruleset, buildHost(NODE), { packet: pkt('203.0.113.7:5000', '192.168.0.2:80'), entry: { kind: 'incoming', interface: 'eth0' }, conntrack }));
    assert.deepEqual(srcDst(o), ['203.0.113.7:5000', '10.244.1.9:9090'], 'the existing binding wins over the rule');
    assert.ok(!o.steps.some((s) => s.kind === 'rule' && s.table === 'nat'));
  });

  test('DNAT to an address range picks one address deterministically, inside the range', () => {
    const rules = `*nat\n-A PREROUTING -p udp -j DNAT --to-destination 10.244.1.2-10.244.1.4\nCOMMIT\n`;
    const o1 = only(run(rules, { packet: pkt('203.0.113.7:5000', '192.168.0.2:53', 17) }));
    const o2 = only(run(rules, { packet: pkt('203.0.113.7:5001', '192.168.0.2:53', 17) }));
    const dst = o1.packet.destination.value as number;
    assert.ok(dst >= (parseIP('10.244.1.2').value as number) && dst <= (parseIP('10.244.1.4').value as number));
    assert.equal(o2.packet.destination.value, dst, 'the choice hashes addresses, not ports');
  });

  test('REDIRECT sends to the incoming interface address; in OUTPUT to 127.0.0.1', () => {
    const rules = `*nat\n-A PREROUTING -p tcp -j REDIRECT --to-ports 15001\n-A OUTPUT -p tcp -d 1.1.1.1 -j REDIRECT --to-ports 15001\nCOMMIT\n`;
    const o = only(run(rules, { packet: pkt('10.244.1.5:1234', '10.96.0.1:443'), entry: { kind: 'incoming', interface: 'cni0' } }));
    assert.equal(o.disposition, 'deliver');
    assert.deepEqual(srcDst(o), ['10.244.1.5:1234', '10.244.1.1:15001']);
    const l = only(run(rules, { packet: pkt('192.168.0.2:1234', '1.1.1.1:443'), entry: { kind: 'local' } }));
    assert.equal(l.disposition, 'deliver');
    assert.deepEqual(srcDst(l), ['192.168.0.2:1234', '127.0.0.1:15001']);
    assert.equal(l.inInterface, 'lo');
  });

  test('NOTRACK in raw: the packet is UNTRACKED and no NAT applies', () => {
    const rules = `*raw\n-A PREROUTING -p tcp --dport 80 -j NOTRACK\nCOMMIT\n*nat\n-A PREROUTING -p tcp -j DNAT --to-destination 10.244.1.5\nCOMMIT\n*filter\n-A FORWARD -m conntrack --ctstate UNTRACKED -j ACCEPT\n-A FORWARD -j DROP\nCOMMIT\n`;
    const o = only(run(rules, { packet: pkt('203.0.113.7:5000', '10.244.1.9:80') }));
    assert.equal(o.disposition, 'forward');
    assert.equal(o.conntrack, undefined);
    assert.deepEqual(srcDst(o), ['203.0.113.7:5000', '10.244.1.9:80']);
  });

  test('without a conntrack entry, -m conntrack looks only at --ctstate (found on the kernel)', () => {
    const rules = `*raw\n-A PREROUTING -m conntrack --ctstate INVALID ! --ctorigsrc 10.1.0.0/24 --ctdir ORIGINAL -j MARK --set-mark 0x20\n-A PREROUTING -m conntrack --ctorigsrc 203.0.113.0/24 -j MARK --or-mark 0x1\nCOMMIT\n`;
    const o = only(run(rules, { packet: pkt('203.0.113.7:5000', '192.168.0.2:22') }));
    assert.equal(o.mark, 0x20, 'the first rule matches on --ctstate alone; the second, without --ctstate, cannot match');
  });

  test('in raw PREROUTING, before conntrack, ctstate is INVALID', () => {
    const rules = `*raw\n-A PREROUTING -m conntrack --ctstate INVALID -j DROP\nCOMMIT\n`;
    assert.equal(only(run(rules, { packet: pkt('203.0.113.7:5000', '10.244.1.9:80') })).disposition, 'drop');
  });
});

describe('branches', () => {
  test('kube-proxy statistic rules split into outcomes with the kernel probabilities, summing to 1', () => {
    const rules = `*nat
:SVC - [0:0]
-A PREROUTING -j SVC
-A SVC -p tcp -m statistic --mode random --probability 0.3333333333 -j DNAT --to-destination 10.244.1.2:80
-A SVC -p tcp -m statistic --mode random --probability 0.5000000000 -j DNAT --to-destination 10.244.1.3:80
-A SVC -p tcp -j DNAT --to-destination 10.244.1.4:80
COMMIT
`;
    const t = run(rules, { packet: pkt('203.0.113.7:5000', '192.168.0.2:80') });
    assert.equal(t.outcomes.length, 3);
    const p1 = kernelProbability(0.3333333333);
    assert.equal(p1, 715827883 / 2 ** 31);
    assert.deepEqual(
      t.outcomes.map((o) => [srcDst(o)[1], o.probability]),
      [
        ['10.244.1.2:80', p1],
        ['10.244.1.3:80', (1 - p1) * 0.5],
        ['10.244.1.4:80', (1 - p1) * 0.5],
      ],
    );
    assert.ok(Math.abs(t.outcomes.reduce((a, o) => a + o.probability, 0) - 1) < 1e-15);
  });

  test('statistic nth matches the packet whose index modulo --every is --packet', () => {
    const rules = `*filter\n-A INPUT -m statistic --mode nth --every 3 --packet 1 -j DROP\nCOMMIT\n`;
    const verdicts = [0, 1, 2, 3, 4].map((seen) =>
      only(run(rules, { packet: pkt('203.0.113.7:5000', '192.168.0.2:22'), nthCounters: new Map([['filter/INPUT/1', seen]]) })).disposition,
    );
    assert.deepEqual(verdicts, ['deliver', 'drop', 'deliver', 'deliver', 'drop']);
  });
});

describe('chains, verdicts and marks', () => {
  test('-g returns to the caller of the chain that jumped, not to the jumping chain', () => {
    const rules = `*filter
:A - [0:0]
:B - [0:0]
-A INPUT -j A
-A INPUT -j DROP
-A A -g B
-A A -j ACCEPT
-A B -j RETURN
COMMIT
`;
    const o = only(run(rules, { packet: pkt('203.0.113.7:5000', '192.168.0.2:22') }));
    assert.equal(o.disposition, 'drop', 'RETURN from B goes back to INPUT, skipping A\'s ACCEPT');
    assert.equal(o.verdictRule?.line, 5);
  });

  test('a chain policy DROP drops what no rule accepted', () => {
    const rules = `*filter\n:FORWARD DROP [0:0]\n-A FORWARD -p udp -j ACCEPT\nCOMMIT\n`;
    const o = only(run(rules, { packet: pkt('203.0.113.7:5000', '10.244.1.9:80') }));
    assert.equal(o.disposition, 'drop');
    assert.match(o.reason, /policy/);
  });

  test('REJECT reports how', () => {
    const rules = `*filter\n-A INPUT -p tcp -j REJECT --reject-with tcp-reset\nCOMMIT\n`;
    const o = only(run(rules, { packet: pkt('203.0.113.7:5000', '192.168.0.2:22') }));
    assert.equal(o.disposition, 'reject');
    assert.equal(o.rejectWith, 'tcp-reset');
  });

  test('MARK then mark match; CONNMARK save and restore', () => {
    const rules = `*mangle
-A PREROUTING -j MARK --set-xmark 0x10/0xff
-A PREROUTING -j CONNMARK --save-mark --nfmask 0xff --ctmask 0xff
-A PREROUTING -j MARK --set-mark 0x0
-A PREROUTING -j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff
COMMIT
*filter
-A INPUT -m mark --mark 0x10/0xff -m connmark --mark 0x10 -j DROP
COMMIT
`;
    const o = only(run(rules, { packet: pkt('203.0.113.7:5000', '192.168.0.2:22') }));
    assert.equal(o.disposition, 'drop');
    assert.equal(o.mark, 0x10);
    assert.equal(o.conntrack?.mark, 0x10);
  });

  test('a rule using an unmodelled extension makes the path undetermined; one that only logs does not', () => {
    const stop = `*filter\n-A INPUT -m hashlimit --hashlimit-above 5/sec -j DROP\nCOMMIT\n`;
    const o = only(run(stop, { packet: pkt('203.0.113.7:5000', '192.168.0.2:22') }, NODE, true));
    assert.equal(o.disposition, 'undetermined');
    assert.match(o.reason, /hashlimit/);
    const logOnly = `*filter\n-A INPUT -m hashlimit --hashlimit-above 5/sec -j LOG\n-A INPUT -j ACCEPT\nCOMMIT\n`;
    assert.equal(only(run(logOnly, { packet: pkt('203.0.113.7:5000', '192.168.0.2:22') }, NODE, true)).disposition, 'deliver');
  });

  test('recent --rcheck matches an address the list holds within --seconds', () => {
    const rules = `*filter\n-A INPUT -m recent --name SEEN --rcheck --seconds 60 -j DROP\nCOMMIT\n`;
    const seen = (ago: number) =>
      only(run(rules, { packet: pkt('203.0.113.7:5000', '192.168.0.2:22'), now: 1000, recent: new Map([['SEEN', [{ address: parseIP('203.0.113.7'), seen: [1000 - ago], ttl: undefined }]]]) })).disposition;
    assert.equal(seen(10), 'drop');
    assert.equal(seen(120), 'deliver');
  });

  test('recent lists built by an earlier packet decide a later one (kube-proxy session affinity)', () => {
    const rules = `*nat
:SVC - [0:0]
:SEP-A - [0:0]
:SEP-B - [0:0]
-A PREROUTING -p tcp -d 10.96.0.5 -j SVC
-A SVC -m recent --name SEP-B --rcheck --seconds 10800 --reap -j SEP-B
-A SVC -m recent --name SEP-A --rcheck --seconds 10800 --reap -j SEP-A
-A SVC -m statistic --mode random --probability 0.5 -j SEP-A
-A SVC -j SEP-B
-A SEP-A -p tcp -m recent --name SEP-A --set -j DNAT --to-destination 10.244.1.2:80
-A SEP-B -p tcp -m recent --name SEP-B --set -j DNAT --to-destination 10.244.1.3:80
COMMIT
`;
    const first = run(rules, { packet: pkt('10.244.1.9:5000', '10.96.0.5:80'), entry: { kind: 'incoming', interface: 'cni0' }, now: 100 });
    assert.equal(first.outcomes.length, 2);
    for (const o of first.outcomes) {
      // The same client, a new connection later: it sticks to the endpoint the first one got.
      const again = only(run(rules, { packet: pkt('10.244.1.9:5001', '10.96.0.5:80'), entry: { kind: 'incoming', interface: 'cni0' }, now: 200, recent: o.recent }));
      assert.deepEqual(srcDst(again)[1], srcDst(o)[1]);
      const expired = run(rules, { packet: pkt('10.244.1.9:5002', '10.96.0.5:80'), entry: { kind: 'incoming', interface: 'cni0' }, now: 100 + 10801, recent: o.recent });
      assert.equal(expired.outcomes.length, 2, 'after --seconds the choice is random again');
    }
  });

  test('-m set uses the sets given as ipset save data', () => {
    const sets = parseIpsetSave('create BLOCK hash:net family inet\nadd BLOCK 203.0.113.0/24\nadd BLOCK 203.0.113.7 nomatch\n', 'sets');
    const rules = `*filter\n-A INPUT -m set --match-set BLOCK src -j DROP\nCOMMIT\n`;
    assert.equal(only(run(rules, { packet: pkt('203.0.113.8:5000', '192.168.0.2:22'), ipsets: sets })).disposition, 'drop');
    assert.equal(only(run(rules, { packet: pkt('203.0.113.7:5000', '192.168.0.2:22'), ipsets: sets })).disposition, 'deliver', 'nomatch carves out');
    assert.equal(only(run(rules, { packet: pkt('203.0.113.8:5000', '192.168.0.2:22') })).disposition, 'undetermined', 'a set not given');
  });

  test('-m owner matches the sending socket of a locally generated packet', () => {
    const rules = `*nat\n-A OUTPUT -p tcp -m owner ! --uid-owner 1337 -j REDIRECT --to-ports 15001\nCOMMIT\n`;
    const app = only(run(rules, { packet: pkt('10.244.1.5:1234', '10.96.0.1:443'), entry: { kind: 'local', socket: { uid: 1000, gid: 1000, supplementaryGids: [] } } }));
    assert.deepEqual(srcDst(app), ['10.244.1.5:1234', '127.0.0.1:15001']);
    const envoy = only(run(rules, { packet: pkt('10.244.1.5:1234', '10.96.0.1:443'), entry: { kind: 'local', socket: { uid: 1337, gid: 1337, supplementaryGids: [] } } }));
    assert.deepEqual(srcDst(envoy), ['10.244.1.5:1234', '10.96.0.1:443']);
    const unknown = only(run(rules, { packet: pkt('10.244.1.5:1234', '10.96.0.1:443'), entry: { kind: 'local' } }));
    assert.equal(unknown.disposition, 'undetermined');
  });

  test('addrtype --limit-iface-in: LOCAL only for addresses of the incoming interface', () => {
    const rules = `*filter\n-A INPUT -m addrtype --dst-type LOCAL --limit-iface-in -j DROP\nCOMMIT\n`;
    assert.equal(only(run(rules, { packet: pkt('203.0.113.7:5000', '192.168.0.2:22') })).disposition, 'drop');
    assert.equal(only(run(rules, { packet: pkt('203.0.113.7:5000', '10.244.1.1:22') })).disposition, 'deliver', '10.244.1.1 is on cni0, not eth0');
  });
});

describe('routing decisions', () => {
  test('127.0.0.1 arriving on eth0 is a martian unless route_localnet', () => {
    const rules = `*filter\nCOMMIT\n`;
    assert.equal(only(run(rules, { packet: pkt('203.0.113.7:5000', '127.0.0.1:30080') })).disposition, 'drop');
    assert.equal(only(run(rules, { packet: pkt('203.0.113.7:5000', '127.0.0.1:30080') }, { ...NODE, routeLocalnet: true })).disposition, 'deliver');
  });

  test('no forwarding when ip_forward is 0', () => {
    const o = only(run(`*filter\nCOMMIT\n`, { packet: pkt('203.0.113.7:5000', '10.244.1.9:80') }, { ...NODE, ipForward: false }));
    assert.equal(o.disposition, 'drop');
    assert.match(o.reason, /ip_forward/);
  });

  test('DNAT in OUTPUT re-routes the packet to the new destination\'s interface', () => {
    const rules = `*nat\n-A OUTPUT -d 10.96.0.1 -p tcp -j DNAT --to-destination 10.244.1.5:6443\nCOMMIT\n`;
    const o = only(run(rules, { packet: pkt('192.168.0.2:40000', '10.96.0.1:443'), entry: { kind: 'local' } }));
    assert.equal(o.outInterface, 'cni0');
    assert.ok(o.steps.some((s) => s.kind === 'route' && /re-routed/.test(s.detail)));
  });

  test('filter OUTPUT still sees the first route\'s device after a nat OUTPUT re-route; POSTROUTING sees the new one (found on the kernel)', () => {
    const rules = `*nat\n-A OUTPUT -p tcp -j DNAT --to-destination 10.244.1.5:80\n-A POSTROUTING -o cni0 -j MASQUERADE\nCOMMIT\n*filter\n-A OUTPUT -o lo -j MARK --set-mark 0x1\n-A OUTPUT -o cni0 -j DROP\nCOMMIT\n`;
    const o = only(run(rules, { packet: pkt('192.168.0.2:40000', '127.0.0.1:9000'), entry: { kind: 'local' } }));
    assert.equal(o.disposition, 'forward');
    assert.equal(o.outInterface, 'cni0');
    assert.equal(o.mark, 0x1, 'filter OUTPUT matched -o lo');
    assert.deepEqual(srcDst(o), ['10.244.1.1:40000', '10.244.1.5:80'], 'POSTROUTING matched -o cni0');
  });

  test('TPROXY with a fwmark policy route delivers locally to the proxy socket', () => {
    const rules = `*mangle\n-A PREROUTING -p tcp -j TPROXY --on-port 15006 --on-ip 127.0.0.1 --tproxy-mark 0x1/0x1\nCOMMIT\n`;
    const host: HostSpec = { ...NODE, routes: [...NODE.routes!, 'local default dev lo table 133'], policyRules: ['fwmark 0x1/0x1 lookup 133 priority 32000'] };
    const o = only(run(rules, { packet: pkt('10.244.1.7:5000', '10.244.1.5:8080'), entry: { kind: 'incoming', interface: 'cni0' } }, host));
    assert.equal(o.disposition, 'deliver');
    assert.equal(o.tproxy?.port, 15006);
    assert.deepEqual(srcDst(o), ['10.244.1.7:5000', '10.244.1.5:8080'], 'TPROXY keeps the addresses');
    const without = only(run(rules, { packet: pkt('10.244.1.7:5000', '10.244.1.5:8080'), entry: { kind: 'incoming', interface: 'cni0' } }));
    assert.equal(without.disposition, 'forward');
  });

  test('IPv6 addrtype: UNICAST and LOCAL are separate tests that must all hold (found on the kernel)', () => {
    const host: HostSpec = { interfaces: [{ name: 'eth0', addresses: ['fd00:1::1/64'] }, { name: 'eth1', addresses: ['fd00:2::1/64'] }] };
    const unicast = `*filter\n-A INPUT -p udp -m addrtype --dst-type UNICAST -j DROP\nCOMMIT\n`;
    assert.equal(only(run(unicast, { packet: pkt('[fd00:1::2]:5000', '[fd00:1::1]:53', 17) }, host)).disposition, 'drop', 'a local address is unicast too');
    const both = `*filter\n-A FORWARD -p udp -m addrtype --dst-type LOCAL,UNICAST -j DROP\nCOMMIT\n`;
    assert.equal(only(run(both, { packet: pkt('[fd00:1::2]:5000', '[fd00:2::3]:53', 17) }, host)).disposition, 'forward', 'LOCAL,UNICAST is local AND unicast');
    assert.throws(() => parseRuleset(`*filter\n-A INPUT -m addrtype --dst-type BROADCAST -j DROP\nCOMMIT\n`, { family: 6 }), /BROADCAST cannot be matched for IPv6/);
  });

  test('IPv6: a forwarding host owns the subnet-router anycast address (found on the kernel)', () => {
    const host: HostSpec = { interfaces: [{ name: 'eth0', addresses: ['fd00:1::1/64'] }, { name: 'eth1', addresses: ['fd00:2::1/64'] }] };
    const rules = `*filter\n-A INPUT -p udp -m addrtype --dst-type ANYCAST -j DROP\nCOMMIT\n`;
    const o = only(run(rules, { packet: pkt('[fd00:1::2]:5000', '[fd00:2::]:53', 17) }, host));
    assert.equal(o.disposition, 'drop');
    assert.equal(only(run(`*filter\nCOMMIT\n`, { packet: pkt('[fd00:1::2]:5000', '[fd00:2::]:53', 17) }, host)).disposition, 'deliver');
  });

  test('IPv6: DNAT to [addr]:port and MASQUERADE from the interface address', () => {
    const rules = `*nat\n-A PREROUTING -d 2001:db8::2/128 -p tcp --dport 80 -j DNAT --to-destination [fd00:10::5]:8080\n-A POSTROUTING -o cni0 -j MASQUERADE\nCOMMIT\n`;
    const host: HostSpec = { interfaces: [{ name: 'eth0', addresses: ['2001:db8::2/64'] }, { name: 'cni0', addresses: ['fd00:10::1/64'] }] };
    const o = only(run(rules, { packet: pkt('[2001:db8::99]:5000', '[2001:db8::2]:80') }, host));
    assert.equal(o.disposition, 'forward');
    assert.deepEqual(srcDst(o), [`v6:${parseIP('fd00:10::1').value.toString(16)}:5000`, `v6:${parseIP('fd00:10::5').value.toString(16)}:8080`]);
  });
});
