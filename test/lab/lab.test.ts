/**
 * `kubepath lab` on the kernel (root): the built CLI run as a user runs it. `lab verify` holds
 * real connections against the trace on seed examples 01–07; bring-up and teardown leave no
 * namespace, link or process; a killed `lab up` is cleaned by `lab down`; bad manifests and a
 * foreign namespace stop `lab up` before it builds anything.
 *
 * Namespaces `kp-kpt…-…`; the state directory is a temporary one (KUBEPATH_LAB_DIR). Skipped
 * when not root on Linux or without ip/iptables.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { processAlive } from '../../src/lab/exec.js';
import { labNamespaces, processesIn } from '../../src/lab/namespaces.js';
import { kernelLabAvailable } from '../kernel/lab.js';
import { projectRoot } from '../support/shared.js';

const BIN = resolve(projectRoot, 'dist', 'src', 'cli', 'bin.js');
const SEEDS = join(projectRoot, 'examples', 'seeds');
const availability = kernelLabAvailable();
const skip = availability.ok ? false : `kernel lab unavailable: ${availability.reason}`;
const STATE = mkdtempSync(join(tmpdir(), 'kp-labtest-'));
const env = { ...process.env, NO_COLOR: '1', KUBEPATH_LAB_DIR: STATE };

function kubepath(args: string[], input?: string) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env, ...(input !== undefined ? { input } : {}), timeout: 120000 });
}

/** Nothing of the lab is left: namespaces, processes, state. */
function assertGone(lab: string, pids: readonly number[]): void {
  assert.deepEqual(labNamespaces(lab), [], `no kp-${lab}- namespace left`);
  assert.deepEqual(pids.filter((p) => processAlive(p)), [], 'no lab process left');
  assert.equal(existsSync(join(STATE, lab)), false, 'no state left');
}

function labPids(lab: string): number[] {
  return [...processesIn(labNamespaces(lab)).values()].flat();
}

describe('kubepath lab on the kernel', { skip, concurrency: 1 }, () => {
  after(() => {
    kubepath(['lab', 'down', '--all']);
    for (const n of readdirSync('/run/netns').filter((x) => /^kp-kpt[a-z0-9]*-/.test(x))) spawnSync('ip', ['netns', 'del', n]);
    rmSync(STATE, { recursive: true, force: true });
  });

  const seeds = readdirSync(SEEDS).filter((d) => /^0[1-7]-/.test(d)).sort();
  for (const seed of seeds) {
    test(`lab verify agrees with the trace: ${seed}`, () => {
      const r = kubepath(['lab', 'verify', '-f', join(SEEDS, seed), '--name', 'kptv', '--connections', '40', '--json']);
      assert.ok(r.status === 0 || r.status === 2, `lab verify exited ${r.status}: ${r.stderr}`);
      const doc = JSON.parse(r.stdout) as { ok: boolean; checks: { from: string; to: string; ok: boolean; predicted: Record<string, number>; observed: Record<string, number> }[] };
      const pids = labPids('kptv');
      assert.ok(pids.length > 0, 'the lab runs servers');
      try {
        assert.ok(doc.checks.length > 0, 'some checks');
        for (const c of doc.checks) {
          assert.ok(c.ok, `${c.from} → ${c.to}: predicted ${JSON.stringify(c.predicted)}, observed ${JSON.stringify(c.observed)}`);
          // Observed outcomes are what the echo server said (or how the connection ended), all among the predicted ones.
          for (const k of Object.keys(c.observed)) assert.ok(k in c.predicted, k);
        }
        assert.equal(doc.ok, true);
        assert.equal(r.status, 0, r.stderr);
      } finally {
        const d = kubepath(['lab', 'down', '--name', 'kptv']);
        assert.equal(d.status, 0, d.stderr);
      }
      assertGone('kptv', pids);
    });
  }

  test('lab up is idempotent per name; status and exec see the lab; down twice is fine', () => {
    const seed = join(SEEDS, '06-loadbalancer-local');
    const first = kubepath(['lab', 'up', '-f', seed, '--name', 'kpti', '--json']);
    assert.equal(first.status, 0, first.stderr);
    assert.equal(JSON.parse(first.stdout).already, false);
    const pids = labPids('kpti');
    try {
      const again = kubepath(['lab', 'up', '-f', seed, '--name', 'kpti', '--json']);
      assert.equal(again.status, 0, again.stderr);
      assert.equal(JSON.parse(again.stdout).already, true);
      assert.deepEqual(labPids('kpti').sort(), pids.sort(), 'the same processes');
      const status = kubepath(['lab', 'status', '--name', 'kpti']);
      assert.match(status.stdout, /kubepath echo :8080/);
      assert.doesNotMatch(status.stdout, /missing|stopped/);
      const saved = kubepath(['lab', 'exec', 'kubernetes-node-6jst', '--name', 'kpti', '--', 'iptables-save', '-t', 'nat']);
      assert.equal(saved.status, 0, saved.stderr);
      assert.match(saved.stdout, /KUBE-SERVICES/);
      const curl = kubepath(['lab', 'curl', '--name', 'kpti', '--from', 'client', '--to', 'lb/default/loadbalancer', '--count', '5', '--json']);
      assert.equal(curl.status, 0, curl.stderr);
      const c = JSON.parse(curl.stdout) as { predicted: Record<string, number>; observed: Record<string, number>; echo: { client_address: string } };
      assert.deepEqual(Object.keys(c.observed), Object.keys(c.predicted));
      assert.equal(c.echo.client_address, Object.keys(c.observed)[0]);
    } finally {
      assert.equal(kubepath(['lab', 'down', '--name', 'kpti']).status, 0);
    }
    assertGone('kpti', pids);
    const twice = kubepath(['lab', 'down', '--name', 'kpti']);
    assert.equal(twice.status, 0);
    assert.match(twice.stdout, /nothing to remove/);
  });

  test('a killed lab up is cleaned by lab down', async () => {
    const child = spawn(process.execPath, [BIN, 'lab', 'up', '-f', join(SEEDS, '05-loadbalancer-cluster'), '--name', 'kptk'], { env, stdio: 'ignore' });
    // Kill it once it has made namespaces (mid-build).
    const until = Date.now() + 10000;
    while (labNamespaces('kptk').length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 150));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.ok(labNamespaces('kptk').length > 0, 'it left namespaces behind');
    const pids = labPids('kptk');
    const d = kubepath(['lab', 'down', '--name', 'kptk']);
    assert.equal(d.status, 0, d.stderr);
    assertGone('kptk', pids);
  });

  test('bad manifests fail before anything is built; a foreign namespace of the same name is refused', () => {
    const r = kubepath(['lab', 'up', '-f', '-', '--name', 'kptb'], 'apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: 99999}]}\n');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^kubepath: error: /);
    assert.deepEqual(labNamespaces('kptb'), []);
    assert.equal(existsSync(join(STATE, 'kptb')), false);

    spawnSync('ip', ['netns', 'add', 'kp-kptf-router']);
    try {
      const f = kubepath(['lab', 'up', '-f', join(SEEDS, '03-nodeport-cluster'), '--name', 'kptf']);
      assert.equal(f.status, 1);
      assert.match(f.stderr, /kp-kptf-router exists and lab "kptf" did not make it/);
      assert.deepEqual(labNamespaces('kptf'), ['kp-kptf-router'], 'nothing else made, the foreign one kept');
    } finally {
      spawnSync('ip', ['netns', 'del', 'kp-kptf-router']);
    }
  });
});
