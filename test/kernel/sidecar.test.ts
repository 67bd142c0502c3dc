/**
 * Istio's capture in the kernel: the rules kubepath compiles for the injector's defaults, loaded
 * with real iptables-restore into a pod namespace, and real connections from a client namespace,
 * from the app (uid 1000) and from the proxy (REDIRECT: uid/gid 1337; TPROXY: uid 0, gid 1337,
 * socat doing what Envoy's original_src does). Each connection lands where the engine, tracing the
 * same packet through the same text (and through the kernel's own iptables-save), says it does:
 * which listener accepted it, the accepted socket's local endpoint, and the peer the app sees.
 *
 * Namespaces `kp-sc-PID-N-cli` / `-pod` (see sidecar-lab.ts); skipped when not root on Linux.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { formatEndpoint, formatIP, ipEquals, parseIP, type Packet } from '../../src/net/index.js';
import { type Host, type Outcome, parseRuleset, type Ruleset, type SocketOwner, tracePacket, traceReply } from '../../src/netfilter/index.js';
import { compileIstioRules, type IstioRules, istioCaptureConfig } from '../../src/sidecar/index.js';
import { podHost } from '../sidecar/pod.js';
import { type Accept, CLIENT_IP, type Identity, type Listeners, POD_IP, ROOT, type Side, SidecarLab, sidecarLabAvailable, socatAvailable } from './sidecar-lab.js';

const availability = sidecarLabAvailable();
const skip = availability.ok ? false : `kernel lab unavailable: ${availability.reason}`;
const socatSkip = skip || (socatAvailable() ? false : 'socat is not installed (apt-get install socat): the TPROXY proxy needs IP_TRANSPARENT, which Node lacks');

const APP: Identity = { uid: 1000, gid: 1000 };
const ENVOY: Identity = { uid: 1337, gid: 1337 };
const ENVOY_TPROXY: Identity = { uid: 0, gid: 1337 };

/** Where a connection ended up: the listener that accepted it, the accepted socket's local endpoint, the peer's address. */
interface Landing {
  side: Side;
  listener: number;
  local: string;
  peer: string;
}

function landingText(l: Landing | undefined): string {
  return l ? `${l.side} :${l.listener} (socket ${l.local}, peer ${l.peer})` : 'nowhere';
}

function endpointOf(text: string): { ip: string; port: number } {
  const i = text.lastIndexOf(':');
  return { ip: text.slice(0, i), port: Number(text.slice(i + 1)) };
}

function tcpPacket(src: string, dst: string): Packet {
  const s = endpointOf(src);
  const d = endpointOf(dst);
  return { family: 4, protocol: 6, source: parseIP(s.ip), destination: parseIP(d.ip), sourcePort: s.port, destinationPort: d.port, tcpFlags: 0x02, icmpType: undefined, icmpCode: undefined, length: undefined };
}

const owner = (id: Identity): SocketOwner => ({ uid: id.uid, gid: id.gid, supplementaryGids: [] });

/** The engine's landing for an outcome in the pod: delivered to a local socket, or out of eth0 to the client's namespace. */
function predicted(o: Outcome): Landing | undefined {
  const dst = formatEndpoint(o.packet.destination, o.packet.destinationPort);
  const peer = formatIP(o.packet.source);
  if (o.disposition === 'deliver') return { side: 'pod', listener: o.tproxy ? o.tproxy.port : o.packet.destinationPort!, local: dst, peer };
  if (o.disposition === 'forward' && o.outInterface === 'eth0' && formatIP(o.packet.destination) === CLIENT_IP) return { side: 'client', listener: o.packet.destinationPort!, local: dst, peer };
  return undefined;
}

function traceOne(ruleset: Ruleset, host: Host, packet: Packet, from: Side, id: Identity, mark?: number): Outcome {
  const t = tracePacket(ruleset, host, {
    packet,
    entry: from === 'client' ? { kind: 'incoming', interface: 'eth0' } : { kind: 'local', socket: owner(id) },
    ...(mark !== undefined ? { mark } : {}),
  });
  assert.equal(t.outcomes.length, 1);
  return t.outcomes[0]!;
}

interface Probe {
  name: string;
  from: Side;
  as: Identity;
  dst: string;
  dport: number;
  /** Bind the connecting socket to this address. */
  local?: string;
}

interface Rig {
  lab: SidecarLab;
  rules: IstioRules;
  ruleset: Ruleset;
  /** The kernel's iptables-save of the pod, parsed strictly. */
  saved: Ruleset;
  host: Host;
  listeners: Listeners[];
}

async function rig(mode: 'REDIRECT' | 'TPROXY'): Promise<Rig> {
  const lab = await SidecarLab.create();
  const rules = compileIstioRules(istioCaptureConfig({ mode }), 'IPv4');
  await lab.load(rules);
  const saved = parseRuleset(await lab.exec('pod', ['iptables-save']), { file: 'iptables-save', family: 4 });
  return { lab, rules, ruleset: parseRuleset(rules.text, { file: 'compiled', family: 4 }), saved, host: podHost(rules), listeners: [] };
}

/** Chains and rule counts per table, to check that what the kernel holds is what we wrote. */
function shape(r: Ruleset): string[] {
  const out: string[] = [];
  for (const [table, t] of r.tables) for (const [chain, c] of t.chains) if (c.rules.length > 0 || chain.startsWith('ISTIO_')) out.push(`${table}/${chain}: ${c.rules.length}`);
  return out.sort();
}

/** Run a probe in the kernel and trace the same packet (the kernel's source port) through the compiled and the saved rules. */
async function probe(r: Rig, p: Probe): Promise<{ kernel: Landing | undefined; engine: Landing | undefined; resaved: Landing | undefined; detail: string }> {
  const c = await r.lab.connect(p.from, p.as, p.dst, p.dport, p.local);
  let kernel: Landing | undefined;
  if (c.ok) {
    const src = endpointOf(c.local!);
    const seen = (a: Accept) => endpointOf(a.remote).port === src.port;
    for (const l of r.listeners) {
      const a = await l.find(seen, 1000);
      if (a) {
        kernel = { side: a.side, listener: a.port, local: a.local, peer: endpointOf(a.remote).ip };
        break;
      }
    }
  }
  const packet = tcpPacket(c.local ?? `${p.from === 'client' ? CLIENT_IP : (p.local ?? POD_IP)}:40000`, `${p.dst}:${p.dport}`);
  const engine = predicted(traceOne(r.ruleset, r.host, packet, p.from, p.as));
  const resaved = predicted(traceOne(r.saved, r.host, packet, p.from, p.as));
  return { kernel, engine, resaved, detail: `connect ${c.ok ? `ok from ${c.local}` : `failed: ${c.error}`}` };
}

describe('Istio REDIRECT rules in the kernel', { skip, concurrency: 1 }, () => {
  let r: Rig;
  before(async () => {
    r = await rig('REDIRECT');
    r.listeners.push(await r.lab.listen('pod', [8080, 15021], APP));
    r.listeners.push(await r.lab.listen('pod', [15006, 15001], ENVOY));
    r.listeners.push(await r.lab.listen('client', [8080], ROOT));
  });
  after(async () => {
    await r?.lab.close();
  });

  test('iptables-restore --noflush takes the compiled rules; iptables-save gives every chain and rule back', () => {
    assert.deepEqual(shape(r.saved), shape(r.ruleset));
  });

  const probes: (Probe & { expect: string })[] = [
    { name: 'client -> pod:8080 is captured to the proxy on 15006, which sees the client', from: 'client', as: ROOT, dst: POD_IP, dport: 8080, expect: `pod :15006 (socket ${POD_IP}:15006, peer ${CLIENT_IP})` },
    { name: 'client -> pod:15021 is not captured', from: 'client', as: ROOT, dst: POD_IP, dport: 15021, expect: `pod :15021 (socket ${POD_IP}:15021, peer ${CLIENT_IP})` },
    { name: "the proxy's passthrough from 127.0.0.6 (uid 1337) -> pod:8080 reaches the app, which sees 127.0.0.6", from: 'pod', as: ENVOY, local: '127.0.0.6', dst: POD_IP, dport: 8080, expect: `pod :8080 (socket ${POD_IP}:8080, peer 127.0.0.6)` },
    { name: 'the app (uid 1000) -> client:8080 is captured to 15001', from: 'pod', as: APP, dst: CLIENT_IP, dport: 8080, expect: `pod :15001 (socket 127.0.0.1:15001, peer ${POD_IP})` },
    { name: 'the proxy (uid 1337) -> client:8080 is not captured', from: 'pod', as: ENVOY, dst: CLIENT_IP, dport: 8080, expect: `client :8080 (socket ${CLIENT_IP}:8080, peer ${POD_IP})` },
    { name: 'the app -> 127.0.0.1:8080 is not captured', from: 'pod', as: APP, dst: '127.0.0.1', dport: 8080, expect: 'pod :8080 (socket 127.0.0.1:8080, peer 127.0.0.1)' },
    { name: 'the app -> its own pod IP:8080 is not captured', from: 'pod', as: APP, dst: POD_IP, dport: 8080, expect: `pod :8080 (socket ${POD_IP}:8080, peer ${POD_IP})` },
    { name: 'the proxy -> its own pod IP:8080 goes to its inbound side (127.0.0.1:15006)', from: 'pod', as: ENVOY, dst: POD_IP, dport: 8080, expect: `pod :15006 (socket 127.0.0.1:15006, peer ${POD_IP})` },
  ];

  test('connections land where the engine predicts', async () => {
    const failures: string[] = [];
    let resaved = 0;
    for (const p of probes) {
      const o = await probe(r, p);
      const k = landingText(o.kernel);
      if (k !== landingText(o.engine) || k !== p.expect) failures.push(`${p.name}: kernel ${k}, engine ${landingText(o.engine)}, expected ${p.expect} (${o.detail})`);
      if (landingText(o.resaved) === landingText(o.engine)) resaved++;
    }
    console.log(`Istio REDIRECT in the kernel: ${probes.length - failures.length} of ${probes.length} connections land where the engine predicts (iptables-save traced alike: ${resaved}/${probes.length})`);
    assert.deepEqual(failures, []);
    assert.equal(resaved, probes.length);
  });
});

describe('Istio TPROXY rules in the kernel', { skip, concurrency: 1 }, () => {
  let r: Rig;
  before(async () => {
    r = await rig('TPROXY');
  });
  after(async () => {
    await r?.lab.close();
  });

  test('iptables-restore --noflush takes the compiled rules, ip takes the policy rule and route', async () => {
    assert.deepEqual(shape(r.saved), shape(r.ruleset));
    assert.match(await r.lab.exec('pod', ['ip', 'rule', 'show']), /from all fwmark 0x539 lookup 133/);
    assert.match(await r.lab.exec('pod', ['ip', 'route', 'show', 'table', '133']), /^local default dev lo/m);
  });

  describe('with a proxy', { skip: socatSkip, concurrency: 1 }, () => {
    let app: Listeners;
    let log: () => string;
    before(async () => {
      app = await r.lab.listen('pod', [8080, 15021], APP);
      r.listeners.push(app);
      r.listeners.push(await r.lab.listen('pod', [15001], ENVOY_TPROXY));
      log = (await r.lab.tproxyProxy(ENVOY_TPROXY, 15006, 1337)).log;
    });

    test("client -> pod:8080: TPROXY hands it to the proxy as pod:8080, the proxy's leg reaches the app with the client's address, and its SYN-ACK comes back", async () => {
      const c = await r.lab.connect('client', ROOT, POD_IP, 8080);
      assert.ok(c.ok, c.error);
      const client = endpointOf(c.local!);
      // The proxy's own record of the connection it accepted (socat -d -d).
      await new Promise((res) => setTimeout(res, 200));
      const accepted = new RegExp(`accepting connection from AF=2 ${client.ip.replace(/\./g, '\\.')}:${client.port} on AF=2 ([0-9.]+:[0-9]+)`).exec(log());
      assert.ok(accepted, `socat log: ${log()}`);
      const kernelProxy: Landing = { side: 'pod', listener: 15006, local: accepted[1]!, peer: client.ip };
      // The app's view: the proxy's leg (a new connection from the client's address).
      const leg = await app.find((a) => a.port === 8080 && endpointOf(a.remote).ip === CLIENT_IP, 2000);
      assert.ok(leg, 'the app saw no connection from the client address');

      const syn = predicted(traceOne(r.ruleset, r.host, tcpPacket(c.local!, `${POD_IP}:8080`), 'client', ROOT));
      const legPacket = tcpPacket(leg.remote, `${POD_IP}:8080`);
      const request = { packet: legPacket, entry: { kind: 'local' as const, socket: owner(ENVOY_TPROXY) }, mark: 1337 };
      const legOutcome = tracePacket(r.ruleset, r.host, request).outcomes[0]!;
      const synAck = traceReply(r.ruleset, r.host, legOutcome, request)!.outcomes[0]!;
      const checks: [string, string, string][] = [
        ['client SYN', landingText(kernelProxy), landingText(syn)],
        ["proxy's leg", landingText({ side: 'pod', listener: 8080, local: leg.local, peer: endpointOf(leg.remote).ip }), landingText(predicted(legOutcome))],
        // The app accepted, so its SYN-ACK reached the proxy's socket: in the pod, not out of eth0.
        ["app's SYN-ACK", 'back to the proxy in the pod', synAck.disposition === 'deliver' && ipEquals(synAck.packet.destination, parseIP(CLIENT_IP)) ? 'back to the proxy in the pod' : `${synAck.disposition} ${synAck.outInterface ?? ''}`],
      ];
      const failed = checks.filter(([, k, e]) => k !== e);
      console.log(`Istio TPROXY in the kernel: ${checks.length - failed.length} of ${checks.length} steps of client -> proxy -> app as the engine predicts; the app saw ${leg.remote}`);
      assert.deepEqual(failed, []);
    });

    test("the proxy's leg alone: as uid 0 gid 1337 the app sees the client address; as uid 1337 ISTIO_IN_REDIRECT sends it to 127.0.0.1:15006 and it never completes (istio#23369); without SO_MARK it is TPROXYed back to the proxy", async () => {
      let agree = 0;
      // uid 0, gid 1337 (the injection template's TPROXY identity).
      const ok = await r.lab.transparentConnect(ENVOY_TPROXY, CLIENT_IP, POD_IP, 8080, 1337);
      assert.ok(ok.ok, ok.error);
      const seen = await app.find((a) => a.remote === ok.local, 1000);
      const predictedOk = predicted(traceOne(r.ruleset, r.host, tcpPacket(ok.local!, `${POD_IP}:8080`), 'pod', ENVOY_TPROXY, 1337));
      assert.equal(landingText(seen ? { side: 'pod', listener: seen.port, local: seen.local, peer: endpointOf(seen.remote).ip } : undefined), landingText(predictedOk));
      agree++;
      // uid 1337 (what the template did before istio#23369), with NET_ADMIN kept for IP_TRANSPARENT.
      await r.lab.flushConntrack();
      const looped = await r.lab.transparentConnect({ ...ENVOY, caps: ['net_admin'] }, CLIENT_IP, POD_IP, 8080, 1337);
      assert.equal(looped.ok, false, 'the connection must not complete');
      const entries = (await r.lab.conntrack()).entries().filter((e) => e.original.destinationPort === 8080 && ipEquals(e.original.source, parseIP(CLIENT_IP)));
      assert.equal(entries.length, 1, 'one conntrack entry for the looped SYN');
      const e = entries[0]!;
      const engine = traceOne(r.ruleset, r.host, tcpPacket(`${CLIENT_IP}:${e.original.sourcePort}`, `${POD_IP}:8080`), 'pod', ENVOY, 1337);
      assert.deepEqual(engine.nat.map((n) => `${n.kind} ${n.rule?.chain}`), ['REDIRECT ISTIO_IN_REDIRECT']);
      assert.equal(formatEndpoint(e.reply.source, e.reply.sourcePort), formatEndpoint(engine.conntrack!.reply.source, engine.conntrack!.reply.sourcePort));
      assert.equal(e.seenReply, false, 'UNREPLIED: the SYN-ACK from 127.0.0.1 is never sent');
      assert.equal(app.accepts.filter((a) => a.remote.startsWith(`${CLIENT_IP}:${e.original.sourcePort}`)).length, 0);
      agree++;
      // uid 0, gid 1337 but no SO_MARK: mangle OUTPUT marks it 1338 (the proxy calling the app
      // through its own inbound side), so ISTIO_INBOUND does not let it pass on lo: TPROXY gives it
      // to the proxy's own listener, whose SYN-ACK (no connmark) leaves by eth0.
      await r.lab.flushConntrack();
      const tproxied = () => r.lab.exec('pod', ['iptables-save', '-c', '-t', 'mangle']).then((t) => Number(/^\[(\d+):\d+\] -A ISTIO_TPROXY .*-j TPROXY/m.exec(t)?.[1] ?? NaN));
      const before = await tproxied();
      const unmarked = await r.lab.transparentConnect(ENVOY_TPROXY, CLIENT_IP, POD_IP, 8080, 0);
      assert.equal(unmarked.ok, false, 'the connection must not complete');
      const diverted = (await tproxied()) - before;
      const port = endpointOf(unmarked.local!).port;
      const u = (await r.lab.conntrack()).entries().find((x) => x.original.sourcePort === port && x.original.destinationPort === 8080);
      assert.ok(u, 'a conntrack entry for the unmarked leg');
      const req = { packet: tcpPacket(unmarked.local!, `${POD_IP}:8080`), entry: { kind: 'local' as const, socket: owner(ENVOY_TPROXY) }, mark: 0 };
      const syn = tracePacket(r.ruleset, r.host, req).outcomes[0]!;
      const back = traceReply(r.ruleset, r.host, syn, req)!.outcomes[0]!;
      const kernelSays = `SYN TPROXYed ${diverted}x, ctmark ${u.mark}, reply ${formatEndpoint(u.reply.source, u.reply.sourcePort)}, app saw ${app.accepts.some((a) => a.remote === unmarked.local) ? 'it' : 'nothing'}`;
      const engineSays = `SYN TPROXYed ${syn.tproxy ? 1 : 0}x, ctmark ${syn.conntrack!.mark}, reply ${formatEndpoint(syn.conntrack!.reply.source, syn.conntrack!.reply.sourcePort)}, app saw nothing`;
      assert.equal(kernelSays, engineSays);
      assert.equal(`${back.disposition} ${back.outInterface}`, 'forward eth0', "the engine sends the listener's SYN-ACK out of eth0 (the kernel's entry never completes)");
      agree++;
      console.log(`Istio TPROXY proxy identity in the kernel: ${agree} of 3 as the engine predicts (uid 1337: conntrack reply ${formatEndpoint(e.reply.source, e.reply.sourcePort)}, UNREPLIED; no SO_MARK: ${kernelSays})`);
    });

    test('outbound is REDIRECT in TPROXY mode too; excluded inbound ports are not captured', async () => {
      const probes: (Probe & { expect: string })[] = [
        { name: 'the app -> client:8080 is captured to 15001', from: 'pod', as: APP, dst: CLIENT_IP, dport: 8080, expect: `pod :15001 (socket 127.0.0.1:15001, peer ${POD_IP})` },
        { name: 'client -> pod:15021 is not captured', from: 'client', as: ROOT, dst: POD_IP, dport: 15021, expect: `pod :15021 (socket ${POD_IP}:15021, peer ${CLIENT_IP})` },
      ];
      const failures: string[] = [];
      for (const p of probes) {
        const o = await probe(r, p);
        const k = landingText(o.kernel);
        if (k !== landingText(o.engine) || k !== p.expect || k !== landingText(o.resaved)) failures.push(`${p.name}: kernel ${k}, engine ${landingText(o.engine)}, saved ${landingText(o.resaved)} (${o.detail})`);
      }
      console.log(`Istio TPROXY in the kernel, other paths: ${probes.length - failures.length} of ${probes.length} as the engine predicts`);
      assert.deepEqual(failures, []);
    });
  });
});
