/**
 * Seeded generator of differential cases for the kernel lab's topology (see topology.ts): each
 * case is a full iptables-restore text plus one probe. The same seed always gives the same
 * cases (mulberry32 PRNG, no other source of randomness).
 *
 * Groups:
 *  - `kube`:      kube-proxy shaped rule sets (ClusterIP, NodePort, no-endpoint REJECT, masquerade,
 *                 KUBE-FORWARD), single-endpoint services so the outcome is deterministic.
 *  - `random`:    random rules in raw/mangle/nat/filter with most matches and targets the engine knows.
 *  - `local`:     locally generated packets (`from: 'node'`) through nat OUTPUT and filter OUTPUT.
 *  - `statistic`: (from {@link generateStatisticCases}) services with 2–4 endpoints chosen by
 *                 `-m statistic`; run each many times and compare distributions.
 *  - `kube6`, `filter6`, `nat6`, `local6`: (from {@link generateCasesV6}) the same for IPv6, in
 *                 ip6tables-restore text (`rules6`, `family: 6`).
 *  - `edge6`:     (from {@link generateCasesV6}) fixed IPv6 cases where the kernel's IPv6
 *                 semantics differ from IPv4's (addrtype, anycast, hairpins, REDIRECT).
 *
 * @module
 */
import { mulberry32 } from '../support/prng.js';
import type { Probe } from './lab.js';
import { CLIENT_V4, CLIENT_V6, DEFAULT_LISTEN_PORTS, NODE_V4, NODE_V6, SERVER_V4, SERVER_V6 } from './topology.js';

/** Something the kernel chooses by hash or at random: compare it as "one of the allowed", not exactly. */
export type Varies =
  /** The DNAT destination (statistic, or an address range). */
  | 'endpoint'
  /** The source port after SNAT/MASQUERADE (--random-fully, or a port range the original port is not in). */
  | 'sourcePort';

export interface DiffCase {
  readonly name: string;
  readonly group: 'kube' | 'random' | 'local' | 'statistic' | 'kube6' | 'filter6' | 'nat6' | 'local6' | 'edge6' | 'kubeproxy';
  /**
   * Full iptables-restore text (tables in the order raw, mangle, nat, filter). For IPv6 cases
   * (`family: 6`) empty tables: the rules under test are in {@link rules6}.
   */
  readonly rules: string;
  /** Full ip6tables-restore text of an IPv6 case (load with `lab.loadRules(rules, rules6)`). */
  readonly rules6?: string;
  /** Address family of the probe and of the rules under test; default 4. */
  readonly family?: 4 | 6;
  readonly probe: Probe;
  readonly varies: readonly Varies[];
}

/** Ports the server, node (and client) agents listen on, TCP and UDP. */
export const LISTEN_PORTS = DEFAULT_LISTEN_PORTS;

/** A port nothing listens on: probes to it are refused by the receiving host. */
export const CLOSED_PORT = 7;

// ---------------------------------------------------------------------------------------------
// PRNG

export { mulberry32 };

class Rng {
  constructor(private readonly next: () => number) {}
  float(): number {
    return this.next();
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.next() * list.length)]!;
  }
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    const total = items.reduce((s, [, w]) => s + w, 0);
    let x = this.next() * total;
    for (const [v, w] of items) {
      x -= w;
      if (x < 0) return v;
    }
    return items[items.length - 1]![0];
  }
  shuffle<T>(list: readonly T[]): T[] {
    const out = list.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'[this.int(0, 35)];
    return s;
  }
}

// ---------------------------------------------------------------------------------------------
// Ruleset builder

type Table = 'raw' | 'mangle' | 'nat' | 'filter';
type Hook = 'PREROUTING' | 'INPUT' | 'FORWARD' | 'OUTPUT' | 'POSTROUTING';

const TABLE_ORDER: readonly Table[] = ['raw', 'mangle', 'nat', 'filter'];
const BUILTIN: Readonly<Record<Table, readonly Hook[]>> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
};

class Ruleset {
  private readonly used = new Set<Table>();
  private readonly policies = new Map<string, string>();
  private readonly userChains = new Map<Table, string[]>();
  private readonly rules = new Map<Table, string[]>();

  use(table: Table): this {
    this.used.add(table);
    return this;
  }
  policy(table: Table, chain: Hook, policy: 'ACCEPT' | 'DROP'): this {
    this.use(table);
    this.policies.set(`${table}/${chain}`, policy);
    return this;
  }
  chain(table: Table, name: string): this {
    this.use(table);
    const list = this.userChains.get(table) ?? [];
    if (!list.includes(name)) list.push(name);
    this.userChains.set(table, list);
    return this;
  }
  add(table: Table, rule: string): this {
    this.use(table);
    const list = this.rules.get(table) ?? [];
    list.push(rule);
    this.rules.set(table, list);
    return this;
  }
  insertFirst(table: Table, rule: string): this {
    this.use(table);
    this.rules.set(table, [rule, ...(this.rules.get(table) ?? [])]);
    return this;
  }
  render(): string {
    let out = '';
    for (const table of TABLE_ORDER) {
      if (!this.used.has(table)) continue;
      out += `*${table}\n`;
      for (const c of BUILTIN[table]) out += `:${c} ${this.policies.get(`${table}/${c}`) ?? 'ACCEPT'} [0:0]\n`;
      for (const c of this.userChains.get(table) ?? []) out += `:${c} - [0:0]\n`;
      for (const r of this.rules.get(table) ?? []) out += `${r}\n`;
      out += 'COMMIT\n';
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// kube-proxy shaped cases

interface Service {
  readonly id: string;
  readonly name: string;
  readonly vip: string;
  readonly proto: 'tcp' | 'udp';
  readonly port: number;
  readonly nodePort?: number;
  readonly endpoints: readonly { readonly ip: string; readonly port: number }[];
  readonly localPolicy: boolean;
}

const TARGET_PORTS = [80, 8080, 8081, 9000, 9001, 9002, 9003, 53];
const MASQ_MARK = '0x4000';

function kubeRuleset(
  rng: Rng,
  services: readonly Service[],
  opts: { clusterCidr: string; forwardDrop: boolean; randomFully: boolean; legacyNodePortChain: boolean; family?: 4 | 6 },
): Ruleset {
  const v6 = opts.family === 6;
  const host = v6 ? '128' : '32';
  const unreachable = v6 ? 'icmp6-port-unreachable' : 'icmp-port-unreachable';
  const endpoint = (ep: { ip: string; port: number }) => (v6 ? `[${ep.ip}]:${ep.port}` : `${ep.ip}:${ep.port}`);
  const r = new Ruleset();
  for (const t of ['nat', 'filter'] as const) r.use(t);
  // nat
  for (const c of ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ']) r.chain('nat', c);
  r.add('nat', '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
  r.add('nat', '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
  r.add('nat', '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING');
  r.add('nat', `-A KUBE-MARK-MASQ -j MARK --or-mark ${MASQ_MARK}`);
  r.add('nat', `-A KUBE-POSTROUTING -m mark ! --mark ${MASQ_MARK}/${MASQ_MARK} -j RETURN`);
  r.add('nat', `-A KUBE-POSTROUTING -j MARK --xor-mark ${MASQ_MARK}`);
  r.add(
    'nat',
    `-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${opts.randomFully ? ' --random-fully' : ''}`,
  );
  // filter
  for (const c of ['KUBE-FORWARD', 'KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-FIREWALL', 'KUBE-NODEPORTS']) r.chain('filter', c);
  if (opts.forwardDrop) r.policy('filter', 'FORWARD', 'DROP');
  r.add('filter', '-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS');
  r.add('filter', '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES');
  r.add('filter', '-A INPUT -j KUBE-FIREWALL');
  r.add('filter', '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD');
  r.add('filter', '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
  r.add('filter', '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES');
  r.add('filter', '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
  r.add('filter', '-A OUTPUT -j KUBE-FIREWALL');
  // kube-proxy adds "block incoming localnet connections" for IPv4 only.
  if (!v6) {
    r.add(
      'filter',
      '-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
    );
  }
  r.add('filter', '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP');
  r.add('filter', `-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark ${MASQ_MARK}/${MASQ_MARK} -j ACCEPT`);
  r.add('filter', '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT');
  if (opts.forwardDrop && rng.chance(0.5)) {
    // A CNI-style rule letting the pod network through.
    r.add('filter', `-A FORWARD -s ${opts.clusterCidr} -m comment --comment "cni: pod traffic" -j ACCEPT`);
  }

  const nodePortRules: string[] = [];
  for (const svc of services) {
    const cmt = `-m comment --comment "${svc.name}`;
    const svcChain = `KUBE-SVC-${svc.id}`;
    const extChain = `KUBE-EXT-${svc.id}`;
    if (svc.endpoints.length === 0) {
      r.add('filter', `-A KUBE-SERVICES -d ${svc.vip}/${host} -p ${svc.proto} ${cmt} has no endpoints" -m ${svc.proto} --dport ${svc.port} -j REJECT --reject-with ${unreachable}`);
      if (svc.nodePort) {
        r.add(
          'filter',
          `-A KUBE-EXTERNAL-SERVICES -p ${svc.proto} ${cmt} has no endpoints" -m addrtype --dst-type LOCAL -m ${svc.proto} --dport ${svc.nodePort} -j REJECT --reject-with ${unreachable}`,
        );
      }
      continue;
    }
    r.chain('nat', svcChain);
    r.add('nat', `-A KUBE-SERVICES -d ${svc.vip}/${host} -p ${svc.proto} ${cmt} cluster IP" -m ${svc.proto} --dport ${svc.port} -j ${svcChain}`);
    r.add('nat', `-A ${svcChain} ! -s ${opts.clusterCidr} -d ${svc.vip}/${host} -p ${svc.proto} ${cmt} cluster IP" -m ${svc.proto} --dport ${svc.port} -j KUBE-MARK-MASQ`);
    if (svc.nodePort) {
      if (opts.legacyNodePortChain) {
        nodePortRules.push(`-A KUBE-NODEPORTS -p ${svc.proto} ${cmt}" -m ${svc.proto} --dport ${svc.nodePort} -j KUBE-MARK-MASQ`);
        nodePortRules.push(`-A KUBE-NODEPORTS -p ${svc.proto} ${cmt}" -m ${svc.proto} --dport ${svc.nodePort} -j ${svcChain}`);
      } else {
        r.chain('nat', extChain);
        nodePortRules.push(`-A KUBE-NODEPORTS -p ${svc.proto} ${cmt}" -m ${svc.proto} --dport ${svc.nodePort} -j ${extChain}`);
        if (svc.localPolicy) {
          r.add('nat', `-A ${extChain} -s ${opts.clusterCidr} ${cmt}" -j ${svcChain}`);
          r.add('nat', `-A ${extChain} -m comment --comment "masquerade LOCAL traffic for ${svc.name}" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`);
          r.add('nat', `-A ${extChain} -m comment --comment "route LOCAL traffic for ${svc.name}" -m addrtype --src-type LOCAL -j ${svcChain}`);
          // Node-local endpoints only: here the first endpoint stands for the local one.
          r.add('nat', `-A ${extChain} -j KUBE-SEP-${svc.id}0`);
        } else {
          r.add('nat', `-A ${extChain} -m comment --comment "masquerade traffic for ${svc.name} external destinations" -j KUBE-MARK-MASQ`);
          r.add('nat', `-A ${extChain} -j ${svcChain}`);
        }
      }
    }
    const n = svc.endpoints.length;
    svc.endpoints.forEach((ep, i) => {
      const sep = `KUBE-SEP-${svc.id}${i}`;
      r.chain('nat', sep);
      const stat = i < n - 1 ? ` -m statistic --mode random --probability ${(1 / (n - i)).toFixed(10)}` : '';
      r.add('nat', `-A ${svcChain} ${cmt} -> ${endpoint(ep)}"${stat} -j ${sep}`);
      r.add('nat', `-A ${sep} -s ${ep.ip}/${host} ${cmt}" -j KUBE-MARK-MASQ`);
      r.add('nat', `-A ${sep} -p ${svc.proto} ${cmt}" -m ${svc.proto} -j DNAT --to-destination ${endpoint(ep)}`);
    });
  }
  for (const rule of nodePortRules) r.add('nat', rule);
  r.add('nat', '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS');
  return r;
}

function kubeCase(rng: Rng, index: number, endpointsPerService: () => number, group: 'kube' | 'statistic'): DiffCase {
  // Who sends: mostly a client; sometimes the server (hairpin) or the node itself.
  const from = rng.weighted<Probe['from']>([
    ['client', 7],
    ['server', 1.5],
    ['node', 1.5],
  ]);
  const nServices = rng.int(1, 4);
  const services: Service[] = [];
  const usedPorts = new Set<number>();
  for (let i = 0; i < nServices; i++) {
    const proto = rng.chance(0.7) ? 'tcp' : 'udp';
    const port = rng.pick([80, 53, 8080, 443, 9000]);
    const nEp = endpointsPerService();
    const endpoints = rng.shuffle(SERVER_V4).slice(0, nEp).map((ip) => ({ ip, port: rng.pick(TARGET_PORTS) }));
    let nodePort: number | undefined;
    if (rng.chance(0.5)) {
      const candidate = rng.pick([30080, 30081, 30082]);
      if (!usedPorts.has(candidate)) {
        usedPorts.add(candidate);
        nodePort = candidate;
      }
    }
    services.push({
      id: `${rng.hex(6)}${i}`,
      name: `ns${i}/svc-${i}:${proto}-${port}`,
      // A VIP the node has no route to is fine for forwarded traffic (DNAT comes before
      // routing), but locally generated traffic is routed before nat OUTPUT: for the node's own
      // probes, mostly VIPs in eth1's subnet (never for the server's: it would ARP for them).
      vip: from === 'node' && rng.chance(0.8) ? `10.2.0.${200 + i}` : `172.30.0.${10 + i}`,
      proto,
      port,
      ...(nodePort !== undefined ? { nodePort } : {}),
      endpoints,
      localPolicy: rng.chance(0.25),
    });
  }
  const clusterCidr = rng.pick(['10.244.0.0/16', '10.1.0.0/24', '10.1.0.2/32']);
  const randomFully = rng.chance(0.3);
  const rs = kubeRuleset(rng, services, { clusterCidr, forwardDrop: rng.chance(0.35), randomFully, legacyNodePortChain: rng.chance(0.25) });

  // The probe: mostly at a service, sometimes at a node port, a service without endpoints,
  // straight at an endpoint, or a service port that does not exist.
  const svc = rng.pick(services);
  const src = from === 'client' ? rng.pick(CLIENT_V4) : from === 'server' ? rng.pick(SERVER_V4) : rng.pick([NODE_V4.eth0, NODE_V4.eth1, NODE_V4.extra]);
  const kind = rng.weighted<'vip' | 'nodeport' | 'direct' | 'wrongport'>([
    ['vip', 6],
    ['nodeport', svc.nodePort ? 4 : 0],
    ['direct', 1],
    ['wrongport', 1],
  ]);
  let dst: string;
  let dport: number;
  let proto: 'tcp' | 'udp' = svc.proto;
  if (kind === 'vip') {
    dst = svc.vip;
    dport = svc.port;
  } else if (kind === 'nodeport') {
    dst = rng.pick([NODE_V4.eth0, NODE_V4.eth1, NODE_V4.extra]);
    dport = svc.nodePort!;
  } else if (kind === 'direct') {
    // (From the server, a server address would not even pass through the node.)
    dst = from === 'server' ? rng.pick(CLIENT_V4) : rng.pick(SERVER_V4);
    dport = rng.pick([...TARGET_PORTS, CLOSED_PORT]);
    proto = rng.chance(0.5) ? 'tcp' : 'udp';
  } else if (svc.vip.startsWith('172.30.')) {
    dst = svc.vip;
    dport = svc.port === 80 ? 8080 : 80;
    if (rng.chance(0.5)) proto = proto === 'tcp' ? 'udp' : 'tcp';
  } else {
    // A VIP in a connected subnet that is not DNATed would be ARPed for: not a useful case.
    dst = from === 'server' ? rng.pick(CLIENT_V4) : rng.pick(SERVER_V4);
    dport = CLOSED_PORT;
  }
  const probe: Probe = { from, proto, src, dst, dport, ...(rng.chance(0.3) ? { sport: 40000 + rng.int(0, 99) } : {}) };
  const varies: Varies[] = [];
  if (services.some((s) => s.endpoints.length > 1)) varies.push('endpoint');
  if (randomFully) varies.push('sourcePort');
  return {
    name: `${group}-${String(index).padStart(3, '0')}-${kind}-${from}-${proto}`,
    group,
    rules: rs.render(),
    probe,
    varies,
  };
}

// ---------------------------------------------------------------------------------------------
// Random rule sets

interface Ctx {
  readonly rng: Rng;
  readonly probe: Probe;
  /** Marks set by MARK/CONNMARK rules generated so far (so mark matches can see them). */
  readonly marks: { value: number; mask: number }[];
  /** Whether the probe's source port is known in advance (else --sport matches use safe ranges). */
  readonly sportKnown: boolean;
  readonly varies: Set<Varies>;
}

const MARK_VALUES = [0x1, 0x2, 0x4, 0x10, 0x20, 0x100, 0x4000, 0x8000];
const MARK_MASKS = [0xff, 0xffff, 0xffffffff, 0x4000, 0xf0, 0xf];

function hex(n: number): string {
  return '0x' + (n >>> 0).toString(16);
}

/** CIDRs around an address: matching or not, of various lengths. */
function cidrFor(rng: Rng, ip: string | undefined): string {
  const choices = [
    ...(ip ? [`${ip}/32`, `${ip.split('.').slice(0, 3).join('.')}.0/24`, `${ip.split('.').slice(0, 2).join('.')}.0.0/16`, `${ip.split('.')[0]}.0.0.0/8`] : []),
    '10.1.0.0/24',
    '10.2.0.0/24',
    '10.2.0.0/30',
    '10.2.0.4/30',
    '192.168.0.0/16',
    '172.30.0.0/16',
    '0.0.0.0/0',
    rng.pick([...CLIENT_V4, ...SERVER_V4]) + '/32',
  ];
  return rng.pick(choices);
}

function not(rng: Rng, p = 0.2): string {
  return rng.chance(p) ? '! ' : '';
}

/** `-s`/`-d` with an optional `!` (never `! 0.0.0.0/0`: iptables-nft cannot load it). */
function addrMatch(rng: Rng, flag: '-s' | '-d', cidr: string): string {
  return `${cidr.endsWith('/0') ? '' : not(rng)}${flag} ${cidr}`;
}

/** A port or range matching the probe's port (or deliberately not). */
function portSpec(rng: Rng, port: number | undefined, known: boolean, ranges = true): string {
  if (port === undefined || !known) {
    // Ephemeral source port: only ranges whose outcome does not depend on the exact port.
    return rng.pick(['1024:65535', '32768:60999', '1:1023', '61000:65535', '0:65535']);
  }
  const r = rng.int(0, 5);
  if (r === 0 && ranges) return `${Math.max(1, port - rng.int(0, 10))}:${port + rng.int(0, 10)}`;
  if (r === 1 && ranges) return `${port + 1}:${port + 100}`;
  if (r === 2) return String(rng.pick([...TARGET_PORTS, 30080, 443]));
  return String(port);
}

function multiportList(rng: Rng, port: number | undefined, known: boolean): string {
  const items = new Set<string>();
  if (port !== undefined && known && rng.chance(0.7)) items.add(String(port));
  const n = rng.int(1, 4);
  for (let i = 0; i < n; i++) {
    if (rng.chance(0.25)) {
      const a = rng.pick([1, 80, 1000, 8000, 9000, 30000]);
      items.add(`${a}:${a + rng.int(1, 2000)}`);
    } else items.add(String(rng.pick([...TARGET_PORTS, 22, 443, 30080])));
  }
  if (!known) return [rng.pick(['1024:65535', '1:1023']), ...[...items].filter((x) => !x.includes(':') && Number(x) < 1024)].join(',');
  return [...items].slice(0, 15).join(',');
}

interface Match {
  text: string;
  /** Whether the match needs `-p tcp` / `-p udp` in the rule. */
  needsProto?: boolean;
  tcpOnly?: boolean;
}

function addrtypeMatch(rng: Rng, hook: Hook): Match {
  const dir = rng.chance(0.6) ? '--dst-type' : '--src-type';
  const type = rng.weighted([
    ['LOCAL', 5],
    ['UNICAST', 2],
    ['LOCAL,UNICAST', 1],
    ['BROADCAST', 0.5],
  ] as const);
  let limit = '';
  if (rng.chance(0.3)) {
    if (hook === 'PREROUTING' || hook === 'INPUT') limit = ' --limit-iface-in';
    else if (hook === 'OUTPUT' || hook === 'POSTROUTING') limit = ' --limit-iface-out';
    else limit = rng.chance(0.5) ? ' --limit-iface-in' : ' --limit-iface-out';
  }
  return { text: `-m addrtype ${not(rng)}${dir} ${type}${limit}` };
}

function markMatch(ctx: Ctx, kind: 'mark' | 'connmark'): Match {
  const { rng } = ctx;
  let value: number;
  let mask: number | undefined;
  if (ctx.marks.length && rng.chance(0.75)) {
    const m = rng.pick(ctx.marks);
    value = m.value;
    mask = rng.chance(0.5) ? m.mask : undefined;
    if (mask !== undefined) value = (value & mask) >>> 0;
  } else {
    value = rng.pick([0, ...MARK_VALUES]);
    mask = rng.chance(0.4) ? rng.pick(MARK_MASKS) : undefined;
    if (mask !== undefined) value = (value & mask) >>> 0;
  }
  return { text: `-m ${kind} ${not(rng)}--mark ${hex(value)}${mask !== undefined ? '/' + hex(mask) : ''}` };
}

function conntrackMatch(ctx: Ctx): Match {
  const { rng, probe } = ctx;
  const parts: string[] = [];
  const which = rng.int(0, 5);
  if (which <= 2 || rng.chance(0.3)) {
    const states = rng.shuffle(['NEW', 'ESTABLISHED', 'RELATED', 'INVALID', 'DNAT', 'SNAT', 'UNTRACKED']).slice(0, rng.int(1, 2));
    parts.push(`${not(rng)}--ctstate ${states.join(',')}`);
  }
  if (which === 3 || rng.chance(0.2)) parts.push(`${not(rng)}--ctorigdst ${rng.chance(0.7) ? probe.dst : cidrFor(rng, probe.dst)}`);
  if (which === 4 || rng.chance(0.15)) parts.push(`${not(rng)}--ctorigsrc ${cidrFor(rng, probe.src)}`);
  if (which === 5 || rng.chance(0.2)) parts.push(`--ctdir ${rng.chance(0.8) ? 'ORIGINAL' : 'REPLY'}`);
  if (parts.length === 0) parts.push('--ctstate NEW');
  return { text: `-m conntrack ${parts.join(' ')}` };
}

function randomMatch(ctx: Ctx, hook: Hook): Match {
  const { rng, probe } = ctx;
  const kind = rng.weighted([
    ['src', 3],
    ['dst', 3],
    ['iface', 3],
    ['dport', 4],
    ['sport', 1.5],
    ['multiport', 2],
    ['addrtype', 2],
    ['comment', 1],
    ['mark', ctx.marks.length ? 3 : 0.7],
    ['connmark', ctx.marks.length ? 1.5 : 0.3],
    ['conntrack', 2.5],
    ['state', 1],
    ['tcpflags', 1],
    ['iprange', 1.5],
  ] as const);
  switch (kind) {
    case 'src':
      return { text: addrMatch(rng, '-s', cidrFor(rng, rng.chance(0.8) ? probe.src : undefined)) };
    case 'dst':
      return { text: addrMatch(rng, '-d', cidrFor(rng, rng.chance(0.8) ? probe.dst : undefined)) };
    case 'iface': {
      const canIn = hook === 'PREROUTING' || hook === 'INPUT' || hook === 'FORWARD';
      const canOut = hook === 'OUTPUT' || hook === 'POSTROUTING' || hook === 'FORWARD';
      const flag = canIn && canOut ? rng.pick(['-i', '-o']) : canIn ? '-i' : '-o';
      return { text: `${not(rng)}${flag} ${rng.pick(['eth0', 'eth1', 'eth+', 'lo', 'et+', 'eth1'])}` };
    }
    case 'dport':
      return { text: `${not(rng)}--dport ${portSpec(rng, probe.dport, true)}`, needsProto: true };
    case 'sport':
      return { text: `${not(rng)}--sport ${portSpec(rng, probe.sport, ctx.sportKnown)}`, needsProto: true };
    case 'multiport': {
      const dir = rng.chance(0.75) ? 'dports' : 'sports';
      const port = dir === 'dports' ? probe.dport : probe.sport;
      const known = dir === 'dports' ? true : ctx.sportKnown;
      return { text: `-m multiport ${not(rng, 0.15)}--${dir} ${multiportList(rng, port, known)}`, needsProto: true };
    }
    case 'addrtype':
      return addrtypeMatch(rng, hook);
    case 'comment':
      return { text: `-m comment --comment "${rng.pick(['allow web', 'kubepath test', 'rule-' + rng.int(1, 99), 'x y z'])}"` };
    case 'mark':
      return markMatch(ctx, 'mark');
    case 'connmark':
      return markMatch(ctx, 'connmark');
    case 'conntrack':
      return conntrackMatch(ctx);
    case 'state':
      return { text: `-m state ${not(rng, 0.15)}--state ${rng.pick(['NEW', 'ESTABLISHED', 'NEW,ESTABLISHED', 'RELATED,ESTABLISHED', 'INVALID'])}` };
    case 'tcpflags':
      return rng.chance(0.5)
        ? { text: `-m tcp ${not(rng)}--syn`, needsProto: true, tcpOnly: true }
        : { text: `-m tcp ${not(rng, 0.15)}--tcp-flags ${rng.pick(['SYN,ACK SYN', 'SYN,RST,ACK,FIN SYN', 'ACK ACK', 'RST RST'])}`, needsProto: true, tcpOnly: true };
    case 'iprange': {
      const useSrc = rng.chance(0.5);
      const ip = useSrc ? probe.src : probe.dst;
      const last = Number(ip.split('.')[3]);
      const prefix = ip.split('.').slice(0, 3).join('.');
      const lo = rng.chance(0.7) ? Math.max(1, last - rng.int(0, 2)) : last + 1;
      const hi = Math.min(254, lo + rng.int(0, 3));
      return { text: `-m iprange ${not(rng)}--${useSrc ? 'src' : 'dst'}-range ${prefix}.${lo}-${prefix}.${hi}` };
    }
  }
}

/** Build the match part of a rule: 0–3 matches, plus `-p` when a match needs it. */
function randomMatches(ctx: Ctx, hook: Hook, opts: { forceProto?: boolean; max?: number } = {}): { text: string; proto?: 'tcp' | 'udp' } {
  const { rng, probe } = ctx;
  const n = rng.weighted([
    [0, 1.2],
    [1, 3],
    [2, 2.5],
    [3, 1],
  ] as const);
  const matches: Match[] = [];
  const seenKinds = new Set<string>();
  for (let i = 0; i < Math.min(n, opts.max ?? 3); i++) {
    const m = randomMatch(ctx, hook);
    // One -s/-d/-i/-o/--sport/--dport each per rule (iptables rejects duplicates).
    const key = /^(?:! )?(-[sdio]|--dport|--sport)\b/.exec(m.text)?.[1] ?? (m.text.startsWith('-m ') ? m.text.split(' ')[1]! : m.text);
    if (seenKinds.has(key)) continue;
    seenKinds.add(key);
    matches.push(m);
  }
  let proto: 'tcp' | 'udp' | undefined;
  const needs = matches.some((m) => m.needsProto) || opts.forceProto;
  if (needs || rng.chance(0.35)) {
    const tcpOnly = matches.some((m) => m.tcpOnly);
    proto = tcpOnly ? 'tcp' : rng.chance(0.8) ? probe.proto : probe.proto === 'tcp' ? 'udp' : 'tcp';
  }
  const plain: string[] = [];
  const ports: string[] = [];
  const mods: string[] = [];
  for (const m of matches) {
    if (/^(?:! )?--[sd]port /.test(m.text)) ports.push(m.text);
    else if (m.text.startsWith('-m ')) mods.push(m.text);
    else plain.push(m.text);
  }
  const parts = [...plain];
  if (proto) parts.push(`-p ${proto}`);
  if (ports.length) parts.push(`-m ${proto} ${ports.join(' ')}`);
  // `-m tcp --syn` with -p udp would not load.
  parts.push(...mods.filter((m) => !(proto === 'udp' && m.startsWith('-m tcp '))));
  return { text: parts.join(' '), ...(proto ? { proto } : {}) };
}

function markTarget(ctx: Ctx, kind: 'MARK' | 'CONNMARK'): string {
  const { rng } = ctx;
  const value = rng.pick(MARK_VALUES);
  const mask = rng.pick(MARK_MASKS);
  ctx.marks.push({ value, mask: kind === 'MARK' ? mask : 0xffffffff });
  if (kind === 'CONNMARK') {
    return rng.weighted([
      [`CONNMARK --set-mark ${hex(value)}`, 2],
      [`CONNMARK --set-xmark ${hex(value)}/${hex(mask)}`, 1],
      ['CONNMARK --save-mark', 2],
      ['CONNMARK --restore-mark', 2],
      [`CONNMARK --save-mark --mask ${hex(mask)}`, 0.5],
    ] as const);
  }
  return rng.weighted([
    [`MARK --set-xmark ${hex(value)}/${hex(mask)}`, 2],
    [`MARK --set-mark ${hex(value)}`, 2],
    [`MARK --or-mark ${hex(value)}`, 2],
    [`MARK --and-mark ${hex(~value >>> 0)}`, 1],
    [`MARK --xor-mark ${hex(value)}`, 1],
  ] as const);
}

/** Some address of the topology to send a NAT to, mostly ones where something listens. */
function natDestination(rng: Rng, hook: Hook): string {
  return rng.weighted([
    [rng.pick(SERVER_V4), 6],
    [NODE_V4.eth1, 1],
    [NODE_V4.extra, 1],
    [rng.pick(CLIENT_V4), 1],
    ...(hook === 'OUTPUT' ? [['127.0.0.1', 1] as const] : []),
  ]);
}

function randomTarget(ctx: Ctx, table: Table, hook: Hook, proto: 'tcp' | 'udp' | undefined, userChains: readonly string[]): string {
  const { rng } = ctx;
  const jump = userChains.length ? 1.5 : 0;
  const common: [string, number][] = [
    ['RETURN', 1],
    ['LOG', 0.5],
  ];
  const pick = (items: [string, number][]) => rng.weighted([...items, ...common, ['JUMP', jump], ['GOTO', jump * 0.5]] as [string, number][]);
  let t: string;
  switch (table) {
    case 'raw':
      t = pick([
        ['ACCEPT', 1],
        ['DROP', 0.6],
        ['NOTRACK', 1.5],
        ['CT --notrack', 0.5],
        ['MARK', 1.2],
      ]);
      break;
    case 'mangle':
      t = pick([
        ['ACCEPT', 1],
        ['DROP', 0.5],
        ['MARK', 3],
        ['CONNMARK', 2],
      ]);
      break;
    case 'nat':
      if (hook === 'PREROUTING' || hook === 'OUTPUT') {
        t = pick([
          ['DNAT', 4],
          ['REDIRECT', proto ? 1.5 : 0],
          ['ACCEPT', 1],
          ['MARK', 0.7],
        ]);
      } else if (hook === 'POSTROUTING') {
        t = pick([
          ['SNAT', 2.5],
          ['MASQUERADE', 2.5],
          ['ACCEPT', 1],
        ]);
      } else {
        t = pick([
          ['SNAT', 2],
          ['ACCEPT', 1],
        ]);
      }
      break;
    case 'filter':
      t = pick([
        ['ACCEPT', 2],
        ['DROP', 2],
        ['REJECT', 2],
        ['MARK', 0.5],
      ]);
      break;
  }
  switch (t) {
    case 'JUMP':
      return `-j ${rng.pick(userChains)}`;
    case 'GOTO':
      return `-g ${rng.pick(userChains)}`;
    case 'LOG':
      return `-j LOG --log-prefix "kp-${rng.int(1, 99)} "${rng.chance(0.3) ? ' --log-level 6' : ''}`;
    case 'MARK':
      return `-j ${markTarget(ctx, 'MARK')}`;
    case 'CONNMARK':
      return `-j ${markTarget(ctx, 'CONNMARK')}`;
    case 'REJECT': {
      const withs = ['icmp-port-unreachable', 'icmp-host-prohibited', 'icmp-net-unreachable', 'icmp-host-unreachable', 'icmp-admin-prohibited'];
      const w = proto === 'tcp' && rng.chance(0.4) ? 'tcp-reset' : rng.pick(withs);
      return rng.chance(0.2) ? '-j REJECT' : `-j REJECT --reject-with ${w}`;
    }
    case 'DNAT': {
      const ip = natDestination(rng, hook);
      const kind = rng.int(0, 5);
      if (kind === 0 || !proto) {
        return `-j DNAT --to-destination ${ip}`;
      }
      if (kind <= 2) return `-j DNAT --to-destination ${ip}:${rng.pick(TARGET_PORTS)}`;
      if (kind === 3) {
        ctx.varies.add('endpoint');
        const base = rng.int(2, 4);
        return `-j DNAT --to-destination 10.2.0.${base}-10.2.0.${Math.min(5, base + rng.int(1, 2))}${rng.chance(0.5) ? ':' + rng.pick(TARGET_PORTS) : ''}`;
      }
      // Port range: the kernel keeps the original port when it is inside the range, else takes
      // the lowest free one (DNAT does not randomise unless --random).
      const lo = rng.pick([8080, 9000, 9001]);
      return `-j DNAT --to-destination ${ip}:${lo}-${lo + rng.int(1, 3)}`;
    }
    case 'REDIRECT':
      return rng.chance(0.8) ? `-j REDIRECT --to-ports ${rng.pick([9000, 9001, 8080, 80])}` : `-j REDIRECT --to-ports 9000-9003`;
    case 'SNAT': {
      const ip = rng.weighted([
        [NODE_V4.eth1, 3],
        [NODE_V4.extra, 3],
        [NODE_V4.eth0, 1],
      ] as const);
      if (proto && rng.chance(0.3)) {
        ctx.varies.add('sourcePort');
        return `-j SNAT --to-source ${ip}:${rng.pick(['20000-20100', '1024-65535', '40000-40099'])}`;
      }
      return `-j SNAT --to-source ${ip}`;
    }
    case 'MASQUERADE':
      if (proto && rng.chance(0.35)) {
        ctx.varies.add('sourcePort');
        return `-j MASQUERADE --to-ports ${rng.pick(['20000-20100', '1024-65535', '40000-40099'])}`;
      }
      if (rng.chance(0.15)) {
        ctx.varies.add('sourcePort');
        return '-j MASQUERADE --random-fully';
      }
      return '-j MASQUERADE';
    default:
      return `-j ${t}`;
  }
}

/** Which built-in chains a probe can traverse (all of them are worth adding rules to). */
function chainsFor(from: Probe['from']): [Table, Hook][] {
  const fwdIn: [Table, Hook][] = [
    ['raw', 'PREROUTING'],
    ['mangle', 'PREROUTING'],
    ['nat', 'PREROUTING'],
    ['mangle', 'INPUT'],
    ['filter', 'INPUT'],
    ['nat', 'INPUT'],
    ['mangle', 'FORWARD'],
    ['filter', 'FORWARD'],
    ['mangle', 'POSTROUTING'],
    ['nat', 'POSTROUTING'],
  ];
  const local: [Table, Hook][] = [
    ['raw', 'OUTPUT'],
    ['mangle', 'OUTPUT'],
    ['nat', 'OUTPUT'],
    ['filter', 'OUTPUT'],
    ['mangle', 'POSTROUTING'],
    ['nat', 'POSTROUTING'],
    // Traffic to a local address comes back in through lo.
    ['raw', 'PREROUTING'],
    ['mangle', 'PREROUTING'],
    ['mangle', 'INPUT'],
    ['filter', 'INPUT'],
    ['nat', 'INPUT'],
  ];
  return from === 'node' ? local : fwdIn;
}

function randomProbe(rng: Rng, from: Probe['from']): Probe {
  const proto = rng.chance(0.55) ? 'tcp' : 'udp';
  let src: string;
  let dst: string;
  if (from === 'client') {
    src = rng.pick(CLIENT_V4);
    dst = rng.weighted([
      [rng.pick(SERVER_V4), 6],
      [rng.pick([NODE_V4.eth0, NODE_V4.eth1, NODE_V4.extra]), 3],
      // Unroutable: ICMP net unreachable from the node (no neighbour resolution involved).
      [rng.pick(['172.30.0.10', '192.168.0.9']), 1.5],
    ]);
  } else if (from === 'server') {
    src = rng.pick(SERVER_V4);
    dst = rng.weighted([
      [rng.pick(CLIENT_V4), 4],
      [rng.pick([NODE_V4.eth0, NODE_V4.eth1, NODE_V4.extra]), 2],
      ['172.30.0.10', 1],
    ]);
  } else {
    src = rng.pick([NODE_V4.eth0, NODE_V4.eth1, NODE_V4.extra]);
    dst = rng.weighted([
      [rng.pick(SERVER_V4), 5],
      [rng.pick(CLIENT_V4), 2],
      [rng.pick([NODE_V4.eth0, NODE_V4.eth1, NODE_V4.extra, '127.0.0.1']), 2],
      ['172.30.0.10', 1],
    ]);
  }
  const dport = rng.weighted([
    [rng.pick([80, 8080, 8081, 9000, 9001, 53, 30080]), 9],
    [CLOSED_PORT, 1],
  ]);
  return { from, proto, src, dst, dport, ...(rng.chance(0.45) ? { sport: rng.pick([40000 + rng.int(0, 99), 1234, 33333, 5353]) } : {}) };
}

function randomCase(rng: Rng, index: number, group: 'random' | 'local'): DiffCase {
  const from: Probe['from'] = group === 'local' ? 'node' : rng.chance(0.85) ? 'client' : 'server';
  let probe: Probe = randomProbe(rng, from);
  // For some local cases: a service-like DNAT in nat OUTPUT (added first, below) for a VIP the
  // probe targets. The VIP is in eth1's subnet: locally generated traffic is routed before nat
  // OUTPUT, so it needs a route (172.30.0.x would fail with ENETUNREACH).
  const localVip = group === 'local' && rng.chance(0.3);
  if (localVip) probe = { ...probe, dst: '10.2.0.100' };
  const ctx: Ctx = { rng, probe, marks: [], sportKnown: probe.sport !== undefined, varies: new Set() };
  const rs = new Ruleset();
  const chains = chainsFor(from);
  // For `local`, make sure nat OUTPUT and filter OUTPUT get rules most of the time.
  const chosen = rng.shuffle(chains).slice(0, rng.int(2, 6));
  if (group === 'local') {
    if (!chosen.some(([t, h]) => t === 'nat' && h === 'OUTPUT') && rng.chance(0.8)) chosen.push(['nat', 'OUTPUT']);
    if (!chosen.some(([t, h]) => t === 'filter' && h === 'OUTPUT') && rng.chance(0.7)) chosen.push(['filter', 'OUTPUT']);
  }
  // Keep the path order, so that marks set earlier are matched later.
  const order = chains.map(([t, h]) => `${t}/${h}`);
  chosen.sort((a, b) => order.indexOf(`${a[0]}/${a[1]}`) - order.indexOf(`${b[0]}/${b[1]}`));
  let userCount = 0;
  for (const [table, hook] of chosen) {
    rs.use(table);
    if (table === 'filter' && rng.chance(0.15)) rs.policy('filter', hook, 'DROP');
    if (table === 'mangle' && rng.chance(0.03)) rs.policy('mangle', hook, 'DROP');
    // A user chain (or two, the second reachable from the first) hanging off this hook only.
    const users: string[] = [];
    if (rng.chance(0.3)) {
      const nUsers = rng.chance(0.3) ? 2 : 1;
      for (let i = 0; i < nUsers; i++) users.push(`KP-${table.toUpperCase()}-${hook.slice(0, 3)}-${++userCount}`);
      for (const u of users) rs.chain(table, u);
    }
    const nRules = rng.int(1, 4);
    for (let i = 0; i < nRules; i++) {
      const m = randomMatches(ctx, hook, { forceProto: table === 'nat' && rng.chance(0.5) });
      rs.add(table, `-A ${hook}${m.text ? ' ' + m.text : ''} ${randomTarget(ctx, table, hook, m.proto, users)}`);
    }
    users.forEach((u, ui) => {
      const next = users.slice(ui + 1);
      const n = rng.int(1, 3);
      for (let i = 0; i < n; i++) {
        const m = randomMatches(ctx, hook, { forceProto: table === 'nat' && rng.chance(0.5) });
        rs.add(table, `-A ${u}${m.text ? ' ' + m.text : ''} ${randomTarget(ctx, table, hook, m.proto, next)}`);
      }
      // Make sure some user chains are entered: an unconditional jump from the hook.
      if (ui === 0 && rng.chance(0.5)) rs.add(table, `-A ${hook} -j ${u}`);
    });
    // Make a mark observable: a later rule in a filter chain matching it.
    if (ctx.marks.length && rng.chance(0.3)) {
      const m = rng.pick(ctx.marks);
      const v = (m.value & m.mask) >>> 0;
      const filterHook = from === 'node' ? 'OUTPUT' : rng.pick(['FORWARD', 'INPUT'] as const);
      rs.add('filter', `-A ${filterHook} -m mark --mark ${hex(v)}/${hex(m.mask)} -j ${rng.pick(['DROP', 'REJECT', 'ACCEPT'])}`);
    }
  }
  if (localVip) {
    rs.insertFirst('nat', `-A OUTPUT -d 10.2.0.100/32 -p ${probe.proto} -m ${probe.proto} --dport ${probe.dport} -j DNAT --to-destination ${rng.pick(SERVER_V4)}:${rng.pick(TARGET_PORTS)}`);
  }
  return {
    name: `${group}-${String(index).padStart(3, '0')}-${from}-${probe.proto}`,
    group,
    rules: rs.render(),
    probe,
    varies: [...ctx.varies],
  };
}

// ---------------------------------------------------------------------------------------------
// Public API

export interface GenerateOptions {
  readonly seed?: number;
  /** Cases per group; default kube 110, random 110, local 50 (270 in all). */
  readonly kube?: number;
  readonly random?: number;
  readonly local?: number;
}

/** The deterministic differential cases (single-endpoint services; random rule sets; local traffic). */
export function generateCases(opts: GenerateOptions = {}): DiffCase[] {
  const seed = opts.seed ?? 20240601;
  const out: DiffCase[] = [];
  const kubeRng = new Rng(mulberry32(seed));
  for (let i = 0; i < (opts.kube ?? 110); i++) out.push(kubeCase(kubeRng, i, () => (kubeRng.chance(0.15) ? 0 : 1), 'kube'));
  const randRng = new Rng(mulberry32(seed ^ 0x5bd1e995));
  for (let i = 0; i < (opts.random ?? 110); i++) out.push(randomCase(randRng, i, 'random'));
  const localRng = new Rng(mulberry32(seed ^ 0x27d4eb2f));
  for (let i = 0; i < (opts.local ?? 50); i++) out.push(randomCase(localRng, i, 'local'));
  return out;
}

/**
 * Services with 2–4 endpoints behind `-m statistic --mode random` (kube-proxy's 1/n, 1/(n-1), …
 * probabilities), probed at the ClusterIP from the client. Load each once and probe it many
 * times: every endpoint should be chosen about equally often.
 */
export function generateStatisticCases(opts: { seed?: number; count?: number } = {}): DiffCase[] {
  const rng = new Rng(mulberry32((opts.seed ?? 20240601) ^ 0x9e3779b9));
  const out: DiffCase[] = [];
  for (let i = 0; i < (opts.count ?? 12); i++) {
    const n = 2 + (i % 3);
    const proto = rng.chance(0.6) ? 'tcp' : 'udp';
    const endpoints = rng.shuffle(SERVER_V4).slice(0, n).map((ip) => ({ ip, port: rng.pick([80, 8080, 9000]) }));
    const svc: Service = { id: `${rng.hex(6)}S`, name: `stat/svc-${i}:${proto}`, vip: '172.30.0.50', proto, port: 80, endpoints, localPolicy: false };
    const rs = kubeRuleset(rng, [svc], { clusterCidr: '10.244.0.0/16', forwardDrop: false, randomFully: false, legacyNodePortChain: false });
    out.push({
      name: `statistic-${String(i).padStart(2, '0')}-${n}ep-${proto}`,
      group: 'statistic',
      rules: rs.render(),
      probe: { from: 'client', proto, src: rng.pick(CLIENT_V4), dst: svc.vip, dport: 80 },
      varies: ['endpoint'],
    });
  }
  return out;
}

/** An `nth`-mode variant: endpoint i takes every n-th new connection. For checking counter semantics. */
export function generateNthCase(endpoints = 3): DiffCase {
  const r = new Ruleset();
  r.chain('nat', 'KP-SVC');
  r.add('nat', '-A PREROUTING -d 172.30.0.60/32 -p tcp -m tcp --dport 80 -j KP-SVC');
  for (let i = 0; i < endpoints; i++) {
    const stat = i < endpoints - 1 ? ` -m statistic --mode nth --every ${endpoints - i} --packet 0` : '';
    r.add('nat', `-A KP-SVC -p tcp${stat} -j DNAT --to-destination ${SERVER_V4[i]}:8080`);
  }
  return {
    name: `nth-${endpoints}ep`,
    group: 'statistic',
    rules: r.render(),
    probe: { from: 'client', proto: 'tcp', src: CLIENT_V4[0], dst: '172.30.0.60', dport: 80 },
    varies: ['endpoint'],
  };
}

// ---------------------------------------------------------------------------------------------
// IPv6
//
// The same kinds of cases for IPv6 (ip6tables-restore text in `rules6`). IPv6 needs neighbour
// discovery (ICMPv6) to keep working, so no rule ever drops or rejects ICMPv6: every DROP/REJECT
// rule names `-p tcp` or `-p udp`, DROP policies are only used on FORWARD (never forwarded:
// ND is link-local) and on INPUT behind a rule that accepts ICMPv6 (a "host firewall"), and no
// DROP policy at all in raw/mangle. Probes and NAT rules only use addresses that exist, or that
// are not routed at all (the node answers ICMPv6 no-route at once): an address in a connected
// subnet that nobody has would cost a neighbour discovery timeout.

const NODE6 = [NODE_V6.eth0, NODE_V6.eth1, NODE_V6.extra] as const;
/** Not routed anywhere (the node has no default IPv6 route): ICMPv6 no route. */
const UNROUTED6 = ['fd00:30::99', 'fd00:99::1'] as const;
/** The lab's IPv4 side of an IPv6 case: all four tables, empty, ACCEPT policies. */
const EMPTY_V4 = new Ruleset().use('raw').use('mangle').use('nat').use('filter').render();

/** The eight groups of an IPv6 address, as hex text without leading zeros. */
function groups6(ip: string): string[] {
  const [head = '', tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t];
}

/**
 * The same address, sometimes spelt another valid way (RFC 4291: uncompressed, upper case,
 * leading zeros); ip6tables-save prints them back in RFC 5952 form. Exercises both parsers.
 */
function spell6(rng: Rng, ip: string, p = 0.15): string {
  if (!rng.chance(p)) return ip;
  const g = groups6(ip);
  switch (rng.int(0, 2)) {
    case 0:
      return g.join(':');
    case 1:
      return ip.toUpperCase();
    default:
      return g.map((x) => x.padStart(4, '0')).join(':');
  }
}

/** `fd00:2::3` → `fd00:2::/64` (every lab address is `fd00:N::H`). */
function net64(ip: string): string {
  const g = groups6(ip);
  return `${g[0]}:${g[1]}::/64`;
}

/** An IPv6 address from `fd00:N::` and a last group (as a number). */
function lastGroup6(ip: string, last: number): string {
  const g = groups6(ip);
  return `${g[0]}:${g[1]}::${last.toString(16)}`;
}

/** CIDRs around an address: matching or not, of various lengths and spellings. */
function cidr6(rng: Rng, ip: string | undefined): string {
  return rng.weighted<string>([
    ...(ip
      ? ([
          [`${spell6(rng, ip)}/128`, 3],
          [spell6(rng, ip), 1], // no prefix length: /128
          [net64(ip), 3],
          ['fd00::/16', 1],
          // Host bits set: ip6tables masks them (prints fd00:N::/64).
          [`${ip}/64`, 0.4],
        ] as [string, number][])
      : []),
    ['fd00:1::/64', 1],
    ['fd00:2::/64', 1],
    ['fd00:2::/126', 1],
    ['fd00:2::4/126', 1],
    ['fd00:1::2/127', 0.5],
    ['fd00:30::/64', 0.7],
    ['fd00:ff::/64', 0.5],
    ['2001:db8::/32', 0.7],
    ['::/0', 0.4],
    [`${rng.pick([...CLIENT_V6, ...SERVER_V6])}/128`, 1],
  ]);
}

function addrtypeMatch6(rng: Rng, hook: Hook): Match {
  const dir = rng.chance(0.6) ? '--dst-type' : '--src-type';
  // ip6tables has no BROADCAST (nor BLACKHOLE, PROHIBIT, …) for IPv6.
  const type = rng.weighted([
    ['LOCAL', 5],
    ['UNICAST', 1.5],
    ['LOCAL,UNICAST', 1],
    ['MULTICAST', 0.4],
  ] as const);
  let limit = '';
  if (rng.chance(0.15)) {
    if (hook === 'PREROUTING' || hook === 'INPUT') limit = ' --limit-iface-in';
    else if (hook === 'OUTPUT' || hook === 'POSTROUTING') limit = ' --limit-iface-out';
    else limit = rng.chance(0.5) ? ' --limit-iface-in' : ' --limit-iface-out';
  }
  return { text: `-m addrtype ${not(rng)}${dir} ${type}${limit}` };
}

function conntrackMatch6(ctx: Ctx): Match {
  const { rng, probe } = ctx;
  const parts: string[] = [];
  const which = rng.int(0, 6);
  if (which <= 2 || rng.chance(0.3)) {
    const states = rng.shuffle(['NEW', 'ESTABLISHED', 'RELATED', 'INVALID', 'DNAT', 'SNAT', 'UNTRACKED']).slice(0, rng.int(1, 2));
    parts.push(`${not(rng)}--ctstate ${states.join(',')}`);
  }
  if (which === 3 || rng.chance(0.2)) parts.push(`${not(rng)}--ctorigdst ${rng.chance(0.6) ? spell6(rng, probe.dst) : cidr6(rng, probe.dst)}`);
  if (which === 4 || rng.chance(0.15)) parts.push(`${not(rng)}--ctorigsrc ${cidr6(rng, probe.src)}`);
  if (which === 5 || rng.chance(0.1)) parts.push(`${not(rng)}--ctreplsrc ${cidr6(rng, rng.chance(0.5) ? probe.dst : rng.pick(SERVER_V6))}`);
  if (which === 6 || rng.chance(0.15)) parts.push(`--ctdir ${rng.chance(0.8) ? 'ORIGINAL' : 'REPLY'}`);
  if (parts.length === 0) parts.push('--ctstate NEW');
  return { text: `-m conntrack ${parts.join(' ')}` };
}

function randomMatch6(ctx: Ctx, hook: Hook, local: boolean): Match {
  const { rng, probe } = ctx;
  const kind = rng.weighted([
    ['src', 3],
    ['dst', 3],
    ['iface', 2.5],
    ['dport', 4],
    ['sport', 1],
    ['multiport', 2],
    ['addrtype', 1.5],
    ['comment', 0.7],
    ['mark', ctx.marks.length ? 3 : 0.5],
    ['connmark', ctx.marks.length ? 1.2 : 0.3],
    ['conntrack', 2],
    ['state', 0.7],
    ['tcpflags', 0.6],
    ['iprange', 1],
    ['owner', local && hook === 'OUTPUT' ? 1 : 0],
  ] as const);
  switch (kind) {
    case 'src':
      return { text: addrMatch(rng, '-s', cidr6(rng, rng.chance(0.8) ? probe.src : undefined)) };
    case 'dst':
      return { text: addrMatch(rng, '-d', cidr6(rng, rng.chance(0.8) ? probe.dst : undefined)) };
    case 'iface': {
      const canIn = hook === 'PREROUTING' || hook === 'INPUT' || hook === 'FORWARD';
      const canOut = hook === 'OUTPUT' || hook === 'POSTROUTING' || hook === 'FORWARD';
      const flag = canIn && canOut ? rng.pick(['-i', '-o']) : canIn ? '-i' : '-o';
      return { text: `${not(rng)}${flag} ${rng.pick(['eth0', 'eth1', 'eth+', 'lo', 'eth1'])}` };
    }
    case 'dport':
    case 'sport': {
      const spec = kind === 'dport' ? portSpec(rng, probe.dport, true) : portSpec(rng, probe.sport, ctx.sportKnown);
      // iptables-nft (1.8.9) loads `! --sport 0:65535` as no port match at all (a rule that
      // matches every packet): a userspace translation bug, not kernel behaviour; not generated.
      const neg = not(rng);
      return { text: `${spec === '0:65535' ? '' : neg}--${kind} ${spec}`, needsProto: true };
    }
    case 'multiport': {
      const dir = rng.chance(0.75) ? 'dports' : 'sports';
      const port = dir === 'dports' ? probe.dport : probe.sport;
      const known = dir === 'dports' ? true : ctx.sportKnown;
      return { text: `-m multiport ${not(rng, 0.15)}--${dir} ${multiportList(rng, port, known)}`, needsProto: true };
    }
    case 'addrtype':
      return addrtypeMatch6(rng, hook);
    case 'comment':
      return { text: `-m comment --comment "${rng.pick(['allow web', 'kubepath v6', 'rule-' + rng.int(1, 99), 'x y z'])}"` };
    case 'mark':
      return markMatch(ctx, 'mark');
    case 'connmark':
      return markMatch(ctx, 'connmark');
    case 'conntrack':
      return conntrackMatch6(ctx);
    case 'state':
      return { text: `-m state ${not(rng, 0.15)}--state ${rng.pick(['NEW', 'ESTABLISHED', 'NEW,ESTABLISHED', 'RELATED,ESTABLISHED', 'INVALID'])}` };
    case 'tcpflags':
      return rng.chance(0.5)
        ? { text: `-m tcp ${not(rng)}--syn`, needsProto: true, tcpOnly: true }
        : { text: `-m tcp ${not(rng, 0.15)}--tcp-flags ${rng.pick(['SYN,ACK SYN', 'SYN,RST,ACK,FIN SYN', 'ACK ACK', 'RST RST'])}`, needsProto: true, tcpOnly: true };
    case 'iprange': {
      const useSrc = rng.chance(0.5);
      const ip = useSrc ? probe.src : probe.dst;
      const last = parseInt(groups6(ip)[7]!, 16);
      const lo = rng.chance(0.7) ? Math.max(1, last - rng.int(0, 2)) : last + 1;
      const hi = lo + rng.int(0, 3);
      return { text: `-m iprange ${not(rng)}--${useSrc ? 'src' : 'dst'}-range ${lastGroup6(ip, lo)}-${lastGroup6(ip, hi)}` };
    }
    case 'owner':
      return { text: `-m owner ${rng.pick(['--uid-owner 0', '! --uid-owner 1000', '--uid-owner 1000', '--gid-owner 0'])}` };
  }
}

/**
 * The match part of an IPv6 rule: 0–3 matches, plus `-p` when a match needs it or when the
 * target drops (`requireProto`: never touch ICMPv6). `tcp`: the rule must be `-p tcp`.
 */
function randomMatches6(ctx: Ctx, hook: Hook, opts: { requireProto?: boolean; tcp?: boolean; local?: boolean } = {}): { text: string; proto?: 'tcp' | 'udp' } {
  const { rng, probe } = ctx;
  const n = rng.weighted([
    [0, 1],
    [1, 3],
    [2, 2.5],
    [3, 1],
  ] as const);
  const matches: Match[] = [];
  const seenKinds = new Set<string>();
  for (let i = 0; i < n; i++) {
    const m = randomMatch6(ctx, hook, opts.local === true);
    const key = /^(?:! )?(-[sdio]|--dport|--sport)\b/.exec(m.text)?.[1] ?? (m.text.startsWith('-m ') ? m.text.split(' ')[1]! : m.text);
    if (seenKinds.has(key)) continue;
    seenKinds.add(key);
    matches.push(m);
  }
  let proto: 'tcp' | 'udp' | undefined;
  if (matches.some((m) => m.needsProto) || opts.requireProto || opts.tcp || rng.chance(0.35)) {
    const tcpOnly = opts.tcp || matches.some((m) => m.tcpOnly);
    proto = tcpOnly ? 'tcp' : rng.chance(0.8) ? probe.proto : probe.proto === 'tcp' ? 'udp' : 'tcp';
  }
  const plain: string[] = [];
  const ports: string[] = [];
  const mods: string[] = [];
  for (const m of matches) {
    if (/^(?:! )?--[sd]port /.test(m.text)) ports.push(m.text);
    else if (m.text.startsWith('-m ')) mods.push(m.text);
    else plain.push(m.text);
  }
  const parts = [...plain];
  if (proto) parts.push(`-p ${proto}`);
  if (ports.length) parts.push(`-m ${proto} ${ports.join(' ')}`);
  parts.push(...mods.filter((m) => !(proto === 'udp' && m.startsWith('-m tcp '))));
  return { text: parts.join(' '), ...(proto ? { proto } : {}) };
}

const REJECT_WITH_6: readonly (readonly [string, number])[] = [
  ['icmp6-port-unreachable', 3],
  ['icmp6-adm-prohibited', 3],
  ['icmp6-no-route', 1],
  ['icmp6-addr-unreachable', 1],
  ['icmp6-policy-fail', 0.4],
  ['icmp6-reject-route', 0.4],
  // Aliases ip6tables accepts (and prints back in the long form).
  ['port-unreach', 0.4],
  ['adm-prohibited', 0.4],
  ['no-route', 0.3],
  ['addr-unreach', 0.3],
];

/** One random filter (or mangle/raw) rule in `chain`, hanging off `hook`. */
function randomRule6(ctx: Ctx, table: Table, chain: string, hook: Hook, users: readonly string[], local = false): string {
  const { rng } = ctx;
  const jump = users.length ? 1.2 : 0;
  const builtin = chain === hook;
  let kinds: [string, number][];
  if (table === 'filter') {
    kinds = [
      ['ACCEPT', 2],
      ['DROP', 1.2],
      ['REJECT', 2.2],
      ['RETURN', builtin ? 0.3 : 1],
      ['LOG', 0.3],
      ['MARK', 0.3],
    ];
  } else if (table === 'mangle') {
    kinds = [
      ['MARK', 3],
      ['CONNMARK', 2],
      ['ACCEPT', 1],
      ['RETURN', 0.5],
    ];
  } else {
    kinds = [
      ['NOTRACK', 1],
      ['MARK', 1.5],
      ['ACCEPT', 1],
    ];
  }
  const t = rng.weighted<string>([...kinds, ['JUMP', jump], ['GOTO', jump * 0.4]]);
  const tcpReset = t === 'REJECT' && ctx.probe.proto === 'tcp' && rng.chance(0.35);
  const m = randomMatches6(ctx, hook, { requireProto: t === 'DROP' || t === 'REJECT' || t === 'NOTRACK', tcp: tcpReset, local });
  let target: string;
  switch (t) {
    case 'JUMP':
      target = `-j ${rng.pick(users)}`;
      break;
    case 'GOTO':
      target = `-g ${rng.pick(users)}`;
      break;
    case 'LOG':
      target = `-j LOG --log-prefix "kp6-${rng.int(1, 99)} "`;
      break;
    case 'MARK':
      target = `-j ${markTarget(ctx, 'MARK')}`;
      break;
    case 'CONNMARK':
      target = `-j ${markTarget(ctx, 'CONNMARK')}`;
      break;
    case 'NOTRACK':
      target = rng.chance(0.6) ? '-j NOTRACK' : '-j CT --notrack';
      break;
    case 'REJECT':
      target = tcpReset ? '-j REJECT --reject-with tcp-reset' : rng.chance(0.15) ? '-j REJECT' : `-j REJECT --reject-with ${rng.weighted(REJECT_WITH_6)}`;
      break;
    default:
      target = `-j ${t}`;
  }
  return `-A ${chain}${m.text ? ' ' + m.text : ''} ${target}`;
}

function randomProbe6(rng: Rng, from: Probe['from'], dst: string): Probe {
  const proto = rng.chance(0.62) ? 'udp' : 'tcp';
  const src = from === 'client' ? rng.pick(CLIENT_V6) : from === 'server' ? rng.pick(SERVER_V6) : rng.pick(NODE6);
  const dport = rng.weighted([
    [rng.pick([80, 8080, 8081, 9000, 9001, 53, 30080]), 9],
    [CLOSED_PORT, 1],
  ]);
  return { from, proto, src, dst, dport, ...(rng.chance(0.4) ? { sport: rng.pick([40000 + rng.int(0, 99), 1234, 33333, 5353]) } : {}) };
}

/** Mangle (and sometimes raw) rules before the filter rules: marks to match, untracked packets. */
function markRules6(ctx: Ctx, rs: Ruleset, hooks: readonly Hook[]): void {
  const { rng } = ctx;
  if (rng.chance(0.35)) {
    const hook = rng.pick(hooks);
    for (let i = rng.int(1, 2); i > 0; i--) rs.add('mangle', randomRule6(ctx, 'mangle', hook, hook, []));
  }
  if (rng.chance(0.1)) {
    const hook = hooks.includes('OUTPUT') ? 'OUTPUT' : 'PREROUTING';
    rs.add('raw', randomRule6(ctx, 'raw', hook, hook, []));
  }
}

/** A host firewall on INPUT: policy DROP behind rules that keep ND and replies working. */
function hostFirewall6(rng: Rng, rs: Ruleset): void {
  rs.policy('filter', 'INPUT', 'DROP');
  rs.add('filter', '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT');
  rs.add('filter', '-A INPUT -i lo -j ACCEPT');
  const icmp = rng.pick([
    ['-A INPUT -p ipv6-icmp -j ACCEPT'],
    ['-A INPUT -p icmpv6 -j ACCEPT'],
    ['-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j ACCEPT', '-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type neighbour-advertisement -j ACCEPT'],
    ['-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type neighbour-solicitation -j ACCEPT', '-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 136/0 -j ACCEPT', '-A INPUT -p ipv6-icmp -j ACCEPT'],
  ]);
  for (const r of icmp) rs.add('filter', r);
}

function filterCase6(rng: Rng, index: number): DiffCase {
  const from: Probe['from'] = rng.chance(0.8) ? 'client' : 'server';
  const kind = rng.weighted([
    ['forward', 6],
    ['input', 3],
    ['unrouted', 0.6],
  ] as const);
  const dst = kind === 'forward' ? rng.pick(from === 'client' ? SERVER_V6 : CLIENT_V6) : kind === 'input' ? rng.pick(NODE6) : rng.pick(UNROUTED6);
  const probe = randomProbe6(rng, from, dst);
  const ctx: Ctx = { rng, probe, marks: [], sportKnown: probe.sport !== undefined, varies: new Set() };
  const rs = new Ruleset().use('filter');
  const main: Hook = kind === 'input' ? 'INPUT' : 'FORWARD';
  markRules6(ctx, rs, main === 'INPUT' ? ['PREROUTING', 'INPUT'] : ['PREROUTING', 'FORWARD']);
  if (main === 'INPUT' && rng.chance(0.45)) hostFirewall6(rng, rs);
  if (main === 'FORWARD' && rng.chance(0.25)) {
    rs.policy('filter', 'FORWARD', 'DROP');
    if (rng.chance(0.8)) rs.add('filter', '-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT');
  }
  if (rng.chance(0.15)) rs.add('filter', `-A ${main} -p ipv6-icmp -j ACCEPT`);
  const users: string[] = [];
  if (rng.chance(0.35)) {
    users.push(`KP6-${main.slice(0, 3)}-1`);
    if (rng.chance(0.3)) users.push(`KP6-${main.slice(0, 3)}-2`);
    for (const u of users) rs.chain('filter', u);
  }
  const nRules = rng.int(2, 5);
  for (let i = 0; i < nRules; i++) rs.add('filter', randomRule6(ctx, 'filter', main, main, users));
  users.forEach((u, ui) => {
    const next = users.slice(ui + 1);
    for (let i = rng.int(1, 3); i > 0; i--) rs.add('filter', randomRule6(ctx, 'filter', u, main, next));
    if (ui === 0 && rng.chance(0.5)) rs.add('filter', `-A ${main} -j ${u}`);
  });
  if (ctx.marks.length && rng.chance(0.5)) {
    const m = rng.pick(ctx.marks);
    const v = (m.value & m.mask) >>> 0;
    const verdict = rng.pick(['DROP', 'REJECT', 'ACCEPT']);
    rs.add('filter', `-A ${main} -p ${probe.proto} -m mark --mark ${hex(v)}/${hex(m.mask)} -j ${verdict}`);
  }
  return {
    name: `filter6-${String(index).padStart(3, '0')}-${kind}-${from}-${probe.proto}`,
    group: 'filter6',
    family: 6,
    rules: EMPTY_V4,
    rules6: rs.render(),
    probe,
    varies: [...ctx.varies],
  };
}

function kubeCase6(rng: Rng, index: number): DiffCase {
  const from = rng.weighted<Probe['from']>([
    ['client', 7],
    ['server', 1.5],
    ['node', 1.5],
  ]);
  const nServices = rng.int(1, 3);
  const services: Service[] = [];
  const usedPorts = new Set<number>();
  for (let i = 0; i < nServices; i++) {
    const proto = rng.chance(0.55) ? 'udp' : 'tcp';
    const port = rng.pick([80, 53, 8080, 443, 9000]);
    const endpoints = rng.chance(0.15) ? [] : [{ ip: rng.pick(SERVER_V6), port: rng.pick(TARGET_PORTS) }];
    let nodePort: number | undefined;
    if (rng.chance(0.5)) {
      const candidate = rng.pick([30080, 30081, 30082]);
      if (!usedPorts.has(candidate)) {
        usedPorts.add(candidate);
        nodePort = candidate;
      }
    }
    services.push({
      id: `${rng.hex(6)}${i}`,
      name: `ns${i}/svc6-${i}:${proto}-${port}`,
      // Locally generated traffic is routed before nat OUTPUT: the node's own probes mostly get
      // VIPs in eth1's subnet (a route), the others ULA VIPs that are routed nowhere.
      vip: from === 'node' && rng.chance(0.8) ? `fd00:2::${200 + i}` : `fd00:30::${10 + i}`,
      proto,
      port,
      ...(nodePort !== undefined ? { nodePort } : {}),
      endpoints,
      localPolicy: rng.chance(0.25),
    });
  }
  const clusterCidr = rng.pick(['fd00:10::/64', 'fd00:1::/64', 'fd00:1::2/128']);
  const randomFully = rng.chance(0.3);
  const rs = kubeRuleset(rng, services, { clusterCidr, forwardDrop: rng.chance(0.35), randomFully, legacyNodePortChain: rng.chance(0.25), family: 6 });

  const svc = rng.pick(services);
  const src = from === 'client' ? rng.pick(CLIENT_V6) : from === 'server' ? rng.pick(SERVER_V6) : rng.pick(NODE6);
  const kind = rng.weighted<'vip' | 'nodeport' | 'direct' | 'wrongport'>([
    ['vip', 6],
    ['nodeport', svc.nodePort ? 4 : 0],
    ['direct', 1],
    ['wrongport', 1],
  ]);
  let dst: string;
  let dport: number;
  let proto: 'tcp' | 'udp' = svc.proto;
  if (kind === 'vip') {
    dst = svc.vip;
    dport = svc.port;
  } else if (kind === 'nodeport') {
    dst = rng.pick(NODE6);
    dport = svc.nodePort!;
  } else if (kind === 'direct') {
    dst = from === 'server' ? rng.pick(CLIENT_V6) : rng.pick(SERVER_V6);
    dport = rng.pick([...TARGET_PORTS, CLOSED_PORT]);
    proto = rng.chance(0.6) ? 'udp' : 'tcp';
  } else if (svc.vip.startsWith('fd00:30:')) {
    dst = svc.vip;
    dport = svc.port === 80 ? 8080 : 80;
    if (rng.chance(0.5)) proto = proto === 'tcp' ? 'udp' : 'tcp';
  } else {
    // A VIP in a connected subnet that is not DNATed would be solicited for (ND): not useful.
    dst = from === 'server' ? rng.pick(CLIENT_V6) : rng.pick(SERVER_V6);
    dport = CLOSED_PORT;
  }
  const probe: Probe = { from, proto, src, dst, dport, ...(rng.chance(0.3) ? { sport: 40000 + rng.int(0, 99) } : {}) };
  return {
    name: `kube6-${String(index).padStart(3, '0')}-${kind}-${from}-${proto}`,
    group: 'kube6',
    family: 6,
    rules: EMPTY_V4,
    rules6: rs.render(),
    probe,
    varies: randomFully ? ['sourcePort'] : [],
  };
}

/** A NAT target for IPv6: `[ADDR]:PORT` forms, ranges, REDIRECT, SNAT/MASQUERADE. */
function natTarget6(ctx: Ctx, hook: Hook, proto: 'tcp' | 'udp' | undefined, redirect = true): string {
  const { rng } = ctx;
  if (hook === 'PREROUTING' || hook === 'OUTPUT') {
    if (redirect && proto && rng.chance(hook === 'OUTPUT' ? 0.3 : 0.2)) {
      return rng.chance(0.8) ? `-j REDIRECT --to-ports ${rng.pick([9000, 9001, 8080, 80])}` : '-j REDIRECT';
    }
    const ip = rng.weighted<string>([
      [rng.pick(SERVER_V6), 6],
      [NODE_V6.eth1, 1],
      [NODE_V6.extra, 1],
      [rng.pick(CLIENT_V6), 1],
    ]);
    const form = proto ? rng.weighted([['port', 5], ['plain', 1.2], ['bracket', 0.6], ['portrange', 0.7], ['addrrange', 0.5]] as const) : rng.pick(['plain', 'bracket'] as const);
    switch (form) {
      case 'port':
        return `-j DNAT --to-destination [${spell6(rng, ip, 0.1)}]:${rng.pick(TARGET_PORTS)}`;
      case 'plain':
        return `-j DNAT --to-destination ${spell6(rng, ip, 0.1)}`;
      case 'bracket':
        return `-j DNAT --to-destination [${ip}]`;
      case 'portrange': {
        const lo = rng.pick([8080, 9000, 9001]);
        return `-j DNAT --to-destination [${ip}]:${lo}-${lo + rng.int(1, 3)}`;
      }
      case 'addrrange': {
        ctx.varies.add('endpoint');
        const base = rng.int(2, 4);
        const hi = Math.min(5, base + rng.int(1, 2));
        return rng.chance(0.5)
          ? `-j DNAT --to-destination fd00:2::${base}-fd00:2::${hi}`
          : `-j DNAT --to-destination [fd00:2::${base}-fd00:2::${hi}]:${rng.pick(TARGET_PORTS)}`;
      }
    }
  }
  // POSTROUTING / INPUT: source NAT.
  if (hook === 'POSTROUTING' && rng.chance(0.4)) {
    if (proto && rng.chance(0.3)) {
      ctx.varies.add('sourcePort');
      return `-j MASQUERADE --to-ports ${rng.pick(['20000-20100', '40000-40099'])}`;
    }
    if (rng.chance(0.15)) {
      ctx.varies.add('sourcePort');
      return '-j MASQUERADE --random-fully';
    }
    return '-j MASQUERADE';
  }
  const ip = rng.weighted<string>([
    [NODE_V6.eth1, 3],
    [NODE_V6.extra, 3],
    [NODE_V6.eth0, 1],
  ]);
  if (proto && rng.chance(0.3)) {
    ctx.varies.add('sourcePort');
    return `-j SNAT --to-source [${ip}]:${rng.pick(['20000-20100', '1024-65535', '40000-40099'])}`;
  }
  return `-j SNAT --to-source ${spell6(rng, ip, 0.1)}`;
}

function natCase6(rng: Rng, index: number): DiffCase {
  const from: Probe['from'] = rng.chance(0.85) ? 'client' : 'server';
  const pre = rng.weighted([
    ['dnat', 4],
    ['redirect', 1.2],
    ['none', 1.5],
  ] as const);
  let dst: string;
  if (pre === 'dnat') dst = rng.chance(0.7) ? `fd00:30::${rng.int(10, 19)}` : rng.pick(from === 'client' ? SERVER_V6 : CLIENT_V6);
  else if (pre === 'redirect') dst = rng.weighted([[rng.pick(from === 'client' ? SERVER_V6 : CLIENT_V6), 3], [rng.pick(NODE6), 1], ['fd00:30::10', 1]] as [string, number][]);
  else dst = rng.weighted([[rng.pick(from === 'client' ? SERVER_V6 : CLIENT_V6), 5], [rng.pick(NODE6), 1.5]] as [string, number][]);
  const probe = randomProbe6(rng, from, dst);
  const ctx: Ctx = { rng, probe, marks: [], sportKnown: probe.sport !== undefined, varies: new Set() };
  const rs = new Ruleset().use('nat');
  const inIf = from === 'client' ? 'eth0' : 'eth1';
  // Rules before the one that matters, mostly ones that do not match.
  const noise = (hook: Hook) => {
    for (let i = rng.weighted([[0, 2], [1, 2], [2, 1]] as const); i > 0; i--) {
      const m = randomMatches6(ctx, hook, { requireProto: rng.chance(0.5) });
      const t = rng.weighted([['nat', 3], ['ACCEPT', 1], ['RETURN', 0.5], ['MARK', 0.7]] as const);
      const target = t === 'nat' ? natTarget6(ctx, hook, m.proto) : t === 'MARK' ? `-j ${markTarget(ctx, 'MARK')}` : `-j ${t}`;
      rs.add('nat', `-A ${hook}${m.text ? ' ' + m.text : ''} ${target}`);
    }
  };
  if (rng.chance(0.5)) noise('PREROUTING');
  const p = probe.proto;
  if (pre === 'dnat') {
    const iface = rng.chance(0.3) ? ` -i ${inIf}` : '';
    const d = rng.chance(0.85) ? ` -d ${spell6(rng, dst)}/128` : ` -d ${net64(dst)}`;
    const port = rng.chance(0.85) ? ` -m ${p} --dport ${probe.dport}` : '';
    rs.add('nat', `-A PREROUTING${iface}${d} -p ${p}${port} ${natTarget6(ctx, 'PREROUTING', p, false)}`);
  } else if (pre === 'redirect') {
    const m = rng.chance(0.5) ? ` -i ${inIf}` : rng.chance(0.5) ? ` -d ${spell6(rng, dst)}` : '';
    rs.add('nat', `-A PREROUTING${m} -p ${p} -m ${p} --dport ${probe.dport} -j REDIRECT${rng.chance(0.8) ? ` --to-ports ${rng.pick([9000, 9001, 8080, 80])}` : ''}`);
  }
  if (rng.chance(0.4)) noise('POSTROUTING');
  const post = rng.weighted([
    ['snat', 2.5],
    ['masq', 2],
    ['markmasq', 1],
    ['input', NODE6.includes(dst as (typeof NODE6)[number]) || pre === 'redirect' ? 1 : 0],
    ['none', 1.5],
  ] as const);
  if (post === 'snat' || post === 'masq') {
    const m = rng.weighted([
      [`-o ${rng.pick(['eth1', 'eth0', 'eth+'])}`, 3],
      [`-s ${cidr6(rng, probe.src)}`, 2],
      [`! -d ${rng.pick(['fd00:1::/64', 'fd00:2::/64', 'fd00:30::/64'])}`, 1],
      ['', 1],
    ] as [string, number][]);
    const withProto = rng.chance(0.4) ? ` -p ${p}` : '';
    const target = post === 'masq' ? (withProto && rng.chance(0.3) ? (ctx.varies.add('sourcePort'), '-j MASQUERADE --to-ports 20000-20100') : '-j MASQUERADE') : natTarget6(ctx, 'INPUT', withProto ? p : undefined);
    rs.add('nat', `-A POSTROUTING${m ? ' ' + m : ''}${withProto} ${target}`);
  } else if (post === 'markmasq') {
    rs.chain('nat', 'KP6-MARK-MASQ');
    rs.add('nat', '-A KP6-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000');
    rs.insertFirst('nat', `-A PREROUTING -s ${cidr6(rng, probe.src)} -j KP6-MARK-MASQ`);
    rs.add('nat', '-A POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE');
  } else if (post === 'input') {
    rs.add('nat', `-A INPUT -p ${p} -j SNAT --to-source ${rng.pick([NODE_V6.extra, NODE_V6.eth1])}`);
  }
  if (rng.chance(0.35)) {
    rs.use('filter');
    const m = rng.weighted([
      ['-m conntrack --ctstate DNAT', 2],
      ['-m conntrack ! --ctstate DNAT', 0.5],
      ['-m conntrack --ctstate SNAT', 1],
      [`-m conntrack --ctorigdst ${spell6(rng, dst)}`, 1],
      [`-m conntrack --ctreplsrc ${cidr6(rng, rng.pick(SERVER_V6))}`, 1],
      [`-m conntrack --ctorigdstport ${probe.dport}`, 0.7],
      [`-m conntrack --ctdir ORIGINAL --ctstate NEW`, 0.5],
    ] as [string, number][]);
    const verdict = rng.weighted([
      ['ACCEPT', 1],
      ['REJECT --reject-with icmp6-adm-prohibited', 1],
      ['REJECT', 0.7],
      ['DROP', p === 'udp' ? 1 : 0.3],
    ] as const);
    const hook = rng.chance(0.75) ? 'FORWARD' : 'INPUT';
    rs.add('filter', `-A ${hook} -p ${p} ${m} -j ${verdict}`);
  }
  return {
    name: `nat6-${String(index).padStart(3, '0')}-${pre}-${post}-${from}-${probe.proto}`,
    group: 'nat6',
    family: 6,
    rules: EMPTY_V4,
    rules6: rs.render(),
    probe,
    varies: [...ctx.varies],
  };
}

function localCase6(rng: Rng, index: number): DiffCase {
  const kind = rng.weighted([
    ['vip', 3],
    ['server', 4],
    ['client', 1.5],
    ['self', 1.5],
    ['redirect', 1],
  ] as const);
  const dst = kind === 'vip' ? 'fd00:2::100' : kind === 'server' || kind === 'redirect' ? rng.pick(SERVER_V6) : kind === 'client' ? rng.pick(CLIENT_V6) : rng.pick(NODE6);
  const probe = randomProbe6(rng, 'node', dst);
  const ctx: Ctx = { rng, probe, marks: [], sportKnown: probe.sport !== undefined, varies: new Set() };
  const rs = new Ruleset();
  const p = probe.proto;
  if (kind === 'vip') {
    rs.add('nat', `-A OUTPUT -d ${spell6(rng, dst)}/128 -p ${p} -m ${p} --dport ${probe.dport} -j DNAT --to-destination [${rng.pick(SERVER_V6)}]:${rng.pick(TARGET_PORTS)}`);
  } else if (kind === 'redirect') {
    // REDIRECT in nat OUTPUT: to ::1.
    rs.add('nat', `-A OUTPUT -d ${spell6(rng, dst)} -p ${p} -m ${p} --dport ${probe.dport} -j REDIRECT${rng.chance(0.7) ? ` --to-ports ${rng.pick([9000, 8080])}` : ''}`);
  }
  if (rng.chance(0.4)) {
    // More nat OUTPUT rules, mostly not matching (never DNAT away from the VIP's route: see kube).
    for (let i = rng.int(1, 2); i > 0; i--) {
      const m = randomMatches6(ctx, 'OUTPUT', { requireProto: true, local: true });
      const d = rng.pick(['2001:db8::/32', 'fd00:30::/64', ...(kind === 'vip' ? [] : [dst + '/128'])]);
      const hasDst = /(?:^|\s)-d\s/.test(m.text);
      rs.add('nat', `-A OUTPUT ${hasDst ? '' : `-d ${d} `}${m.text} ${natTarget6(ctx, 'OUTPUT', m.proto)}`);
    }
  }
  markRules6(ctx, rs, ['OUTPUT', 'POSTROUTING']);
  rs.use('filter');
  const users: string[] = [];
  if (rng.chance(0.3)) {
    users.push('KP6-OUT-1');
    rs.chain('filter', 'KP6-OUT-1');
  }
  for (let i = rng.int(1, 4); i > 0; i--) rs.add('filter', randomRule6(ctx, 'filter', 'OUTPUT', 'OUTPUT', users, true));
  for (const u of users) {
    for (let i = rng.int(1, 2); i > 0; i--) rs.add('filter', randomRule6(ctx, 'filter', u, 'OUTPUT', [], true));
    if (rng.chance(0.6)) rs.add('filter', `-A OUTPUT -j ${u}`);
  }
  if (kind === 'self' && rng.chance(0.6)) {
    for (let i = rng.int(1, 2); i > 0; i--) rs.add('filter', randomRule6(ctx, 'filter', 'INPUT', 'INPUT', [], true));
  }
  if (ctx.marks.length && rng.chance(0.5)) {
    const m = rng.pick(ctx.marks);
    rs.add('filter', `-A OUTPUT -p ${p} -m mark --mark ${hex((m.value & m.mask) >>> 0)}/${hex(m.mask)} -j ${rng.pick(['DROP', 'REJECT', 'ACCEPT'])}`);
  }
  if ((kind === 'server' || kind === 'vip' || kind === 'client') && rng.chance(0.4)) {
    const out = kind === 'client' ? 'eth0' : 'eth1';
    rs.add('nat', rng.chance(0.5) ? `-A POSTROUTING -o ${out} -j MASQUERADE` : `-A POSTROUTING -o ${out} -j SNAT --to-source ${rng.pick(NODE6)}`);
  }
  return {
    name: `local6-${String(index).padStart(3, '0')}-${kind}-${probe.proto}`,
    group: 'local6',
    family: 6,
    rules: EMPTY_V4,
    rules6: rs.render(),
    probe,
    varies: [...ctx.varies],
  };
}

/** One fixed IPv6 case: rules6 from table blocks, the IPv4 side empty. */
function edge6(name: string, tables: Partial<Record<Table, readonly string[]>>, probe: Probe): DiffCase {
  const rs = new Ruleset().use('filter');
  for (const t of TABLE_ORDER) for (const r of tables[t] ?? []) rs.add(t, r);
  return { name: `edge6-${name}`, group: 'edge6', family: 6, rules: EMPTY_V4, rules6: rs.render(), probe, varies: [] };
}

/**
 * Fixed IPv6 cases for what IPv6 does differently from IPv4 (or where kubepath could easily
 * model IPv4 behaviour for both). Mostly UDP, so cheap; each checks one thing.
 */
function edgeCases6(): DiffCase[] {
  const udp = (from: Probe['from'], src: string, dst: string, dport: number): Probe => ({ from, proto: 'udp', src, dst, dport });
  return [
    // addrtype for IPv6 (xt_addrtype match_type6): UNICAST is "a unicast address", local or not
    // (IPv4: RTN_UNICAST, which a local address is not) …
    edge6('addrtype-unicast-local', { filter: ['-A INPUT -p udp -m addrtype --dst-type UNICAST -j REJECT --reject-with icmp6-adm-prohibited'] }, udp('client', 'fd00:1::2', 'fd00:1::1', 53)),
    edge6('addrtype-not-unicast-local', { filter: ['-A INPUT -p udp -m addrtype ! --dst-type UNICAST -j REJECT --reject-with icmp6-adm-prohibited'] }, udp('client', 'fd00:1::3', 'fd00:2::1', 53)),
    // … and a list of types is "all of UNICAST/MULTICAST/UNSPEC, and one of LOCAL/ANYCAST/
    // UNREACHABLE" (IPv4: any one of them): LOCAL,UNICAST does not match a forwarded packet.
    edge6('addrtype-local-unicast-forward', { filter: ['-A FORWARD -p udp -m addrtype --dst-type LOCAL,UNICAST -j DROP'] }, udp('client', 'fd00:1::2', 'fd00:2::3', 9000)),
    // … and UNREACHABLE is "no route" (IPv4: RTN_UNREACHABLE routes only).
    edge6(
      'addrtype-unreachable',
      { mangle: ['-A PREROUTING -p udp -m addrtype --dst-type UNREACHABLE -j MARK --set-mark 0x1', '-A PREROUTING -p udp -m addrtype --dst-type UNICAST -j MARK --set-mark 0x2'] },
      udp('client', 'fd00:1::3', 'fd00:30::99', 53),
    ),
    edge6('addrtype-local-unicast-input', { filter: ['-A INPUT -p udp -m addrtype --dst-type LOCAL,UNICAST -j REJECT'] }, udp('client', 'fd00:1::4', 'fd00:ff::2', 53)),
    // A router (forwarding=1) has the subnet-router anycast address of each prefix (RFC 4291
    // 2.6.1): fd00:2:: is local to the node, not forwarded.
    edge6('anycast-subnet-router', {}, udp('client', 'fd00:1::2', 'fd00:2::', 53)),
    edge6('addrtype-anycast', { filter: ['-A INPUT -p udp -m addrtype --dst-type ANYCAST -j REJECT --reject-with icmp6-adm-prohibited'] }, udp('client', 'fd00:1::3', 'fd00:2::', 53)),
    // No martian-source check in IPv6: a DNAT back to the sender is delivered (UDP); a TCP
    // handshake fails, the answer not going through the node.
    edge6('hairpin-self-udp', { nat: ['-A PREROUTING -d fd00:30::10/128 -p udp -m udp --dport 53 -j DNAT --to-destination [fd00:1::2]:53'] }, udp('client', 'fd00:1::2', 'fd00:30::10', 53)),
    edge6(
      'hairpin-self-tcp',
      { nat: ['-A PREROUTING -d fd00:30::10/128 -p tcp -m tcp --dport 80 -j DNAT --to-destination [fd00:1::2]:8080'] },
      { from: 'client', proto: 'tcp', src: 'fd00:1::2', dst: 'fd00:30::10', dport: 80 },
    ),
    // REDIRECT takes the incoming interface's first address of the destination's scope, in the
    // kernel's order (newest first): fd00:ff::2 on eth1; in nat OUTPUT: ::1.
    edge6('redirect-eth1', { nat: ['-A PREROUTING -i eth1 -p udp -m udp --dport 9000 -j REDIRECT --to-ports 9001'] }, udp('server', 'fd00:2::4', 'fd00:1::3', 9000)),
    edge6('redirect-output', { nat: ['-A OUTPUT -d fd00:2::3/128 -p udp -m udp --dport 80 -j REDIRECT --to-ports 9000'] }, udp('node', 'fd00:2::1', 'fd00:2::3', 80)),
    // Address spellings (RFC 4291 text, printed back in RFC 5952 form) and host bits.
    edge6('spellings', { filter: ['-A FORWARD -s FD00:1:0:0:0:0:0:2/128 -d fd00:0002:0000::0003 -p udp -j REJECT --reject-with adm-prohibited'] }, udp('client', 'fd00:1::2', 'fd00:2::3', 53)),
    edge6('host-bits', { filter: ['-A FORWARD -d fd00:2::5/64 -p udp -m udp --dport 9001 -j REJECT'] }, udp('client', 'fd00:1::3', 'fd00:2::2', 9001)),
    // DNAT without a port keeps the original one.
    edge6('dnat-no-port', { nat: ['-A PREROUTING -d fd00:30::20/128 -p udp -j DNAT --to-destination fd00:2::4'] }, udp('client', 'fd00:1::4', 'fd00:30::20', 8081)),
    // An address range: find_best_ips_proto() hashes the addresses, word by word for IPv6 (the
    // kernel picks fd00:2::4 here; which word it mixes in after each one matters).
    edge6('dnat-range-hash', { nat: ['-A PREROUTING -d fd00:30::10/128 -p udp -j DNAT --to-destination fd00:2::3-fd00:2::5'] }, udp('client', 'fd00:1::2', 'fd00:30::10', 53)),
  ];
}

/**
 * IPv6 differential cases (`family: 6`, rules in `rules6`, `rules` is empty IPv4 tables), for a
 * lab created with `ipv6: true`. Groups: `kube6` (kube-proxy's ip6tables rules, single
 * endpoints), `filter6` (filter rules with ICMPv6-safe drops, host firewalls, marks), `nat6`
 * (DNAT/REDIRECT/SNAT/MASQUERADE with IPv6 address forms), `local6` (from the node): `count`
 * (default 90) seeded cases in all; plus (unless `edge: false`) the fixed `edge6` cases. Mostly
 * UDP, to keep the run short (a dropped TCP SYN costs the TCP timeout).
 */
export function generateCasesV6(opts: { seed?: number; count?: number; edge?: boolean } = {}): DiffCase[] {
  const seed = opts.seed ?? 20240601;
  const count = opts.count ?? 90;
  const kube = Math.round(count * 0.33);
  const filter = Math.round(count * 0.3);
  const nat = Math.round(count * 0.2);
  const local = Math.max(0, count - kube - filter - nat);
  const out: DiffCase[] = [];
  const kubeRng = new Rng(mulberry32(seed ^ 0x6a09e667));
  for (let i = 0; i < kube; i++) out.push(kubeCase6(kubeRng, i));
  const filterRng = new Rng(mulberry32(seed ^ 0xbb67ae85));
  for (let i = 0; i < filter; i++) out.push(filterCase6(filterRng, i));
  const natRng = new Rng(mulberry32(seed ^ 0x3c6ef372));
  for (let i = 0; i < nat; i++) out.push(natCase6(natRng, i));
  const localRng = new Rng(mulberry32(seed ^ 0xa54ff53a));
  for (let i = 0; i < local; i++) out.push(localCase6(localRng, i));
  if (opts.edge ?? true) out.push(...edgeCases6());
  return out;
}
