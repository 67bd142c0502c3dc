/**
 * Kernel differential lab: three network namespaces (client ── node ── server) on the real
 * kernel, an iptables ruleset loaded into the node, real TCP/UDP probes, and what the kernel did
 * with them (delivery, conntrack entries, per-rule counters).
 *
 * Safety: every namespace is named `kp-…`; veth pairs are created directly inside the
 * namespaces (nothing is added to the root namespace); iptables, sysctl and conntrack only ever
 * run inside the lab's namespaces; everything is deleted in `close()`, and synchronously on
 * process exit / SIGINT / SIGTERM.
 *
 * @module
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { mustRun, processAlive, run, type RunResult } from './exec.js';
import { formatIP, tryParseIP } from '../../src/net/index.js';
import {
  CLIENT_V4,
  CLIENT_V6,
  DEFAULT_LISTEN_PORTS,
  type LabAddresses,
  labAddresses,
  type LabHostSpec,
  labHostSpec,
  type LabRole,
  NODE_V4,
  NODE_V6,
  SERVER_V4,
  SERVER_V6,
} from './topology.js';

export type { LabAddresses, LabHostSpec, LabRole } from './topology.js';

/** One packet flow to send. */
export interface Probe {
  readonly from: LabRole;
  readonly proto: 'tcp' | 'udp';
  /** Source address to bind (must be an address of the `from` namespace). */
  readonly src: string;
  /** Source port to bind; an ephemeral one when absent. */
  readonly sport?: number;
  readonly dst: string;
  readonly dport: number;
}

/** A TCP connection accepted, or a UDP datagram received, by an agent. */
export interface Received {
  readonly at: LabRole;
  readonly proto: 'tcp' | 'udp';
  /**
   * The address the packet was addressed to when it arrived. For UDP to an address the agent
   * has not bound (not one of the namespace's addresses), the wildcard `0.0.0.0` / `::`.
   */
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
}

export interface Tuple {
  readonly src: string;
  readonly dst: string;
  readonly sport?: number;
  readonly dport?: number;
}

export interface ConntrackEntry {
  readonly family: 'ipv4' | 'ipv6';
  readonly proto: string;
  readonly orig: Tuple;
  readonly reply: Tuple;
  readonly mark?: number;
  /** TCP state (SYN_SENT, ESTABLISHED, …); absent for UDP. */
  readonly state?: string;
  /** `[UNREPLIED]`, `[ASSURED]`, … without brackets. */
  readonly flags: readonly string[];
  /** The line as `conntrack -L -o extended` printed it. */
  readonly text: string;
}

export interface RuleCounter {
  readonly family: 4 | 6;
  readonly table: string;
  readonly chain: string;
  /** 1-based index of the rule within its chain. */
  readonly rule: number;
  readonly packets: number;
  readonly bytes: number;
  /** The rule as iptables-save prints it (normalised by the nf_tables backend), e.g. `-A FORWARD -p tcp -m tcp --dport 80 -j DROP`. */
  readonly text: string;
}

export interface PolicyCounter {
  readonly family: 4 | 6;
  readonly table: string;
  readonly chain: string;
  readonly policy: string;
  readonly packets: number;
  readonly bytes: number;
}

export interface Observation {
  readonly probe: Probe;
  readonly probeId: string;
  /**
   * What the sender saw: `connected` (TCP handshake completed), `sent` (UDP datagram sent and no
   * ICMP error came back in time), `refused` (ECONNREFUSED: RST or ICMP port unreachable),
   * `unreachable` (EHOSTUNREACH/ENETUNREACH: e.g. icmp-host-prohibited, no route; for UDP also
   * an ICMP net/host unreachable that the socket is not told of, seen in the sender's ICMP
   * counters: `error` is then `ICMP_UNREACH`), `timeout` (no answer
   * within the TCP timeout), `denied` (EPERM: a locally generated packet dropped in OUTPUT), or
   * `error:CODE` for anything else.
   */
  readonly sent: 'connected' | 'refused' | 'timeout' | 'unreachable' | 'sent' | 'denied' | string;
  /** The errno code behind `sent` (`ECONNREFUSED`, `EPERM`, …, or `ICMP_UNREACH`, see above). */
  readonly error?: string;
  /** The source port the sender's socket actually used. */
  readonly localPort?: number;
  /** Deliveries of this probe (normally zero or one). */
  readonly received: readonly Received[];
  /** Conntrack entries of this probe in the node (orig tuple = the probe as it reached the node). */
  readonly conntrack: readonly ConntrackEntry[];
  /** Any other conntrack entries in the node (should be empty; kept for diagnosis). */
  readonly conntrackOther: readonly ConntrackEntry[];
  /** Per-rule packet counts caused by this probe; every rule of the loaded tables, zero or not. */
  readonly counters: readonly RuleCounter[];
  /** Per-chain policy counts (built-in chains) caused by this probe. */
  readonly policyCounters: readonly PolicyCounter[];
  /** Milliseconds the probe took, all steps included. */
  readonly ms: number;
}

export interface KernelLabOptions {
  /** Part of the namespace names (`kp-NAME-PID-N-cli`); letters and digits, ≤ 8 characters. Default `lab`. */
  readonly name?: string;
  /** Also configure IPv6 addresses (fd00:1::/64, fd00:2::/64, fd00:ff::2/128). Default false. */
  readonly ipv6?: boolean;
  /** TCP connect timeout in ms; keep it under 1000 so a dropped SYN is counted once (no retransmit). Default 700. */
  readonly tcpTimeoutMs?: number;
  /** How long a UDP sender waits for an ICMP error. Default 300. */
  readonly udpWaitMs?: number;
  /** How long to wait, after a TCP connect succeeded, for the receiving agent to report it. Default 300. */
  readonly deliveryWaitMs?: number;
  /**
   * `always` (default): conntrack is always active in the node, as on any kube-proxy node. With
   * the nf_tables backend the kernel otherwise only tracks connections once some rule needs it (a
   * NAT target, a conntrack/state/connmark match, CONNMARK…), and without conntrack the nat
   * chains are not traversed at all. The lab forces it with an unreferenced chain
   * `KP-LAB-CONNTRACK` in the raw table holding a conntrack match; that chain is left out of the
   * counters. `rules`: leave it to the ruleset.
   */
  readonly conntrack?: 'always' | 'rules';
  /** Ports the agents listen on, in every namespace. Default {@link DEFAULT_LISTEN_PORTS}. */
  readonly listen?: { readonly tcp: readonly number[]; readonly udp: readonly number[] };
}

export interface KernelLab {
  /** The node as a HostSpec (same shape as src/netfilter/host.ts). */
  readonly hostSpec: LabHostSpec;
  readonly addresses: LabAddresses;
  /** The namespace names, for diagnosis (`ip netns exec NAME …`). */
  readonly namespaces: Readonly<Record<LabRole, string>>;
  readonly ipv6: boolean;
  /**
   * Replace the node's whole ruleset (iptables-restore; all of raw, mangle, nat and filter are
   * always present, the ones not given are loaded empty with ACCEPT policies, so conntrack and the
   * NAT hooks are always active, as on a kube-proxy node). Throws with iptables-restore's output
   * on failure, after resetting the node to the empty ruleset.
   */
  loadRules(ipv4Text: string, ipv6Text?: string): Promise<void>;
  /** Send one probe and observe it. Counters are deltas over this probe; conntrack is flushed before it. */
  probe(p: Probe): Promise<Observation>;
  /** Run a shell script inside one of the lab's namespaces; resolves with stdout, throws on non-zero exit. */
  exec(role: LabRole, script: string): Promise<string>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Small process helpers


function nsExec(ns: string, script: string, input?: string): Promise<RunResult> {
  return run('ip', ['netns', 'exec', ns, 'sh', '-c', script], input);
}

// ---------------------------------------------------------------------------------------------
// Availability

let availability: { ok: true } | { ok: false; reason: string } | undefined;

/** Whether this machine can run the lab: root, the tools, and network namespaces. Cached. */
export function kernelLabAvailable(): { ok: true } | { ok: false; reason: string } {
  if (availability) return availability;
  availability = checkAvailability();
  return availability;
}

function checkAvailability(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: `not Linux (${process.platform})` };
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return { ok: false, reason: 'not running as root' };
  if (process.env.KUBEPATH_NO_KERNEL_LAB) return { ok: false, reason: 'KUBEPATH_NO_KERNEL_LAB is set' };
  const tools: [string, string[]][] = [
    ['ip', ['-V']],
    ['iptables', ['-V']],
    ['iptables-restore', ['-V']],
    ['iptables-save', ['-V']],
    ['conntrack', ['-V']],
  ];
  for (const [tool, args] of tools) {
    const r = spawnSync(tool, args, { encoding: 'utf8', timeout: 5000 });
    if (r.error || r.status !== 0) {
      return { ok: false, reason: `${tool} is not usable (${r.error?.message ?? r.stderr?.trim() ?? r.status}); apt-get install -y iptables conntrack iproute2` };
    }
  }
  const ns = `kp-chk-${process.pid}`;
  try {
    const add = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8', timeout: 5000 });
    if (add.status !== 0) return { ok: false, reason: `cannot create a network namespace: ${add.stderr?.trim()}` };
    const ipt = spawnSync('ip', ['netns', 'exec', ns, 'iptables-save'], { encoding: 'utf8', timeout: 5000 });
    if (ipt.status !== 0) return { ok: false, reason: `iptables does not work in a namespace: ${ipt.stderr?.trim()}` };
    const ct = spawnSync('ip', ['netns', 'exec', ns, 'conntrack', '-L'], { encoding: 'utf8', timeout: 5000 });
    if (ct.status !== 0) return { ok: false, reason: `conntrack does not work in a namespace: ${ct.stderr?.trim()}` };
  } finally {
    spawnSync('ip', ['netns', 'del', ns], { timeout: 5000 });
  }
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------
// Emergency cleanup: delete the namespaces of every open lab, synchronously.

const liveLabs = new Set<Lab>();
let handlersInstalled = false;

function emergencyCleanup(): void {
  for (const lab of liveLabs) lab.destroySync();
  liveLabs.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', emergencyCleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      emergencyCleanup();
      process.exit(sig === 'SIGINT' ? 130 : sig === 'SIGTERM' ? 143 : 129);
    });
  }
}

const NS_PATTERN = /^kp-([a-z0-9]{1,8})-(\d+)-(\d+)-(cli|node|srv)$/;


/** Delete lab namespaces (and temp dirs) left behind by lab processes that no longer exist (never others). */
function removeStaleNamespaces(): void {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 5000 });
  for (const line of (r.stdout ?? '').split('\n')) {
    const name = line.trim().split(/\s+/)[0] ?? '';
    const m = NS_PATTERN.exec(name);
    if (!m) continue;
    if (!processAlive(Number(m[2]))) spawnSync('ip', ['netns', 'del', name], { timeout: 5000 });
  }
  // Temporary directories of dead lab processes (`kp-lab-PID-XXXXXX`).
  try {
    for (const entry of readdirSync(tmpdir())) {
      const t = /^kp-lab-(\d+)-[A-Za-z0-9]{6}$/.exec(entry);
      if (t && !processAlive(Number(t[1]))) rmSync(join(tmpdir(), entry), { recursive: true, force: true });
    }
  } catch {
    /* best effort */
  }
}

// ---------------------------------------------------------------------------------------------
// Agents

interface AgentReply {
  id: number;
  ok: boolean;
  error?: string;
  [k: string]: unknown;
}

interface AgentRecord {
  at: LabRole;
  proto: 'tcp' | 'udp';
  probeId: string;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

class Agent {
  private readonly child: ChildProcessWithoutNullStreams;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: AgentReply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private stderr = '';
  private exited = false;
  readonly ready: Promise<void>;

  constructor(
    readonly role: LabRole,
    ns: string,
    agentPath: string,
    private readonly onRecord: (rec: AgentRecord) => void,
  ) {
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT; // the agent is not a test, whoever started the lab
    delete env.NODE_OPTIONS;
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, agentPath, '--kp-lab-agent', role], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env,
    });
    let readyResolve: () => void = () => undefined;
    let readyReject: (e: Error) => void = () => undefined;
    this.ready = new Promise<void>((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    const readyTimer = setTimeout(() => readyReject(new Error(`agent ${role} did not start in 15 s: ${this.stderr}`)), 15000);
    this.child.stderr.on('data', (d: Buffer) => {
      if (this.stderr.length < 20000) this.stderr += d.toString();
    });
    this.child.stdin.on('error', () => undefined);
    const rl = readline.createInterface({ input: this.child.stdout });
    rl.on('line', (line) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (msg.ev === 'ready') {
        clearTimeout(readyTimer);
        readyResolve();
      } else if (msg.ev === 'recv') {
        this.onRecord(msg.rec as AgentRecord);
      } else if (typeof msg.id === 'number') {
        const p = this.pending.get(msg.id);
        if (p) {
          this.pending.delete(msg.id);
          clearTimeout(p.timer);
          p.resolve(msg as unknown as AgentReply);
        }
      }
    });
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      clearTimeout(readyTimer);
      const err = new Error(`agent ${role} exited (${code ?? signal}): ${this.stderr.trim()}`);
      readyReject(err);
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(err);
      }
      this.pending.clear();
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  request(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 10000): Promise<AgentReply> {
    if (this.exited) return Promise.reject(new Error(`agent ${this.role} is gone: ${this.stderr.trim()}`));
    const id = this.nextId++;
    return new Promise<AgentReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`agent ${this.role}: "${cmd}" got no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.child.stdin.write(JSON.stringify({ id, cmd, ...args }) + '\n');
    }).then((r) => {
      if (!r.ok) throw new Error(`agent ${this.role}: ${cmd}: ${r.error}`);
      return r;
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((res) => this.child.once('exit', () => res()));
    this.child.stdin.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await gone;
    clearTimeout(t);
  }

  killSync(): void {
    if (!this.exited) {
      try {
        this.child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Parsers (exported for unit tests)

const TABLE_CHAINS: Readonly<Record<string, readonly string[]>> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  security: ['INPUT', 'FORWARD', 'OUTPUT'],
};
const ALWAYS_TABLES = ['raw', 'mangle', 'nat', 'filter'];
/** Chains the lab adds itself; never reported in counters. */
const LAB_CHAIN_PREFIX = 'KP-LAB-';
const FORCE_CONNTRACK = `*raw\n:${LAB_CHAIN_PREFIX}CONNTRACK - [0:0]\n-A ${LAB_CHAIN_PREFIX}CONNTRACK -m conntrack --ctstate INVALID -j RETURN\nCOMMIT\n`;

export interface SavedCounters {
  rules: RuleCounter[];
  policies: PolicyCounter[];
}

/** Parse `iptables-save -c` output into per-rule and per-policy counters. */
export function parseIptablesSave(text: string, family: 4 | 6 = 4): SavedCounters {
  const rules: RuleCounter[] = [];
  const policies: PolicyCounter[] = [];
  let table = '';
  const index = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      table = line.slice(1);
      index.clear();
      continue;
    }
    let m = /^:(\S+)\s+(\S+)\s+\[(\d+):(\d+)\]/.exec(line);
    if (m) {
      if (m[2] !== '-') policies.push({ family, table, chain: m[1]!, policy: m[2]!, packets: Number(m[3]), bytes: Number(m[4]) });
      continue;
    }
    m = /^\[(\d+):(\d+)\]\s+(-A\s+(\S+).*)$/.exec(line);
    if (m) {
      const chain = m[4]!;
      if (chain.startsWith(LAB_CHAIN_PREFIX)) continue;
      const n = (index.get(chain) ?? 0) + 1;
      index.set(chain, n);
      rules.push({ family, table, chain, rule: n, packets: Number(m[1]), bytes: Number(m[2]), text: m[3]! });
      continue;
    }
    m = /^(-A\s+(\S+).*)$/.exec(line);
    if (m) {
      const chain = m[2]!;
      if (chain.startsWith(LAB_CHAIN_PREFIX)) continue;
      const n = (index.get(chain) ?? 0) + 1;
      index.set(chain, n);
      rules.push({ family, table, chain, rule: n, packets: 0, bytes: 0, text: m[1]! });
    }
  }
  return { rules, policies };
}

function subtractCounters(after: SavedCounters, before: SavedCounters): SavedCounters {
  const key = (c: { family: number; table: string; chain: string }, extra: string | number) => `${c.family}/${c.table}/${c.chain}/${extra}`;
  const rb = new Map(before.rules.map((r) => [key(r, r.rule), r]));
  const pb = new Map(before.policies.map((p) => [key(p, ''), p]));
  return {
    rules: after.rules.map((r) => {
      const b = rb.get(key(r, r.rule));
      return b && b.text === r.text ? { ...r, packets: r.packets - b.packets, bytes: r.bytes - b.bytes } : r;
    }),
    policies: after.policies.map((p) => {
      const b = pb.get(key(p, ''));
      return b ? { ...p, packets: p.packets - b.packets, bytes: p.bytes - b.bytes } : p;
    }),
  };
}

/**
 * An address in canonical text (RFC 5952 for IPv6, via net/'s own parser and formatter), so the
 * lab's observations compare as strings with `formatIP`. IPv4 and anything that is not an IPv6
 * address are returned unchanged.
 */
export function canonicalIP(text: string): string {
  if (!text.includes(':')) return text;
  const ip = tryParseIP(text.toLowerCase());
  return ip ? formatIP(ip) : text;
}

/** Parse `conntrack -L [-o extended]` output. */
export function parseConntrack(text: string): ConntrackEntry[] {
  const out: ConntrackEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('conntrack v')) continue;
    const words = line.split(/\s+/);
    const head: string[] = [];
    const flags: string[] = [];
    const tuples: Record<string, string>[] = [];
    let mark: number | undefined;
    let cur: Record<string, string> | undefined;
    for (const w of words) {
      const kv = /^([a-z_-]+)=(.*)$/.exec(w);
      if (kv) {
        const [, k, v] = kv as unknown as [string, string, string];
        if (k === 'src') {
          cur = { src: v };
          tuples.push(cur);
        } else if ((k === 'dst' || k === 'sport' || k === 'dport') && cur && tuples.length <= 2) {
          cur[k] = v;
        } else if (k === 'mark') {
          mark = Number(v);
        }
      } else if (/^\[.*\]$/.test(w)) {
        flags.push(w.slice(1, -1));
      } else if (tuples.length === 0) {
        head.push(w);
      }
    }
    if (tuples.length < 2) continue;
    const off = /^ipv[46]$/.test(head[0] ?? '') ? 2 : 0;
    const family = head[0] === 'ipv6' || (tuples[0]!.src ?? '').includes(':') ? 'ipv6' : 'ipv4';
    const proto = head[off] ?? '?';
    const state = head[off + 3];
    const tuple = (t: Record<string, string>): Tuple => ({
      src: canonicalIP(t.src ?? ''),
      dst: canonicalIP(t.dst ?? ''),
      ...(t.sport !== undefined ? { sport: Number(t.sport) } : {}),
      ...(t.dport !== undefined ? { dport: Number(t.dport) } : {}),
    });
    out.push({
      family,
      proto,
      orig: tuple(tuples[0]!),
      reply: tuple(tuples[1]!),
      ...(mark !== undefined ? { mark } : {}),
      ...(state !== undefined && /^[A-Z_]+$/.test(state) ? { state } : {}),
      flags,
      text: line,
    });
  }
  return out;
}

/** Table names (`*nat`) present in an iptables-restore text. */
export function tablesOf(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\*(\S+)\s*$/.exec(line.trim());
    if (m && !out.includes(m[1]!)) out.push(m[1]!);
  }
  return out;
}

function emptyTable(table: string): string {
  const chains = TABLE_CHAINS[table] ?? [];
  return `*${table}\n${chains.map((c) => `:${c} ACCEPT [0:0]`).join('\n')}\nCOMMIT\n`;
}

/**
 * The text actually restored: the given one, plus empty blocks for the tables it does not
 * mention (appended), plus (with `forceConntrack`) the lab's conntrack chain in the raw table,
 * inserted before the raw block's COMMIT. `lineMap[i]` is the given text's line number (1-based)
 * of the restored text's line i+1, so that errors can name the caller's lines.
 */
export function completeRules(
  text: string,
  extraTables: Iterable<string>,
  forceConntrack: boolean,
): { text: string; tables: string[]; lineMap: (number | undefined)[] } {
  const given = tablesOf(text);
  const want = [...new Set([...ALWAYS_TABLES, ...extraTables])];
  const missing = want.filter((t) => !given.includes(t));
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const out: string[] = [];
  const lineMap: (number | undefined)[] = [];
  const ctLines = FORCE_CONNTRACK.trim().split('\n').slice(1, -1); // without *raw / COMMIT
  let table = '';
  let injected = false;
  lines.forEach((line, i) => {
    const t = line.trim();
    if (t.startsWith('*')) table = t.slice(1);
    if (t === 'COMMIT' && table === 'raw' && forceConntrack && !injected) {
      for (const l of ctLines) {
        out.push(l);
        lineMap.push(undefined);
      }
      injected = true;
    }
    out.push(line);
    lineMap.push(i + 1);
  });
  for (const tableName of missing) {
    for (const l of emptyTable(tableName).trim().split('\n')) {
      if (l === 'COMMIT' && tableName === 'raw' && forceConntrack && !injected) {
        out.push(...ctLines);
        lineMap.push(...ctLines.map(() => undefined));
        injected = true;
      }
      out.push(l);
      lineMap.push(undefined);
    }
  }
  return { text: out.join('\n') + '\n', tables: [...new Set([...given, ...want])], lineMap };
}

/** Rewrite `line: N` / `line N` in iptables-restore's messages to the caller's line numbers. */
function mapErrorLines(message: string, lineMap: readonly (number | undefined)[]): string {
  return message.replace(/\bline:? (\d+)/g, (all, n: string) => {
    const orig = lineMap[Number(n) - 1];
    return orig === undefined ? `${all} (a line the lab added)` : all.replace(n, String(orig));
  });
}

// ---------------------------------------------------------------------------------------------
// The lab

let labCounter = 0;

/**
 * "No route" ICMP errors for forwarded packets (ip_error) have a rate limit of their own that no
 * per-namespace sysctl turns off: a token bucket per source address, 1 s per message, 6 s burst.
 * The lab keeps a conservative copy of that bucket and waits, before a probe from a source
 * whose bucket may be empty, until the kernel would answer again.
 */
const ROUTE_ERROR_COST_MS = 1000;
const ROUTE_ERROR_BURST_MS = 6000;

const SPLIT = '__KP_SPLIT__';

class Lab implements KernelLab {
  readonly hostSpec: LabHostSpec;
  readonly addresses: LabAddresses;
  readonly namespaces: Readonly<Record<LabRole, string>>;
  readonly ipv6: boolean;
  private readonly agents = new Map<LabRole, Agent>();
  private readonly tmp: string;
  private tables4 = new Set<string>(ALWAYS_TABLES);
  private tables6 = new Set<string>(ALWAYS_TABLES);
  private probeCounter = 0;
  private readonly recvByProbe = new Map<string, AgentRecord[]>();
  private readonly recvWaiters = new Map<string, (() => void)[]>();
  private closed = false;
  private readonly tcpTimeoutMs: number;
  private readonly udpWaitMs: number;
  private readonly deliveryWaitMs: number;
  private readonly listenPorts: { readonly tcp: readonly number[]; readonly udp: readonly number[] };
  private queue: Promise<unknown> = Promise.resolve();
  private readonly forceConntrack: boolean;
  /** Per source address: the modelled ip_error token bucket (ms of credit, and when). */
  private readonly routeErrorBudget = new Map<string, { credit: number; at: number }>();

  constructor(opts: KernelLabOptions) {
    const name = (opts.name ?? 'lab').toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 8) || 'lab';
    const base = `kp-${name}-${process.pid}-${labCounter++}`;
    this.namespaces = { client: `${base}-cli`, node: `${base}-node`, server: `${base}-srv` };
    this.ipv6 = opts.ipv6 === true;
    this.hostSpec = labHostSpec(this.ipv6);
    this.addresses = labAddresses(this.ipv6);
    this.tcpTimeoutMs = opts.tcpTimeoutMs ?? 700;
    this.udpWaitMs = opts.udpWaitMs ?? 300;
    this.deliveryWaitMs = opts.deliveryWaitMs ?? 300;
    this.listenPorts = opts.listen ?? DEFAULT_LISTEN_PORTS;
    this.forceConntrack = (opts.conntrack ?? 'always') === 'always';
    this.tmp = mkdtempSync(join(tmpdir(), `kp-lab-${process.pid}-`));
  }

  async setup(): Promise<void> {
    const { client, node, server } = this.namespaces;
    for (const ns of [client, node, server]) await mustRun('ip', ['netns', 'add', ns]);
    await mustRun('ip', ['link', 'add', 'eth0', 'netns', client, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node]);
    await mustRun('ip', ['link', 'add', 'eth0', 'netns', server, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', node]);
    const v6 = this.ipv6;
    // Sysctls first, while the links are still down (IPv6: no DAD, no router solicitations, so
    // addresses are usable at once and no stray ICMPv6 shows up in the counters later).
    const ipv4Conf = (ifaces: string[], settings: string[]) => ifaces.flatMap((i) => settings.map((kv) => `net.ipv4.conf.${i}.${kv}`));
    const ipv6Conf = (ifaces: string[], settings: string[]) => (v6 ? ifaces.flatMap((i) => settings.map((kv) => `net.ipv6.conf.${i}.${kv}`)) : []);
    const sysctl = (ns: string, settings: string[]) => mustRun('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', ...settings]);
    const v6Quiet = ['accept_dad=0', 'router_solicitations=0', 'accept_ra=0'];
    // No SYN-ACK retransmissions: a half-open connection (its SYN-ACK or ACK dropped) would
    // otherwise keep sending SYN-ACKs through the node for a minute, into later probes.
    const quietTcp = 'net.ipv4.tcp_synack_retries=0';
    // No ICMP rate limits: every REJECT must answer every probe. (By default a host sends a burst
    // of 6 unreachables to a peer, then one a second.) icmp_ratemask=0 takes every type out of
    // the limits without touching the per-peer token bucket (icmp_ratelimit=0 would drain it, and
    // "no route" errors, see ROUTE_ERROR_*, share that bucket).
    const icmp = ['net.ipv4.icmp_ratemask=0', ...(v6 ? ['net.ipv6.icmp.ratelimit=0'] : [])];
    await sysctl(client, [quietTcp, ...icmp, ...ipv4Conf(['all', 'default', 'lo', 'eth0'], ['rp_filter=0']), ...ipv6Conf(['all', 'default', 'eth0'], v6Quiet)]);
    await sysctl(server, [quietTcp, ...icmp, ...ipv4Conf(['all', 'default', 'lo', 'eth0'], ['rp_filter=0']), ...ipv6Conf(['all', 'default', 'eth0'], v6Quiet)]);
    await sysctl(node, [
      quietTcp,
      ...icmp,
      'net.ipv4.ip_forward=1',
      // No ICMP redirects for hairpinned traffic: they would show up as extra OUTPUT packets.
      ...ipv4Conf(['all', 'default', 'lo', 'eth0', 'eth1'], ['rp_filter=0', 'send_redirects=0']),
      // A neighbour that does not answer fails in 100 ms instead of 3 s, so the ICMP host
      // unreachable it causes arrives within the probe, not in the middle of a later one.
      ...['eth0', 'eth1'].flatMap((i) => [`net.ipv4.neigh.${i}.mcast_solicit=1`, `net.ipv4.neigh.${i}.retrans_time_ms=100`]),
      // The same for IPv6 neighbour discovery (ICMPv6 address unreachable after 100 ms).
      ...(v6 ? ['eth0', 'eth1'].flatMap((i) => [`net.ipv6.neigh.${i}.mcast_solicit=1`, `net.ipv6.neigh.${i}.retrans_time_ms=100`]) : []),
      ...(v6 ? ['net.ipv6.conf.all.forwarding=1'] : []),
      ...ipv6Conf(['all', 'default', 'eth0', 'eth1'], v6Quiet),
    ]);
    const batch = (lines: string[]) => lines.join('\n') + '\n';
    await mustRun(
      'ip',
      ['-n', client, '-batch', '-'],
      batch([
        'link set lo up',
        'link set eth0 up',
        ...CLIENT_V4.map((a) => `addr add ${a}/24 dev eth0`),
        ...(v6 ? CLIENT_V6.map((a) => `addr add ${a}/64 dev eth0 nodad`) : []),
        `route add default via ${NODE_V4.eth0}`,
        ...(v6 ? [`route add default via ${NODE_V6.eth0}`] : []),
      ]),
    );
    await mustRun(
      'ip',
      ['-n', server, '-batch', '-'],
      batch([
        'link set lo up',
        'link set eth0 up',
        ...SERVER_V4.map((a) => `addr add ${a}/24 dev eth0`),
        ...(v6 ? SERVER_V6.map((a) => `addr add ${a}/64 dev eth0 nodad`) : []),
        `route add default via ${NODE_V4.eth1}`,
        ...(v6 ? [`route add default via ${NODE_V6.eth1}`] : []),
      ]),
    );
    await mustRun(
      'ip',
      ['-n', node, '-batch', '-'],
      batch([
        'link set lo up',
        'link set eth0 up',
        'link set eth1 up',
        `addr add ${NODE_V4.eth0}/24 dev eth0`,
        `addr add ${NODE_V4.eth1}/24 dev eth1`,
        `addr add ${NODE_V4.extra}/32 dev eth1`,
        ...(v6
          ? [`addr add ${NODE_V6.eth0}/64 dev eth0 nodad`, `addr add ${NODE_V6.eth1}/64 dev eth1 nodad`, `addr add ${NODE_V6.extra}/128 dev eth1 nodad`]
          : []),
      ]),
    );
    // Empty ruleset (all four tables present) so that the first probe already runs with conntrack.
    await this.restore(4, '');
    if (v6) await this.restore(6, '');

    const agentPath = fileURLToPath(new URL('./agent.js', import.meta.url));
    for (const role of ['client', 'node', 'server'] as const) {
      this.agents.set(role, new Agent(role, this.namespaces[role], agentPath, (rec) => this.onRecord(rec)));
    }
    await Promise.all([...this.agents.values()].map((a) => a.ready));
    await Promise.all(
      [...this.agents.values()].map((a) => a.request('listen', { tcp: this.listenPorts.tcp, udp: this.listenPorts.udp, ipv6: v6 }, 20000)),
    );
  }

  private onRecord(rec: AgentRecord): void {
    // Only deliveries of the probe in flight count (a late one belongs to nobody).
    const list = this.recvByProbe.get(rec.probeId);
    if (list) list.push(rec);
    for (const w of this.recvWaiters.get(rec.probeId) ?? []) w();
  }

  private waitForRecord(probeId: string, ms: number): Promise<void> {
    if (this.recvByProbe.get(probeId)?.length) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      const list = this.recvWaiters.get(probeId);
      if (list) list.push(done);
      else this.recvWaiters.set(probeId, [done]);
    });
  }

  /** Serialise lab operations: probes and loads never overlap. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async restore(family: 4 | 6, text: string): Promise<RunResult> {
    const tables = family === 4 ? this.tables4 : this.tables6;
    const full = completeRules(text, tables, this.forceConntrack);
    const file = join(this.tmp, `rules${family}.txt`);
    writeFileSync(file, full.text);
    const cmd = family === 4 ? 'iptables-restore' : 'ip6tables-restore';
    const r = await nsExec(this.namespaces.node, `${cmd} < '${file}'`);
    if (r.code === 0) {
      if (family === 4) this.tables4 = new Set(full.tables);
      else this.tables6 = new Set(full.tables);
    } else {
      r.stderr = mapErrorLines(r.stderr, full.lineMap);
    }
    return r;
  }

  loadRules(ipv4Text: string, ipv6Text?: string): Promise<void> {
    return this.serial(async () => {
      this.assertOpen();
      if (ipv6Text !== undefined && !this.ipv6) throw new Error('loadRules: IPv6 rules given to a lab created without ipv6: true');
      const r4 = await this.restore(4, ipv4Text);
      if (r4.code !== 0) {
        await this.restore(4, '');
        throw new Error(`iptables-restore failed (exit ${r4.code}):\n${(r4.stderr + r4.stdout).trim()}`);
      }
      if (this.ipv6) {
        const r6 = await this.restore(6, ipv6Text ?? '');
        if (r6.code !== 0) {
          await this.restore(6, '');
          await this.restore(4, '');
          throw new Error(`ip6tables-restore failed (exit ${r6.code}):\n${(r6.stderr + r6.stdout).trim()}`);
        }
      }
    });
  }

  private saveScript(): string {
    return this.ipv6 ? `iptables-save -c; echo ${SPLIT}; ip6tables-save -c` : `iptables-save -c; echo ${SPLIT}`;
  }

  private parseSaves(out: string): SavedCounters {
    const [v4 = '', v6 = ''] = out.split(SPLIT);
    const a = parseIptablesSave(v4, 4);
    const b = parseIptablesSave(v6, 6);
    return { rules: [...a.rules, ...b.rules], policies: [...a.policies, ...b.policies] };
  }

  probe(p: Probe): Promise<Observation> {
    return this.serial(() => this.probeNow(p));
  }

  private async probeNow(p: Probe): Promise<Observation> {
    this.assertOpen();
    const started = Date.now();
    const sender = this.agents.get(p.from);
    if (!sender) throw new Error(`probe: unknown "from": ${String(p.from)}`);
    const probeId = `p${++this.probeCounter}`;
    const node = this.namespaces.node;
    if (!p.src.includes(':')) await this.awaitRouteErrorBudget(p.src);

    // 1. flush conntrack, snapshot counters (one process spawn).
    const pre = await nsExec(node, `conntrack -F >/dev/null 2>&1; ${this.saveScript()}`);
    if (pre.code !== 0) throw new Error(`counter snapshot failed: ${pre.stderr}`);
    const before = this.parseSaves(pre.stdout);

    // 2. send.
    this.recvByProbe.set(probeId, []);
    const waiter = this.waitForRecord(probeId, this.tcpTimeoutMs + this.udpWaitMs + this.deliveryWaitMs + 1000);
    let sendDone = false;
    // A delivered UDP datagram ends the sender's wait for an ICMP error at once.
    const settleOnRecord = waiter.then(async () => {
      if (!sendDone && p.proto === 'udp' && this.recvByProbe.get(probeId)?.length) {
        await sender.request('settle', { probeId }).catch(() => undefined);
      }
    });
    const reply = await sender.request(
      'send',
      {
        probeId,
        proto: p.proto,
        src: p.src,
        ...(p.sport !== undefined ? { sport: p.sport } : {}),
        dst: p.dst,
        dport: p.dport,
        timeoutMs: this.tcpTimeoutMs,
        udpWaitMs: this.udpWaitMs,
      },
      this.tcpTimeoutMs + this.udpWaitMs + 10000,
    );
    sendDone = true;
    const result = String(reply.result);
    if (result === 'connected') {
      await this.waitForRecord(probeId, this.deliveryWaitMs);
    }
    // Release every waiter of this probe (clears their timers), then let the settle finish.
    for (const w of this.recvWaiters.get(probeId) ?? []) w();
    this.recvWaiters.delete(probeId);
    await settleOnRecord;

    // 3. snapshot counters and conntrack (one process spawn).
    // `conntrack -L` lists every family.
    const ctList = 'conntrack -L -o extended 2>/dev/null';
    const post = await nsExec(node, `${this.saveScript()}; echo ${SPLIT}; ${ctList}`);
    if (post.code !== 0) throw new Error(`counter snapshot failed: ${post.stderr}`);
    const parts = post.stdout.split(SPLIT);
    const ctText = parts[2] ?? '';
    const after = this.parseSaves(parts.slice(0, 2).join(SPLIT));
    const delta = subtractCounters(after, before);

    // 4. Now that everything is observed: reset every TCP connection of the probe, on both
    //    sides (RST, no FIN, no TIME_WAIT), so that nothing trickles into the next probe.
    if (p.proto === 'tcp') {
      await Promise.all([...this.agents.values()].map((a) => a.request('closeAll').catch(() => undefined)));
      // Sockets node itself closed (an error after the handshake: close() sends a FIN, and an
      // orphan in FIN-WAIT-1 retransmits it for minutes) are only reachable through the kernel:
      // abort every remaining TCP connection in the lab (`ss -K` sends a RST).
      await Promise.all(
        (['client', 'node', 'server'] as const).map((role) => nsExec(this.namespaces[role], 'ss -K -tn state connected >/dev/null 2>&1; true')),
      );
    }

    // Any "unreachable" may have been a routing error answered by ip_error: spend a token.
    // (IPv4 only: IPv6's "no route" errors go through icmpv6_send, whose limit the lab turns off.)
    if (result === 'unreachable' && p.from !== 'node' && !p.src.includes(':')) this.spendRouteErrorBudget(p.src);

    const localPort = typeof reply.localPort === 'number' ? reply.localPort : undefined;
    const all = parseConntrack(ctText);
    const mine = (e: ConntrackEntry) =>
      e.proto === p.proto &&
      e.orig.src === canonicalIP(p.src) &&
      e.orig.dst === canonicalIP(p.dst) &&
      e.orig.dport === p.dport &&
      (localPort === undefined || e.orig.sport === localPort);
    const received = (this.recvByProbe.get(probeId) ?? []).map(
      (r): Received => ({
        at: r.at,
        proto: r.proto,
        localAddress: canonicalIP(r.localAddress),
        localPort: r.localPort,
        remoteAddress: canonicalIP(r.remoteAddress),
        remotePort: r.remotePort,
      }),
    );
    this.recvByProbe.delete(probeId);
    return {
      probe: p,
      probeId,
      sent: result,
      ...(typeof reply.code === 'string' ? { error: reply.code } : {}),
      ...(localPort !== undefined ? { localPort } : {}),
      received,
      conntrack: all.filter(mine),
      conntrackOther: all.filter((e) => !mine(e)),
      counters: delta.rules,
      policyCounters: delta.policies,
      ms: Date.now() - started,
    };
  }

  private routeErrorCredit(src: string, now: number): number {
    const b = this.routeErrorBudget.get(src);
    return b ? Math.min(ROUTE_ERROR_BURST_MS, b.credit + (now - b.at)) : ROUTE_ERROR_BURST_MS;
  }

  private async awaitRouteErrorBudget(src: string): Promise<void> {
    const credit = this.routeErrorCredit(src, Date.now());
    const margin = 50; // jiffies vs. Date.now(): stay on the safe side
    if (credit < ROUTE_ERROR_COST_MS + margin) {
      await new Promise((r) => setTimeout(r, ROUTE_ERROR_COST_MS + margin - credit));
    }
  }

  private spendRouteErrorBudget(src: string): void {
    const now = Date.now();
    this.routeErrorBudget.set(src, { credit: this.routeErrorCredit(src, now) - ROUTE_ERROR_COST_MS, at: now });
  }

  async exec(role: LabRole, script: string): Promise<string> {
    this.assertOpen();
    const r = await nsExec(this.namespaces[role], script);
    if (r.code !== 0) throw new Error(`exec in ${role} failed (${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the kernel lab is closed');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.agents.values()].map((a) => a.stop().catch(() => undefined)));
    this.destroySync();
    liveLabs.delete(this);
  }

  /** Kill the agents and anything else inside the lab's namespaces, delete the namespaces. Synchronous. */
  destroySync(): void {
    this.closed = true;
    for (const a of this.agents.values()) a.killSync();
    for (const ns of Object.values(this.namespaces)) {
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 5000 });
      for (const pid of (pids.stdout ?? '').split(/\s+/).filter((x) => /^\d+$/.test(x))) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      spawnSync('ip', ['netns', 'del', ns], { timeout: 5000, stdio: 'ignore' });
    }
    try {
      rmSync(this.tmp, { recursive: true, force: true });
    } catch {
      /* ignore */
    }
  }
}

/** Create a lab (namespaces, links, addresses, agents). Call `close()` when done. */
export async function createKernelLab(opts: KernelLabOptions = {}): Promise<KernelLab> {
  const avail = kernelLabAvailable();
  if (!avail.ok) throw new Error(`kernel lab not available: ${avail.reason}`);
  installHandlers();
  removeStaleNamespaces();
  const lab = new Lab(opts);
  liveLabs.add(lab);
  try {
    await lab.setup();
  } catch (e) {
    await lab.close();
    throw e;
  }
  return lab;
}

/** Run `fn` with a fresh lab; the lab is always closed afterwards, also when `fn` throws. */
export async function withKernelLab<T>(fn: (lab: KernelLab) => Promise<T>, opts: KernelLabOptions = {}): Promise<T> {
  const lab = await createKernelLab(opts);
  try {
    return await fn(lab);
  } finally {
    await lab.close();
  }
}
