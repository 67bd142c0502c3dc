/**
 * Run the generated differential cases against the real kernel and print what happened (no
 * engine involved): a quick way to look at kernel behaviour, to time the lab, and to dump
 * observations as JSON.
 *
 *   node dist/test/kernel/run-cases.js [--limit N] [--group kube|random|local] [--seed N]
 *        [--stat RUNS] [--nth RUNS] [--json FILE] [--verbose]
 *   node dist/test/kernel/run-cases.js --v6 [--count N] [--group kube6|filter6|nat6|local6|edge6] …
 *        (the IPv6 cases, in a lab with IPv6)
 *
 * Does nothing when imported or when `node --test` runs it as a file.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DiffCase, generateCases, generateCasesV6, generateNthCase, generateStatisticCases } from './generate.js';
import { type KernelLab, kernelLabAvailable, type Observation, withKernelLab } from './lab.js';

export interface CaseResult {
  readonly name: string;
  readonly group: DiffCase['group'];
  readonly observation?: Observation;
  readonly error?: string;
}

/** One-line summary of an observation: result, where it arrived and as what, NAT from conntrack. */
export function summarize(o: Observation): string {
  const recv = o.received.map((r) => `${r.at}:${r.localAddress}:${r.localPort}<-${r.remoteAddress}:${r.remotePort}`).join(',') || '-';
  const ct = o.conntrack.map((c) => `reply ${c.reply.src}:${c.reply.sport}->${c.reply.dst}:${c.reply.dport}${c.mark ? ` mark=0x${c.mark.toString(16)}` : ''}`).join(',') || 'no ct';
  return `${o.sent.padEnd(11)} ${recv} | ${ct}`;
}

/** Load each case and probe it once. */
export async function runCases(lab: KernelLab, cases: readonly DiffCase[], onResult?: (r: CaseResult) => void): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  for (const c of cases) {
    let r: CaseResult;
    try {
      if (c.rules6 !== undefined) await lab.loadRules(c.rules, c.rules6);
      else await lab.loadRules(c.rules);
      r = { name: c.name, group: c.group, observation: await lab.probe(c.probe) };
    } catch (e) {
      r = { name: c.name, group: c.group, error: (e as Error).message };
    }
    out.push(r);
    onResult?.(r);
  }
  return out;
}

/** Load a case once and probe it `runs` times; count where each probe was delivered. */
export async function distribution(lab: KernelLab, c: DiffCase, runs: number): Promise<Map<string, number>> {
  await lab.loadRules(c.rules);
  const counts = new Map<string, number>();
  for (let i = 0; i < runs; i++) {
    const o = await lab.probe(c.probe);
    const key = o.received.map((r) => `${r.localAddress}:${r.localPort}`).join(',') || o.sent;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const avail = kernelLabAvailable();
  if (!avail.ok) {
    console.log(`kernel lab not available: ${avail.reason}`);
    return;
  }
  const seed = arg('--seed') ? Number(arg('--seed')) : undefined;
  const v6 = process.argv.includes('--v6');
  const count = arg('--count') ? Number(arg('--count')) : undefined;
  let cases = v6
    ? generateCasesV6({ ...(seed !== undefined ? { seed } : {}), ...(count !== undefined ? { count } : {}) })
    : generateCases(seed !== undefined ? { seed } : {});
  const group = arg('--group');
  if (group) cases = cases.filter((c) => c.group === group);
  const limit = arg('--limit');
  if (limit) cases = cases.slice(0, Number(limit));
  const verbose = process.argv.includes('--verbose');
  const statRuns = Number(arg('--stat') ?? 0);
  const nthRuns = Number(arg('--nth') ?? 0);
  const jsonFile = arg('--json');

  await withKernelLab(
    async (lab) => {
      const t0 = Date.now();
      const tally = new Map<string, number>();
      const results = await runCases(lab, cases, (r) => {
        const key = r.error ? 'error' : r.observation!.sent;
        tally.set(key, (tally.get(key) ?? 0) + 1);
        if (r.error) console.log(`${r.name.padEnd(40)} ERROR ${r.error.split('\n')[0]}`);
        else if (verbose) console.log(`${r.name.padEnd(40)} ${String(r.observation!.ms).padStart(4)}ms ${summarize(r.observation!)}`);
      });
      const ms = Date.now() - t0;
      const delivered = results.filter((r) => r.observation?.received.length).length;
      console.log(
        `${results.length} cases in ${(ms / 1000).toFixed(1)} s (${(ms / Math.max(1, results.length)).toFixed(0)} ms/case incl. load); ` +
          `delivered ${delivered}; results ${JSON.stringify(Object.fromEntries(tally))}`,
      );
      if (statRuns > 0) {
        for (const c of generateStatisticCases()) {
          const t1 = Date.now();
          const d = await distribution(lab, c, statRuns);
          console.log(`${c.name.padEnd(28)} ${statRuns} runs in ${Date.now() - t1} ms: ${JSON.stringify(Object.fromEntries(d))}`);
        }
      }
      if (nthRuns > 0) {
        const c = generateNthCase(3);
        await lab.loadRules(c.rules);
        const seq: string[] = [];
        for (let i = 0; i < nthRuns; i++) {
          const o = await lab.probe(c.probe);
          seq.push(o.received.map((r) => r.localAddress.split('.')[3]).join('') || o.sent);
        }
        console.log(`${c.name}: endpoint sequence (last octet) ${seq.join(' ')}`);
      }
      if (jsonFile) writeFileSync(jsonFile, JSON.stringify(results, null, 1));
    },
    { name: 'runcases', ipv6: v6 },
  );
}

const invokedDirectly = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly && !process.env.NODE_TEST_CONTEXT) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
