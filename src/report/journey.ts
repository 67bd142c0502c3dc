/**
 * A journey for people: each branch's steps in the shape of GCP Connectivity Tests, its path
 * drawn the way the seeds draw it (client → node 2 → SNAT → node 1 → endpoint), what the app
 * sees, the outcomes grouped, and the findings with their fixes.
 *
 * @module
 */
import type { Finding, OutcomeGroup } from '../trace/findings.js';
import type { JourneyOutcome, JourneyStep, PathHop } from '../trace/journey.js';
import { percent, type Style, table } from './style.js';

export interface JourneyReport {
  from: string;
  to: string;
  protocol: string;
  outcomes: readonly JourneyOutcome[];
  groups: readonly OutcomeGroup[];
  findings: readonly Finding[];
  notes: readonly string[];
}

/** `client/office → lb/… [→ 192.168.0.3:30000] → node/node-b [DNAT → 10.244.2.3:80] → pod/…` */
export function drawPath(path: readonly PathHop[], end: string | null, style: Style): string {
  const parts = path.map((h) => (h.nat.length ? `${h.at} ${style.yellow(`[${h.nat.join(', ')}]`)}` : h.at));
  if (end && path[path.length - 1]?.at !== end) parts.push(end);
  return parts.join(' → ');
}

function stepLine(s: JourneyStep, style: Style, verbose: boolean): string | undefined {
  const state = s.state === 'DROP' || s.state === 'REJECT' ? style.red(s.state) : s.state === 'DELIVER' ? style.green(s.state) : s.state === 'NAT' ? style.yellow(s.state) : style.cyan(s.state);
  if (s.state === 'APPLY_IPTABLES_RULE' && !verbose) {
    // The rules that change something or decide: jumps into service chains, NAT, verdicts.
    if (!/ -j (KUBE-(SVC|SVL|SEP|EXT|FW)-[A-Z0-9]{16}\b|KUBE-MARK-MASQ\b|DNAT|SNAT|MASQUERADE|DROP|REJECT)/.test(s.detail)) return undefined;
  }
  const where = s.rule ? style.dim(` (${s.rule.file}:${s.rule.line})`) : '';
  const p = s.probability !== undefined && s.probability < 1 ? style.magenta(` [${percent(s.probability)}]`) : '';
  const nat = s.before !== undefined ? `: ${s.before} ⇒ ${s.after}` : '';
  return `  ${state}  ${style.dim(s.at)}  ${s.detail}${nat}${p}${where}`;
}

/** Render a journey. `verbose` shows every matched rule (default: the ones that act). */
export function renderJourney(r: JourneyReport, style: Style, verbose = false): string {
  const out: string[] = [];
  out.push(style.bold(`kubepath trace: ${r.from} → ${r.to} (${r.protocol})`));
  for (const n of r.notes) out.push(style.dim(`  note: ${n}`));
  r.outcomes.forEach((o, i) => {
    out.push('');
    out.push(style.bold(`branch ${i + 1} of ${r.outcomes.length}  ${percent(o.probability)}`));
    for (const s of o.steps) {
      const line = stepLine(s, style, verbose);
      if (line) out.push(line);
    }
    out.push(`  path: ${drawPath(o.path, o.endpoint, style)}`);
    if (o.disposition === 'deliver') out.push(...appLines(o, style));
    else out.push(`  ${style.red(o.disposition)}: ${o.reason}`);
    if (o.reply) {
      out.push(`  reply: ${o.reply.accepted ? style.green('accepted') : style.red('lost')}: ${o.reply.reason}`);
      const w = o.reply.withoutSnat;
      if (w) out.push(`  without the SNAT: ${w.accepted ? 'the reply would still be accepted' : style.red(`the reply would be lost: ${w.reason}`)}`);
      if (verbose) for (const s of o.reply.steps) {
        const line = stepLine(s, style, verbose);
        if (line) out.push(`  ${line}`);
      }
    }
  });
  out.push('');
  out.push(style.bold('outcomes'));
  // The client IP column, when an application's strategy answers other than its TCP peer (or can be fooled).
  const strategies = r.groups.some((g) => g.client_ip !== undefined && (g.client_ip !== g.client_address || g.forgeable));
  const rows = [['PROBABILITY', 'END', 'APP SEES', ...(strategies ? ['CLIENT IP'] : []), 'ENDPOINTS', 'WHY'].map(style.dim)];
  for (const g of r.groups) {
    const end = g.disposition === 'deliver' ? style.green('deliver') : style.red(g.disposition);
    const ip = g.disposition !== 'deliver' ? '-' : `${g.client_ip ?? 'none'}${g.forgeable ? style.red(' (forgeable)') : ''}`;
    rows.push([percent(g.probability), end, g.client_address ?? '-', ...(strategies ? [ip] : []), g.endpoints.join(', ') || '-', g.disposition === 'deliver' ? `${g.branches.length} branch${g.branches.length === 1 ? '' : 'es'}` : g.reason]);
  }
  out.push(table(rows, style));
  if (r.findings.length > 0) {
    out.push('');
    out.push(style.bold('findings'));
    for (const f of r.findings) {
      out.push(`  ${f.severity === 'warning' ? style.yellow('!') : style.cyan('i')} ${f.title}`);
      out.push(`    ${f.detail}`);
      if (f.fix) out.push(`    fix: ${/^([a-z]+\/|env\.)[^ ]*=/.test(f.fix) ? `--set '${f.fix}'` : f.fix}`);
      if (f.cost) out.push(`    cost: ${f.cost}`);
    }
  }
  return out.join('\n') + '\n';
}

/** What the application got and makes of it. */
function appLines(o: JourneyOutcome, style: Style): string[] {
  const a = o.app;
  const out = [`  ${style.bold('the app sees')} client_address = ${style.bold(a.client_address ?? '')} (peer ${a.peer})`];
  if (a.proxy_header) out.push(`    PROXY v${a.proxy_header.version} header: ${a.proxy_header.source} -> ${a.proxy_header.destination}`);
  for (const [n, v] of a.headers ?? []) if (/^(x-forwarded-|x-real-ip$|forwarded$|x-original-forwarded-for$|x-envoy-external-address$)/i.test(n)) out.push(`    ${n}: ${v}`);
  if (a.strategy !== undefined) {
    const ok = a.client_ip === a.true_client;
    const ip = a.client_ip ?? 'no address';
    out.push(`    client IP by ${a.strategy}: ${ok ? style.green(ip) : style.yellow(ip)}${a.forgeable ? style.red(' — forgeable: a client-sent header decides it') : ''}`);
  }
  return out;
}
