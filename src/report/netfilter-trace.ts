/**
 * A netfilter trace for people: the path through hooks, tables and chains with the rules that
 * matched and what they did, the shared part of the path once and then each branch, and a
 * table of outcomes with their probabilities.
 *
 * @module
 */
import { formatEndpoint, protocolName } from '../net/index.js';
import type { Outcome, Trace, TraceStep } from '../netfilter/trace.js';
import { formatEntry } from '../netfilter/conntrack.js';
import { percent, type Style, table } from './style.js';

/** Options for {@link renderNetfilterTrace}. */
export interface RenderOptions {
  readonly style: Style;
  /** Show rules that did not match, with the reason. */
  readonly verbose?: boolean;
  /** The reply trace of each outcome, in outcome order (from `--reply`). */
  readonly replies?: readonly (Trace | undefined)[];
}

function dispositionText(o: Outcome, style: Style): string {
  switch (o.disposition) {
    case 'deliver':
      return style.green('deliver');
    case 'forward':
      return style.green('forward');
    case 'drop':
      return style.red('drop');
    case 'reject':
      return style.red('reject');
    case 'undetermined':
      return style.yellow('undetermined');
  }
}

function ruleBody(text: string): string {
  return text.replace(/^-[AI]\s+\S+\s*/, '');
}

function stepLine(s: TraceStep, style: Style, verbose: boolean): string | undefined {
  const indent = '  '.repeat(s.depth + 1);
  switch (s.kind) {
    case 'table':
      return style.bold(`${s.detail}`);
    case 'conntrack':
      return `${style.dim('conntrack:')} ${s.detail}`;
    case 'route':
      return `${style.cyan('routing:')} ${s.detail}`;
    case 'nat':
      return `${indent}${style.yellow(s.detail)}`;
    case 'skip':
      return verbose ? `${indent}${style.dim(s.detail)}` : undefined;
    case 'return':
      return verbose ? `${indent}${style.dim(s.detail)}` : undefined;
    case 'policy':
      return s.detail.endsWith('DROP') ? `${indent}${style.red(s.detail)}` : `${indent}${style.dim(s.detail)}`;
    case 'note':
      return `${indent}${style.dim(s.detail)}`;
    case 'rule': {
      const where = `${s.chain} #${s.rule?.number ?? '?'}`;
      const branch = s.branchProbability !== undefined ? ` ${style.magenta(`[${percent(s.branchProbability)}]`)}` : '';
      if (s.matched === false) {
        if (s.branchProbability !== undefined) return `${indent}${style.dim(`${where}  ${ruleBody(s.rule?.text ?? '')}  → not taken`)}${branch}`;
        return verbose ? `${indent}${style.dim(`${where}  ${ruleBody(s.rule?.text ?? '')}  (no: ${s.detail})`)}` : undefined;
      }
      const effect = /DROP|REJECT/.test(s.detail) ? style.red(s.detail) : s.matched === undefined ? style.yellow(s.detail) : style.green(s.detail);
      return `${indent}${where}  ${ruleBody(s.rule?.text ?? '')}  ${style.dim('→')} ${effect}${branch}${style.dim(`  (${s.rule?.file}:${s.rule?.line})`)}`;
    }
  }
}

function renderSteps(steps: readonly TraceStep[], style: Style, verbose: boolean): string[] {
  const lines: string[] = [];
  let pendingTable: string | undefined;
  for (const s of steps) {
    const line = stepLine(s, style, verbose);
    if (s.kind === 'table') {
      // Show a table header only when something inside it is shown.
      pendingTable = verbose ? undefined : line;
      if (verbose && line) lines.push(line);
      continue;
    }
    if (line === undefined) continue;
    if (pendingTable && s.hook !== undefined && s.kind !== 'route') {
      lines.push(pendingTable);
      pendingTable = undefined;
    }
    lines.push(line);
  }
  return lines;
}

/** Length of the step prefix all outcomes share (branches copy the steps before them). */
function sharedPrefix(outcomes: readonly Outcome[]): number {
  if (outcomes.length < 2) return 0;
  let n = 0;
  for (;;) {
    const s = outcomes[0]!.steps[n];
    if (!s || !outcomes.every((o) => o.steps[n] === s)) return n;
    n++;
  }
}

function outcomePacket(o: Outcome): string {
  return `${formatEndpoint(o.packet.source, o.packet.sourcePort)} -> ${formatEndpoint(o.packet.destination, o.packet.destinationPort)}`;
}

/** Render a trace as text. */
export function renderNetfilterTrace(trace: Trace, options: RenderOptions): string {
  const { style } = options;
  const verbose = options.verbose ?? false;
  const p = trace.packet;
  const out: string[] = [];
  const entry = trace.entry.kind === 'incoming' ? `arriving on ${trace.entry.interface}` : 'sent by a local process';
  out.push(
    `${style.bold('packet')}  ${protocolName(p.protocol)} ${formatEndpoint(p.source, p.sourcePort)} -> ${formatEndpoint(p.destination, p.destinationPort)}  ${style.dim(entry)}`,
  );
  out.push('');
  const shared = sharedPrefix(trace.outcomes);
  if (trace.outcomes.length > 1) {
    out.push(style.bold(`path (shared by all ${trace.outcomes.length} branches)`));
    out.push(...renderSteps(trace.outcomes[0]!.steps.slice(0, shared), style, verbose).map((l) => `  ${l}`));
    out.push('');
  }
  trace.outcomes.forEach((o, i) => {
    const head =
      trace.outcomes.length > 1
        ? `branch ${i + 1} of ${trace.outcomes.length}  ${style.magenta(percent(o.probability))}`
        : 'path';
    out.push(style.bold(head));
    out.push(...renderSteps(o.steps.slice(shared), style, verbose).map((l) => `  ${l}`));
    out.push(`  ${style.bold('=>')} ${dispositionText(o, style)}: ${o.reason}`);
    for (const note of o.notes) out.push(`  ${style.dim(`note: ${note}`)}`);
    const reply = options.replies?.[i];
    if (reply) {
      const r = reply.outcomes[0];
      if (r) {
        out.push(`  ${style.bold('reply')}  ${formatEndpoint(reply.packet.source, reply.packet.sourcePort)} -> ${formatEndpoint(reply.packet.destination, reply.packet.destinationPort)}`);
        out.push(...renderSteps(r.steps, style, verbose).map((l) => `    ${l}`));
        out.push(`    ${style.bold('=>')} ${dispositionText(r, style)}: ${r.reason}; arrives as ${outcomePacket(r)}`);
      }
    }
    out.push('');
  });
  out.push(style.bold('outcomes'));
  const rows: string[][] = [['PROBABILITY', 'DISPOSITION', 'PACKET AFTER NAT', 'INTERFACE', 'DECIDED BY']];
  for (const o of trace.outcomes) {
    rows.push([
      percent(o.probability),
      dispositionText(o, style),
      outcomePacket(o),
      o.disposition === 'deliver' ? (o.inInterface ?? '-') : (o.outInterface ?? '-'),
      o.verdictRule ? `${o.verdictRule.table} ${o.verdictRule.chain} #${o.verdictRule.number}` : o.nat.length ? o.nat.map((n) => n.kind).join(', ') : '-',
    ]);
  }
  out.push(table(rows, style).split('\n').map((l) => `  ${l}`).join('\n'));
  const withCt = trace.outcomes.filter((o) => o.conntrack);
  if (withCt.length > 0) {
    out.push('');
    out.push(style.bold('conntrack'));
    for (const o of withCt) out.push(`  ${formatEntry(o.conntrack!)}`);
  }
  return out.join('\n');
}
