/**
 * The kernel lab itself, against the real kernel: hand-written cases with known outcomes, and
 * every generated differential case must load in iptables-restore. Skipped (with the reason)
 * where the lab cannot run: not root, no iptables/conntrack/ip, no network namespaces.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generateCases, generateCasesV6, generateNthCase, generateStatisticCases } from './generate.js';
import { createKernelLab, type KernelLab, kernelLabAvailable, type Observation } from './lab.js';

const avail = kernelLabAvailable();
const skipReason = avail.ok ? '' : `kernel lab not available: ${avail.reason}`;

const NAT_HEAD = '*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n';
const FILTER_HEAD = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n';

function brief(o: Observation): string {
  return JSON.stringify({
    sent: o.sent,
    error: o.error,
    received: o.received,
    conntrack: o.conntrack.map((c) => c.text),
    counters: o.counters.filter((c) => c.packets > 0).map((c) => `${c.table}/${c.chain}#${c.rule}=${c.packets}`),
    policies: o.policyCounters.filter((c) => c.packets > 0).map((c) => `${c.table}/${c.chain}=${c.packets}`),
    ms: o.ms,
  });
}

describe('kernel lab', () => {
  let shared: KernelLab | undefined;

  before(async () => {
    if (avail.ok) shared = await createKernelLab({ name: 'harness' });
  });

  after(async () => {
    await shared?.close();
  });

  test('hostSpec describes the node', (t) => {
    const lab = shared;
    if (!lab) return t.skip(skipReason);
    assert.deepEqual(lab.hostSpec, {
      interfaces: [
        { name: 'eth0', addresses: ['10.1.0.1/24'] },
        { name: 'eth1', addresses: ['10.2.0.1/24', '192.168.0.2/32'] },
      ],
      routes: [],
      ipForward: true,
    });
    assert.deepEqual(lab.addresses.client, ['10.1.0.2', '10.1.0.3', '10.1.0.4']);
    assert.deepEqual(lab.addresses.server, ['10.2.0.2', '10.2.0.3', '10.2.0.4', '10.2.0.5']);
  });

  test('(a) no rules: UDP and TCP are forwarded unchanged', async (t) => {
    const lab = shared;
    if (!lab) return t.skip(skipReason);
    await lab.loadRules('');
    for (const proto of ['udp', 'tcp'] as const) {
      const o = await lab.probe({ from: 'client', proto, src: '10.1.0.2', dst: '10.2.0.3', dport: 8080 });
      assert.equal(o.sent, proto === 'tcp' ? 'connected' : 'sent', brief(o));
      assert.equal(o.received.length, 1, brief(o));
      const r = o.received[0]!;
      assert.equal(r.at, 'server');
      assert.equal(r.proto, proto);
      assert.equal(r.localAddress, '10.2.0.3');
      assert.equal(r.localPort, 8080);
      assert.equal(r.remoteAddress, '10.1.0.2');
      assert.equal(r.remotePort, o.localPort);
      // conntrack is always on in the lab: one entry, not NATed.
      assert.equal(o.conntrack.length, 1, brief(o));
      assert.deepEqual(o.conntrack[0]!.reply, { src: '10.2.0.3', dst: '10.1.0.2', sport: 8080, dport: o.localPort });
      assert.deepEqual(o.conntrackOther, []);
    }
  });

  test('a fixed source port is used and reusable', async (t) => {
    const lab = shared;
    if (!lab) return t.skip(skipReason);
    await lab.loadRules('');
    for (let i = 0; i < 2; i++) {
      const o: Observation = await lab.probe({ from: 'client', proto: 'tcp', src: '10.1.0.3', sport: 40001, dst: '10.2.0.4', dport: 80 });
      assert.equal(o.sent, 'connected', brief(o));
      assert.equal(o.received[0]?.remotePort, 40001);
      assert.equal(o.received[0]?.remoteAddress, '10.1.0.3');
    }
  });

  test('(b) DNAT: delivered to the new destination, conntrack reply from it', async (t) => {
    const lab = shared;
    if (!lab) return t.skip(skipReason);
    await lab.loadRules(
      NAT_HEAD +
        '-A PREROUTING -d 10.2.0.9/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.2.0.3:8080\n' +
        '-A PREROUTING -d 10.2.0.9/32 -p udp -m udp --dport 80 -j DNAT --to-destination 10.2.0.3:8080\n' +
        'COMMIT\n',
    );
    for (const proto of ['tcp', 'udp'] as const) {
      const o = await lab.probe({ from: 'client', proto, src: '10.1.0.2', dst: '10.2.0.9', dport: 80 });
      assert.equal(o.sent, proto === 'tcp' ? 'connected' : 'sent', brief(o));
      assert.equal(o.received.length, 1, brief(o));
      assert.equal(o.received[0]!.at, 'server');
      assert.equal(o.received[0]!.localAddress, '10.2.0.3');
      assert.equal(o.received[0]!.localPort, 8080);
      assert.equal(o.received[0]!.remoteAddress, '10.1.0.2');
      assert.equal(o.conntrack.length, 1, brief(o));
      const ct = o.conntrack[0]!;
      assert.equal(ct.proto, proto);
      assert.deepEqual(ct.orig, { src: '10.1.0.2', dst: '10.2.0.9', sport: o.localPort, dport: 80 });
      assert.equal(ct.reply.src, '10.2.0.3');
      assert.equal(ct.reply.sport, 8080);
      const dnat = o.counters.find((c) => c.table === 'nat' && c.chain === 'PREROUTING' && c.rule === (proto === 'tcp' ? 1 : 2));
      assert.equal(dnat?.packets, 1, 'nat rules see only the first packet of a connection');
      assert.match(dnat!.text, /-j DNAT --to-destination 10\.2\.0\.3:8080$/);
    }
  });

  test('(c) MASQUERADE -o eth1: the server sees the node address', async (t) => {
    const lab = shared;
    if (!lab) return t.skip(skipReason);
    await lab.loadRules(NAT_HEAD + '-A POSTROUTING -o eth1 -j MASQUERADE\nCOMMIT\n');
    for (const proto of ['tcp', 'udp'] as const) {
      const o = await lab.probe({ from: 'client', proto, src: '10.1.0.4', dst: '10.2.0.2', dport: 9000 });
      assert.equal(o.received.length, 1, brief(o));
      assert.equal(o.received[0]!.remoteAddress, '10.2.0.1');
      assert.equal(o.received[0]!.localAddress, '10.2.0.2');
      assert.equal(o.conntrack[0]?.reply.dst, '10.2.0.1', brief(o));
    }
  });

  test('(d) filter FORWARD DROP: timeout, and the DROP rule counted the SYN once', async (t) => {
    const lab = shared;
    if (!lab) return t.skip(skipReason);
    await lab.loadRules(FILTER_HEAD + '-A FORWARD -p tcp -m tcp --dport 8080 -j DROP\n-A FORWARD -p udp -j DROP\nCOMMIT\n');
    const o = await lab.probe({ from: 'client', proto: 'tcp', src: '10.1.0.2', dst: '10.2.0.3', dport: 8080 });
    assert.equal(o.sent, 'timeout', brief(o));
    assert.deepEqual(o.received, []);
    const drop = o.counters.find((c) => c.table === 'filter' && c.chain === 'FORWARD' && c.rule === 1);
    assert.equal(drop?.packets, 1, brief(o));
    assert.equal(drop?.text, '-A FORWARD -p tcp -m tcp --dport 8080 -j DROP');
    // Conntrack confirms a new entry only at the end of POSTROUTING/INPUT: a packet dropped in
    // FORWARD leaves none.
    assert.equal(o.conntrack.length, 0, brief(o));

    const u = await lab.probe({ from: 'client', proto: 'udp', src: '10.1.0.2', dst: '10.2.0.3', dport: 8080 });
    assert.equal(u.sent, 'sent', brief(u));
    assert.deepEqual(u.received, []);
    assert.equal(u.counters.find((c) => c.chain === 'FORWARD' && c.rule === 2)?.packets, 1);
  });

  test('(d2) chain policy DROP is counted in policyCounters', async (t) => {
    const lab = shared;
    if (!lab) return t.skip(skipReason);
    await lab.loadRules('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n');
    const o = await lab.probe({ from: 'client', proto: 'udp', src: '10.1.0.2', dst: '10.2.0.3', dport: 53 });
    assert.deepEqual(o.received, []);
    const pol = o.policyCounters.find((p) => p.table === 'filter' && p.chain === 'FORWARD');
    assert.equal(pol?.policy, 'DROP');
    assert.equal(pol?.packets, 1, brief(o));
  });

  test('(e) REJECT: refused (TCP and UDP), host-prohibited: unreachable', async (t) => {
    const lab = shared;
    if (!lab) return t.skip(skipReason);
    await lab.loadRules(
      FILTER_HEAD +
        '-A FORWARD -d 10.2.0.3/32 -j REJECT\n' +
        '-A FORWARD -d 10.2.0.4/32 -p tcp -j REJECT --reject-with tcp-reset\n' +
        '-A FORWARD -d 10.2.0.5/32 -j REJECT --reject-with icmp-host-prohibited\n' +
        'COMMIT\n',
    );
    for (const proto of ['tcp', 'udp'] as const) {
      const o = await lab.probe({ from: 'client', proto, src: '10.1.0.2', dst: '10.2.0.3', dport: 8080 });
      assert.equal(o.sent, 'refused', brief(o));
      assert.deepEqual(o.received, []);
      assert.equal(o.counters.find((c) => c.chain === 'FORWARD' && c.rule === 1)?.packets, 1);
    }
    const rst = await lab.probe({ from: 'client', proto: 'tcp', src: '10.1.0.2', dst: '10.2.0.4', dport: 80 });
    assert.equal(rst.sent, 'refused', brief(rst));
    const hp = await lab.probe({ from: 'client', proto: 'udp', src: '10.1.0.2', dst: '10.2.0.5', dport: 80 });
    assert.equal(hp.sent, 'unreachable', brief(hp));
    assert.equal(hp.error, 'EHOSTUNREACH');
    // No route: an ICMP net unreachable, a soft error the UDP socket is not told of.
    const nr = await lab.probe({ from: 'client', proto: 'udp', src: '10.1.0.2', dst: '172.30.0.1', dport: 80 });
    assert.equal(nr.sent, 'unreachable', brief(nr));
    assert.equal(nr.error, 'ICMP_UNREACH');
    const nt = await lab.probe({ from: 'client', proto: 'tcp', src: '10.1.0.2', dst: '172.30.0.1', dport: 80 });
    assert.equal(nt.sent, 'unreachable', brief(nt));
    assert.equal(nt.error, 'ENETUNREACH');
  });

  test('REDIRECT delivers to the node, locally generated traffic goes through nat OUTPUT', async (t) => {
    const lab = shared;
    if (!lab) return t.skip(skipReason);
    await lab.loadRules(
      NAT_HEAD +
        '-A PREROUTING -i eth0 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 9000\n' +
        // Locally generated traffic needs a route to the original destination (routing comes
        // before nat OUTPUT): 10.2.0.100 is in eth1's subnet, 172.30.0.10 would be ENETUNREACH.
        '-A OUTPUT -d 10.2.0.100/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.2.0.5:9001\n' +
        'COMMIT\n',
    );
    const r = await lab.probe({ from: 'client', proto: 'tcp', src: '10.1.0.3', dst: '10.2.0.2', dport: 80 });
    assert.equal(r.sent, 'connected', brief(r));
    assert.deepEqual(
      r.received.map((x) => [x.at, x.localAddress, x.localPort, x.remoteAddress]),
      [['node', '10.1.0.1', 9000, '10.1.0.3']],
    );
    const l = await lab.probe({ from: 'node', proto: 'udp', src: '192.168.0.2', dst: '10.2.0.100', dport: 53 });
    assert.deepEqual(
      l.received.map((x) => [x.at, x.localAddress, x.localPort, x.remoteAddress]),
      [['server', '10.2.0.5', 9001, '192.168.0.2']],
      brief(l),
    );
    const v = await lab.probe({ from: 'node', proto: 'udp', src: '192.168.0.2', dst: '172.30.0.10', dport: 53 });
    assert.equal(v.sent, 'unreachable', brief(v));
  });

  test('loadRules reports iptables-restore errors with the caller line numbers', async (t) => {
    const lab = shared;
    if (!lab) return t.skip(skipReason);
    await assert.rejects(lab.loadRules('*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j NO-SUCH-CHAIN\nCOMMIT\n'), /line: 4/, 'nf_tables reports the COMMIT line of the failing table');
    // The lab is usable afterwards, with the empty ruleset.
    const o = await lab.probe({ from: 'client', proto: 'udp', src: '10.1.0.2', dst: '10.2.0.2', dport: 80 });
    assert.equal(o.received.length, 1, brief(o));
  });

  test('every generated case loads in iptables-restore', async (t) => {
    const lab = shared;
    if (!lab) return t.skip(skipReason);
    const cases = [...generateCases(), ...generateStatisticCases(), generateNthCase()];
    assert.ok(cases.length >= 250);
    const failures: string[] = [];
    for (const c of cases) {
      try {
        await lab.loadRules(c.rules);
      } catch (e) {
        failures.push(`${c.name}: ${(e as Error).message}`);
      }
    }
    assert.deepEqual(failures, []);
  });
});

describe('kernel lab, IPv6', () => {
  let lab6: KernelLab | undefined;

  before(async () => {
    if (avail.ok) lab6 = await createKernelLab({ name: 'harness6', ipv6: true });
  });

  after(async () => {
    await lab6?.close();
  });

  test('IPv6 lab: ip6tables DNAT and MASQUERADE', async (t) => {
    const lab = lab6;
    if (!lab) return t.skip(skipReason);
    assert.deepEqual(lab.hostSpec.interfaces[1]!.addresses, ['10.2.0.1/24', '192.168.0.2/32', 'fd00:ff::2/128', 'fd00:2::1/64']);
    await lab.loadRules(
      '',
      NAT_HEAD +
        '-A PREROUTING -d fd00:2::9/128 -p tcp -m tcp --dport 80 -j DNAT --to-destination [fd00:2::3]:8080\n' +
        '-A POSTROUTING -o eth1 -j MASQUERADE\n' +
        'COMMIT\n',
    );
    const o = await lab.probe({ from: 'client', proto: 'tcp', src: 'fd00:1::3', dst: 'fd00:2::9', dport: 80 });
    assert.equal(o.sent, 'connected', brief(o));
    assert.deepEqual(
      o.received.map((r) => [r.at, r.localAddress, r.localPort, r.remoteAddress]),
      [['server', 'fd00:2::3', 8080, 'fd00:2::1']],
    );
    assert.equal(o.conntrack[0]?.family, 'ipv6');
    assert.equal(o.counters.find((c) => c.family === 6 && c.table === 'nat' && c.chain === 'PREROUTING')?.packets, 1);
    // IPv4 still works in the same lab.
    const v4 = await lab.probe({ from: 'client', proto: 'udp', src: '10.1.0.2', dst: '10.2.0.2', dport: 53 });
    assert.equal(v4.received[0]?.remoteAddress, '10.1.0.2', brief(v4));
  });

  test('hostSpec lists every address in the order the kernel does (ip -j addr show)', async (t) => {
    const lab = lab6;
    if (!lab) return t.skip(skipReason);
    const shown = JSON.parse(await lab.exec('node', 'ip -j addr show')) as { ifname: string; addr_info?: { family: string; local: string; prefixlen: number; scope: string }[] }[];
    for (const iface of lab.hostSpec.interfaces) {
      const kernel = shown.find((i) => i.ifname === iface.name)?.addr_info ?? [];
      for (const family of ['inet', 'inet6']) {
        const want = kernel.filter((a) => a.family === family && a.scope !== 'link').map((a) => `${a.local}/${a.prefixlen}`);
        const have = iface.addresses.filter((a) => a.includes(':') === (family === 'inet6'));
        assert.deepEqual(have, want, `${iface.name} ${family}`);
      }
    }
  });

  test('IPv6 probes: no-route and ICMPv6 rejects, canonical addresses', async (t) => {
    const lab = lab6;
    if (!lab) return t.skip(skipReason);
    await lab.loadRules(
      '',
      FILTER_HEAD +
        '-A FORWARD -d fd00:2::3/128 -p udp -j REJECT --reject-with icmp6-adm-prohibited\n' +
        '-A FORWARD -d fd00:2::4/128 -p udp -j REJECT\n' +
        'COMMIT\n',
    );
    const adm = await lab.probe({ from: 'client', proto: 'udp', src: 'fd00:1::2', dst: 'fd00:2::3', dport: 53 });
    assert.equal(adm.sent, 'denied', brief(adm));
    assert.equal(adm.error, 'EACCES');
    const port = await lab.probe({ from: 'client', proto: 'udp', src: 'fd00:1::2', dst: 'fd00:2::4', dport: 53 });
    assert.equal(port.sent, 'refused', brief(port));
    // No route (no IPv6 default route on the node): ICMPv6 no route, at once and every time.
    for (let i = 0; i < 8; i++) {
      const nr = await lab.probe({ from: 'client', proto: 'udp', src: 'fd00:1::2', dst: 'fd00:30::99', dport: 53 });
      assert.equal(nr.sent, 'unreachable', brief(nr));
      assert.ok(nr.ms < 1000, brief(nr));
    }
    // Spelt differently, observed canonically.
    const o = await lab.probe({ from: 'client', proto: 'udp', src: 'FD00:1:0:0:0:0:0:2', dst: 'fd00:0002::0005', dport: 53 });
    assert.deepEqual(
      o.received.map((r) => [r.localAddress, r.remoteAddress]),
      [['fd00:2::5', 'fd00:1::2']],
      brief(o),
    );
    assert.equal(o.conntrack.length, 1, brief(o));
    assert.equal(o.conntrack[0]!.orig.src, 'fd00:1::2');
  });

  test('every generated IPv6 case loads in ip6tables-restore', async (t) => {
    const lab = lab6;
    if (!lab) return t.skip(skipReason);
    const cases = generateCasesV6();
    assert.ok(cases.length >= 60);
    const failures: string[] = [];
    for (const c of cases) {
      try {
        await lab.loadRules(c.rules, c.rules6);
      } catch (e) {
        failures.push(`${c.name}: ${(e as Error).message}`);
      }
    }
    assert.deepEqual(failures, []);
  });
});
