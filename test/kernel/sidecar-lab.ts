/**
 * The sidecar lab: a client namespace and a pod namespace joined by a veth pair, istio-iptables'
 * rules (as kubepath compiles them) loaded into the pod with real iptables-restore, and real
 * processes in the pod as the users Istio runs them: the app, the proxy (a Node listener for
 * REDIRECT, socat with IP_TRANSPARENT and SO_MARK for TPROXY, as Envoy's original_src does).
 *
 * ```
 * kp-sc-PID-N-cli  eth0 10.250.0.1/24 ──veth── eth0 10.250.0.2/24  kp-sc-PID-N-pod
 * ```
 *
 * Safety: only the two `kp-sc-…` namespaces are touched (the veth pair is created inside them,
 * addresses, routes, rules and iptables only there); every process the lab starts is killed
 * by its id (socat's by its own process group) and the namespaces deleted in `close()`, and
 * synchronously on exit.
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { endianness, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { mustRun, processAlive, run } from './exec.js';
import { type ConntrackTable, parseConntrackList } from '../../src/netfilter/index.js';
import type { IstioRules } from '../../src/sidecar/index.js';
import { kernelLabAvailable } from './lab.js';

export const CLIENT_IP = '10.250.0.1';
export const POD_IP = '10.250.0.2';

/** A user and group to run a process as (setpriv; root keeps its capabilities). */
export interface Identity {
  readonly uid: number;
  readonly gid: number;
  /** Ambient capabilities to keep after dropping root (e.g. `net_admin` for IP_TRANSPARENT). */
  readonly caps?: readonly string[];
}

export const ROOT: Identity = { uid: 0, gid: 0 };

export type Side = 'client' | 'pod';

/** A connection a listener accepted: the listener's port, the accepted socket's local and remote endpoints. */
export interface Accept {
  readonly side: Side;
  readonly port: number;
  readonly local: string;
  readonly remote: string;
}

export interface ConnectResult {
  readonly ok: boolean;
  /** The connecting socket's local endpoint (`10.250.0.1:41234`). */
  readonly local?: string;
  readonly error?: string;
}


/** Whether the lab can run: the kernel lab's conditions (root, tools, namespaces) and setpriv. */
export function sidecarLabAvailable(): { ok: true } | { ok: false; reason: string } {
  const base = kernelLabAvailable();
  if (!base.ok) return base;
  const r = spawnSync('setpriv', ['--version'], { encoding: 'utf8', timeout: 5000 });
  if (r.error || r.status !== 0) return { ok: false, reason: 'setpriv (util-linux) is not usable' };
  return { ok: true };
}

/** Whether socat is installed (the TPROXY proxy; .ci/run installs it). */
export function socatAvailable(): boolean {
  const r = spawnSync('socat', ['-V'], { encoding: 'utf8', timeout: 5000 });
  return !r.error && r.status === 0;
}

/** `setsockopt-listen` value for SO_MARK (SOL_SOCKET=1, SO_MARK=36): socat applies it before connect. */
export function soMarkOption(mark: number): string {
  const b = Buffer.alloc(4);
  if (endianness() === 'LE') b.writeUInt32LE(mark);
  else b.writeUInt32BE(mark);
  return `setsockopt-listen=1:36:x${b.toString('hex')}`;
}

const AGENT = join(fileURLToPath(new URL('.', import.meta.url)), 'sidecar-agent.js');
const NS_PATTERN = /^kp-sc-(\d+)-(\d+)-(cli|pod)$/;
const live = new Set<SidecarLab>();
let counter = 0;
let handlers = false;


/** Namespaces of sidecar labs whose process is gone (never another's). */
function removeStale(): void {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 5000 });
  for (const line of (r.stdout ?? '').split('\n')) {
    const name = line.trim().split(/\s+/)[0] ?? '';
    const m = NS_PATTERN.exec(name);
    if (m && !processAlive(Number(m[1]))) spawnSync('ip', ['netns', 'del', name], { timeout: 5000 });
  }
}

function installHandlers(): void {
  if (handlers) return;
  handlers = true;
  process.on('exit', () => {
    for (const lab of live) lab.destroySync();
  });
}

/** setpriv's words for an identity (nothing for root). */
function asUser(id: Identity): string[] {
  if (id.uid === 0 && id.gid === 0) return [];
  const caps = id.caps?.length ? ['--inh-caps', id.caps.map((c) => `+${c}`).join(','), '--ambient-caps', id.caps.map((c) => `+${c}`).join(',')] : [];
  return ['setpriv', '--reuid', String(id.uid), '--regid', String(id.gid), '--clear-groups', ...caps];
}

/** Node listeners in one namespace as one user, and the connections they accepted. */
export class Listeners {
  readonly accepts: Accept[] = [];
  private waiters: (() => void)[] = [];

  constructor(
    readonly side: Side,
    readonly child: ChildProcess,
    readonly ready: Promise<void>,
  ) {}

  /** @internal */
  record(a: Accept): void {
    this.accepts.push(a);
    for (const w of this.waiters.splice(0)) w();
  }

  /** The accepted connection whose remote endpoint is `remote`, waiting up to `ms` for it. */
  async find(remote: (a: Accept) => boolean, ms: number): Promise<Accept | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.accepts.find(remote);
      if (hit || Date.now() >= deadline) return hit;
      await new Promise<void>((res) => {
        const t = setTimeout(res, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          res();
        });
      });
    }
  }
}

export class SidecarLab {
  readonly namespaces: Readonly<Record<Side, string>>;
  private readonly children: ChildProcess[] = [];
  /** Children started in their own process group (socat forks one per connection). */
  private readonly groups: ChildProcess[] = [];
  private readonly tmp: string;
  private closed = false;
  private nextPort = 42000;

  private constructor() {
    const base = `kp-sc-${process.pid}-${counter++}`;
    this.namespaces = { client: `${base}-cli`, pod: `${base}-pod` };
    this.tmp = mkdtempSync(join(tmpdir(), `kp-sc-${process.pid}-`));
    chmodSync(this.tmp, 0o755);
  }

  /** Build the two namespaces and the link between them. */
  static async create(): Promise<SidecarLab> {
    removeStale();
    installHandlers();
    const lab = new SidecarLab();
    live.add(lab);
    try {
      const { client, pod } = lab.namespaces;
      await mustRun('ip', ['netns', 'add', client]);
      await mustRun('ip', ['netns', 'add', pod]);
      await mustRun('ip', ['link', 'add', 'eth0', 'netns', client, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod]);
      for (const [ns, ip] of [[client, CLIENT_IP], [pod, POD_IP]] as const) {
        await mustRun('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
        await mustRun('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
        await mustRun('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      }
      await mustRun('ip', ['-n', pod, 'route', 'add', 'default', 'via', CLIENT_IP, 'dev', 'eth0']);
    } catch (e) {
      await lab.close();
      throw e;
    }
    return lab;
  }

  /** Load istio-iptables' rules into the pod as istio-iptables does (`iptables-restore --noflush`), with its policy rules, routes and addresses. */
  async load(rules: IstioRules): Promise<void> {
    const ns = this.namespaces.pod;
    await mustRun('ip', ['netns', 'exec', ns, rules.family === 'IPv6' ? 'ip6tables-restore' : 'iptables-restore', '--noflush'], rules.text);
    const fam = rules.family === 'IPv6' ? '-6' : '-4';
    for (const r of rules.policyRules) await mustRun('ip', [fam, '-n', ns, 'rule', 'add', ...r.split(' ')]);
    for (const r of rules.routes) await mustRun('ip', [fam, '-n', ns, 'route', 'add', ...r.split(' ')]);
    for (const a of rules.addresses) await mustRun('ip', [fam, '-n', ns, 'addr', 'add', ...a.split(' ')]);
  }

  /** Run a command in a namespace; its stdout. */
  exec(side: Side, args: readonly string[]): Promise<string> {
    return mustRun('ip', ['netns', 'exec', this.namespaces[side], ...args]);
  }

  /** Start Node listeners on `ports` in a namespace as `id`; resolves once they listen. */
  async listen(side: Side, ports: readonly number[], id: Identity = ROOT): Promise<Listeners> {
    const child = spawn('ip', ['netns', 'exec', this.namespaces[side], ...asUser(id), process.execPath, AGENT, '--kp-sidecar-agent', 'listen', ...ports.map(String)], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: cleanEnv(),
    });
    this.children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    let resolveReady: () => void = () => undefined;
    let rejectReady: (e: Error) => void = () => undefined;
    const ready = new Promise<void>((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    const listeners = new Listeners(side, child, ready);
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      let msg: { ev?: string; port?: number; local?: string; remote?: string; error?: string };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        return;
      }
      if (msg.ev === 'ready') resolveReady();
      else if (msg.ev === 'accept') listeners.record({ side, port: msg.port!, local: msg.local!, remote: msg.remote! });
      else if (msg.ev === 'error') rejectReady(new Error(`listener on ${msg.port}: ${msg.error}`));
    });
    child.on('exit', (code) => rejectReady(new Error(`listener exited (${code}): ${stderr.trim()}`)));
    const timer = setTimeout(() => rejectReady(new Error(`listeners on ${ports.join(',')} did not start: ${stderr.trim()}`)), 10000);
    await ready.finally(() => clearTimeout(timer));
    return listeners;
  }

  /** One TCP connection from a namespace as `id` (a Node socket, optionally bound to `localAddress`). */
  async connect(side: Side, id: Identity, host: string, port: number, localAddress?: string): Promise<ConnectResult> {
    const r = await run('ip', ['netns', 'exec', this.namespaces[side], ...asUser(id), process.execPath, AGENT, '--kp-sidecar-agent', 'connect', host, String(port), localAddress ?? '']);
    const line = r.stdout.trim().split('\n').pop() ?? '';
    try {
      const msg = JSON.parse(line) as { ev: string; local?: string; error?: string };
      return msg.ev === 'connected' ? { ok: true, local: msg.local! } : { ok: false, error: msg.error ?? 'unknown' };
    } catch {
      return { ok: false, error: `agent: ${r.stderr.trim() || line}` };
    }
  }

  /**
   * A connection the way Envoy's original_src opens its leg to the app in TPROXY mode: socat with
   * IP_TRANSPARENT and SO_MARK set before connect, bound to `bind` (the client's address).
   */
  async transparentConnect(id: Identity, bind: string, host: string, port: number, mark: number): Promise<ConnectResult> {
    // socat does not say which port it was given: bind one (a new one each time).
    const local = `${bind}:${this.nextPort++}`;
    const r = await run('ip', ['netns', 'exec', this.namespaces.pod, ...asUser(id), 'socat', '-u', 'OPEN:/dev/null', `TCP4:${host}:${port},bind=${local},ip-transparent,${soMarkOption(mark)},connect-timeout=1`]);
    if (r.code === 0) return { ok: true, local };
    return { ok: false, local, error: /timed out/i.test(r.stderr) ? 'timeout' : (r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`) };
  }

  /**
   * A TPROXY-mode proxy on 15006 as `id`: socat with an IP_TRANSPARENT listener; per connection a
   * child that connects to the original destination (its own local address) from the client's
   * address, IP_TRANSPARENT and SO_MARK `mark` set before connect — Envoy's inbound listener and
   * original_src filter. Its log lines name each accepted connection.
   */
  async tproxyProxy(id: Identity, port: number, mark: number): Promise<{ log: () => string }> {
    const child = join(this.tmp, 'upstream.sh');
    writeFileSync(child, `#!/bin/sh\nexec socat STDIO "TCP4:$SOCAT_SOCKADDR:$SOCAT_SOCKPORT,bind=$SOCAT_PEERADDR,ip-transparent,${soMarkOption(mark)},connect-timeout=1"\n`);
    chmodSync(child, 0o755);
    const p = spawn('ip', ['netns', 'exec', this.namespaces.pod, ...asUser(id), 'socat', '-d', '-d', `TCP4-LISTEN:${port},ip-transparent,fork,reuseaddr`, `EXEC:${child}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    this.groups.push(p);
    let log = '';
    p.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    for (let i = 0; i < 100; i++) {
      const ss = await run('ip', ['netns', 'exec', this.namespaces.pod, 'ss', '-Hltn', `sport = :${port}`]);
      if (ss.stdout.trim() !== '') return { log: () => log };
      if (p.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`socat on ${port} did not start: ${log.trim()}`);
  }

  /** The pod's conntrack table (`conntrack -L`), read with kubepath's parser. */
  async conntrack(): Promise<ConntrackTable> {
    const r = await run('ip', ['netns', 'exec', this.namespaces.pod, 'conntrack', '-L']);
    return parseConntrackList(r.stdout, 'conntrack -L');
  }

  async flushConntrack(): Promise<void> {
    await run('ip', ['netns', 'exec', this.namespaces.pod, 'conntrack', '-F']);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.destroySync();
  }

  /** Kill what the lab started, delete its namespaces and temporary directory. */
  destroySync(): void {
    if (this.closed) return;
    this.closed = true;
    live.delete(this);
    for (const c of this.children) {
      if (c.exitCode === null && c.pid !== undefined) {
        try {
          c.kill('SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    for (const g of this.groups) {
      if (g.pid !== undefined) {
        try {
          process.kill(-g.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    for (const ns of Object.values(this.namespaces)) spawnSync('ip', ['netns', 'del', ns], { timeout: 5000 });
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['NODE_TEST_CONTEXT'];
  delete env['NODE_OPTIONS'];
  return env;
}
