/**
 * `kubepath demo`: the seeds' scenarios on a built-in three-node cluster, in two tables —
 * through kube-proxy, then across proxies — scenario, path, what the app sees, why.
 *
 * @module
 */
import { type Cluster, loadCluster, parsePatch } from '../cluster/index.js';
import { headerValues } from '../edge/request.js';
import { percent, type Style, styleFor, table } from '../report/style.js';
import type { ConnectionOutcome } from '../trace/connection.js';
import { traceFromPlan } from '../trace/listeners.js';
import { planJourney } from '../trace/plan.js';
import { buildWorld, type World } from '../trace/world.js';
import { DEMO_CLUSTER, DEMO_PROXY_SCENARIOS, DEMO_SCENARIOS, type DemoScenario } from './demo-cluster.js';
import { EXIT } from './errors.js';
import { requestHead } from './trace.js';

const SOURCE = '(built-in demo cluster)';
const SHOWN_NAT = /^(DNAT|MASQUERADE|SNAT|REDIRECT)/;

/** `user → LB → node-2 [DNAT, SNAT] → node-1 → echo`; a host met twice in a row is drawn once. */
function shortPath(o: ConnectionOutcome): string {
  const parts: { name: string; nat: string[] }[] = [];
  for (const h of o.path) {
    if (h.at === 'router') continue;
    const name = h.at.startsWith('lb/') ? 'LB' : h.at.split('/').pop()!;
    const nat = h.nat.filter((n) => SHOWN_NAT.test(n)).map((n) => (n.startsWith('MASQUERADE') ? 'SNAT' : n.split(' ')[0]!));
    const last = parts[parts.length - 1];
    if (last?.name === name) last.nat.push(...nat.filter((n) => !last.nat.includes(n)));
    else parts.push({ name, nat });
  }
  const end = o.endpoint?.split('/').pop();
  if (end && parts[parts.length - 1]?.name !== end) parts.push({ name: end, nat: [] });
  return parts.map((p) => (p.nat.length ? `${p.name} [${p.nat.join(', ')}]` : p.name)).join(' → ');
}

function forwardedFor(o: ConnectionOutcome): string | undefined {
  const values = headerValues(o.app.headers ?? [], 'X-Forwarded-For');
  return values.length > 0 ? values.join(', ') : undefined;
}

const masqueraded = (o: ConnectionOutcome) => o.path.some((h) => h.nat.some((n) => n.startsWith('MASQUERADE')));

/** `ingress-nginx pod/ingress-nginx/nginx` → `ingress-nginx`; `Envoy "gw" in pod/…` → `Envoy "gw"`. */
const hopName = (name: string) => name.replace(/ (in )?pod\/\S+$/, '');

/** `forged`: the X-Forwarded-For the client sent itself, if any. */
function why(o: ConnectionOutcome, client: string, forged?: string): string {
  if (o.disposition !== 'deliver') return /has no local endpoints/.test(o.steps.map((s) => s.detail).join('\n')) ? 'dropped: no local endpoint (Local)' : `${o.disposition}: ${o.reason}`;
  const sidecar = o.hops.find((h) => /^istio-proxy \((REDIRECT|TPROXY)\)/.test(h.name));
  if (o.app.client_address === client) return sidecar ? 'TPROXY: the sidecar connects from the caller\'s address' : 'client address kept';
  if (o.hops.length === 0) return masqueraded(o) ? 'masqueraded by kube-proxy (Cluster)' : 'rewritten on the way';
  const xff = forwardedFor(o);
  const opener = [...o.hops].reverse().find((h) => h !== sidecar && !h.name.startsWith('istio-proxy'));
  const peer = sidecar && sidecar.name.includes('REDIRECT') ? 'the sidecar (REDIRECT) connects from 127.0.0.6' : `${opener ? hopName(opener.name) : 'a proxy'} opened a new connection`;
  if (forged !== undefined && xff?.split(/,\s*/).includes(forged) && !xff.split(/,\s*/).includes(client)) {
    const believer = o.hops.find((h) => h.clientAddress === forged);
    return `${believer ? hopName(believer.name) : 'a proxy'} believed the X-Forwarded-For the client wrote itself (forged)`;
  }
  if (xff?.split(/,\s*/).includes(client)) return `${peer}; the client travels in X-Forwarded-For`;
  if (xff !== undefined) return `${peer}; it saw a masqueraded address (Cluster) and wrote that`;
  return peer;
}

/** The X-Forwarded-For value a scenario's client sends itself. */
function forgedOf(s: DemoScenario): string | undefined {
  const h = s.headers?.find((x) => /^x-forwarded-for\s*:/i.test(x));
  return h?.slice(h.indexOf(':') + 1).trim();
}

interface Row {
  scenario: DemoScenario;
  from: string;
  to: string;
  client: string;
  outcomes: ConnectionOutcome[];
}

/** Trace each scenario; what-ifs load the demo cluster again with their patches. */
function traceAll(scenarios: readonly DemoScenario[], base: World): Row[] {
  return scenarios.map((s) => {
    const world = s.set?.length ? buildWorld(loadCluster([{ file: SOURCE, text: DEMO_CLUSTER }], { patches: s.set.map(parsePatch) })) : base;
    const plan = planJourney(world, { from: s.from, to: s.to, via: s.via });
    const outcomes = traceFromPlan(world, plan, { http: requestHead(plan, { host: s.host, header: s.headers }) });
    return { scenario: s, from: plan.from, to: plan.to, client: plan.clientAddress, outcomes };
  });
}

function render(rows: readonly Row[], style: Style, withHeaders: boolean): string {
  const lines: string[][] = [['SCENARIO', 'PATH', 'APP SEES', ...(withHeaders ? ['X-FORWARDED-FOR'] : []), 'WHY'].map(style.dim)];
  for (const r of rows) {
    r.outcomes.forEach((o, i) => {
      const share = r.outcomes.length > 1 ? ` (${percent(o.probability)})` : '';
      const sees = o.disposition === 'deliver' ? (o.app.client_address === r.client ? style.green(o.app.client_address!) : style.yellow(o.app.client_address!)) : style.red('-');
      const xff = forwardedFor(o);
      const forged = forgedOf(r.scenario);
      const xffCell = xff === undefined ? style.dim('-') : forged !== undefined && xff.split(/,\s*/).includes(forged) ? style.red(xff) : xff.split(/,\s*/).includes(r.client) ? style.green(xff) : style.yellow(xff);
      lines.push([i === 0 ? r.scenario.name : '', shortPath(o), `${sees}${share}`, ...(withHeaders ? [xffCell] : []), why(o, r.client, forgedOf(r.scenario))]);
    });
  }
  return table(lines, style);
}

export function runDemo(flags: { json?: boolean }, stdout: NodeJS.WritableStream & { isTTY?: boolean }): number {
  const cluster: Cluster = loadCluster([{ file: SOURCE, text: DEMO_CLUSTER }]);
  const world = buildWorld(cluster);
  const direct = traceAll(DEMO_SCENARIOS, world);
  const proxied = traceAll(DEMO_PROXY_SCENARIOS, world);
  if (flags.json) {
    const doc = [...direct, ...proxied].map((r) => ({
      scenario: r.scenario.name,
      from: r.from,
      to: r.to,
      ...(r.scenario.set ? { set: r.scenario.set } : {}),
      ...(r.scenario.headers ? { headers: r.scenario.headers } : {}),
      outcomes: r.outcomes.map((o) => ({
        probability: o.probability,
        disposition: o.disposition,
        endpoint: o.endpoint,
        app: o.app,
        hops: o.hops.map((h) => h.name),
        path: shortPath(o),
        why: why(o, r.client, forgedOf(r.scenario)),
      })),
    }));
    stdout.write(JSON.stringify(doc, null, 2) + '\n');
    return EXIT.ok;
  }
  const style = styleFor(stdout);
  stdout.write(
    `${style.bold('kubepath demo')}: the client ${direct[2]!.client} (outside) and pod demo/client (node-3) call the echo server on node-1 (10.180.0.x)\n\n` +
      render(direct, style, false) +
      `\n\n${style.bold('across proxies')}: each proxy ends the connection and opens its own; the client's address survives only in a header, a PROXY header, or by TPROXY\n\n` +
      render(proxied, style, true) +
      `\n\nEach row is a real trace through the rules kube-proxy and istio-iptables would write and the proxies' own behaviour:\nkubepath trace -f <manifests> --from … --to … shows one hop by hop.\n`,
  );
  return EXIT.ok;
}
