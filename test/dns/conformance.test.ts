/**
 * Every run of ../shared/conformance/dns/observed.json (glibc 2.36 and musl 1.2.3 getaddrinfo,
 * Node's dns.lookup and dns.resolve4, from a pod-like namespace) replayed through the model
 * against the harness's own server rules: the same questions in the same order, the same socket
 * grouping and transport, the same result, and the same times to within the resolver's timeout
 * granularity.
 *
 * Two things the harness cannot see are left out of the comparison: the interleaving of queries to
 * different nameservers (each server logs from its own process), so the order is compared per
 * server; and the order of the addresses (getaddrinfo sorts them by RFC 6724 against the pod's
 * routes, which the model does not have), so addresses are compared as sets.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { caresResolve, glibcLookup, type LookupResult, muslLookup, type QueryLog } from '../../src/dns/index.js';
import { readConformance } from '../support/shared.js';
import { harnessTransport, harnessZone, type Observed, type ObservedQuery, type ObservedRun } from './harness.js';

const observed = readConformance<Observed>('dns/observed.json');
const zone = harnessZone();

function replay(run: ObservedRun): LookupResult {
  const transport = harnessTransport(zone, run.server_behaviour);
  const options = {
    family: run.family === 'inet' ? (4 as const) : run.family === 'inet6' ? (6 as const) : ('any' as const),
    addrconfig: run.ai_addrconfig,
    ipv6: !run.case.startsWith('ipv6-disabled'),
  };
  if (run.libc === 'glibc' || run.libc.startsWith('node(glibc')) return glibcLookup(run.resolv_conf, run.name, transport, options);
  if (run.libc === 'musl') return muslLookup(run.resolv_conf, run.name, transport, { ...options, version: observed.environment['musl']!.split('-')[0]! });
  if (run.libc === 'node(c-ares)') return caresResolve(run.resolv_conf, run.name, 'A', transport);
  throw new Error(`unknown client ${run.libc}`);
}

/** The run's result as an error name: getaddrinfo's return codes, or Node's error codes. */
function observedError(run: ObservedRun): string | null {
  const rc = run.result.rc;
  if (rc === 0) return null;
  if (typeof rc === 'string') return rc;
  return ({ [-2]: 'EAI_NONAME', [-3]: 'EAI_AGAIN', [-4]: 'EAI_FAIL', [-5]: 'EAI_NODATA' } as Record<number, string>)[rc] ?? `rc ${rc}`;
}

function modelError(run: ObservedRun, r: LookupResult): string | null {
  // Node's dns.lookup reports EAI_NONAME and EAI_NODATA as ENOTFOUND.
  if (run.libc.startsWith('node(glibc') && (r.error === 'EAI_NONAME' || r.error === 'EAI_NODATA')) return 'ENOTFOUND';
  return r.error;
}

/** Queries ordered by nameserver (stable), sockets renamed by first appearance. */
function shape<T>(queries: T[], server: (q: T) => string, socket: (q: T) => string, line: (q: T) => string): string[] {
  const servers = [...new Set(queries.map(server))];
  const ordered = [...queries].sort((a, b) => servers.indexOf(server(a)) - servers.indexOf(server(b)));
  const names = new Map<string, string>();
  return ordered.map((q) => {
    if (!names.has(socket(q))) names.set(socket(q), `s${names.size + 1}`);
    return `${server(q)} ${names.get(socket(q))} ${line(q)}`;
  });
}

/** The resolver's timeout granularity: glibc waits whole seconds, musl timeout/attempts. */
const TOLERANCE_MS = 50;

const results = { runs: 0, sequence: 0, sockets: 0, result: 0, timing: 0 };

for (const [i, run] of observed.results.entries()) {
  test(`observed run ${i}: ${run.libc} ${run.case} ${JSON.stringify(run.name)}`, () => {
    const r = replay(run);
    results.runs++;
    const o = run.queries;
    // Questions and transport per server, in order.
    const oShape = shape(o, (q: ObservedQuery) => q.server, (q) => q.socket, (q) => `${q.qname} ${q.qtype} ${q.proto}`);
    const mShape = shape(r.queries, (q: QueryLog) => q.server, (q) => q.socket, (q) => `${q.name} ${q.type} ${q.proto}`);
    const strip = (s: string[]) => s.map((l) => l.replace(/ s\d+ /, ' '));
    assert.deepEqual(strip(mShape), strip(oShape), 'questions');
    results.sequence++;
    assert.deepEqual(mShape, oShape, 'socket grouping');
    results.sockets++;
    // What the server did with each (the harness's rules, as a transport): its answer, or none.
    const oAnswers = shape(o, (q) => q.server, (q) => q.socket, (q) => (q.server_action === 'drop' ? 'lost' : q.server_action));
    assert.deepEqual(shape(r.queries, (q) => q.server, (q) => q.socket, (q) => q.answer), oAnswers, 'answers');
    assert.equal(modelError(run, r), observedError(run), 'result');
    assert.deepEqual([...r.addresses].sort(), [...run.result.addrs].sort(), 'addresses');
    results.result++;
    // Times: the total, and each query's send time relative to the first.
    assert.ok(Math.abs(r.time - run.result.ms) <= TOLERANCE_MS, `total time: model ${r.time} ms, observed ${run.result.ms} ms`);
    const t0 = o[0]?.dt_ms ?? 0;
    const oTimes = shape(o, (q) => q.server, (q) => q.socket, (q) => String(Math.round((q.dt_ms - t0) / 100) * 100));
    const mTimes = shape(r.queries, (q) => q.server, (q) => q.socket, (q) => String(Math.round(q.time / 100) * 100));
    assert.deepEqual(mTimes, oTimes, 'send times (to 100 ms)');
    results.timing++;
  });
}

test('conformance summary', () => {
  const n = observed.results.length;
  console.log(`dns conformance: ${results.runs}/${n} runs replayed; questions ${results.sequence}/${n}, sockets ${results.sockets}/${n}, results ${results.result}/${n}, timing ${results.timing}/${n}`);
  assert.equal(n, 76);
  assert.equal(results.timing, n);
});
