/**
 * A connection across the cluster, hop by hop: from a client host, through routing and
 * netfilter on every host it crosses (kube-proxy's rules on the nodes, nothing on pods), through
 * the cloud load balancer when it is addressed, to the application — every probabilistic choice
 * a branch with its exact probability. With `roundTrip`, the reply of every delivered branch goes
 * back through conntrack on the same hosts and must reach the client from the address it called.
 *
 * @module
 */
import type { Network, NetworkHost } from '../linux/network.js';
import { formatEndpoint, formatIP, type IPAddress, type Packet, parseIP } from '../net/index.js';
import { ConntrackTable, type Outcome, type PacketEntry, type RuleRef, type SocketOwner, type TraceRequest } from '../netfilter/index.js';
import type { CloudL7Provider } from '../edge/http-proxy.js';
import { type BackendChoice, chooseBackends, type LoadBalancerInput } from '../edge/loadbalancer.js';
import type { PolicyIndex } from '../policy/index.js';
import { checkNetworkPolicy } from './network-policy.js';

/** The kind of a step, in the words of GCP Connectivity Tests. */
export type StepState =
  | 'START_FROM_INTERNET'
  | 'START_FROM_POD'
  | 'START_FROM_NODE'
  | 'ARRIVE_AT_LOAD_BALANCER'
  | 'APPLY_HEALTH_CHECK'
  | 'LOAD_BALANCE'
  | 'ARRIVE_AT_NODE'
  | 'ARRIVE_AT_POD'
  | 'ARRIVE_AT_ROUTER'
  | 'ARRIVE_AT_CLIENT'
  | 'APPLY_IPTABLES_RULE'
  | 'NAT'
  | 'DELIVER'
  | 'DROP'
  | 'REJECT'
  | 'UNDETERMINED'
  /** A hop that ends the client's TCP connection and opens its own: proxying LB, ingress controller, sidecar, reverse proxy. */
  | 'ARRIVE_AT_PROXY'
  | 'APPLY_PROXY_PROTOCOL'
  | 'APPLY_HTTP_HEADERS'
  /** A proxy's choice of where to send (an Ingress rule, Envoy's cluster, the LB's backend). */
  | 'ROUTE'
  | 'PROXY_CONNECTION'
  | 'APPLY_CLIENT_IP_STRATEGY'
  /** NetworkPolicy at a pod (its node's policy agent), or why a check did not apply. */
  | 'APPLY_EGRESS_NETWORK_POLICY'
  | 'APPLY_INGRESS_NETWORK_POLICY'
  | 'SKIP_EGRESS_NETWORK_POLICY'
  | 'SKIP_INGRESS_NETWORK_POLICY';

export interface JourneyStep {
  state: StepState;
  /** The host (or `lb/NS/NAME`) where it happens. */
  at: string;
  detail: string;
  rule?: RuleRef;
  /** NAT: the packet before and after, `SRC -> DST`. */
  before?: string;
  after?: string;
  /** For LOAD_BALANCE and statistic branches: the probability of this branch at this point. */
  probability?: number;
  /** For APPLY_HEALTH_CHECK: each node's answer. */
  healthChecks?: { node: string; healthy: boolean; httpStatus?: number; localEndpoints?: number }[];
  /** For APPLY_*_NETWORK_POLICY: the verdict, every selecting policy, the rule that allowed it; `clientWouldPass`: the rule the client's own address would have passed. */
  networkPolicy?: { direction: 'ingress' | 'egress'; verdict: 'allow' | 'deny'; /** The source address judged. */ source: string; policies: string[]; allowedBy?: string; clientWouldPass?: string };
  /** For DROP: why, when it is not a rule of the host's netfilter (`NETWORK_POLICY`). */
  cause?: 'NETWORK_POLICY';
}

/** One host on the way, and the rewrites it made. */
export interface PathHop {
  at: string;
  nat: string[];
}

export interface ReplyResult {
  /** The client took the reply as the answer to its connection. */
  accepted: boolean;
  reason: string;
  steps: JourneyStep[];
  /**
   * When a node on the way rewrote the source (SNAT/MASQUERADE): the same reply had it not,
   * answering the client directly — why kube-proxy must SNAT traffic it sends to another node.
   */
  withoutSnat?: Omit<ReplyResult, 'withoutSnat'>;
}

export interface JourneyOutcome {
  probability: number;
  disposition: 'deliver' | 'drop' | 'reject' | 'undetermined';
  /** `pod/NS/NAME` or `node/NAME` that got the connection, or null. */
  endpoint: string | null;
  /** What the application sees: the TCP peer address (IP) and `IP:port`, and above TCP what reached it. */
  app: AppView;
  /** The packet as delivered (or where it ended), `SRC -> DST`. */
  packet: { src: string; dst: string };
  reason: string;
  path: PathHop[];
  steps: JourneyStep[];
  reply?: ReplyResult;
  /** Where a delivered connection landed: the port of the socket, and for REDIRECT/TPROXY the destination the client addressed. */
  socket?: { port: number; tproxy: boolean; originalDestination: string };
}

/** What the application got on its connection, and the client IP it makes of it. */
export interface AppView {
  /** The TCP peer's IP (`remote_addr`), or null when nothing was delivered. */
  client_address: string | null;
  /** The TCP peer, `IP:port`. */
  peer: string | null;
  /** The PROXY protocol header at the start of the stream, when one was sent. */
  proxy_header?: { version: 1 | 2; source: string; destination: string; hex: string } | null;
  /** The HTTP request's header fields as the application received them (HTTP only). */
  headers?: [string, string][];
  /** The application's client IP strategy, by name. */
  strategy?: string;
  /** The client IP it resolves (null: the strategy finds none). */
  client_ip?: string | null;
  /** Why, one sentence. */
  client_ip_why?: string;
  /** The address the client really has. */
  true_client?: string;
  /** A client could make the application take an address of its choosing (a header it sends reaches the strategy unchecked). */
  forgeable?: boolean;
}

/** A LoadBalancer Service's VIP, as the journey meets it. */
export interface LoadBalancerTarget extends Omit<LoadBalancerInput, 'backends'> {
  service: string;
  backends: LoadBalancerInput['backends'];
  /** `--via`: the load balancer is made to send to this node, healthy or not. */
  forced?: string;
  /** How it carries the connection (passthrough unless the Environment or the Service's annotations say otherwise). */
  mode: 'passthrough' | 'proxy' | 'http';
  /** `proxy`: the PROXY protocol version it writes. */
  proxyProtocol?: 1 | 2;
  /** `proxy`/`http`: the address it connects to the backends from. */
  sourceAddress?: string;
  /** What it is, for reports (`AWS classic ELB`, `UCloud ULB7`, …). */
  product: string;
  /** `http` mode: whose headers it sets. */
  l7Provider?: CloudL7Provider;
  /** Where each setting came from (Environment, annotation, default). */
  origin: string[];
}

export interface JourneyInput {
  network: Network;
  /** The client's host id, and the packet it sends. */
  from: string;
  packet: Packet;
  /** The load balancer at `VIP:port`, met when a packet leaves a client or enters the router. */
  loadBalancers: (vipPort: string) => LoadBalancerTarget | undefined;
  roundTrip?: boolean;
  /** The sending socket's owner (`-m owner`) and mark (SO_MARK), for a connection a local proxy opens. */
  socket?: SocketOwner;
  mark?: number;
  /** The cluster's NetworkPolicies, judged at the nodes (absent: no checks, no steps). */
  networkPolicy?: PolicyIndex;
}

const MAX_HOPS = 24;

/** The state each outcome ended in (conntrack tables and LB sessions), for its reply. */
const forwardState = new WeakMap<JourneyOutcome, State>();

interface State {
  host: string;
  request: TraceRequest;
  probability: number;
  steps: JourneyStep[];
  path: PathHop[];
  hops: number;
  /** Conntrack tables per host, built as the connection passes (for the reply). */
  tables: Map<string, ConntrackTable>;
  /** Load balancer sessions: backend destination → VIP, to rewrite replies. */
  lbSessions: { client: string; backend: string; vip: string; lb: string }[];
  /** The local pod the packet came from when it reached this node (its egress is judged here). */
  fromPod?: string;
}

function show(p: Packet): string {
  return `${formatEndpoint(p.source, p.sourcePort)} -> ${formatEndpoint(p.destination, p.destinationPort)}`;
}

function startState(kind: NetworkHost['kind']): StepState {
  return kind === 'pod' ? 'START_FROM_POD' : kind === 'node' ? 'START_FROM_NODE' : 'START_FROM_INTERNET';
}

function arriveState(kind: NetworkHost['kind']): StepState {
  return kind === 'pod' ? 'ARRIVE_AT_POD' : kind === 'node' ? 'ARRIVE_AT_NODE' : kind === 'router' ? 'ARRIVE_AT_ROUTER' : 'ARRIVE_AT_CLIENT';
}

/** Matched rules and NAT of one host's outcome, as journey steps. */
function hostSteps(at: string, o: Outcome): JourneyStep[] {
  const out: JourneyStep[] = [];
  for (const s of o.steps) {
    if (s.kind === 'rule' && s.matched === true && s.rule) {
      out.push({ state: 'APPLY_IPTABLES_RULE', at, detail: `${s.rule.table} ${s.rule.chain}: ${s.rule.text}`, rule: s.rule, ...(s.branchProbability !== undefined ? { probability: s.branchProbability } : {}) });
    }
  }
  for (const n of o.nat) {
    out.push({ state: 'NAT', at, detail: `${n.kind} in ${n.hook}`, before: n.before, after: n.after, ...(n.rule ? { rule: n.rule } : {}) });
  }
  return out;
}

function natSummary(o: Outcome): string[] {
  return o.nat.map((n) => {
    const after = n.after.split(' -> ');
    return n.kind === 'DNAT' || n.kind === 'REDIRECT' ? `${n.kind} → ${after[1]}` : n.kind === 'un-DNAT' || n.kind === 'un-SNAT' ? `${n.kind}` : `${n.kind} → ${after[0]}`;
  });
}

function withTable(tables: Map<string, ConntrackTable>, host: string, o: Outcome): Map<string, ConntrackTable> {
  if (!o.conntrack || o.ctDirection !== 'ORIGINAL') return tables;
  const next = new Map(tables);
  const t = new ConntrackTable();
  for (const e of tables.get(host)?.entries() ?? []) t.add(e);
  t.add(o.conntrack);
  next.set(host, t);
  return next;
}

function end(
  st: State,
  disposition: JourneyOutcome['disposition'],
  packet: Packet,
  reason: string,
  extra: JourneyStep[],
  endpoint: string | null = null,
): JourneyOutcome {
  const delivered = disposition === 'deliver';
  const out: JourneyOutcome = {
    probability: st.probability,
    disposition,
    endpoint,
    app: { client_address: delivered ? formatIP(packet.source) : null, peer: delivered ? formatEndpoint(packet.source, packet.sourcePort) : null },
    packet: { src: formatEndpoint(packet.source, packet.sourcePort), dst: formatEndpoint(packet.destination, packet.destinationPort) },
    reason,
    path: st.path,
    steps: [...st.steps, ...extra],
  };
  forwardState.set(out, st);
  return out;
}

interface Walk {
  network: Network;
  loadBalancers: (vipPort: string) => LoadBalancerTarget | undefined;
  /** For replies: reverse the LB's rewrite when the reply passes the router. */
  reply: boolean;
  /** The client's original destination, for replies. */
  origin?: { client: string; destination: string };
  /** NetworkPolicy, and the address this leg was opened from (first packets only: replies are established). */
  policy?: { index: PolicyIndex; client: IPAddress };
}

function lbKey(ip: IPAddress, port: number | undefined): string {
  return formatEndpoint(ip, port);
}

/** The LB hop: health checks, then one branch per healthy node. */
function viaLoadBalancer(w: Walk, st: State, lb: LoadBalancerTarget, packet: Packet): JourneyOutcome[] {
  const at = lb.service;
  if (lb.mode !== 'passthrough') {
    // A proxying LB ends the client's connection here; the trace opens its own (trace/connection.ts).
    const what = lb.mode === 'http' ? 'L7 HTTP proxy' : `L4 proxy${lb.proxyProtocol ? ` with PROXY protocol v${lb.proxyProtocol}` : ''}`;
    const arrive: JourneyStep = { state: 'ARRIVE_AT_LOAD_BALANCER', at, detail: `${lb.product} ${lb.vip}:${lb.port} (${what}: it accepts the client's connection and opens its own to the backends)` };
    const reason = `the ${lb.product} accepts the connection on ${formatEndpoint(packet.destination, packet.destinationPort)}`;
    return [end({ ...st, steps: [...st.steps, arrive], path: [...st.path, { at, nat: [] }] }, 'deliver', packet, reason, [], at)];
  }
  const steps: JourneyStep[] = [
    { state: 'ARRIVE_AT_LOAD_BALANCER', at, detail: `${lb.product} ${lb.vip}:${lb.port} (passthrough: the client address is kept; ${lb.delivery === 'VIP' ? 'delivers with the LB IP as destination' : lb.delivery === 'Pod' ? 'delivers to the pods\' IPs' : 'delivers to nodeIP:nodePort'})` },
  ];
  const choices = chooseBackends(lb);
  steps.push(healthCheckStep(lb, choices));
  const forced = lb.forced ? choices.filter((c) => c.node === lb.forced).map((c) => ({ ...c, probability: 1 })) : undefined;
  if (forced && forced.length > 0 && !forced[0]!.healthy) steps.push({ state: 'LOAD_BALANCE', at, detail: `--via ${lb.forced}: sent there although its health check fails (the load balancer would not)` });
  const healthy = forced ?? choices.filter((c) => c.healthy);
  if (healthy.length === 0) return [end({ ...st, steps: [...st.steps, ...steps] }, 'drop', packet, 'the load balancer has no healthy node to send to', [{ state: 'DROP', at, detail: 'no healthy backend' }])];
  return healthy.flatMap((c) => {
    const dst = c.destination;
    const next: Packet = { ...packet, destination: parseIP(dst.address), destinationPort: dst.port };
    const node = `node/${c.node}`;
    const lbStep: JourneyStep = { state: 'LOAD_BALANCE', at, detail: forced ? `to ${c.node} (${dst.address}:${dst.port}), chosen by --via` : `to ${c.node} (${dst.address}:${dst.port}), 1 of ${healthy.length} healthy nodes`, probability: c.probability, before: show(packet), after: show(next) };
    return walk(w, {
      ...st,
      host: node,
      request: { packet: next, entry: { kind: 'incoming', interface: 'eth0' } },
      probability: st.probability * c.probability,
      steps: [...st.steps, ...steps, lbStep],
      path: [...st.path, { at, nat: lb.delivery === 'NodePort' ? [`→ ${dst.address}:${dst.port}`] : [] }],
      hops: st.hops + 1,
      lbSessions: [...st.lbSessions, { client: formatEndpoint(packet.source, packet.sourcePort), backend: `${dst.address}:${dst.port}`, vip: `${lb.vip}:${lb.port}`, lb: at }],
    });
  });
}

/** The LB's health checks of its backends, as a step. */
export function healthCheckStep(lb: LoadBalancerTarget, choices: readonly BackendChoice[]): JourneyStep {
  return {
    state: 'APPLY_HEALTH_CHECK',
    at: lb.service,
    detail: healthDetail(lb, choices),
    healthChecks: choices.map((c) => ({ node: c.node, healthy: c.healthy, ...(c.probe ? { httpStatus: c.probe.response.status, localEndpoints: Number(c.probe.response.headers['X-Load-Balancing-Endpoint-Weight']) } : {}) })),
  };
}

function healthDetail(lb: LoadBalancerTarget, choices: readonly BackendChoice[]): string {
  if (!lb.externalPolicyLocal) return `externalTrafficPolicy Cluster: every node is a healthy backend (${choices.map((c) => c.node).join(', ')})`;
  return `HTTP GET :${lb.healthCheckNodePort} on each node (kube-proxy answers): ${choices
    .map((c) => `${c.node} ${c.probe ? `${c.probe.response.status} (${c.probe.response.headers['X-Load-Balancing-Endpoint-Weight']} local endpoints)` : 'no listener'}`)
    .join(', ')}`;
}


function walk(w: Walk, st: State): JourneyOutcome[] {
  const host = w.network.host(st.host);
  if (!host) return [end(st, 'undetermined', st.request.packet, `no host ${st.host}`, [])];
  if (st.hops > MAX_HOPS) return [end(st, 'undetermined', st.request.packet, `more than ${MAX_HOPS} hops: a routing loop`, [{ state: 'UNDETERMINED', at: st.host, detail: 'routing loop' }])];
  const arrive: JourneyStep[] = st.request.entry.kind === 'incoming' ? [{ state: arriveState(host.kind), at: st.host, detail: `on ${st.request.entry.interface}: ${show(st.request.packet)}` }] : [];
  let request = st.request;
  // A reply passing the router on its way out: the load balancer reverses its rewrite.
  const steps0 = [...st.steps, ...arrive];
  if (w.reply && host.kind === 'router') {
    const p = request.packet;
    const s = st.lbSessions.find((x) => x.backend === formatEndpoint(p.source, p.sourcePort) && x.client === formatEndpoint(p.destination, p.destinationPort));
    if (s && s.backend !== s.vip) {
      const [vip, port] = splitEndpoint(s.vip);
      const rewritten: Packet = { ...p, source: parseIP(vip), sourcePort: port };
      steps0.push({ state: 'NAT', at: s.lb, detail: 'the load balancer reverses its rewrite', before: show(p), after: show(rewritten) });
      request = { ...request, packet: rewritten };
    }
  }
  const table = st.tables.get(st.host);
  const trace = w.network.hop(st.host, table ? { ...request, conntrack: table } : request);
  const pathHere = (o: Outcome): PathHop[] => [...st.path, { at: st.host, nat: natSummary(o) }];
  return trace.outcomes.flatMap((o) => {
    const here: State = {
      ...st,
      probability: st.probability * o.probability,
      steps: [...steps0, ...hostSteps(st.host, o)],
      path: pathHere(o),
      tables: withTable(st.tables, st.host, o),
    };
    switch (o.disposition) {
      case 'deliver':
        return [delivered(w, host, here, o)];
      case 'forward':
        return forwarded(w, host, here, o);
      case 'drop':
        return [end(here, 'drop', o.packet, o.reason, [{ state: 'DROP', at: st.host, detail: o.reason, ...(o.verdictRule ? { rule: o.verdictRule } : {}) }])];
      case 'reject':
        return [end(here, 'reject', o.packet, o.reason, [{ state: 'REJECT', at: st.host, detail: `${o.reason}${o.rejectWith ? ` (${o.rejectWith})` : ''}`, ...(o.verdictRule ? { rule: o.verdictRule } : {}) }])];
      default:
        return [end(here, 'undetermined', o.packet, o.reason, [{ state: 'UNDETERMINED', at: st.host, detail: o.reason }])];
    }
  });
}

function splitEndpoint(text: string): [string, number] {
  const i = text.lastIndexOf(':');
  return [text.slice(0, i).replace(/^\[|\]$/g, ''), Number(text.slice(i + 1))];
}

function delivered(w: Walk, host: NetworkHost, st: State, o: Outcome): JourneyOutcome {
  const p = o.packet;
  if (host.kind === 'router') return end(st, 'drop', p, 'the router is not a server: nothing listens there', [{ state: 'DROP', at: host.id, detail: 'delivered to the router' }]);
  if (w.reply && w.origin && host.id === w.origin.client) {
    const from = formatEndpoint(p.source, p.sourcePort);
    const ok = from === w.origin.destination;
    const reason = ok ? `the client gets the answer from ${from}, the address it called` : `the client called ${w.origin.destination} but the answer comes from ${from}: no such connection, the client drops it (TCP answers with RST)`;
    return end(st, ok ? 'deliver' : 'drop', p, reason, [{ state: ok ? 'DELIVER' : 'DROP', at: host.id, detail: reason }], host.id);
  }
  if (w.policy && host.kind === 'node') {
    const checked = st.fromPod ? checkNetworkPolicy(w.policy.index, o, st.fromPod, undefined, w.policy.client) : { steps: [] };
    if (checked.denied) return end(st, 'drop', p, checked.denied, checked.steps);
    const skip: JourneyStep = { state: 'SKIP_INGRESS_NETWORK_POLICY', at: host.id, detail: `delivered to ${host.id} itself (the host network), not to a pod: NetworkPolicy selects pods only` };
    st = { ...st, steps: [...st.steps, ...checked.steps, skip] };
  }
  if (host.listens && p.destinationPort !== undefined && !host.listens(p.protocol, p.destinationPort)) {
    const reason = `nothing listens on ${formatEndpoint(p.destination, p.destinationPort)} in ${host.id} (TCP answers with RST)`;
    return end(st, 'reject', p, reason, [{ state: 'REJECT', at: host.id, detail: reason }]);
  }
  const reason = o.tproxy
    ? `delivered to ${host.id}: TPROXY hands it to the transparent socket on port ${o.tproxy.port}, which sees ${formatEndpoint(p.source, p.sourcePort)} -> ${formatEndpoint(p.destination, p.destinationPort)} untouched`
    : `delivered to ${host.id} on ${formatEndpoint(p.destination, p.destinationPort)}; the application sees the peer ${formatEndpoint(p.source, p.sourcePort)}`;
  const out = end(st, 'deliver', p, reason, [{ state: 'DELIVER', at: host.id, detail: reason }], host.id);
  const redirect = [...o.nat].reverse().find((n) => n.kind === 'REDIRECT');
  out.socket = {
    port: o.tproxy?.port ?? p.destinationPort ?? 0,
    tproxy: o.tproxy !== undefined,
    originalDestination: redirect ? redirect.before.split(' -> ')[1]! : formatEndpoint(p.destination, p.destinationPort),
  };
  return out;
}

function forwarded(w: Walk, host: NetworkHost, st: State, o: Outcome): JourneyOutcome[] {
  const p = o.packet;
  const lb = !w.reply ? w.loadBalancers(lbKey(p.destination, p.destinationPort)) : undefined;
  const next = w.network.nextHop(host.id, o);
  if (lb && (host.kind === 'client' || ('host' in next && next.host.kind === 'router'))) return viaLoadBalancer(w, st, lb, p);
  if (!('host' in next)) return [end(st, 'drop', p, next.unreachable, [{ state: 'DROP', at: host.id, detail: next.unreachable }])];
  let steps = st.steps;
  if (w.policy && host.kind === 'node' && (st.fromPod || next.host.kind === 'pod')) {
    const checked = checkNetworkPolicy(w.policy.index, o, st.fromPod, next.host.kind === 'pod' ? next.host.id : undefined, w.policy.client);
    if (checked.denied) return [end(st, 'drop', p, checked.denied, checked.steps)];
    steps = [...steps, ...checked.steps];
  }
  const entry: PacketEntry = { kind: 'incoming', interface: next.interface };
  return walk(w, { ...st, steps, host: next.host.id, request: { packet: p, entry }, hops: st.hops + 1, fromPod: host.kind === 'pod' ? host.id : undefined });
}

/** Trace a connection's first packet across the network; with `roundTrip`, also each delivered branch's reply. */
export function traceJourney(input: JourneyInput): JourneyOutcome[] {
  const start = input.network.host(input.from);
  if (!start) throw new Error(`no host ${input.from}`);
  const first: JourneyStep = { state: startState(start.kind), at: start.id, detail: `${show(input.packet)} (${protocolLabel(input.packet.protocol)})` };
  const st: State = {
    host: input.from,
    request: { packet: input.packet, entry: { kind: 'local', ...(input.socket ? { socket: input.socket } : {}) }, ...(input.mark ? { mark: input.mark } : {}) },
    probability: 1,
    steps: [first],
    path: [],
    hops: 0,
    tables: new Map(),
    lbSessions: [],
  };
  const w: Walk = { network: input.network, loadBalancers: input.loadBalancers, reply: false, ...(input.networkPolicy ? { policy: { index: input.networkPolicy, client: input.packet.source } } : {}) };
  const outcomes = walk(w, st);
  if (!input.roundTrip) return outcomes;
  return outcomes.map((o) => (o.disposition === 'deliver' && o.endpoint && input.network.host(o.endpoint) ? { ...o, reply: replyOf(input, o) } : o));
}

function protocolLabel(p: number): string {
  return p === 6 ? 'tcp' : p === 17 ? 'udp' : p === 132 ? 'sctp' : `protocol ${p}`;
}

/** The reply of a delivered branch: from the endpoint back to the client, through the same conntrack. */
function replyOf(input: JourneyInput, o: JourneyOutcome): ReplyResult {
  const state = forwardState.get(o);
  if (!state || !o.endpoint) return { accepted: false, reason: 'no reply traced', steps: [] };
  const [src, sport] = splitEndpoint(o.packet.dst);
  const [dst, dport] = splitEndpoint(o.packet.src);
  const packet: Packet = { ...input.packet, source: parseIP(src), sourcePort: sport, destination: parseIP(dst), destinationPort: dport };
  const reply = replyWalk(input, o.endpoint, packet, state);
  const snatted = o.path.some((h) => h.at !== o.endpoint && h.nat.some((n) => n.startsWith('MASQUERADE') || n.startsWith('SNAT')));
  if (!snatted) return reply;
  // The same reply had the source not been rewritten: the endpoint answers the client directly.
  const direct: Packet = { ...packet, destination: input.packet.source, destinationPort: input.packet.sourcePort };
  const without = replyWalk(input, o.endpoint, direct, state);
  return { ...reply, withoutSnat: { accepted: without.accepted, reason: without.reason, steps: without.steps } };
}

function replyWalk(input: JourneyInput, endpoint: string, packet: Packet, state: State): ReplyResult {
  const w: Walk = {
    network: input.network,
    loadBalancers: input.loadBalancers,
    reply: true,
    origin: { client: input.from, destination: formatEndpoint(input.packet.destination, input.packet.destinationPort) },
  };
  const results = walk(w, {
    host: endpoint,
    request: { packet, entry: { kind: 'local' } },
    probability: 1,
    steps: [{ state: startState(input.network.host(endpoint)!.kind), at: endpoint, detail: `the reply: ${show(packet)}` }],
    path: [],
    hops: 0,
    tables: state.tables,
    lbSessions: state.lbSessions,
  });
  const r = results[0]!;
  const accepted = r.disposition === 'deliver' && r.endpoint === input.from;
  return { accepted, reason: accepted ? r.reason : r.disposition === 'deliver' ? `the reply reached ${r.endpoint}, not the client` : r.reason, steps: r.steps };
}
