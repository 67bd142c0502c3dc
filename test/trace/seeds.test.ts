/**
 * Ground truth 3: the seeds. Each scenario of the source material is an example cluster under
 * examples/seeds/ with the results the seed reports (examples/seeds/expected/*.json); `kubepath
 * trace --json`, run as a user runs it, must give the same client addresses, ends, endpoints and
 * health check answers.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../support/shared.js';

const BIN = resolve(projectRoot, 'dist', 'src', 'cli', 'bin.js');
const EXPECTED = join(projectRoot, 'examples', 'seeds', 'expected');

interface Expectation {
  scenario: string;
  traces: {
    args: string[];
    expect: {
      clientAddresses: string[];
      dispositions: string[];
      endpoints?: string[];
      healthChecks?: { node: string; healthy: boolean; httpStatus?: number; localEndpoints?: number }[];
      /** The client IPs the application's strategy resolves, over the delivered branches. */
      clientIPs?: string[];
      /** Whether a client could have forged it (every delivered branch alike). */
      forgeable?: boolean;
      /** Header fields the application receives (every delivered branch), name → value; null: absent. */
      headers?: Record<string, string | null>;
      /** The PROXY header's source the application gets (`null`: none). */
      proxySource?: string | null;
      /** A finding's fix that must be offered. */
      fix?: string;
    };
    why: string;
  }[];
}

interface TraceJson {
  findings: { fix?: string }[];
  outcomes: {
    probability: number;
    disposition: string;
    endpoint: string | null;
    app: { client_address: string | null; client_ip?: string | null; forgeable?: boolean; headers?: [string, string][]; proxy_header?: { source: string } | null };
    steps: { state: string; healthChecks?: { node: string; healthy: boolean; httpStatus?: number; localEndpoints?: number }[] }[];
  }[];
}

const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();

let passed = 0;
let total = 0;
for (const file of readdirSync(EXPECTED).filter((f) => f.endsWith('.json')).sort()) {
  const dir = join('examples', 'seeds', file.replace(/\.json$/, ''));
  const spec = JSON.parse(readFileSync(join(EXPECTED, file), 'utf8')) as Expectation;
  test(`seed ${file.replace(/\.json$/, '')}: ${spec.scenario}`, () => {
    for (const t of spec.traces) {
      total++;
      const r = spawnSync(process.execPath, [BIN, 'trace', '-f', dir, ...t.args, '--json'], { cwd: projectRoot, encoding: 'utf8' });
      assert.equal(r.status, 0, `${t.args.join(' ')}: ${r.stderr}`);
      const out = JSON.parse(r.stdout) as TraceJson;
      const what = `${dir} ${t.args.join(' ')} (${t.why})`;
      const delivered = out.outcomes.filter((o) => o.disposition === 'deliver');
      assert.deepEqual(sorted(delivered.map((o) => o.app.client_address!)), sorted(t.expect.clientAddresses), `client addresses: ${what}`);
      assert.deepEqual(sorted(out.outcomes.map((o) => o.disposition)), sorted(t.expect.dispositions), `ends: ${what}`);
      if (t.expect.endpoints) assert.deepEqual(sorted(delivered.map((o) => o.endpoint!)), sorted(t.expect.endpoints), `endpoints: ${what}`);
      assert.ok(Math.abs(out.outcomes.reduce((a, o) => a + o.probability, 0) - 1) < 1e-9, `probabilities sum to 1: ${what}`);
      if (t.expect.healthChecks) {
        const hc = out.outcomes[0]!.steps.find((s) => s.state === 'APPLY_HEALTH_CHECK')?.healthChecks ?? [];
        for (const want of t.expect.healthChecks) {
          const got = hc.find((h) => h.node === want.node);
          assert.ok(got, `health check of ${want.node}: ${what}`);
          assert.equal(got.healthy, want.healthy, `${want.node} healthy: ${what}`);
          if (want.httpStatus !== undefined) assert.equal(got.httpStatus, want.httpStatus, `${want.node} HTTP status: ${what}`);
          if (want.localEndpoints !== undefined) assert.equal(got.localEndpoints, want.localEndpoints, `${want.node} local endpoints: ${what}`);
        }
      }
      if (t.expect.clientIPs) assert.deepEqual(sorted(delivered.map((o) => String(o.app.client_ip))), sorted(t.expect.clientIPs), `client IPs: ${what}`);
      if (t.expect.forgeable !== undefined) for (const o of delivered) assert.equal(o.app.forgeable, t.expect.forgeable, `forgeable: ${what}`);
      for (const [name, value] of Object.entries(t.expect.headers ?? {})) {
        for (const o of delivered) assert.deepEqual((o.app.headers ?? []).filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v), value === null ? [] : [value], `${name}: ${what}`);
      }
      if (t.expect.proxySource !== undefined) for (const o of delivered) assert.equal(o.app.proxy_header?.source ?? null, t.expect.proxySource, `PROXY source: ${what}`);
      if (t.expect.fix) assert.ok(out.findings.some((f) => f.fix === t.expect.fix), `fix ${t.expect.fix} offered: ${what}; got ${JSON.stringify(out.findings.map((f) => f.fix))}`);
      passed++;
    }
  });
}

test('seed traces: pass count', () => {
  console.log(`seed scenarios: ${passed} of ${total} traces as the seeds report`);
  assert.ok(total >= 20);
});
