/**
 * Istio's capture as kubepath compiles it: the injector defaults against the rule files derived
 * from istio-iptables (../shared/research/harness/sidecar-harness/*.golden), each annotation's
 * effect on the rules, the injector's decision, istio-init command lines, and the errors.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import type { Namespace, Pod } from '../../src/cluster/objects.js';
import { parseRuleset, type Ruleset } from '../../src/netfilter/index.js';
import {
  compileIstioRules,
  formatIstioIptablesArgs,
  ISTIO_INJECTOR_DEFAULTS,
  IstioCaptureError,
  type IstioDecision,
  type IstioSidecar,
  istioCaptureConfig,
  istioCaptureOf,
  parseIstioIptablesArgs,
} from '../../src/sidecar/index.js';
import { sharedDir } from '../support/shared.js';

const HARNESS = sharedDir() ? resolve(sharedDir()!, 'research', 'harness', 'sidecar-harness') : undefined;

/** Every chain of every table with its rules, each rule without its `-A CHAIN` / `-I CHAIN N` prefix. */
function chains(r: Ruleset): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [table, t] of r.tables) {
    for (const [name, c] of t.chains) {
      if (c.builtin && c.rules.length === 0) continue;
      out[`${table}/${name}`] = c.rules.map((rule) => rule.text.replace(/^-[AI] \S+ (?:[0-9]+ )?/, ''));
    }
  }
  return out;
}

function nat(text: string, chain: string): string[] {
  return chains(parseRuleset(text, { family: text.includes('ip6tables') ? 6 : 4 }))[`nat/${chain}`] ?? [];
}

function mangle(text: string, chain: string): string[] {
  return chains(parseRuleset(text, { family: text.includes('ip6tables') ? 6 : 4 }))[`mangle/${chain}`] ?? [];
}

describe('the injector defaults against the rules derived from istio-iptables', { skip: HARNESS ? false : 'shared research harness not found (../shared)' }, () => {
  for (const [file, mode] of [['rules-redirect.golden', 'REDIRECT'], ['rules-tproxy.golden', 'TPROXY']] as const) {
    test(`${mode}: rule for rule as ${file}`, () => {
      const golden = readFileSync(resolve(HARNESS!, file), 'utf8');
      const compiled = compileIstioRules(istioCaptureConfig({ mode }), 'IPv4');
      const ours = parseRuleset(compiled.text, { file: 'compiled', family: 4 });
      const theirs = parseRuleset(golden, { file, family: 4 });
      assert.deepEqual(chains(ours), chains(theirs));
      const count = Object.values(chains(ours)).reduce((n, rules) => n + rules.length, 0);
      console.log(`istio-iptables ${mode} (injector defaults): ${count} of ${Object.values(chains(theirs)).reduce((n, r) => n + r.length, 0)} rules as ${file}`);
      // The route setup named in the file's header (tools/common/tproxy/run_linux.go).
      const rule = /ip rule add ([^;\n]+)/.exec(golden)?.[1]?.trim();
      const route = /ip route add ([^;\n]+)/.exec(golden)?.[1]?.trim();
      assert.deepEqual(compiled.policyRules, rule ? [rule] : []);
      assert.deepEqual(compiled.routes, route ? [route] : []);
      assert.deepEqual(compiled.proxy, mode === 'TPROXY' ? { uid: 0, gid: 1337 } : { uid: 1337, gid: 1337 });
    });
  }
});

test('the compiled text is iptables-restore text: user chains declared, rules in kernel order, a comment naming the command', () => {
  const { text, args } = compileIstioRules(ISTIO_INJECTOR_DEFAULTS, 'IPv4');
  assert.deepEqual(args, ['istio-iptables', '-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '', '-b', '*', '-d', '15090,15021,15020']);
  assert.match(text, /^# iptables rules of istio-iptables -p 15001 -z 15006 -u 1337 -m REDIRECT -i '\*' -x "" -b '\*' -d 15090,15021,15020 \(kubepath\)\n\*nat\n:ISTIO_INBOUND - \[0:0\]\n:ISTIO_REDIRECT - \[0:0\]\n:ISTIO_IN_REDIRECT - \[0:0\]\n:ISTIO_OUTPUT - \[0:0\]\n-A PREROUTING -p tcp -j ISTIO_INBOUND\n/);
  assert.ok(text.endsWith('-A ISTIO_OUTPUT -j ISTIO_REDIRECT\nCOMMIT\n'));
  assert.ok(!/^-[IN] /m.test(text), 'no -I or -N: the final order, as iptables-save lists it');
});

// ---------------------------------------------------------------------------------------------

const ENABLED: Namespace = { metadata: { name: 'shop', labels: { 'istio-injection': 'enabled' } } };

function pod(annotations: Record<string, string> = {}, labels: Record<string, string> = { app: 'web' }, spec: Partial<Pod['spec']> = {}): Pod {
  return { metadata: { name: 'web', namespace: 'shop', labels, annotations }, spec: { containers: [{ name: 'app', ports: [{ containerPort: 8080 }] }], ...spec } };
}

function sidecar(d: IstioDecision): IstioSidecar {
  assert.ok(d.sidecar, `expected a sidecar: ${d.reason}`);
  return d;
}

function rulesFor(annotations: Record<string, string>, family: 'IPv4' | 'IPv6' = 'IPv4') {
  const s = sidecar(istioCaptureOf(pod(annotations), ENABLED));
  return compileIstioRules(s.capture!, family);
}

describe('annotations, as the injector passes them to istio-iptables', () => {
  test('no annotations: the injector defaults', () => {
    const s = sidecar(istioCaptureOf(pod(), ENABLED));
    assert.equal(s.source, 'injector');
    assert.deepEqual(s.capture, ISTIO_INJECTOR_DEFAULTS);
    assert.deepEqual(s.proxy, { uid: 1337, gid: 1337 });
  });

  test('excludeInboundPorts: RETURNs in ISTIO_INBOUND before the catch-all (the status port is still added)', () => {
    const { text } = rulesFor({ 'traffic.sidecar.istio.io/excludeInboundPorts': '8081, 9090' });
    assert.deepEqual(nat(text, 'ISTIO_INBOUND'), [
      '-p tcp --dport 15008 -j RETURN',
      '-p tcp --dport 15090 -j RETURN',
      '-p tcp --dport 15021 -j RETURN',
      '-p tcp --dport 8081 -j RETURN',
      '-p tcp --dport 9090 -j RETURN',
      '-p tcp --dport 15020 -j RETURN',
      '-p tcp -j ISTIO_IN_REDIRECT',
    ]);
  });

  test('status port: another is excluded instead of 15020; "0" excludes none', () => {
    assert.deepEqual(sidecar(istioCaptureOf(pod({ 'status.sidecar.istio.io/port': '15099' }), ENABLED)).capture!.excludeInboundPorts, [15090, 15021, 15099]);
    assert.deepEqual(sidecar(istioCaptureOf(pod({ 'status.sidecar.istio.io/port': '0' }), ENABLED)).capture!.excludeInboundPorts, [15090, 15021]);
    // Already excluded by the user: not added twice.
    assert.deepEqual(sidecar(istioCaptureOf(pod({ 'traffic.sidecar.istio.io/excludeInboundPorts': '15020,7000' }), ENABLED)).capture!.excludeInboundPorts, [15090, 15021, 15020, 7000]);
  });

  test('includeInboundPorts list: one jump per port instead of the catch-all, exclusions unused', () => {
    const { text } = rulesFor({ 'traffic.sidecar.istio.io/includeInboundPorts': '8080,9090', 'traffic.sidecar.istio.io/excludeInboundPorts': '7000' });
    assert.deepEqual(nat(text, 'ISTIO_INBOUND'), ['-p tcp --dport 15008 -j RETURN', '-p tcp --dport 8080 -j ISTIO_IN_REDIRECT', '-p tcp --dport 9090 -j ISTIO_IN_REDIRECT']);
    assert.deepEqual(nat(text, 'PREROUTING'), ['-p tcp -j ISTIO_INBOUND']);
  });

  test('includeInboundPorts "": nothing inbound is captured (no PREROUTING jump)', () => {
    const { text } = rulesFor({ 'traffic.sidecar.istio.io/includeInboundPorts': '' });
    assert.deepEqual(nat(text, 'PREROUTING'), []);
    assert.deepEqual(nat(text, 'ISTIO_INBOUND'), ['-p tcp --dport 15008 -j RETURN']);
  });

  test('excludeOutboundIPRanges: ISTIO_OUTPUT -d CIDR -j RETURN before the catch-all; other-family ranges only in their own rules', () => {
    const { text } = rulesFor({ 'traffic.sidecar.istio.io/excludeOutboundIPRanges': '10.96.0.0/12,169.254.169.254/32,fd00::/8' });
    assert.deepEqual(nat(text, 'ISTIO_OUTPUT').slice(-4), ['-d 127.0.0.1/32 -j RETURN', '-d 10.96.0.0/12 -j RETURN', '-d 169.254.169.254/32 -j RETURN', '-j ISTIO_REDIRECT']);
    const v6 = rulesFor({ 'traffic.sidecar.istio.io/excludeOutboundIPRanges': '10.96.0.0/12,fd00::/8' }, 'IPv6').text;
    assert.deepEqual(nat(v6, 'ISTIO_OUTPUT').slice(-3), ['-d ::1/128 -j RETURN', '-d fd00::/8 -j RETURN', '-j ISTIO_REDIRECT']);
  });

  test('includeOutboundIPRanges list: one ISTIO_REDIRECT jump per range and no catch-all; "" captures nothing outbound', () => {
    const { text } = rulesFor({ 'traffic.sidecar.istio.io/includeOutboundIPRanges': '10.0.0.0/8,172.16.0.0/12' });
    assert.deepEqual(nat(text, 'ISTIO_OUTPUT').slice(-3), ['-d 127.0.0.1/32 -j RETURN', '-d 10.0.0.0/8 -j ISTIO_REDIRECT', '-d 172.16.0.0/12 -j ISTIO_REDIRECT']);
    const none = rulesFor({ 'traffic.sidecar.istio.io/includeOutboundIPRanges': '' }).text;
    assert.ok(!nat(none, 'ISTIO_OUTPUT').some((r) => r.endsWith('-j ISTIO_REDIRECT')));
  });

  test('a loopback range among the included ones keeps app-to-lo traffic capturable (no "! --uid-owner" RETURNs)', () => {
    const { text } = rulesFor({ 'traffic.sidecar.istio.io/includeOutboundIPRanges': '127.1.2.3/32' });
    assert.ok(!nat(text, 'ISTIO_OUTPUT').some((r) => r.includes('! --uid-owner') || r.includes('! --gid-owner')));
    assert.ok(nat(text, 'ISTIO_OUTPUT').includes('-d 127.1.2.3/32 -j ISTIO_REDIRECT'));
  });

  test('includeOutboundPorts and excludeOutboundPorts', () => {
    const { text } = rulesFor({ 'traffic.sidecar.istio.io/includeOutboundPorts': '9000', 'traffic.sidecar.istio.io/excludeOutboundPorts': '22,443' });
    const out = nat(text, 'ISTIO_OUTPUT');
    assert.deepEqual(out.slice(0, 5), ['-p tcp --dport 22 -j RETURN', '-p udp --dport 22 -j RETURN', '-p tcp --dport 443 -j RETURN', '-p udp --dport 443 -j RETURN', '-o lo -s 127.0.0.6/32 -j RETURN']);
    assert.deepEqual(out.slice(-3), ['-d 127.0.0.1/32 -j RETURN', '-p tcp --dport 9000 -j ISTIO_REDIRECT', '-j ISTIO_REDIRECT']);
  });

  test('excludeInterfaces: RETURN first in nat PREROUTING and OUTPUT (and mangle in TPROXY mode)', () => {
    const { text } = rulesFor({ 'traffic.sidecar.istio.io/excludeInterfaces': 'net1' });
    assert.deepEqual(nat(text, 'PREROUTING'), ['-i net1 -j RETURN', '-p tcp -j ISTIO_INBOUND']);
    assert.deepEqual(nat(text, 'OUTPUT'), ['-o net1 -j RETURN', '-j ISTIO_OUTPUT']);
    const t = rulesFor({ 'traffic.sidecar.istio.io/excludeInterfaces': 'net1', 'sidecar.istio.io/interceptionMode': 'TPROXY' }).text;
    assert.deepEqual(mangle(t, 'PREROUTING'), ['-i net1 -j RETURN', '-p tcp -j ISTIO_INBOUND', '-p tcp -m mark --mark 1337 -j CONNMARK --save-mark']);
    assert.equal(mangle(t, 'OUTPUT')[0], '-o net1 -j RETURN');
  });

  test('kubevirtInterfaces: what arrives there is outbound (ISTIO_REDIRECT), inserted before its RETURN', () => {
    const { text } = rulesFor({ 'traffic.sidecar.istio.io/kubevirtInterfaces': 'net1,net2' });
    assert.deepEqual(nat(text, 'PREROUTING'), ['-i net2 -j ISTIO_REDIRECT', '-i net1 -j ISTIO_REDIRECT', '-i net2 -j RETURN', '-i net1 -j RETURN', '-p tcp -j ISTIO_INBOUND']);
    const ranged = rulesFor({ 'istio.io/reroute-virtual-interfaces': 'net1', 'traffic.sidecar.istio.io/kubevirtInterfaces': 'ignored', 'traffic.sidecar.istio.io/includeOutboundIPRanges': '10.0.0.0/8' }).text;
    assert.deepEqual(nat(ranged, 'PREROUTING'), ['-i net1 -d 10.0.0.0/8 -j ISTIO_REDIRECT', '-i net1 -j RETURN', '-p tcp -j ISTIO_INBOUND']);
  });

  test('interceptionMode TPROXY: inbound in mangle, policy rule and local route, proxy as root in group 1337', () => {
    const s = sidecar(istioCaptureOf(pod({ 'sidecar.istio.io/interceptionMode': 'TPROXY' }), ENABLED));
    assert.equal(s.capture!.mode, 'TPROXY');
    assert.deepEqual(s.proxy, { uid: 0, gid: 1337 });
    const r = compileIstioRules(s.capture!, 'IPv4');
    assert.deepEqual(nat(r.text, 'PREROUTING'), []);
    assert.equal(mangle(r.text, 'ISTIO_TPROXY')[0], '! -d 127.0.0.1/32 -p tcp -j TPROXY --tproxy-mark 1337/0xffffffff --on-port 15006');
    assert.deepEqual([r.policyRules, r.routes], [['fwmark 1337 lookup 133'], ['local default dev lo table 133']]);
    // Only listed ports: a DIVERT and a TPROXY rule per port.
    const listed = rulesFor({ 'sidecar.istio.io/interceptionMode': 'TPROXY', 'traffic.sidecar.istio.io/includeInboundPorts': '8080' }).text;
    assert.deepEqual(mangle(listed, 'ISTIO_INBOUND').slice(3), ['-p tcp --dport 8080 -m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT', '-p tcp --dport 8080 -j ISTIO_TPROXY']);
    // Nothing inbound: no routes either.
    const none = rulesFor({ 'sidecar.istio.io/interceptionMode': 'TPROXY', 'traffic.sidecar.istio.io/includeInboundPorts': '' });
    assert.deepEqual([none.policyRules, none.routes], [[], []]);
    assert.deepEqual(mangle(none.text, 'ISTIO_INBOUND'), ['-p tcp -m mark --mark 1337 -j RETURN', '-p tcp -s 127.0.0.6/32 -i lo -j RETURN', '-p tcp -i lo -m mark ! --mark 1338 -j RETURN']);
  });

  test('interceptionMode NONE: a sidecar that captures nothing', () => {
    const s = sidecar(istioCaptureOf(pod({ 'sidecar.istio.io/interceptionMode': 'NONE' }), ENABLED));
    assert.equal(s.capture, undefined);
    assert.match(s.notes.join(' '), /NONE/);
  });

  test('IPv6: ::6 and ::1 instead of 127.0.0.6 and 127.0.0.1, ::6/128 on lo, the route for ::/0', () => {
    const r = rulesFor({ 'sidecar.istio.io/interceptionMode': 'TPROXY' }, 'IPv6');
    assert.ok(r.text.startsWith('# ip6tables rules of'));
    assert.equal(nat(r.text, 'ISTIO_OUTPUT')[0], '-o lo -s ::6/128 -j RETURN');
    assert.equal(mangle(r.text, 'ISTIO_INBOUND')[1], '-p tcp -s ::6/128 -i lo -j RETURN');
    assert.deepEqual([r.addresses, r.routes, r.policyRules], [['::6/128 dev lo'], ['local ::/0 dev lo table 133'], ['fwmark 1337 lookup 133']]);
  });

  test('every variant parses strictly', () => {
    const variants: Record<string, string>[] = [
      {},
      { 'sidecar.istio.io/interceptionMode': 'TPROXY', 'traffic.sidecar.istio.io/excludeInterfaces': 'eth9', 'traffic.sidecar.istio.io/kubevirtInterfaces': 'net1' },
      { 'traffic.sidecar.istio.io/includeOutboundIPRanges': '10.0.0.0/8,2001:db8::/32', 'traffic.sidecar.istio.io/excludeOutboundIPRanges': '10.96.0.0/12,fd00::/8', 'traffic.sidecar.istio.io/excludeOutboundPorts': '22' },
    ];
    for (const v of variants) for (const family of ['IPv4', 'IPv6'] as const) parseRuleset(rulesFor(v, family).text, { family: family === 'IPv4' ? 4 : 6 });
  });
});

describe('whether a pod gets a sidecar (the injector webhooks, then sidecar.istio.io/inject)', () => {
  const decide = (p: Pod, ns: Namespace | undefined) => istioCaptureOf(p, ns);
  const plain: Namespace = { metadata: { name: 'shop' } };
  const cases: [string, Pod, Namespace | undefined, boolean, RegExp][] = [
    ['namespace istio-injection=enabled', pod(), ENABLED, true, /istio-injection=enabled/],
    ['enabled namespace, pod label inject=false', pod({}, { 'sidecar.istio.io/inject': 'false' }), ENABLED, false, /label sidecar.istio.io\/inject=false opts out/],
    ['enabled namespace, annotation inject=false', pod({ 'sidecar.istio.io/inject': 'false' }), ENABLED, false, /annotation sidecar.istio.io\/inject=false opts out/],
    ['enabled namespace, label true wins over annotation false', pod({ 'sidecar.istio.io/inject': 'false' }, { 'sidecar.istio.io/inject': 'true' }), ENABLED, true, /label/],
    ['plain namespace, pod label inject=true', pod({}, { 'sidecar.istio.io/inject': 'true' }), plain, true, /pod label sidecar.istio.io\/inject=true/],
    ['plain namespace, only the annotation inject=true', pod({ 'sidecar.istio.io/inject': 'true' }), plain, false, /only read once a webhook is called/],
    ['namespace istio-injection=disabled, pod label true', pod({}, { 'sidecar.istio.io/inject': 'true' }), { metadata: { name: 'shop', labels: { 'istio-injection': 'disabled' } } }, false, /istio-injection=disabled/],
    ['namespace istio.io/rev=canary', pod(), { metadata: { name: 'shop', labels: { 'istio.io/rev': 'canary' } } }, true, /istio.io\/rev=canary/],
    ['pod label istio.io/rev=canary in a plain namespace', pod({}, { 'istio.io/rev': 'canary' }), plain, true, /pod label istio.io\/rev=canary/],
    ['no Namespace object', pod(), undefined, false, /not labelled/],
    ['hostNetwork', pod({}, {}, { hostNetwork: true }), ENABLED, false, /hostNetwork/],
    ['kube-system', { ...pod(), metadata: { name: 'dns', namespace: 'kube-system' } }, { metadata: { name: 'kube-system', labels: { 'istio-injection': 'enabled' } } }, false, /ignores namespace kube-system/],
  ];
  for (const [name, p, ns, expected, reason] of cases) {
    test(name, () => {
      const d = decide(p, ns);
      assert.equal(d.sidecar, expected, d.reason);
      assert.match(d.reason, reason);
    });
  }

  test('an injected pod: istio-init\'s command line is what ran', () => {
    const p = pod({ 'sidecar.istio.io/interceptionMode': 'REDIRECT' }, {}, {
      initContainers: [{ name: 'istio-init', args: ['istio-iptables', '-p', '15001', '-z', '15006', '-u', '1337', '-m', 'TPROXY', '-i', '10.0.0.0/8', '-x', '', '-b', '*', '-d', '15090,15021,15020', '-k', 'net1', '--log_output_level=default:info'] }],
      containers: [{ name: 'app' }, { name: 'istio-proxy', args: ['proxy', 'sidecar'] }],
    });
    const s = sidecar(istioCaptureOf(p, undefined));
    assert.equal(s.source, 'istio-init');
    assert.equal(s.capture!.mode, 'TPROXY', 'the command line, not the annotation');
    assert.deepEqual(s.capture!.includeOutboundIPRanges, ['10.0.0.0/8']);
    assert.deepEqual(s.capture!.kubeVirtInterfaces, ['net1']);
    assert.deepEqual(s.proxy, { uid: 0, gid: 1337 });
  });

  test('an injected pod without istio-init (istio-cni): capture from its annotations', () => {
    const p = pod({ 'traffic.sidecar.istio.io/excludeInboundPorts': '9090' }, {}, {
      initContainers: [{ name: 'istio-validation', args: ['istio-iptables', '--run-validation', '--skip-rule-apply'] }],
      containers: [{ name: 'app' }, { name: 'istio-proxy' }],
    });
    const s = sidecar(istioCaptureOf(p, undefined));
    assert.equal(s.source, 'annotations');
    assert.match(s.reason, /istio-cni/);
    assert.deepEqual(s.capture!.excludeInboundPorts, [15090, 15021, 9090, 15020]);
  });

  test('a gateway (istio-proxy running `proxy router`) is the proxy itself: nothing is captured, even in an injection-enabled namespace', () => {
    const p = pod({}, {}, { containers: [{ name: 'istio-proxy', args: ['proxy', 'router', '--domain', 'istio-system.svc.cluster.local'] }] });
    const d = istioCaptureOf(p, ENABLED);
    assert.equal(d.sidecar, false);
    assert.match(d.reason, /gateway \(proxy router\)/);
    const sidecarProxy = pod({}, {}, { containers: [{ name: 'app' }, { name: 'istio-proxy', args: ['proxy', 'sidecar'] }] });
    assert.equal(istioCaptureOf(sidecarProxy, undefined).sidecar, true, 'proxy sidecar is still a sidecar');
  });

  test('istio-init as command (older injectors), and flags kubepath does not model become notes', () => {
    const p = pod({}, {}, { initContainers: [{ name: 'istio-init', command: ['istio-iptables'], args: ['-p', '15001', '-z=15006', '-u1337', '-m', 'REDIRECT', '-i', '*', '-b', '*', '--redirect-dns'] }] });
    const s = sidecar(istioCaptureOf(p, undefined));
    assert.equal(s.capture!.inboundCapturePort, 15006);
    assert.deepEqual(s.capture!.proxyUids, [1337]);
    assert.deepEqual(s.capture!.excludeInboundPorts, []);
    assert.match(s.notes.join('\n'), /--redirect-dns: DNS capture/);
  });
});

describe('the istio-iptables command line', () => {
  test('defaults of istio-iptables itself capture nothing; -g defaults to -u', () => {
    const { config } = parseIstioIptablesArgs(['istio-iptables', '-u', '1000']);
    assert.deepEqual([config.includeInboundPorts, config.includeOutboundIPRanges, config.proxyGids], [[], [], [1000]]);
  });

  test('long forms, --flag=value and -fVALUE', () => {
    const a = parseIstioIptablesArgs(['pilot-agent', 'istio-iptables', '--envoy-port=15101', '--inbound-capture-port', '15106', '-e15108', '--proxy-gid=2000', '--istio-inbound-interception-mode=TPROXY', '-t', '1400', '-r', '140']).config;
    assert.deepEqual([a.proxyPort, a.inboundCapturePort, a.inboundTunnelPort, a.proxyGids, a.mode, a.inboundTproxyMark, a.inboundTproxyRouteTable], [15101, 15106, 15108, [2000], 'TPROXY', 1400, 140]);
  });

  test('formatting and reading back give the same config', () => {
    const configs = [
      ISTIO_INJECTOR_DEFAULTS,
      istioCaptureConfig({ mode: 'TPROXY', proxyGids: [1400], includeInboundPorts: [8080], excludeInterfaces: ['eth9'], kubeVirtInterfaces: ['net1', 'net2'], inboundTproxyMark: 7, inboundTproxyRouteTable: 100 }),
      istioCaptureConfig({ includeOutboundIPRanges: ['10.0.0.0/8', '2001:db8::/32'], excludeOutboundIPRanges: ['10.96.0.0/12'], includeOutboundPorts: [9000], excludeOutboundPorts: [22, 443], inboundTunnelPort: 15009 }),
    ];
    for (const c of configs) assert.deepEqual(parseIstioIptablesArgs(formatIstioIptablesArgs(c)).config, c);
  });
});

describe('errors name the pod and where the value was given', () => {
  const bad: [string, Record<string, string>, string][] = [
    ['excludeInboundPorts', { 'traffic.sidecar.istio.io/excludeInboundPorts': '80,abc' }, 'pod shop/web: annotation traffic.sidecar.istio.io/excludeInboundPorts: invalid value "80,abc": "abc" is not a port number (0-65535)'],
    ['includeInboundPorts', { 'traffic.sidecar.istio.io/includeInboundPorts': '70000' }, 'pod shop/web: annotation traffic.sidecar.istio.io/includeInboundPorts: invalid value "70000": "70000" is not a port number (0-65535)'],
    ['includeOutboundIPRanges without a length', { 'traffic.sidecar.istio.io/includeOutboundIPRanges': '10.0.0.0' }, 'pod shop/web: annotation traffic.sidecar.istio.io/includeOutboundIPRanges: invalid value "10.0.0.0": "10.0.0.0" is not a CIDR (ADDRESS/LENGTH)'],
    ['excludeOutboundIPRanges with a space', { 'traffic.sidecar.istio.io/excludeOutboundIPRanges': '10.0.0.0/8, 192.168.0.0/16' }, 'pod shop/web: annotation traffic.sidecar.istio.io/excludeOutboundIPRanges: invalid value "10.0.0.0/8, 192.168.0.0/16": " 192.168.0.0/16" is not a CIDR (ADDRESS/LENGTH, comma-separated without spaces)'],
    ['excludeOutboundIPRanges wildcard', { 'traffic.sidecar.istio.io/excludeOutboundIPRanges': '*' }, 'pod shop/web: annotation traffic.sidecar.istio.io/excludeOutboundIPRanges: invalid value "*": "*" is not a CIDR (ADDRESS/LENGTH)'],
    ['interceptionMode', { 'sidecar.istio.io/interceptionMode': 'tproxy' }, 'pod shop/web: annotation sidecar.istio.io/interceptionMode: invalid value "tproxy": must be REDIRECT, TPROXY or NONE'],
    ['status port', { 'status.sidecar.istio.io/port': 'x' }, 'pod shop/web: annotation status.sidecar.istio.io/port: invalid value "x": must be a port number (0-65535)'],
    ['excludeOutboundPorts', { 'traffic.sidecar.istio.io/excludeOutboundPorts': '22;443' }, 'pod shop/web: annotation traffic.sidecar.istio.io/excludeOutboundPorts: invalid value "22;443": "22;443" is not a port number (0-65535)'],
    ['includeOutboundPorts', { 'traffic.sidecar.istio.io/includeOutboundPorts': '-1' }, 'pod shop/web: annotation traffic.sidecar.istio.io/includeOutboundPorts: invalid value "-1": "-1" is not a port number (0-65535)'],
    ['excludeInterfaces', { 'traffic.sidecar.istio.io/excludeInterfaces': 'a-name-too-long-for-linux' }, 'pod shop/web: annotation traffic.sidecar.istio.io/excludeInterfaces: invalid value "a-name-too-long-for-linux": "a-name-too-long-for-linux" is not an interface name (1-15 characters, no spaces)'],
    ['kubevirtInterfaces', { 'traffic.sidecar.istio.io/kubevirtInterfaces': 'net 1' }, 'pod shop/web: annotation traffic.sidecar.istio.io/kubevirtInterfaces: invalid value "net 1": "net 1" is not an interface name (1-15 characters, no spaces)'],
  ];
  for (const [name, annotations, message] of bad) {
    test(name, () => {
      assert.throws(() => istioCaptureOf(pod(annotations), ENABLED), (e: unknown) => {
        assert.ok(e instanceof IstioCaptureError);
        assert.equal(e.message, message);
        assert.equal(e.pod, 'shop/web');
        assert.ok(e.field.startsWith('annotation '));
        return true;
      });
    });
  }

  test('an annotation on a pod that gets no sidecar is not read', () => {
    assert.equal(istioCaptureOf(pod({ 'traffic.sidecar.istio.io/excludeInboundPorts': 'abc' }), undefined).sidecar, false);
  });

  test('istio-init command lines istio-iptables would refuse', () => {
    const init = (args: string[]): Pod => pod({}, {}, { initContainers: [{ name: 'istio-init', args: ['istio-iptables', ...args] }] });
    const cases: [string[], string][] = [
      [['-p', 'abc'], 'pod shop/web: spec.initContainers[0].args -p: invalid value "abc": "abc" is not a port number (1-65535)'],
      [['--frobnicate'], 'pod shop/web: spec.initContainers[0].args: invalid value "--frobnicate": unknown flag (istio-iptables would refuse it)'],
      [['-m', 'SPLICE'], 'pod shop/web: spec.initContainers[0].args -m: invalid value "SPLICE": must be REDIRECT or TPROXY'],
      [['-u', 'istio-proxy'], 'pod shop/web: spec.initContainers[0].args -u: invalid value "istio-proxy": "istio-proxy" is not a numeric uid (kubepath does not resolve names)'],
      [['-x', '*'], 'pod shop/web: spec.initContainers[0].args -x: invalid value "*": istio-iptables refuses "*" here'],
      [['-b'], 'pod shop/web: spec.initContainers[0].args: invalid value "-b": needs a value'],
      [['stray'], 'pod shop/web: spec.initContainers[0].args: invalid value "stray": istio-iptables takes no arguments besides its flags'],
    ];
    for (const [args, message] of cases) assert.throws(() => istioCaptureOf(init(args), undefined), { name: 'IstioCaptureError', message });
  });

  test('a config given in code is checked too', () => {
    assert.throws(() => compileIstioRules({ ...ISTIO_INJECTOR_DEFAULTS, proxyPort: 70000 }, 'IPv4'), { message: 'proxyPort: invalid value "70000": must be a port number (1-65535)' });
    assert.throws(() => istioCaptureConfig({ excludeOutboundIPRanges: ['10.1.2.3/8'] }), { message: 'excludeOutboundIPRanges: invalid value "10.1.2.3/8": must be written as a network with host bits cleared (10.0.0.0/8)' });
    assert.throws(() => istioCaptureConfig({ inboundTproxyRouteTable: 254 }), /routing table number other than default, main and local/);
  });
});
