/**
 * The lab held against the trace: for a client and a target (the syntax of `kubepath trace`),
 * what the trace predicts (the client addresses the app sees, drops and rejects, with their
 * probabilities: planJourney + traceFromPlan, as the CLI's trace runs them) and what real
 * connections in the lab got (the echo server's `client_address`, or the connection refused or
 * timed out), share against probability.
 *
 * An outcome is the client address the app saw, with the PROXY header's source and the
 * X-Forwarded-For it received when there are any (outcome.ts). A check through a hop the lab does
 * not build (an Istio sidecar, ingress-nginx, a load balancer it cannot realize) is skipped, with
 * the reason: no connection is sent and it is not counted as agreeing.
 *
 * A deterministic outcome (probability 1) must be what every connection got; a share of a
 * random choice (kube-proxy's or the load balancer's `statistic --mode random`) must lie within
 * four standard deviations of a binomial with the predicted probability (a false alarm about once
 * in 16,000 outcomes); an outcome the trace does not predict at all fails the check.
 *
 * @module
 */
import type { HttpRequestHead } from '../edge/request.js';
import { formatIP } from '../net/index.js';
import { traceFromPlan } from '../trace/listeners.js';
import { planJourney } from '../trace/plan.js';
import type { World } from '../trace/world.js';
import { ingressControllers } from './ingress-nginx.js';
import { outcomeKey } from './outcome.js';
import { runAgent } from './processes.js';
import type { LabPlan } from './topology.js';

/** What a connection ends as: what the app saw (outcome.ts), or `(refused)` (reject), `(closed)` (accepted, then closed without an answer), `(HTTP 503)` (a proxy's error answer), `(timeout)` (drop), `(undetermined)`. */
export type OutcomeKey = string;

export interface LabCheck {
  /** `--from` and `--to` as `kubepath trace` takes them. */
  from: string;
  to: string;
  /** What kind of way in it is, for the table. */
  way: 'pod → pod' | 'pod → ClusterIP' | 'external → NodePort' | 'external → LB';
  /** The lab does not build this way in (or a hop on it): no connection is sent, the check is marked skipped. */
  skip?: string;
  /** The request's Host header (an Ingress rule's host, so that ingress-nginx routes it to an app); default the trace's. */
  host?: string;
}

export interface Prediction {
  /** Namespace the connection starts in, its source address, and where it goes. */
  ns: string;
  source: string;
  address: string;
  port: number;
  outcomes: Record<OutcomeKey, number>;
  /** A hop the trace passes through that the lab does not build: the check is skipped, with this reason. */
  unbuilt?: string;
  /** The Host header to send, when not the default. */
  host?: string;
}

export interface CheckResult {
  from: string;
  to: string;
  way: LabCheck['way'];
  ok: boolean;
  /** Why no connection was sent (the lab does not build this way in); such a check neither passes nor fails. */
  skipped?: string;
  connections: number;
  /** Outcome → probability (the trace). */
  predicted: Record<OutcomeKey, number>;
  /** Outcome → share of the connections (the lab). */
  observed: Record<OutcomeKey, number>;
  /** Why it failed, one sentence per outcome. */
  problems: string[];
}

/** The checks of a lab: pods (the first on each node) to every pod and ClusterIP; every external client to each node's NodePorts and to each load balancer. */
export function checksOf(world: World, plan: LabPlan): LabCheck[] {
  const checks: LabCheck[] = [];
  const echo = plan.servers.flatMap((s) => (s.kind === 'echo' ? [s] : []));
  const podClients: string[] = [];
  const seen = new Set<string>();
  for (const n of plan.namespaces) {
    if (n.role !== 'pod') continue;
    const node = world.podAt(n.id)?.spec.nodeName;
    // Pods with a sidecar are clients too (their outbound capture is a way out of its own).
    if (node && seen.has(node) && !plan.servers.some((x) => x.kind === 'sidecar' && x.id === n.id)) continue;
    if (node) seen.add(node);
    podClients.push(n.id);
  }
  for (const from of podClients) for (const s of echo) if (s.id !== from) checks.push({ from, to: `${s.id}:${s.ports[0]}`, way: 'pod → pod' });
  for (const svc of world.cluster.services) {
    const ns = svc.metadata.namespace ?? 'default';
    const ports = (svc.spec.ports ?? []).filter((p) => (p.protocol ?? 'TCP') === 'TCP');
    const hasClusterIP = svc.spec.clusterIP && svc.spec.clusterIP !== 'None' && svc.spec.type !== 'ExternalName';
    for (const p of ports) {
      const ref = `${ns}/${svc.metadata.name}:${p.name ?? p.port}`;
      if (hasClusterIP) for (const from of podClients) checks.push({ from, to: `svc/${ref}`, way: 'pod → ClusterIP' });
      if (p.nodePort) for (const c of plan.clients) for (const node of world.cluster.nodes) checks.push({ from: clientRef(world, c.name, c.address), to: `nodeport/${node.name}/${p.nodePort}`, way: 'external → NodePort' });
    }
  }
  for (const v of [...(plan.loadBalancer?.vips ?? []), ...(plan.loadBalancer?.proxies ?? [])]) for (const c of plan.clients) checks.push({ from: clientRef(world, c.name, c.address), to: v.service, way: 'external → LB' });
  // With ingress-nginx built, requests from outside name an Ingress host, so that nginx routes them to an app (pods → ClusterIP keep the trace's Host: the catch-all server).
  const host = plan.servers.some((x) => x.kind === 'nginx') ? ingressHost(world) : undefined;
  if (host) for (const c of checks) if (c.way === 'external → LB' || c.way === 'external → NodePort') c.host = host;
  for (const u of plan.unbuilt ?? []) if (u.target.startsWith('lb/')) for (const c of plan.clients) checks.push({ from: clientRef(world, c.name, c.address), to: u.target, way: 'external → LB', skip: u.reason });
  return checks;
}

/** The first plain host of the Ingress rules ingress-nginx serves. */
function ingressHost(world: World): string | undefined {
  for (const { table } of ingressControllers(world).values()) {
    const server = table.servers.find((x) => x.hostname !== '_' && !x.hostname.startsWith('*'));
    if (server) return server.hostname;
  }
  return undefined;
}

function clientRef(world: World, name: string, address: string): string {
  return world.cluster.externalClients.some((c) => c.name === name) ? name : `external:${address}`;
}

/** What the trace predicts for a check, and where the lab sends from. */
export function predict(world: World, plan: LabPlan, check: { from: string; to: string; host?: string | undefined }): Prediction {
  const jp = planJourney(world, { from: check.from, to: check.to });
  const host = check.host ?? jp.httpHost;
  const http: HttpRequestHead = { method: 'GET', host, path: '/', scheme: 'http', headers: [['Host', host]] };
  const outcomes: Record<OutcomeKey, number> = {};
  // Hops the lab builds, by the trace's `at` (a load balancer hop is at `lb/NS/NAME`; ingress-nginx at its pod, on its HTTP port only).
  // `undefined`: any port (a load balancer, a sidecar); else the ports built (nginx's HTTP port, a proxy's).
  const built = new Map<string, number[] | undefined>((plan.loadBalancer?.proxies ?? []).map((p) => [p.service.replace(/:[^:/]+$/, ''), undefined]));
  for (const x of plan.servers) if (x.kind === 'sidecar') built.set(x.id, undefined);
  for (const x of plan.servers) if (x.kind === 'nginx' || x.kind === 'haproxy') built.set(x.id, [...(built.get(x.id) ?? []), x.port]);
  const isBuilt = (at: string, detail: string) => built.has(at) && (built.get(at) === undefined || built.get(at)!.includes(Number(/ on \S*:(\d+)$/.exec(detail)?.[1])));
  let unbuilt: string | undefined;
  for (const o of traceFromPlan(world, jp, { http })) {
    const app = o.app;
    const key =
      o.disposition === 'deliver'
        ? outcomeKey({ clientAddress: app.client_address, proxy: app.proxy_header ?? undefined, headers: app.headers })
        : o.disposition === 'reject'
          ? /\banswers (\d{3})\b/.test(o.reason)
            ? `(HTTP ${/\banswers (\d{3})\b/.exec(o.reason)![1]})` // a proxy answered with an error status
            : o.socket
              ? '(closed)' // the app's listener (or a proxy) took the connection and closed it (a PROXY header missing or not read)
              : '(refused)'
          : o.disposition === 'drop'
            ? '(timeout)'
            : '(undetermined)';
    outcomes[key] = (outcomes[key] ?? 0) + o.probability;
    // Every proxy the connection reaches (also one that refuses it, which leaves no hop record).
    const hop = o.steps.find((st) => st.state === 'ARRIVE_AT_PROXY' && !isBuilt(st.at, st.detail));
    const name = hop?.detail.split(' accepts the connection')[0];
    if (hop && built.has(hop.at)) unbuilt ??= `${name}: the lab builds port ${built.get(hop.at)!.join(', ')} only here (ingress-nginx's HTTPS needs certificates)`;
    else if (hop) unbuilt ??= `the trace passes through ${name}, which the lab does not build yet`;
  }
  const ns = plan.namespaces.find((n) => n.id === jp.input.from)?.name;
  if (!ns) throw new Error(`${check.from}: the lab has no namespace for ${jp.input.from}`);
  const p = jp.input.packet;
  return { ns, source: jp.clientAddress, address: formatIP(p.destination), port: p.destinationPort ?? 0, outcomes, ...(check.host ? { host: check.host } : {}), ...(unbuilt ? { unbuilt } : {}) };
}

/** Compare shares with probabilities (see the module's comment). */
export function compareShares(predicted: Record<OutcomeKey, number>, counts: Record<OutcomeKey, number>): { ok: boolean; observed: Record<OutcomeKey, number>; problems: string[] } {
  const n = Object.values(counts).reduce((a, b) => a + b, 0);
  const observed: Record<OutcomeKey, number> = {};
  for (const [k, c] of Object.entries(counts)) observed[k] = n > 0 ? c / n : 0;
  const problems: string[] = [];
  for (const k of new Set([...Object.keys(predicted), ...Object.keys(observed)])) {
    const p = predicted[k] ?? 0;
    const s = observed[k] ?? 0;
    if (p === 0 && s > 0) problems.push(`${k}: ${counts[k]} of ${n} connections, the trace predicts none`);
    else if (p >= 1 - 1e-9 && s < 1) problems.push(`${k}: ${counts[k] ?? 0} of ${n} connections, the trace predicts all`);
    else if (p > 0 && p < 1 - 1e-9) {
      const tolerance = 4 * Math.sqrt((p * (1 - p)) / Math.max(n, 1));
      if (Math.abs(s - p) > tolerance) problems.push(`${k}: ${(s * 100).toFixed(1)}% of ${n} connections, the trace predicts ${(p * 100).toFixed(1)}% (±${(tolerance * 100).toFixed(1)}%)`);
    }
  }
  return { ok: problems.length === 0, observed, problems };
}

/** Real connections from a namespace; the echo server's answers counted by outcome. */
export async function probe(ns: string, source: string, address: string, port: number, count: number, timeoutMs: number, host?: string): Promise<{ observed: Record<OutcomeKey, number>; first?: unknown }> {
  return JSON.parse(await runAgent(ns, 'probe', [address, String(port), String(count), String(timeoutMs), source, ...(host ? [host] : [])])) as { observed: Record<OutcomeKey, number>; first?: unknown };
}

export interface VerifyOptions {
  /** Connections per check (those the trace predicts all dropped or refused get 3). */
  connections: number;
  timeoutMs: number;
  /** Checks run at once. */
  parallel: number;
}

/** Run the checks against the lab. */
export async function verifyLab(world: World, plan: LabPlan, checks: readonly LabCheck[], options: VerifyOptions, onCheck: (r: CheckResult) => void = () => undefined): Promise<CheckResult[]> {
  const results: CheckResult[] = new Array(checks.length);
  let next = 0;
  const worker = async () => {
    while (next < checks.length) {
      const i = next++;
      const check = checks[i]!;
      const pr = check.skip ? undefined : predict(world, plan, check);
      const skipped = check.skip ?? pr?.unbuilt;
      if (!pr || skipped) {
        const r: CheckResult = { from: check.from, to: check.to, way: check.way, ok: true, skipped: skipped ?? 'not built', connections: 0, predicted: pr?.outcomes ?? {}, observed: {}, problems: [] };
        results[i] = r;
        onCheck(r);
        continue;
      }
      const delivered = Object.keys(pr.outcomes).some((k) => !k.startsWith('('));
      const count = delivered ? options.connections : 3;
      const got = await probe(pr.ns, pr.source, pr.address, pr.port, count, options.timeoutMs, pr.host);
      const cmp = compareShares(pr.outcomes, got.observed);
      const r: CheckResult = { from: check.from, to: check.to, way: check.way, ok: cmp.ok, connections: count, predicted: pr.outcomes, observed: cmp.observed, problems: cmp.problems };
      results[i] = r;
      onCheck(r);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.parallel) }, worker));
  return results;
}
