/**
 * A packet's way through a host's netfilter, in the kernel's order: hooks (PREROUTING, INPUT,
 * FORWARD, OUTPUT, POSTROUTING), tables by priority within each hook (raw, conntrack, mangle,
 * nat, filter, security), the routing decision after PREROUTING and after OUTPUT (again when
 * NAT or a mark changed the packet), conntrack with NAT on a connection's first packet only.
 *
 * The evaluation is pure: the request holds all state; `statistic --mode random` splits the
 * trace into outcomes with exact probabilities instead of rolling dice.
 *
 * @module
 */
import {
  formatEndpoint,
  formatIP,
  type IPAddress,
  ipEquals,
  isLoopback,
  networkContains,
  type Packet,
} from '../net/index.js';
import { candidateRules } from './chain-index.js';
import {
  type BranchState,
  cloneBranchState,
  type MatchContext,
  type PacketView,
  type RecentEntry,
  type SocketOwner,
} from './context.js';
import { cloneEntry, type ConntrackEntry, ConntrackTable, type CtState, type CtTuple, newEntry } from './conntrack.js';
import { findInterface, type Host, routeFor, selectSourceAddress } from './host.js';
import type { Disposition, NatEvent, Outcome, PacketEntry, RuleRef, Trace, TraceRequest, TraceStep } from './trace.js';
import { IpsetCollection } from './ipset.js';
import type { Chain, HookName, InterfaceMatch, MatchResult, Rule, Ruleset, TableName } from './ir.js';
import { pickPort, pickRangeAddress } from './nat.js';
import type { Target } from './targets.js';

type Stage =
  | 'pre:raw' | 'pre:conntrack' | 'pre:mangle' | 'pre:nat' | 'pre:route'
  | 'in:mangle' | 'in:filter' | 'in:security' | 'in:nat' | 'in:deliver'
  | 'fwd:mangle' | 'fwd:filter' | 'fwd:security'
  | 'out:route' | 'out:raw' | 'out:conntrack' | 'out:mangle' | 'out:nat' | 'out:reroute' | 'out:filter' | 'out:security'
  | 'post:mangle' | 'post:nat' | 'post:out';

/** A packet in flight: one branch of the trace. Cloned whenever the trace splits. */
interface Flight {
  probability: number;
  stage: Stage;
  packet: PacketView;
  mark: number;
  inInterface: string | undefined;
  outInterface: string | undefined;
  nextHop: IPAddress | undefined;
  /** The conntrack entry; undefined before conntrack has seen the packet or when untracked. */
  ct: ConntrackEntry | undefined;
  ctDirection: 'ORIGINAL' | 'REPLY';
  untracked: boolean;
  /** Looped back through lo after OUTPUT/POSTROUTING. */
  looped: boolean;
  routedMark: number;
  routedDestination: IPAddress | undefined;
  /** A re-route after OUTPUT: the kernel's OUTPUT hooks keep the first device; POSTROUTING uses this. */
  rerouted: { outInterface: string | undefined; nextHop: IPAddress | undefined } | undefined;
  tproxy: { address: IPAddress | undefined; port: number } | undefined;
  state: BranchState;
  steps: TraceStep[];
  nat: NatEvent[];
  notes: string[];
}

function cloneFlight(f: Flight): Flight {
  return {
    ...f,
    ct: f.ct ? cloneEntry(f.ct) : undefined,
    state: cloneBranchState(f.state),
    steps: [...f.steps],
    nat: [...f.nat],
    notes: [...f.notes],
  };
}

interface Env {
  readonly ruleset: Ruleset;
  readonly host: Host;
  readonly request: TraceRequest;
  readonly conntrack: ConntrackTable;
  readonly ipsets: IpsetCollection;
  readonly socket: SocketOwner | undefined;
  readonly physIn: string | undefined;
  readonly sourceMac: string | undefined;
}

function ruleRef(rule: Rule): RuleRef {
  return {
    table: rule.table,
    chain: rule.chain,
    number: rule.number,
    file: rule.location.file,
    line: rule.location.line,
    text: rule.text,
  };
}

function step(f: Flight, partial: Partial<TraceStep> & { kind: TraceStep['kind']; detail: string }): void {
  f.steps.push({
    hook: undefined,
    table: undefined,
    chain: undefined,
    depth: 0,
    rule: undefined,
    matched: undefined,
    branchProbability: undefined,
    ...partial,
  });
}

function endpoint(ip: IPAddress, port: number | undefined): string {
  return formatEndpoint(ip, port);
}

function packetText(p: PacketView): string {
  return `${endpoint(p.source, p.sourcePort)} -> ${endpoint(p.destination, p.destinationPort)}`;
}

const HOOK_OF: Record<string, HookName> = {
  pre: 'PREROUTING',
  in: 'INPUT',
  fwd: 'FORWARD',
  out: 'OUTPUT',
  post: 'POSTROUTING',
};

/**
 * Trace one packet through a host's rules. Returns every outcome with its probability
 * (they sum to 1); an outcome that depends on something the engine does not model is
 * `undetermined` with the reason.
 */
export function tracePacket(ruleset: Ruleset, host: Host, request: TraceRequest): Trace {
  if (request.packet.family !== ruleset.family) {
    throw new Error(`an IPv${request.packet.family} packet cannot be traced through an IPv${ruleset.family} ruleset`);
  }
  const env: Env = {
    ruleset,
    host,
    request,
    conntrack: request.conntrack ?? new ConntrackTable(),
    ipsets: request.ipsets ?? new IpsetCollection(),
    socket: request.entry.kind === 'local' ? (request.entry.socket ?? { uid: undefined, gid: undefined, supplementaryGids: [] }) : undefined,
    physIn: request.entry.kind === 'incoming' ? request.entry.physInInterface : undefined,
    sourceMac: request.entry.kind === 'incoming' ? request.entry.sourceMac : undefined,
  };
  const p = request.packet;
  const first: Flight = {
    probability: 1,
    stage: request.entry.kind === 'incoming' ? 'pre:raw' : 'out:route',
    packet: {
      family: p.family,
      protocol: p.protocol,
      source: p.source,
      destination: p.destination,
      sourcePort: p.sourcePort,
      destinationPort: p.destinationPort,
      tcpFlags: p.tcpFlags,
      icmpType: p.icmpType,
      icmpCode: p.icmpCode,
      length: p.length,
    },
    mark: (request.mark ?? 0) >>> 0,
    inInterface: request.entry.kind === 'incoming' ? request.entry.interface : undefined,
    outInterface: undefined,
    nextHop: undefined,
    ct: undefined,
    ctDirection: 'ORIGINAL',
    untracked: false,
    looped: false,
    routedMark: 0,
    routedDestination: undefined,
    rerouted: undefined,
    tproxy: undefined,
    state: {
      recent: new Map([...(request.recent ?? new Map<string, readonly RecentEntry[]>())].map(([k, v]) => [k, [...v]])),
      nth: new Map(request.nthCounters ?? []),
    },
    steps: [],
    nat: [],
    notes: [],
  };
  if (request.entry.kind === 'incoming' && !findInterface(host, request.entry.interface)) {
    first.notes.push(`interface ${request.entry.interface} has no addresses on this host (none were given)`);
  }
  const outcomes: Outcome[] = [];
  const queue: Flight[] = [first];
  let guard = 0;
  while (queue.length > 0) {
    if (++guard > 100_000) throw new Error('trace did not finish: too many branches');
    const flight = queue.pop()!;
    const result = runStage(env, flight);
    // Depth first, in rule order: the branch that took a statistic rule comes before the one that did not.
    for (let i = result.length - 1; i >= 0; i--) {
      const r = result[i]!;
      if ('flight' in r) queue.push(r.flight);
    }
    for (const r of result) if ('outcome' in r) outcomes.push(r.outcome);
  }
  return { packet: request.packet, entry: request.entry, outcomes };
}

type StageResult = { flight: Flight } | { outcome: Outcome };

function finish(
  f: Flight,
  disposition: Disposition,
  reason: string,
  extra: { verdictRule?: RuleRef | undefined; rejectWith?: string | undefined } = {},
): StageResult {
  return {
    outcome: {
      probability: f.probability,
      disposition,
      reason,
      verdictRule: extra.verdictRule,
      rejectWith: extra.rejectWith,
      packet: f.packet,
      inInterface: f.inInterface,
      outInterface: f.outInterface,
      nextHop: f.nextHop,
      mark: f.mark,
      conntrack: f.ct,
      ctDirection: f.ctDirection,
      nat: f.nat,
      steps: f.steps,
      notes: f.notes,
      tproxy: f.tproxy,
      recent: f.state.recent,
      nthCounters: f.state.nth,
    },
  };
}

function go(f: Flight, stage: Stage): StageResult[] {
  f.stage = stage;
  return [{ flight: f }];
}

function runStage(env: Env, f: Flight): StageResult[] {
  switch (f.stage) {
    case 'pre:raw':
      return runTable(env, f, 'raw', 'PREROUTING', 'pre:conntrack');
    case 'pre:conntrack':
      attachConntrack(env, f, 'PREROUTING');
      return go(f, 'pre:mangle');
    case 'pre:mangle':
      return runTable(env, f, 'mangle', 'PREROUTING', 'pre:nat');
    case 'pre:nat':
      return runNat(env, f, 'PREROUTING', 'pre:route');
    case 'pre:route':
      return routeIncoming(env, f);
    case 'in:mangle':
      return runTable(env, f, 'mangle', 'INPUT', 'in:filter');
    case 'in:filter':
      return runTable(env, f, 'filter', 'INPUT', 'in:security');
    case 'in:security':
      return runTable(env, f, 'security', 'INPUT', 'in:nat');
    case 'in:nat':
      return runNat(env, f, 'INPUT', 'in:deliver');
    case 'in:deliver':
      confirm(f);
      return [finish(f, 'deliver', deliverReason(f))];
    case 'fwd:mangle':
      return runTable(env, f, 'mangle', 'FORWARD', 'fwd:filter');
    case 'fwd:filter':
      return runTable(env, f, 'filter', 'FORWARD', 'fwd:security');
    case 'fwd:security':
      return runTable(env, f, 'security', 'FORWARD', 'post:mangle');
    case 'out:route':
      return routeLocal(env, f, 'out:raw');
    case 'out:raw':
      return runTable(env, f, 'raw', 'OUTPUT', 'out:conntrack');
    case 'out:conntrack':
      attachConntrack(env, f, 'OUTPUT');
      return go(f, 'out:mangle');
    case 'out:mangle':
      return runTable(env, f, 'mangle', 'OUTPUT', 'out:nat');
    case 'out:nat':
      return runNat(env, f, 'OUTPUT', 'out:reroute');
    case 'out:reroute':
      if (f.mark !== f.routedMark || !ipEquals(f.packet.destination, f.routedDestination!)) {
        return routeLocal(env, f, 'out:filter', true);
      }
      return go(f, 'out:filter');
    case 'out:filter':
      return runTable(env, f, 'filter', 'OUTPUT', 'out:security');
    case 'out:security':
      return runTable(env, f, 'security', 'OUTPUT', 'post:mangle');
    case 'post:mangle':
      if (f.rerouted) {
        f.outInterface = f.rerouted.outInterface;
        f.nextHop = f.rerouted.nextHop;
        f.rerouted = undefined;
      }
      return runTable(env, f, 'mangle', 'POSTROUTING', 'post:nat');
    case 'post:nat':
      return runNat(env, f, 'POSTROUTING', 'post:out');
    case 'post:out':
      confirm(f);
      if (f.outInterface === 'lo') {
        // Loopback: the packet comes back in through lo, into PREROUTING and INPUT (no nat: bound already).
        f.looped = true;
        f.inInterface = 'lo';
        f.outInterface = undefined;
        step(f, { kind: 'route', detail: 'sent over lo: the packet comes back in on lo' });
        return go(f, 'pre:raw');
      }
      return [finish(f, 'forward', `sent out of ${f.outInterface}${f.nextHop ? ` to next hop ${formatIP(f.nextHop)}` : ''}`)];
  }
}

function deliverReason(f: Flight): string {
  if (f.tproxy) {
    return `delivered locally to the TPROXY socket ${endpoint(f.tproxy.address ?? f.packet.destination, f.tproxy.port)}`;
  }
  return `delivered locally to ${endpoint(f.packet.destination, f.packet.destinationPort)}`;
}

function confirm(f: Flight): void {
  if (f.ct && !f.ct.confirmed) {
    f.ct.confirmed = true;
  }
  if (f.ct && f.ctDirection === 'REPLY') f.ct.seenReply = true;
}

function ctState(f: Flight): CtState {
  if (f.untracked) return 'UNTRACKED';
  if (!f.ct) return 'INVALID';
  if (f.ctDirection === 'REPLY') return 'ESTABLISHED';
  return f.ct.seenReply ? 'ESTABLISHED' : 'NEW';
}

function tupleOf(p: PacketView): CtTuple {
  return { source: p.source, destination: p.destination, sourcePort: p.sourcePort, destinationPort: p.destinationPort };
}

function attachConntrack(env: Env, f: Flight, hook: HookName): void {
  if (f.untracked) {
    step(f, { kind: 'conntrack', hook, detail: 'not tracked (NOTRACK): no conntrack entry, no NAT' });
    return;
  }
  if (f.ct) return; // looped back over lo: the entry stays attached
  const found = env.conntrack.lookup(f.packet.family, f.packet.protocol, tupleOf(f.packet));
  if (found) {
    f.ct = cloneEntry(found.entry);
    f.ctDirection = found.direction;
    step(f, {
      kind: 'conntrack',
      hook,
      detail: `existing connection, ${found.direction === 'REPLY' ? 'reply' : 'original'} direction: ctstate ${ctState(f)}`,
    });
    return;
  }
  f.ct = newEntry(f.packet.family, f.packet.protocol, tupleOf(f.packet));
  f.ctDirection = 'ORIGINAL';
  step(f, { kind: 'conntrack', hook, detail: 'new connection: ctstate NEW' });
}

interface Frame {
  readonly chain: Chain;
  readonly rules: readonly Rule[];
  pos: number;
}

type Verdict =
  | { kind: 'accept' | 'drop'; rule: Rule | undefined }
  | { kind: 'reject'; rule: Rule; with: string }
  | { kind: 'undetermined'; rule: Rule; reason: string };

interface Walker {
  flight: Flight;
  stack: Frame[];
}

/** Walk one table's built-in chain for a hook; returns each branch with its verdict. */
function walkTable(env: Env, f: Flight, table: TableName, hook: HookName): { flight: Flight; verdict: Verdict; nat?: { rule: Rule; target: Target } }[] {
  const chain = env.ruleset.tables.get(table)?.chains.get(hook);
  if (!chain) return [{ flight: f, verdict: { kind: 'accept', rule: undefined } }];
  const results: { flight: Flight; verdict: Verdict; nat?: { rule: Rule; target: Target } }[] = [];
  const work: Walker[] = [{ flight: f, stack: [enterChain(f, chain, hook, 0)] }];
  while (work.length > 0) {
    const w = work.pop()!;
    const flight = w.flight;
    for (;;) {
      const frame = w.stack[w.stack.length - 1]!;
      const depth = w.stack.length - 1;
      if (frame.pos >= frame.rules.length) {
        w.stack.pop();
        if (w.stack.length === 0) {
          const policy = chain.policy ?? 'ACCEPT';
          step(flight, { kind: 'policy', hook, table, chain: chain.name, depth: 0, detail: `end of ${chain.name}: policy ${policy}` });
          results.push({ flight, verdict: { kind: policy === 'DROP' ? 'drop' : 'accept', rule: undefined } });
          break;
        }
        step(flight, { kind: 'return', hook, table, chain: frame.chain.name, depth, detail: `end of ${frame.chain.name}: back to ${w.stack[w.stack.length - 1]!.chain.name}` });
        continue;
      }
      const rule = frame.rules[frame.pos++]!;
      const ctx = matchContext(env, flight, table, hook, rule);
      const result = testRule(rule, ctx);
      const ref = ruleRef(rule);
      const base = { hook, table, chain: rule.chain, depth, rule: ref };
      if (result.kind === 'no') {
        step(flight, { kind: 'rule', ...base, matched: false, detail: result.why });
        continue;
      }
      if (result.kind === 'unknown') {
        if (!rule.target || rule.target.kind === 'record') {
          step(flight, { kind: 'rule', ...base, matched: undefined, detail: `${result.reason}; the rule only ${rule.target ? 'records' : 'counts'}, so the path goes on` });
          continue;
        }
        step(flight, { kind: 'rule', ...base, matched: undefined, detail: result.reason });
        results.push({ flight, verdict: { kind: 'undetermined', rule, reason: result.reason } });
        break;
      }
      if (result.kind === 'maybe') {
        // Split: this flight takes the match, a copy goes on as if it had not matched.
        const other = cloneFlight(flight);
        other.probability *= 1 - result.probability;
        step(other, { kind: 'rule', ...base, matched: false, detail: `not taken (probability ${formatProbability(1 - result.probability)})`, branchProbability: 1 - result.probability });
        work.push({ flight: other, stack: w.stack.map((fr) => ({ ...fr })) });
        flight.probability *= result.probability;
      }
      const target = rule.target;
      const branchProbability = result.kind === 'maybe' ? result.probability : undefined;
      if (!target) {
        step(flight, { kind: 'rule', ...base, matched: true, detail: 'matched (no target: counts only)', branchProbability });
        continue;
      }
      const effect = applyTarget(env, flight, target, rule, table, hook);
      step(flight, { kind: 'rule', ...base, matched: true, detail: effect.detail, branchProbability });
      if (effect.kind === 'continue') continue;
      if (effect.kind === 'jump') {
        const next = env.ruleset.tables.get(table)!.chains.get(effect.chain)!;
        const newFrame = enterChain(flight, next, hook, effect.goto ? depth : depth + 1);
        if (effect.goto) w.stack[w.stack.length - 1] = newFrame;
        else w.stack.push(newFrame);
        continue;
      }
      if (effect.kind === 'return') {
        w.stack.pop();
        if (w.stack.length === 0) {
          const policy = chain.policy ?? 'ACCEPT';
          step(flight, { kind: 'policy', hook, table, chain: chain.name, depth: 0, detail: `RETURN from ${chain.name}: policy ${policy}` });
          results.push({ flight, verdict: { kind: policy === 'DROP' ? 'drop' : 'accept', rule: undefined } });
          break;
        }
        continue;
      }
      if (effect.kind === 'nat') {
        results.push({ flight, verdict: { kind: 'accept', rule }, nat: { rule, target } });
        break;
      }
      results.push({ flight, verdict: effect.verdict });
      break;
    }
  }
  return results;
}

function enterChain(f: Flight, chain: Chain, hook: HookName, depth: number): Frame {
  const rules = candidateRules(chain, f.packet);
  const skipped = chain.rules.length - rules.length;
  if (skipped > 0) {
    step(f, {
      kind: 'skip',
      hook,
      table: chain.table,
      chain: chain.name,
      depth,
      detail: `${skipped} of ${chain.rules.length} rules in ${chain.name} require another destination and cannot match`,
    });
  }
  return { chain, rules, pos: 0 };
}

function formatProbability(p: number): string {
  return Number(p.toPrecision(10)).toString();
}

type RuleTest = { kind: 'yes' } | { kind: 'no'; why: string } | { kind: 'maybe'; probability: number } | { kind: 'unknown'; reason: string };

function ifaceMatches(m: InterfaceMatch, name: string | undefined): boolean {
  const n = name ?? '';
  return m.wildcard ? n.startsWith(m.name) : n === m.name;
}

/** Test a rule's conditions: cheap header fields first, then its matches in order. */
function testRule(rule: Rule, ctx: MatchContext): RuleTest {
  const p = ctx.packet;
  if (rule.protocol && (rule.protocol.value === 0 ? true : rule.protocol.value === p.protocol) === rule.protocol.negated) {
    return { kind: 'no', why: `protocol is ${p.protocol === 6 ? 'tcp' : p.protocol === 17 ? 'udp' : p.protocol}` };
  }
  if (rule.source && networkContains(rule.source.value, p.source) === rule.source.negated) {
    return { kind: 'no', why: `source is ${formatIP(p.source)}` };
  }
  if (rule.destination && networkContains(rule.destination.value, p.destination) === rule.destination.negated) {
    return { kind: 'no', why: `destination is ${formatIP(p.destination)}` };
  }
  if (rule.inInterface && ifaceMatches(rule.inInterface.value, ctx.inInterface) === rule.inInterface.negated) {
    return { kind: 'no', why: `in-interface is ${ctx.inInterface ?? '(none)'}` };
  }
  if (rule.outInterface && ifaceMatches(rule.outInterface.value, ctx.outInterface) === rule.outInterface.negated) {
    return { kind: 'no', why: `out-interface is ${ctx.outInterface ?? '(none)'}` };
  }
  if (rule.fragment && !rule.fragment.negated) return { kind: 'no', why: 'the packet is not a fragment' };
  let probability = 1;
  let unknown: string | undefined;
  for (const m of rule.matches) {
    const r: MatchResult = m.test(ctx);
    if (r === true) continue;
    if (r === false) return { kind: 'no', why: `-m ${m.module} ${m.text} does not match` };
    if ('probability' in r) probability *= r.probability;
    else unknown ??= `-m ${m.module} ${m.text}: ${r.undetermined}`;
  }
  if (rule.unmodelled) unknown ??= rule.unmodelled;
  if (unknown) return { kind: 'unknown', reason: unknown };
  return probability < 1 ? { kind: 'maybe', probability } : { kind: 'yes' };
}

function matchContext(env: Env, f: Flight, table: TableName, hook: HookName, rule: Rule): MatchContext {
  return {
    hook,
    table,
    packet: f.packet,
    inInterface: f.inInterface,
    outInterface: f.outInterface,
    physInInterface: f.looped ? undefined : env.physIn,
    physOutInterface: undefined,
    sourceMac: f.looped ? undefined : env.sourceMac,
    mark: f.mark,
    conntrack: f.untracked ? undefined : f.ct,
    ctDirection: f.ctDirection,
    ctState: ctState(f),
    host: env.host,
    socket: f.looped || hook === 'OUTPUT' || hook === 'POSTROUTING' ? env.socket : undefined,
    ipsets: env.ipsets,
    now: env.request.now ?? 0,
    ruleKey: `${table}/${rule.chain}/${rule.number}`,
    state: f.state,
  };
}

type Effect =
  | { kind: 'continue'; detail: string }
  | { kind: 'jump'; chain: string; goto: boolean; detail: string }
  | { kind: 'return'; detail: string }
  | { kind: 'nat'; detail: string }
  | { kind: 'verdict'; verdict: Verdict; detail: string };

function applyTarget(env: Env, f: Flight, target: Target, rule: Rule, table: TableName, hook: HookName): Effect {
  switch (target.kind) {
    case 'accept':
      return { kind: 'verdict', verdict: { kind: 'accept', rule }, detail: 'ACCEPT' };
    case 'drop':
      return { kind: 'verdict', verdict: { kind: 'drop', rule }, detail: 'DROP' };
    case 'reject':
      return { kind: 'verdict', verdict: { kind: 'reject', rule, with: target.with }, detail: `REJECT with ${target.with}` };
    case 'return':
      return { kind: 'return', detail: 'RETURN' };
    case 'jump':
      return { kind: 'jump', chain: target.chain, goto: target.goto, detail: `${target.goto ? 'goto' : 'jump to'} ${target.chain}` };
    case 'mark': {
      const before = f.mark;
      f.mark = ((f.mark & ~target.mask) ^ target.value) >>> 0;
      return { kind: 'continue', detail: `MARK 0x${before.toString(16)} -> 0x${f.mark.toString(16)}` };
    }
    case 'connmark-set':
    case 'connmark-save':
    case 'connmark-restore': {
      const ct = f.untracked ? undefined : f.ct;
      if (!ct) return { kind: 'continue', detail: 'CONNMARK: no conntrack entry, nothing to do' };
      if (target.kind === 'connmark-set') {
        ct.mark = ((ct.mark & ~target.mask) ^ target.value) >>> 0;
        return { kind: 'continue', detail: `CONNMARK set: ctmark 0x${ct.mark.toString(16)}` };
      }
      if (target.kind === 'connmark-save') {
        ct.mark = ((ct.mark & ~target.ctmask) ^ (f.mark & target.nfmask)) >>> 0;
        return { kind: 'continue', detail: `CONNMARK save: ctmark 0x${ct.mark.toString(16)}` };
      }
      f.mark = ((f.mark & ~target.nfmask) ^ (ct.mark & target.ctmask)) >>> 0;
      return { kind: 'continue', detail: `CONNMARK restore: mark 0x${f.mark.toString(16)}` };
    }
    case 'notrack':
      f.untracked = true;
      f.ct = undefined;
      return { kind: 'continue', detail: 'NOTRACK: the packet will not be tracked' };
    case 'record':
      return { kind: 'continue', detail: `${target.name} (recorded, no effect on the path)` };
    case 'unmodelled':
      return { kind: 'verdict', verdict: { kind: 'undetermined', rule, reason: target.reason }, detail: target.reason };
    case 'tproxy': {
      f.mark = ((f.mark & ~target.markMask) ^ target.markValue) >>> 0;
      f.tproxy = { address: target.address, port: target.port };
      f.notes.push(`TPROXY assumes a transparent socket listens on ${target.address ? formatIP(target.address) : 'the destination or a local address'}:${target.port} (without one the kernel drops the packet)`);
      return { kind: 'verdict', verdict: { kind: 'accept', rule }, detail: `TPROXY to port ${target.port}, mark 0x${f.mark.toString(16)}` };
    }
    case 'dnat':
    case 'snat':
    case 'masquerade':
    case 'redirect': {
      if (table !== 'nat') return { kind: 'verdict', verdict: { kind: 'undetermined', rule, reason: `${target.name} outside the nat table` }, detail: 'invalid' };
      const bound = bindNat(env, f, target, hook);
      if (bound.error) return { kind: 'verdict', verdict: { kind: 'drop', rule }, detail: bound.error };
      return { kind: 'nat', detail: bound.detail };
    }
  }
}

/** Set up a NAT binding on the flight's (new) conntrack entry; the packet is rewritten after the chain. */
function bindNat(env: Env, f: Flight, target: Extract<Target, { kind: 'dnat' | 'snat' | 'masquerade' | 'redirect' }>, hook: HookName): { detail: string; error?: string } {
  const ct = f.ct!;
  const p = f.packet;
  if (target.kind === 'dnat' || target.kind === 'redirect') {
    let address: IPAddress;
    let min: number | undefined;
    let max: number | undefined;
    let random = false;
    if (target.kind === 'dnat') {
      address = pickRangeAddress(target.range, ct.original.source, ct.original.destination, target.persistent) ?? p.destination;
      min = target.range.minPort;
      max = target.range.maxPort;
      random = target.random || target.randomFully;
    } else {
      const local = hook === 'OUTPUT' ? undefined : redirectAddress(env, f);
      if (hook !== 'OUTPUT' && !local) return { detail: '', error: `REDIRECT: ${f.inInterface} has no IPv${p.family} address, the kernel drops the packet` };
      address = local ?? (p.family === 4 ? { family: 4, value: 0x7f000001 } : { family: 6, value: 1n });
      min = target.minPort;
      max = target.maxPort;
      random = target.random;
    }
    const port = pickPort(p.destinationPort, min, max, 'dst', random);
    if (port.random) f.notes.push(`the kernel picks the new destination port at random${min !== undefined ? ` from ${min}-${max}` : ''}; shown as ${port.port}`);
    ct.reply = { ...ct.reply, source: address, sourcePort: port.port };
    ct.dstNat = !ipEquals(address, ct.original.destination) || port.port !== ct.original.destinationPort;
    return { detail: `${target.name} to ${endpoint(address, port.port)}` };
  }
  let address: IPAddress | undefined;
  let min: number | undefined;
  let max: number | undefined;
  let random = false;
  if (target.kind === 'snat') {
    const inRange = target.range.minAddress && target.range.maxAddress && p.source.value >= target.range.minAddress.value && p.source.value <= target.range.maxAddress.value;
    address = inRange ? p.source : (pickRangeAddress(target.range, ct.original.source, ct.original.destination, target.persistent, 'src') ?? p.source);
    min = target.range.minPort;
    max = target.range.maxPort;
    random = target.random || target.randomFully;
  } else {
    const route = routeFor(env.host, p.destination, f.mark);
    address = selectSourceAddress(env.host, f.outInterface, p.family, route?.route.gateway ?? p.destination);
    if (!address) return { detail: '', error: `MASQUERADE: ${f.outInterface} has no IPv${p.family} address to masquerade as; the kernel drops the packet` };
    min = target.minPort;
    max = target.maxPort;
    random = target.random || target.randomFully;
    if (target.randomFully) f.notes.push('MASQUERADE --random-fully: the source port is chosen at random');
  }
  const port = pickPort(p.sourcePort, min, max, 'src', random);
  if (port.random && !(target.kind === 'masquerade' && target.randomFully)) {
    f.notes.push(`the kernel picks the new source port at random${min !== undefined ? ` from ${min}-${max}` : ''}; shown as ${port.port}`);
  }
  ct.reply = { ...ct.reply, destination: address, destinationPort: port.port };
  ct.srcNat = !ipEquals(address, ct.original.source) || port.port !== ct.original.sourcePort;
  return { detail: `${target.name} to ${endpoint(address, port.port)}` };
}

function redirectAddress(env: Env, f: Flight): IPAddress | undefined {
  const iface = f.inInterface ? findInterface(env.host, f.inInterface) : undefined;
  return iface?.addresses.find((a) => a.ip.family === f.packet.family)?.ip;
}

/** Run a table that is not nat: hand each branch on, or end it with its verdict. */
function runTable(env: Env, f: Flight, table: TableName, hook: HookName, next: Stage): StageResult[] {
  if (!env.ruleset.tables.has(table)) {
    f.stage = next;
    return [{ flight: f }];
  }
  step(f, { kind: 'table', hook, table, chain: hook, detail: `${hook} ${table}` });
  return walkTable(env, f, table, hook).map(({ flight, verdict }) => settle(flight, verdict, next));
}

function settle(flight: Flight, verdict: Verdict, next: Stage): StageResult {
  switch (verdict.kind) {
    case 'accept':
      flight.stage = next;
      return { flight };
    case 'drop':
      return finish(flight, 'drop', verdict.rule ? `dropped by ${verdict.rule.table} ${verdict.rule.chain} rule ${verdict.rule.number}` : `dropped by the policy of ${HOOK_OF[flight.stage.split(':')[0]!] ?? ''}`, {
        verdictRule: verdict.rule ? ruleRef(verdict.rule) : undefined,
      });
    case 'reject':
      return finish(flight, 'reject', `rejected (${verdict.with}) by ${verdict.rule.table} ${verdict.rule.chain} rule ${verdict.rule.number}`, {
        verdictRule: ruleRef(verdict.rule),
        rejectWith: verdict.with,
      });
    case 'undetermined':
      return finish(flight, 'undetermined', `undetermined at ${verdict.rule.table} ${verdict.rule.chain} rule ${verdict.rule.number}: ${verdict.reason}`, {
        verdictRule: ruleRef(verdict.rule),
      });
  }
}

/**
 * The nat table: walked only for a connection's first packet, once per manip type (DNAT in
 * PREROUTING/OUTPUT, SNAT in INPUT/POSTROUTING); later packets are rewritten from the entry.
 */
function runNat(env: Env, f: Flight, hook: HookName, next: Stage): StageResult[] {
  const manip: 'src' | 'dst' = hook === 'PREROUTING' || hook === 'OUTPUT' ? 'dst' : 'src';
  const ct = f.untracked ? undefined : f.ct;
  if (!ct) {
    f.stage = next;
    return [{ flight: f }];
  }
  const done = manip === 'dst' ? ct.dstManipDone : ct.srcManipDone;
  if (done || !env.ruleset.tables.has('nat')) {
    if (manip === 'dst') ct.dstManipDone = true;
    else ct.srcManipDone = true;
    if (done && !f.looped && env.ruleset.tables.has('nat') && ct.confirmed) {
      step(f, { kind: 'table', hook, table: 'nat', chain: hook, detail: `${hook} nat: not walked for an existing connection; translated from its conntrack entry` });
    }
    rewrite(f, hook, manip, undefined);
    f.stage = next;
    return [{ flight: f }];
  }
  step(f, { kind: 'table', hook, table: 'nat', chain: hook, detail: `${hook} nat` });
  return walkTable(env, f, 'nat', hook).map(({ flight, verdict, nat }) => {
    if (verdict.kind !== 'accept') return settle(flight, verdict, next);
    const entry = flight.ct!;
    if (manip === 'dst') entry.dstManipDone = true;
    else entry.srcManipDone = true;
    rewrite(flight, hook, manip, nat?.rule);
    flight.stage = next;
    return { flight };
  });
}

/** Rewrite the packet from its entry: the packet must look like the inverse of the other direction's tuple. */
function rewrite(f: Flight, hook: HookName, manip: 'src' | 'dst', rule: Rule | undefined): void {
  const ct = f.ct!;
  const other = f.ctDirection === 'ORIGINAL' ? ct.reply : ct.original;
  const before = f.packet;
  const after: PacketView =
    manip === 'dst'
      ? { ...before, destination: other.source, destinationPort: other.sourcePort }
      : { ...before, source: other.destination, sourcePort: other.destinationPort };
  if (ipEquals(after.source, before.source) && ipEquals(after.destination, before.destination) && after.sourcePort === before.sourcePort && after.destinationPort === before.destinationPort) {
    return;
  }
  f.packet = after;
  const kind: NatEvent['kind'] = rule
    ? ((rule.target?.name ?? 'DNAT') as NatEvent['kind'])
    : f.ctDirection === 'REPLY'
      ? manip === 'dst'
        ? 'un-SNAT'
        : 'un-DNAT'
      : manip === 'dst'
        ? 'DNAT'
        : 'SNAT';
  const event: NatEvent = { hook, kind, rule: rule ? ruleRef(rule) : undefined, before: packetText(before), after: packetText(after) };
  f.nat.push(event);
  step(f, { kind: 'nat', hook, table: 'nat', detail: `${kind}: ${event.before} => ${event.after}`, rule: event.rule });
}

/** The routing decision for an arriving packet (after PREROUTING). */
function routeIncoming(env: Env, f: Flight): StageResult[] {
  const p = f.packet;
  const host = env.host;
  if (!f.looped && f.inInterface !== 'lo') {
    if (isLoopback(p.source)) {
      step(f, { kind: 'route', detail: `martian source ${formatIP(p.source)} on ${f.inInterface}` });
      return [finish(f, 'drop', `dropped by routing: martian source ${formatIP(p.source)} (loopback address from ${f.inInterface})`)];
    }
    if (isLoopback(p.destination) && (p.family === 6 || !host.routeLocalnet)) {
      step(f, { kind: 'route', detail: `martian destination ${formatIP(p.destination)} on ${f.inInterface}` });
      return [finish(f, 'drop', `dropped by routing: destination ${formatIP(p.destination)} arrived on ${f.inInterface}${p.family === 4 ? ' and route_localnet is 0' : ''}`)];
    }
  }
  const match = routeFor(host, p.destination, f.mark);
  if (!match) {
    step(f, { kind: 'route', detail: `no route to ${formatIP(p.destination)}` });
    return [finish(f, 'reject', `no route to ${formatIP(p.destination)}: the kernel answers ICMP net-unreachable`, { rejectWith: 'icmp-net-unreachable (no route)' })];
  }
  const route = match.route;
  const tableNote = match.table !== 254 && match.table !== 255 ? ` (table ${match.table}${match.rule.fwmark !== undefined ? `, fwmark 0x${match.rule.fwmark.toString(16)}` : ''})` : '';
  if (route.type === 'local' || route.type === 'anycast') {
    // fib_validate_source: IPv4 refuses its own address as the source of an arriving packet (IPv6 does not).
    if (p.family === 4 && !f.looped && f.inInterface !== 'lo' && !ipEquals(p.source, p.destination) && isLocalSourceMartian(env, f)) {
      step(f, { kind: 'route', detail: `source ${formatIP(p.source)} is a local address arriving on ${f.inInterface}` });
      return [finish(f, 'drop', `dropped by routing: source ${formatIP(p.source)} is this host's own address (accept_local is 0)`)];
    }
    step(f, { kind: 'route', detail: `${formatIP(p.destination)} is ${route.type === 'anycast' ? 'a local anycast address' : 'local'}${tableNote}: INPUT` });
    if (f.tproxy && !route.device) f.notes.push('TPROXY delivered by a local route');
    return go(f, 'in:mangle');
  }
  if (f.tproxy) {
    f.notes.push(`TPROXY marked the packet (0x${f.mark.toString(16)}), but no policy route makes it local (ip rule add fwmark ... lookup N; ip route add local default dev lo table N): it is routed on`);
  }
  if (route.type !== 'unicast') {
    step(f, { kind: 'route', detail: `route type ${route.type} for ${formatIP(p.destination)}` });
    if (route.type === 'blackhole') return [finish(f, 'drop', `dropped by a blackhole route to ${formatIP(p.destination)}`)];
    return [finish(f, 'reject', `${route.type} route to ${formatIP(p.destination)}`, { rejectWith: route.type === 'prohibit' ? 'icmp-host-prohibited (route)' : 'icmp-host-unreachable (route)' })];
  }
  if (!host.ipForward) {
    step(f, { kind: 'route', detail: `${formatIP(p.destination)} is not local and forwarding is off` });
    return [finish(f, 'drop', `dropped: ${formatIP(p.destination)} is not local and ip_forward is 0`)];
  }
  f.outInterface = route.device;
  f.nextHop = route.gateway ?? p.destination;
  step(f, { kind: 'route', detail: `forward via ${route.device}${route.gateway ? ` gateway ${formatIP(route.gateway)}` : ''}${tableNote}` });
  return go(f, 'fwd:mangle');
}

function isLocalSourceMartian(env: Env, f: Flight): boolean {
  const m = routeFor(env.host, f.packet.source, 0);
  return m?.route.type === 'local';
}

/** The routing decision for a locally generated packet (before OUTPUT, and again after it when needed). */
function routeLocal(env: Env, f: Flight, next: Stage, reroute = false): StageResult[] {
  const p = f.packet;
  const match = routeFor(env.host, p.destination, f.mark);
  f.routedMark = f.mark;
  f.routedDestination = p.destination;
  if (!match || (match.route.type !== 'unicast' && match.route.type !== 'local' && match.route.type !== 'anycast')) {
    step(f, { kind: 'route', detail: `no route to ${formatIP(p.destination)}` });
    return [finish(f, 'reject', `no route to ${formatIP(p.destination)}: the sender gets "network unreachable"`, { rejectWith: 'ENETUNREACH (no route)' })];
  }
  const route = match.route;
  const isLocal = route.type === 'local' || route.type === 'anycast';
  const outInterface = isLocal ? 'lo' : route.device;
  const nextHop = isLocal ? undefined : (route.gateway ?? p.destination);
  const where = isLocal ? `${formatIP(p.destination)} is local: out via lo` : `out via ${route.device}${route.gateway ? ` gateway ${formatIP(route.gateway)}` : ''}`;
  if (reroute) {
    // The OUTPUT hooks were entered with the first route's device and keep it (nf_hook's state->out);
    // POSTROUTING and the way out use the new route.
    f.rerouted = { outInterface, nextHop };
    step(f, { kind: 'route', detail: `re-routed after nat OUTPUT: ${where} (filter OUTPUT still sees -o ${f.outInterface})` });
  } else {
    f.outInterface = outInterface;
    f.nextHop = nextHop;
    step(f, { kind: 'route', detail: where });
  }
  return go(f, next);
}

/**
 * Trace the reply to an outcome's packet: from where it was delivered (a local socket) or
 * forwarded to (the next hop), back through the same host, with the connection in conntrack.
 */
export function traceReply(ruleset: Ruleset, host: Host, outcome: Outcome, request: TraceRequest): Trace | undefined {
  if (outcome.disposition !== 'deliver' && outcome.disposition !== 'forward') return undefined;
  const ct = outcome.conntrack;
  const table = new ConntrackTable();
  // An untracked flow's reply is a packet of its own: the final packet with addresses swapped.
  const r: CtTuple = ct
    ? outcome.ctDirection === 'ORIGINAL'
      ? ct.reply
      : ct.original
    : {
        source: outcome.packet.destination,
        destination: outcome.packet.source,
        sourcePort: outcome.packet.destinationPort,
        destinationPort: outcome.packet.sourcePort,
      };
  if (ct) table.add(ct);
  const p = request.packet;
  const packet: Packet = {
    family: p.family,
    protocol: p.protocol,
    source: r.source,
    destination: r.destination,
    sourcePort: r.sourcePort,
    destinationPort: r.destinationPort,
    tcpFlags: p.protocol === 6 ? 0x12 : undefined,
    icmpType: p.protocol === 1 && p.icmpType === 8 ? 0 : p.protocol === 58 && p.icmpType === 128 ? 129 : p.icmpType,
    icmpCode: p.icmpCode,
    length: p.length,
  };
  const entry: PacketEntry = outcome.disposition === 'deliver' ? { kind: 'local' } : { kind: 'incoming', interface: outcome.outInterface! };
  return tracePacket(ruleset, host, { ...request, packet, entry, mark: 0, conntrack: table });
}

/**
 * Trace the next packet of the connection in the original direction, after the reply was seen
 * (for TCP the handshake's ACK): conntrack says ESTABLISHED and applies the NAT of the entry.
 */
export function traceNextPacket(ruleset: Ruleset, host: Host, outcome: Outcome, request: TraceRequest): Trace {
  const table = new ConntrackTable();
  if (outcome.conntrack) table.add({ ...outcome.conntrack, seenReply: true });
  const p = request.packet;
  const packet: Packet = { ...p, tcpFlags: p.protocol === 6 ? 0x10 : p.tcpFlags };
  return tracePacket(ruleset, host, { ...request, packet, conntrack: table });
}
