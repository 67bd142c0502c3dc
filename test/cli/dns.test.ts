/**
 * `kubepath dns` as a user runs it: seed 003's `host -v baidu.com` (every search domain tried, then
 * the name), its JSON, and one-line errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../support/shared.js';

const BIN = resolve(projectRoot, 'dist', 'src', 'cli', 'bin.js');
const SEED = 'examples/dns/seed-003';

function kubepath(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: projectRoot, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface DnsJson {
  queries: { name: string; type: string; socket: string; server: string; answer: string; time: number }[];
  result: { addresses: string[]; error: string | null };
  count: number;
  time: number;
  resolvConf: string;
  findings: { kind: string; message: string }[];
}

const json = (args: string[]): DnsJson => {
  const r = kubepath(['dns', '-f', SEED, ...args, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as DnsJson;
};

test("seed 003: host -v baidu.com from a ClusterFirst pod tries each search domain, localdomain from the node included, then baidu.com", () => {
  const out = json(['--pod', 'test/client', 'baidu.com']);
  const names = [...new Set(out.queries.map((q) => q.name))];
  assert.deepEqual(names, ['baidu.com.test.svc.cluster.local', 'baidu.com.svc.cluster.local', 'baidu.com.cluster.local', 'baidu.com.localdomain', 'baidu.com']);
  assert.equal(out.count, 10);
  assert.equal(out.result.error, null);
  assert.equal(out.result.addresses.length, 1);
  // A and AAAA of one name share a socket; each name has its own.
  for (const name of names) assert.equal(new Set(out.queries.filter((q) => q.name === name).map((q) => q.socket)).size, 1);
  assert.equal(new Set(out.queries.map((q) => q.socket)).size, 5);
  assert.match(out.resolvConf, /^search test\.svc\.cluster\.local svc\.cluster\.local cluster\.local localdomain$/m);
  assert.ok(out.findings.some((f) => f.kind === 'fqdn' && f.message.includes('"baidu.com."') && f.message.includes('2 queries')));
});

test('seed 003: "s" is found by the first search domain; s.test.svc.cluster.local (4 dots < ndots 5) only after the search list', () => {
  assert.equal(json(['--pod', 'test/client', 's']).count, 2);
  const full = json(['--pod', 'test/client', 's.test.svc.cluster.local']);
  assert.equal(full.queries.at(-1)!.name, 's.test.svc.cluster.local');
  assert.ok(full.count > 2);
  assert.equal(json(['--pod', 'test/client', 's.test.svc.cluster.local.']).count, 2);
});

test("seed 003's fix, ndots 2 with single-request-reopen: A and AAAA from different sockets; baidu.com (one dot) is still searched", () => {
  const out = json(['--pod', 'test/client-ndots2', 'baidu.com']);
  assert.equal(new Set(out.queries.map((q) => q.socket)).size, out.count);
  assert.equal(out.count, 10);
  assert.equal(json(['--pod', 'test/client-ndots2', 'www.baidu.com']).queries[0]!.name, 'www.baidu.com');
});

test('a lost reply: glibc waits 5 s, musl 2.5 s; the table shows it', () => {
  const g = json(['--pod', 'test/client', 's', '--lost-reply', '2']);
  assert.equal(g.time, 5000);
  assert.equal(g.queries[1]!.answer, 'lost');
  assert.equal(json(['--pod', 'test/client', 's', '--lost-reply', '2', '--libc', 'musl']).time, 2500);
  const text = kubepath(['dns', '-f', SEED, '--pod', 'test/client', 's', '--lost-reply', '2']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^#\s+NAME\s+TYPE\s+SOCKET\s+SERVER\s+TIME\s+ANSWER$/m);
  assert.match(text.stdout, /^2\s+s\.test\.svc\.cluster\.local\s+AAAA\s+s1\s+10\.96\.0\.10\s+0 ms\s+lost$/m);
  assert.match(text.stdout, /single-request-reopen/);
  assert.doesNotMatch(text.stdout, /\u001b\[/, 'no colour when not a TTY');
});

test('errors are one line naming what is wrong, exit 1', () => {
  const noPod = kubepath(['dns', '-f', SEED, '--pod', 'test/nope', 's']);
  assert.equal(noPod.code, 1);
  assert.match(noPod.stderr, /^kubepath: error: --pod: no pod test\/nope; the pods are test\/client, /);
  assert.equal(noPod.stderr.trim().split('\n').length, 1);
  const bad = kubepath(['dns', '-f', SEED, '--pod', 'test/client', 's', '--lost-reply', 'x']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--lost-reply: "x" is not a query number/);
  const noName = kubepath(['dns', '-f', SEED, '--pod', 'test/client']);
  assert.equal(noName.code, 1);
});
