/**
 * `kubepath demo`: the seeds' scenarios on a built-in three-node cluster, in one table —
 * scenario, path, what the app sees, why.
 *
 * @module
 */
import { loadCluster } from '../cluster/index.js';
import { percent, styleFor, table } from '../report/style.js';
import { groupOutcomes } from '../trace/findings.js';
import { type JourneyOutcome, traceJourney } from '../trace/journey.js';
import { planJourney } from '../trace/plan.js';
import { buildWorld } from '../trace/world.js';
import { DEMO_CLUSTER, DEMO_SCENARIOS } from './demo-cluster.js';
import { EXIT } from './errors.js';

/** `client → LB → node-2 [DNAT, SNAT] → node-1 → echo` */
function shortPath(o: JourneyOutcome): string {
  const parts: string[] = [];
  for (const h of o.path) {
    if (h.at === 'router') continue;
    const name = h.at.startsWith('lb/') ? 'LB' : h.at.split('/').pop()!;
    const nat = h.nat.filter((n) => /^(DNAT|MASQUERADE|SNAT)/.test(n)).map((n) => (n.startsWith('MASQUERADE') ? 'SNAT' : n.split(' ')[0]!));
    parts.push(nat.length ? `${name} [${nat.join(', ')}]` : name);
  }
  if (o.endpoint && !o.path.some((h) => h.at === o.endpoint)) parts.push(o.endpoint.split('/').pop()!);
  return parts.join(' → ');
}

function why(o: JourneyOutcome, client: string): string {
  if (o.disposition !== 'deliver') return /has no local endpoints/.test(o.steps.map((s) => s.detail).join('\n')) ? 'dropped: no local endpoint (Local)' : `${o.disposition}: ${o.reason}`;
  if (o.app.client_address === client) return 'client address kept';
  const masq = o.path.some((h) => h.nat.some((n) => n.startsWith('MASQUERADE')));
  return masq ? 'masqueraded by kube-proxy (Cluster)' : 'rewritten on the way';
}

export function runDemo(flags: { json?: boolean }, stdout: NodeJS.WritableStream & { isTTY?: boolean }): number {
  const world = buildWorld(loadCluster([{ file: '(built-in demo cluster)', text: DEMO_CLUSTER }]));
  const rows = DEMO_SCENARIOS.map((s) => {
    const plan = planJourney(world, { from: s.from, to: s.to, via: s.via });
    const outcomes = traceJourney(plan.input);
    const client = plan.clientAddress;
    return { scenario: s.name, from: plan.from, to: plan.to, outcomes, groups: groupOutcomes(outcomes), client };
  });
  if (flags.json) {
    const doc = rows.map((r) => ({
      scenario: r.scenario,
      from: r.from,
      to: r.to,
      outcomes: r.outcomes.map((o) => ({ probability: o.probability, disposition: o.disposition, endpoint: o.endpoint, app: o.app, path: shortPath(o), why: why(o, r.client) })),
    }));
    stdout.write(JSON.stringify(doc, null, 2) + '\n');
    return EXIT.ok;
  }
  const style = styleFor(stdout);
  const lines: string[][] = [['SCENARIO', 'PATH', 'APP SEES', 'WHY'].map(style.dim)];
  for (const r of rows) {
    r.outcomes.forEach((o, i) => {
      const share = r.outcomes.length > 1 ? ` (${percent(o.probability)})` : '';
      const sees = o.disposition === 'deliver' ? (o.app.client_address === r.client ? style.green(o.app.client_address!) : style.yellow(o.app.client_address!)) : style.red('-');
      lines.push([i === 0 ? r.scenario : '', shortPath(o), `${sees}${share}`, why(o, r.client)]);
    });
  }
  stdout.write(
    `${style.bold('kubepath demo')}: the client ${rows[2]!.client} (outside) and pod demo/client (node-3) call the echo server on node-1 (10.180.0.x)\n\n` +
      table(lines, style) +
      `\n\nEach row is a real trace through the rules kube-proxy would write: kubepath trace -f <manifests> --from … --to … shows one hop by hop.\n`,
  );
  return EXIT.ok;
}
