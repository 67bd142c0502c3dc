/**
 * `kubepath trace`: one connection across the cluster, hop by hop, and what the application
 * finally sees as the client address.
 *
 * @module
 */
import { loadCluster, parsePatch } from '../cluster/index.js';
import { renderJourney } from '../report/journey.js';
import { styleFor } from '../report/style.js';
import type { HeaderField, HttpRequestHead } from '../edge/request.js';
import { parseStrategySpec } from '../trace/app.js';
import { findingsOf, groupOutcomes } from '../trace/findings.js';
import { traceFromPlan } from '../trace/listeners.js';
import { type JourneyPlan, planJourney } from '../trace/plan.js';
import { buildWorld } from '../trace/world.js';
import { readClusterSources } from './cluster-input.js';
import { EXIT, UserError } from './errors.js';

export interface TraceFlags {
  readonly filename?: string[];
  readonly from?: string;
  readonly to?: string;
  readonly via?: string;
  readonly proto: string;
  readonly set?: string[];
  readonly roundTrip?: boolean;
  readonly host?: string;
  readonly path?: string;
  readonly header?: string[];
  readonly tcp?: boolean;
  readonly clientIp?: string;
  readonly verbose?: boolean;
  readonly json?: boolean;
}

/** The JSON document's version: bump it when a field changes meaning (docs/trace-json.md). */
export const TRACE_JSON_SCHEMA = 'kubepath.dev/trace/v1';

export function runTrace(flags: TraceFlags, stdout: NodeJS.WritableStream & { isTTY?: boolean }): number {
  if (!flags.filename || flags.filename.length === 0) throw new UserError('-f/--filename: give the manifests (files, directories or - for stdin)');
  if (!flags.from) throw new UserError('--from: the client (external:IP, pod/NS/NAME, node/NAME or a client named in the Environment)');
  if (!flags.to) throw new UserError('--to: the target (svc/NS/NAME[:PORT], lb/NS/NAME[:PORT], nodeport/NODE/PORT, pod/NS/NAME:PORT or IP:PORT)');
  const patches = (flags.set ?? []).map(parsePatch);
  const cluster = loadCluster(readClusterSources(flags.filename), { patches });
  const world = buildWorld(cluster);
  const plan = planJourney(world, { from: flags.from, to: flags.to, via: flags.via, proto: flags.proto, roundTrip: flags.roundTrip === true });
  const clientIP = flags.clientIp !== undefined ? parseStrategySpec(flags.clientIp) : undefined;
  const http = flags.tcp ? undefined : requestHead(plan, flags);
  const outcomes = traceFromPlan(world, plan, { http, clientIP });
  const client = plan.clientAddress;
  const groups = groupOutcomes(outcomes);
  const findings = findingsOf(plan, outcomes, client);
  const notes = [...plan.notes, ...patches.map((p) => `what-if: ${p.text}`)];
  if (flags.json) {
    const doc = {
      schema: TRACE_JSON_SCHEMA,
      from: plan.from,
      to: plan.to,
      protocol: flags.proto,
      notes,
      assumptions: [...world.assumptions, ...cluster.assumptions.map((a) => `${a.object} ${a.field} = ${a.value}`)],
      outcomes,
      groups,
      findings,
    };
    stdout.write(JSON.stringify(doc, null, 2) + '\n');
  } else {
    stdout.write(renderJourney({ from: plan.from, to: plan.to, protocol: flags.proto, outcomes, groups, findings, notes }, styleFor(stdout), flags.verbose === true));
  }
  return outcomes.some((o) => o.disposition === 'undetermined') ? EXIT.undetermined : EXIT.ok;
}

/** The HTTP request the client sends: Host and path from the flags or the target, header fields as given. */
export function requestHead(plan: JourneyPlan, flags: Pick<TraceFlags, 'header' | 'host' | 'path'>): HttpRequestHead {
  const headers: HeaderField[] = [];
  for (const h of flags.header ?? []) {
    const i = h.indexOf(':');
    if (i <= 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(h.slice(0, i).trim())) throw new UserError(`--header ${JSON.stringify(h)}: expected NAME: VALUE, e.g. 'X-Forwarded-For: 1.2.3.4'`);
    headers.push([h.slice(0, i).trim(), h.slice(i + 1).trim()]);
  }
  const host = flags.host ?? plan.httpHost;
  const path = flags.path ?? plan.httpPath ?? '/';
  if (!path.startsWith('/')) throw new UserError(`--path ${path}: must start with /`);
  return { method: 'GET', host, path, scheme: 'http', headers: [['Host', host], ...headers] };
}
