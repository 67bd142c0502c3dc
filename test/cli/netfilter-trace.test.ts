/**
 * `kubepath netfilter trace` as a user runs it: the built binary, its output, its exit codes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../support/shared.js';

const BIN = resolve(projectRoot, 'dist', 'src', 'cli', 'bin.js');
const EXAMPLE = ['--rules', 'examples/kube-proxy-node.rules', '--host', 'examples/kube-proxy-node.host.json'];

function kubepath(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: projectRoot, input, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the README example: a NodePort connection fans out to three endpoints, masqueraded', () => {
  const r = kubepath(['netfilter', 'trace', ...EXAMPLE, '--in-iface', 'eth0', '--src', '203.0.113.7:51000', '--dst', '192.168.0.2:30080', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const trace = JSON.parse(r.stdout) as { outcomes: { probability: number; disposition: string; packet: { src: string; dst: string } }[] };
  assert.deepEqual(
    trace.outcomes.map((o) => [o.disposition, o.packet.src, o.packet.dst]),
    [
      ['forward', '10.244.1.1:51000', '10.244.1.5:8080'],
      ['forward', '192.168.0.2:51000', '10.244.2.7:8080'],
      ['forward', '192.168.0.2:51000', '10.244.3.9:8080'],
    ],
  );
  assert.ok(Math.abs(trace.outcomes.reduce((a, o) => a + o.probability, 0) - 1) < 1e-12);
});

test('human output names the rules, the NAT and the outcomes', () => {
  const r = kubepath(['netfilter', 'trace', ...EXAMPLE, '--in-iface', 'eth0', '--src', '203.0.113.7:51000', '--dst', '192.168.0.2:30080']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /KUBE-NODEPORTS #1 .*--dport 30080/);
  assert.match(r.stdout, /DNAT: 203\.0\.113\.7:51000 -> 192\.168\.0\.2:30080 => 203\.0\.113\.7:51000 -> 10\.244\.1\.5:8080/);
  assert.match(r.stdout, /33\.3%\s+forward\s+10\.244\.1\.1:51000 -> 10\.244\.1\.5:8080/);
  assert.doesNotMatch(r.stdout, /\u001b\[/, 'no colour when not a terminal');
});

test('externalTrafficPolicy Local without local endpoints: the LB packet is dropped by KUBE-EXTERNAL-SERVICES', () => {
  const r = kubepath(['netfilter', 'trace', ...EXAMPLE, '--in-iface', 'eth0', '--src', '203.0.113.7', '--dst', '203.0.113.50:80', '--json']);
  assert.equal(r.code, 0);
  const o = JSON.parse(r.stdout).outcomes;
  assert.equal(o.length, 1);
  assert.equal(o[0].disposition, 'drop');
  assert.equal(o[0].verdictRule.chain, 'KUBE-EXTERNAL-SERVICES');
});

test('--reply shows the reply un-NATed back to the client', () => {
  const r = kubepath(['netfilter', 'trace', ...EXAMPLE, '--in-iface', 'cni0', '--src', '10.244.1.9:40000', '--dst', '10.96.0.1:443', '--reply', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout).outcomes[0];
  assert.equal(o.packet.dst, '192.168.0.10:6443');
  assert.equal(o.reply.outcomes[0].packet.src, '10.96.0.1:443');
  assert.equal(o.reply.outcomes[0].packet.dst, '10.244.1.9:40000');
});

test('--conntrack: a packet of an existing connection follows its entry, not the statistic rules', () => {
  const ct = [
    'tcp      6 86391 ESTABLISHED src=10.244.1.9 dst=10.96.12.34 sport=40000 dport=80 src=10.244.3.9 dst=10.244.1.9 sport=8080 dport=40000 [ASSURED] mark=0 use=1',
    'conntrack v1.4.7 (conntrack-tools): 1 flow entries have been shown.',
  ].join('\n');
  const dir = mkdtempSync(join(tmpdir(), 'kubepath-'));
  try {
    const file = join(dir, 'ct.txt');
    writeFileSync(file, ct);
    const r = kubepath(['netfilter', 'trace', ...EXAMPLE, '--in-iface', 'cni0', '--src', '10.244.1.9:40000', '--dst', '10.96.12.34:80', '--tcp-flags', 'ACK', '--conntrack', file, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const outcomes = JSON.parse(r.stdout).outcomes;
    assert.equal(outcomes.length, 1);
    assert.equal(outcomes[0].packet.dst, '10.244.3.9:8080');
    writeFileSync(file, 'tcp 6 10 src=10.0.0.1 dst=nope\n');
    const bad = kubepath(['netfilter', 'trace', ...EXAMPLE, '--in-iface', 'cni0', '--src', '10.244.1.9:40000', '--dst', '10.96.12.34:80', '--conntrack', file]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /ct\.txt:1: /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rules from stdin; a locally generated packet', () => {
  const rules = '*nat\n-A OUTPUT -p udp -d 10.96.0.10 --dport 53 -j DNAT --to-destination 10.244.1.3:53\nCOMMIT\n';
  const r = kubepath(['netfilter', 'trace', '--rules', '-', '--local-ip', '10.244.1.1/24@cni0', '--local-ip', '192.168.0.2/24@eth0', '--route', 'default via 192.168.0.1 dev eth0', '--local-out', '--proto', 'udp', '--src', '10.244.1.1:5353', '--dst', '10.96.0.10:53', '--json'], rules);
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout).outcomes[0];
  assert.equal(o.disposition, 'forward');
  assert.equal(o.outInterface, 'cni0');
  assert.equal(o.packet.dst, '10.244.1.3:53');
});

test('bad input: one clear line naming the file and line, exit 1, no stack trace', () => {
  const cases: [string[], string | undefined, RegExp][] = [
    [['--rules', 'missing.rules', '--in-iface', 'eth0', '--src', '1.2.3.4', '--dst', '10.0.0.1:80'], undefined, /cannot read rules "missing\.rules": no such file/],
    [['--rules', '-', '--in-iface', 'eth0', '--src', '1.2.3.4', '--dst', '10.0.0.1:80'], '*nat\n-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 10.0.0.1:8080\n', /^kubepath: error: -:3: table "nat" is not closed with COMMIT/],
    [['--rules', '-', '--in-iface', 'eth0', '--src', '1.2.3.4', '--dst', '10.0.0.1:80'], '*filter\n-A FORWARD -j NOPE\nCOMMIT\n', /-:2: -j NOPE: no chain "NOPE"/],
    [['--rules', '-', '--in-iface', 'eth0', '--src', '012.0.0.5', '--dst', '10.0.0.1:80'], '*filter\nCOMMIT\n', /--src: "012\.0\.0\.5" is not an IP address/],
    [['--rules', '-', '--in-iface', 'eth0', '--src', '1.2.3.4', '--dst', '10.0.0.1'], '*filter\nCOMMIT\n', /tcp needs a port/],
    [['--rules', '-', '--src', '1.2.3.4', '--dst', '10.0.0.1:80'], '*filter\nCOMMIT\n', /--in-iface IF .* or --local-out/],
    [['--rules', '-', '--in-iface', 'eth0', '--src', '1.2.3.4', '--dst', '10.0.0.1:80', '--strict'], '*filter\n-A INPUT -m hashlimit --hashlimit-above 1/sec -j DROP\nCOMMIT\n', /-:2: match extension "hashlimit" is not modelled/],
    [['--rules', '-', '--in-iface', 'eth0', '--src', '1.2.3.4', '--dst', '10.0.0.1:80', '--route', '10.0.0.0/8 via 1.2.3.4.5 dev eth0'], '*filter\nCOMMIT\n', /route "10\.0\.0\.0\/8 via 1\.2\.3\.4\.5 dev eth0"/],
    [['--rules', '-', '--in-iface', 'eth0', '--src', '1.2.3.4', '--dst', '10.0.0.1:80'], 'apiVersion: v1\nkind: Service\n', /-:1: "apiVersion: v1" is outside a table/],
    [['--rules', '-', '--in-iface', 'eth0', '--src', '1.2.3.4', '--dst', '10.0.0.1:80'], '\u0001\u0002 junk\n', /-:1: "\\x01\\x02 junk" is outside a table/],
    [['--rules', '-', '--in-iface', 'eth0', '--src', '1.2.3.4', '--dst', '10.0.0.1:80'], '*filter\n\u0000\n', /-:2: a NUL byte/],
  ];
  for (const [args, input, message] of cases) {
    const r = kubepath(['netfilter', 'trace', ...args], input);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('undetermined: exit 2, with the reason, and a warning naming the rule', () => {
  const r = kubepath(['netfilter', 'trace', '--rules', '-', '--local-ip', '10.0.0.9/24@eth0', '--in-iface', 'eth0', '--src', '1.2.3.4', '--dst', '10.0.0.9:80', '--json'], '*filter\n-A INPUT -p tcp -m hashlimit --hashlimit-above 1/sec -j DROP\nCOMMIT\n');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /-:2: -m hashlimit not modelled/);
  const o = JSON.parse(r.stdout).outcomes[0];
  assert.equal(o.disposition, 'undetermined');
  assert.match(o.reason, /hashlimit/);
});

test('--help documents the flags and exit codes', () => {
  const r = kubepath(['netfilter', 'trace', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /--in-iface/);
  assert.match(r.stdout, /Exit codes: 0 traced, 1 bad input, 2 undetermined/);
});
