/**
 * Seed 003's NetworkPolicy walk-through (examples/policy/seed-003), policy by policy as the seed
 * applies them, through the built CLI as a user runs it: each verdict the seed states.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../support/shared.js';

const BIN = resolve(projectRoot, 'dist', 'src', 'cli', 'bin.js');
const DIR = 'examples/policy/seed-003';

interface Verdict {
  allowed: boolean;
  connections: string;
  egress: { verdict: string; allowedBy?: { policy: string; rule: number } };
  ingress: { verdict: string; reason: string; allowedBy?: { policy: string; rule: number }; policies: { policy: string }[] };
}

function verdict(policies: string[], from: string, to: string, proto = 'tcp'): Verdict {
  const files = ['cluster.yaml', ...policies].flatMap((p) => ['-f', `${DIR}/${p}.yaml`.replace('.yaml.yaml', '.yaml')]);
  const r = spawnSync(process.execPath, [BIN, 'policy', ...files, '--from', from, '--to', to, '--proto', proto, '--json'], { cwd: projectRoot, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Verdict;
}

test('deny-all-ingress: curl 10.244.1.2 (dev) fails, curl 10.244.2.2 (prod, no policy) works', () => {
  const dev = verdict(['deny-all-ingress'], 'prod/pod1', '10.244.1.2:80');
  assert.equal(dev.allowed, false);
  assert.equal(dev.ingress.verdict, 'deny');
  assert.deepEqual(dev.ingress.policies.map((p) => p.policy), ['dev/deny-all-ingress']);
  assert.equal(verdict(['deny-all-ingress'], 'dev/client', 'dev/pod1:80').allowed, false, 'also from inside dev');
  assert.equal(verdict(['deny-all-ingress'], 'dev/pod1', '10.244.2.2:80').allowed, true, 'egress is not controlled, prod is not isolated');
});

test('allow-80-ingress: from 10.244.0.0/16 to TCP 80 and 443, except 10.244.1.2', () => {
  const both = ['deny-all-ingress', 'allow-80-ingress'];
  const v = verdict(both, 'prod/pod1', 'dev/pod1:80');
  assert.equal(v.allowed, true);
  assert.deepEqual(v.ingress.allowedBy, { policy: 'dev/allow-80-ingress', direction: 'ingress', rule: 0 });
  assert.equal(v.connections, 'TCP 80,443');
  assert.equal(verdict(both, 'prod/pod1', 'dev/pod1:443').allowed, true);
  assert.equal(verdict(both, 'prod/pod1', 'dev/pod1:8080').allowed, false, 'another port');
  assert.equal(verdict(both, 'prod/pod1', 'dev/pod1:80', 'udp').allowed, false, 'TCP only');
  const except = verdict(both, '10.244.1.2', 'dev/client:80');
  assert.equal(except.allowed, false, 'the except: 10.244.1.2 matches no rule (and dev/client is isolated by deny-all-ingress)');
  assert.equal(except.ingress.verdict, 'deny');
  assert.equal(verdict(both, '172.16.100.101', 'dev/pod1:80').allowed, false, 'the node is outside 10.244.0.0/16');
  assert.equal(verdict(both, 'dev/client', 'dev/pod1:80').allowed, true, '10.244.1.3 is in the block');
});

test('deny-all-egress in prod: nothing leaves prod, prod still answers', () => {
  assert.equal(verdict(['deny-all-egress'], 'prod/pod1', 'dev/pod1:80').egress.verdict, 'deny');
  assert.equal(verdict(['deny-all-egress'], 'prod/pod1', '8.8.8.8:53', 'udp').allowed, false);
  assert.equal(verdict(['deny-all-egress'], 'dev/pod1', 'prod/pod1:80').allowed, true);
});
