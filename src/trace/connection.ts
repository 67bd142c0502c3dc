/**
 * A connection across proxies: each proxying hop (a cloud LB in proxy or HTTP mode, an ingress
 * controller, a sidecar, a reverse proxy) ends the TCP connection it gets and opens its own, so
 * the journey is a chain of legs, each traced packet by packet (journey.ts). What rides above
 * TCP — a PROXY header, the HTTP head — goes from leg to leg through each hop's model, and at
 * the end the application's listener and client IP strategy make of it what the app would.
 * Whether a client could forge the answer is found by replaying the same hops with forged
 * header fields.
 *
 * @module
 */
import { isProxyHeaderSent } from '../edge/http-proxy.js';
import { proxyHeaderSent } from '../edge/proxy-wire.js';
import { type ConnectionPayload, hostOf, type HttpRequestHead, type ProxyDecision, type ProxyHeaderSent } from '../edge/request.js';
import { formatEndpoint, type Packet } from '../net/index.js';
import type { SocketOwner } from '../netfilter/index.js';
import { listen, resolveClientIP, type ResolvedApp } from './app.js';
import { type AppView, type JourneyInput, type JourneyOutcome, type JourneyStep, type PathHop, traceJourney } from './journey.js';

/** A new connection a proxy opens. */
export interface UpstreamLeg {
  /** Share of the proxy's connections that go this way. */
  probability: number;
  /** The host it is opened from, and its first packet. */
  from: string;
  packet: Packet;
  socket?: SocketOwner;
  mark?: number;
  /** Why this way (the LB's backend, the Ingress path, Envoy's endpoint), as a ROUTE step. */
  route: JourneyStep;
}

/** A hop that ends connections and opens its own. */
export interface ProxyHop {
  /** Where it is: a host id or `lb/NS/NAME`. */
  at: string;
  /** What it is, for steps: `ingress-nginx`, `istio-proxy (REDIRECT)`, `UCloud ULB7`. */
  name: string;
  /** What it does with the connection's payload. */
  decide(payload: ConnectionPayload): ProxyDecision;
  /** What to change at this hop, per situation (findings). */
  advice?: HopAdvice;
  /** The connections it opens for a forwarded request (steps before them: health checks). */
  upstreams(decision: Extract<ProxyDecision, { kind: 'forward' }>, payload: ConnectionPayload): { steps: JourneyStep[]; legs: UpstreamLeg[] } | { refuse: string };
}

/** What listens where a leg was delivered. */
export type Listener = { kind: 'app'; app: ResolvedApp } | { kind: 'proxy'; hop: ProxyHop } | { kind: 'undetermined'; reason: string };

export interface ConnectionInput {
  first: JourneyInput;
  /** The client's own address (to tell whether the app got it). */
  clientAddress: string;
  /** What the client sends above TCP (HTTP head; undefined for raw TCP). */
  http?: HttpRequestHead | undefined;
  /** Who takes a delivered connection: the app, or a proxy hop. */
  listenerAt(outcome: JourneyOutcome): Listener;
  /** The PROXY header a passthrough LB with PROXY protocol adds to the first leg (AWS NLB). */
  firstProxyHeader?: (outcome: JourneyOutcome) => { version: 1 | 2; source: string; destination: string } | undefined;
}

/** One TCP connection of the chain. */
export interface LegSummary {
  /** Who opened it: the client, or the hop. */
  by: string;
  src: string;
  dst: string;
  /** Where it was delivered (host id, `lb/…`), or null. */
  deliveredTo: string | null;
  reply?: { accepted: boolean; reason: string };
}

/** A journey outcome across every leg. */
export interface ConnectionOutcome extends JourneyOutcome {
  legs: LegSummary[];
  /** The proxy hops crossed, in order, with the client address each took (for findings). */
  hops: HopRecord[];
  /** Whether the client's address reached the application anywhere (peer, PROXY header, a header field). */
  clientReachedApp?: boolean;
  /** With a forged header: the hop (or `application`) that took the forged address first. */
  forgedAt?: string;
}

/** A proxy hop on the way, as findings need it. */
export interface HopRecord {
  at: string;
  name: string;
  /** The address the hop took for the client. */
  clientAddress: string;
  why: string;
  /** The TCP peer of the connection it accepted. */
  peer: string;
  /** The client's address was in what it received (peer, PROXY header or a header field). */
  received: boolean;
  /** The hop's advice when the client's address is lost at it or a forged one gets through it. */
  advice?: HopAdvice | undefined;
}

/** What a hop's owner can change, in the product's words. */
export interface HopAdvice {
  /** The client's address arrived (in a header or PROXY header) but the hop did not take it. */
  ignored?: { detail: string; fix: string };
  /** The connection reached the hop without the client's address: what the hop in front must do. */
  lost?: { detail: string; fix: string };
  /** A client-sent header decided the hop's answer. */
  forged?: { detail: string; fix: string };
}

const MAX_LEGS = 8;
/** The app's view where nothing reached an application. */
const NO_APP: AppView = { client_address: null, peer: null };
/**
 * The address a forging client writes into headers: a public one, since strategies that skip
 * private and documentation ranges would pass over a TEST-NET address (another when the real
 * client has it).
 */
export const FORGED = '1.2.3.4';
const FORGED_FALLBACK = '5.6.7.8';
/** The fields a forging client writes (in place of any it sent for real). */
const FORGED_HEADERS = ['x-forwarded-for', 'x-real-ip', 'forwarded'];

interface Acc {
  probability: number;
  steps: JourneyStep[];
  path: PathHop[];
  legs: LegSummary[];
  hops: ConnectionOutcome['hops'];
  /** The hops' decisions, replayed with a forged request. */
  replay: { hop: ProxyHop; peer: string; local: string; proxyHeader?: ProxyHeaderSent | undefined }[];
}

/** The payload a hop sends on after its decision, on the connection from `peer` that arrived at `local`. */
function sent(decision: Extract<ProxyDecision, { kind: 'forward' }>, received: ConnectionPayload): Omit<ConnectionPayload, 'peer' | 'local'> {
  const pp = decision.upstream.proxyHeader;
  // The hop's own bytes when its model wrote them; else the header a proxy writes for its client:
  // its downstream peer (or that peer's PROXY source), called on its local address.
  const source = received.proxyHeader && decision.clientAddress === hostOf(received.proxyHeader.source) ? received.proxyHeader.source : received.peer;
  const header = pp === undefined ? undefined : isProxyHeaderSent(pp) ? pp : proxyHeaderSent(pp.version, source, received.local);
  return {
    ...(header ? { proxyHeader: header } : {}),
    ...(decision.upstream.http ? { http: decision.upstream.http } : {}),
  };
}

function steps(at: string, d: ProxyDecision, received: ConnectionPayload, name: string): JourneyStep[] {
  const out: JourneyStep[] = [{ state: 'ARRIVE_AT_PROXY', at, detail: `${name} accepts the connection from ${received.peer} on ${received.local}` }];
  if (received.proxyHeader) out.push({ state: 'APPLY_PROXY_PROTOCOL', at, detail: `PROXY v${received.proxyHeader.version} header on the wire: ${received.proxyHeader.source} -> ${received.proxyHeader.destination}` });
  if (d.kind === 'forward') {
    for (const c of d.changes) out.push({ state: 'APPLY_HTTP_HEADERS', at, detail: `${c.header}: ${c.before === undefined ? '(absent)' : JSON.stringify(c.before)} → ${c.after === undefined ? '(removed)' : JSON.stringify(c.after)} — ${c.why}` });
    out.push({ state: 'APPLY_CLIENT_IP_STRATEGY', at, detail: `${name} takes the client to be ${d.clientAddress}: ${d.clientAddressWhy}` });
  }
  return out;
}

/** Trace a connection through every proxy to the application. */
export function traceConnection(input: ConnectionInput): ConnectionOutcome[] {
  const start: Acc = { probability: 1, steps: [], path: [], legs: [], hops: [], replay: [] };
  return leg(input, input.first, 'client', { ...(input.http ? { http: input.http } : {}) }, start, 0);
}

function leg(input: ConnectionInput, journey: JourneyInput, by: string, payload: Omit<ConnectionPayload, 'peer' | 'local'>, acc: Acc, depth: number): ConnectionOutcome[] {
  const outcomes = traceJourney(journey);
  return outcomes.flatMap((o) => {
    const summary: LegSummary = { by, src: formatEndpoint(journey.packet.source, journey.packet.sourcePort), dst: o.packet.dst, deliveredTo: o.disposition === 'deliver' ? o.endpoint : null, ...(o.reply ? { reply: { accepted: o.reply.accepted, reason: o.reply.reason } } : {}) };
    // A leg a proxy opens: PROXY_CONNECTION has said where it starts, and the proxy is on the path already.
    const ownSteps = depth > 0 && o.steps[0]?.state.startsWith('START_FROM_') ? o.steps.slice(1) : o.steps;
    const ownPath = depth > 0 && o.path[0] && o.path[0].nat.length === 0 ? o.path.slice(1) : o.path;
    const here: Acc = { ...acc, probability: acc.probability * o.probability, steps: [...acc.steps, ...ownSteps], path: [...acc.path, ...ownPath], legs: [...acc.legs, summary] };
    if (o.disposition !== 'deliver' || !o.endpoint) return [finish(o, here, NO_APP)];
    const extra = depth === 0 ? input.firstProxyHeader?.(o) : undefined;
    const received: ConnectionPayload = {
      peer: o.packet.src,
      local: o.packet.dst,
      ...payload,
      ...(extra ? { proxyHeader: proxyHeaderSent(extra.version, extra.source, extra.destination) } : {}),
    };
    const listener = input.listenerAt(o);
    if (listener.kind === 'app') return [atApp(input, o, here, received, listener.app)];
    if (listener.kind === 'undetermined') {
      return [finish({ ...o, disposition: 'undetermined', reason: listener.reason }, { ...here, steps: [...here.steps, { state: 'UNDETERMINED', at: o.endpoint, detail: listener.reason }] }, NO_APP)];
    }
    const hop = listener.hop;
    const loop = here.hops.some((h) => h.at === hop.at && h.name === hop.name);
    if (loop || depth >= MAX_LEGS) return [finish({ ...o, disposition: 'undetermined', reason: loop ? `a proxy loop: ${hop.name} (${hop.at}) gets its own connection back` : `more than ${MAX_LEGS} proxies: a proxy loop` }, here, NO_APP)];
    const d = hop.decide(received);
    const hopSteps = steps(hop.at, d, received, hop.name);
    if (d.kind === 'refuse') {
      const reason = `${hop.name} ${d.status ? `answers ${d.status}` : 'closes the connection'}: ${d.reason}`;
      return [finish({ ...o, disposition: 'reject', reason, endpoint: hop.at }, { ...here, steps: [...here.steps, ...hopSteps, { state: 'REJECT', at: hop.at, detail: reason }] }, NO_APP)];
    }
    const ups = hop.upstreams(d, received);
    const next: Acc = {
      ...here,
      steps: [...here.steps, ...hopSteps],
      hops: [...here.hops, { at: hop.at, name: hop.name, clientAddress: d.clientAddress, why: d.clientAddressWhy, peer: hostOf(received.peer), received: carries(received, input.clientAddress), advice: hop.advice }],
      replay: [...here.replay, { hop, peer: received.peer, local: received.local, ...(extra ? { proxyHeader: received.proxyHeader } : {}) }],
    };
    if ('refuse' in ups) {
      const reason = `${hop.name}: ${ups.refuse}`;
      return [finish({ ...o, disposition: 'drop', reason, endpoint: hop.at }, { ...next, steps: [...next.steps, { state: 'DROP', at: hop.at, detail: reason }] }, NO_APP)];
    }
    const onward = sent(d, received);
    return ups.legs.flatMap((u) => {
      const open: JourneyStep = {
        state: 'PROXY_CONNECTION',
        at: hop.at,
        detail: `${hop.name} opens a new connection ${formatEndpoint(u.packet.source, u.packet.sourcePort)} -> ${formatEndpoint(u.packet.destination, u.packet.destinationPort)}${onward.proxyHeader ? `, starting with a PROXY v${onward.proxyHeader.version} header (${onward.proxyHeader.source} -> ${onward.proxyHeader.destination})` : ''}`,
      };
      const opened: JourneyInput = {
        network: journey.network,
        loadBalancers: journey.loadBalancers,
        ...(journey.networkPolicy ? { networkPolicy: journey.networkPolicy } : {}),
        ...(journey.roundTrip !== undefined ? { roundTrip: journey.roundTrip } : {}),
        from: u.from,
        packet: u.packet,
        ...(u.socket ? { socket: u.socket } : {}),
        ...(u.mark ? { mark: u.mark } : {}),
      };
      return leg(input, opened, hop.name, onward, { ...next, probability: next.probability * u.probability, steps: [...next.steps, ...ups.steps, u.route, open] }, depth + 1);
    });
  });
}

/** Whether the client's address is anywhere in what arrived: the peer, the PROXY header, a header field. */
function carries(p: ConnectionPayload, client: string): boolean {
  if (hostOf(p.peer) === client) return true;
  if (p.proxyHeader && hostOf(p.proxyHeader.source) === client) return true;
  return (p.http?.headers ?? []).some(([, v]) => v.split(/[\s,;=]+/).some((t) => t.replace(/^"|"$/g, '').replace(/^\[|\]$/g, '') === client));
}

function finish(o: JourneyOutcome, acc: Acc, app: AppView): ConnectionOutcome {
  return { ...o, probability: acc.probability, steps: acc.steps, path: acc.path, app, legs: acc.legs, hops: acc.hops };
}

/** The app's view of a delivered connection, and whether a client could have chosen its answer. */
function atApp(input: ConnectionInput, o: JourneyOutcome, acc: Acc, received: ConnectionPayload, app: ResolvedApp): ConnectionOutcome {
  const at = o.endpoint!;
  const verdict = listen(app, received);
  if (!verdict.ok) {
    return finish({ ...o, disposition: 'reject', reason: verdict.reason }, { ...acc, steps: [...acc.steps, { state: 'REJECT', at, detail: verdict.reason }] }, NO_APP);
  }
  const resolved = resolveClientIP(app, received, verdict);
  const view: AppView = {
    client_address: verdict.remoteAddress,
    peer: verdict.proxySource ? received.proxyHeader!.source : received.peer,
    proxy_header: received.proxyHeader ? { version: received.proxyHeader.version, source: received.proxyHeader.source, destination: received.proxyHeader.destination, hex: received.proxyHeader.hex } : null,
    ...(app.protocol === 'http' && received.http ? { headers: received.http.headers.map(([n, v]) => [n, v] as [string, string]) } : {}),
    strategy: app.strategy.name,
    client_ip: resolved.ip,
    client_ip_why: resolved.why,
    true_client: input.clientAddress,
  };
  const forgedAt = app.protocol === 'http' && input.http !== undefined ? forged(input, acc, app, received) : undefined;
  view.forgeable = forgedAt !== undefined;
  const step: JourneyStep = { state: 'APPLY_CLIENT_IP_STRATEGY', at, detail: `${app.strategy.name} (${app.from}): ${resolved.ip ?? 'no address'} — ${resolved.why}` };
  return { ...finish(o, { ...acc, steps: [...acc.steps, step] }, view), clientReachedApp: carries(received, input.clientAddress), ...(forgedAt ? { forgedAt } : {}) };
}

/** Replay the hops with a client that sends forged X-Forwarded-For, X-Real-IP and Forwarded: the first hop (or `application`) that takes the forged address, if the app ends up with it. */
function forged(input: ConnectionInput, acc: Acc, app: ResolvedApp, real: ConnectionPayload): string | undefined {
  const head = input.http!;
  const FORGED_ADDRESS = input.clientAddress === FORGED ? FORGED_FALLBACK : FORGED;
  let payload: Omit<ConnectionPayload, 'peer' | 'local'> = {
    http: { ...head, headers: [...head.headers.filter(([n]) => !FORGED_HEADERS.includes(n.toLowerCase())), ['X-Forwarded-For', FORGED_ADDRESS], ['X-Real-IP', FORGED_ADDRESS], ['Forwarded', `for=${FORGED_ADDRESS}`]] },
  };
  let first: string | undefined;
  for (const r of acc.replay) {
    const received: ConnectionPayload = { peer: r.peer, local: r.local, ...payload, ...(r.proxyHeader ? { proxyHeader: r.proxyHeader } : {}) };
    const d = r.hop.decide(received);
    if (d.kind === 'refuse') return undefined;
    if (d.clientAddress === FORGED_ADDRESS) first ??= r.hop.at;
    payload = sent(d, received);
  }
  const received: ConnectionPayload = { peer: real.peer, local: real.local, ...payload, ...(acc.replay.length === 0 && real.proxyHeader ? { proxyHeader: real.proxyHeader } : {}) };
  const verdict = listen(app, received);
  if (!verdict.ok) return undefined;
  return resolveClientIP(app, received, verdict).ip === FORGED_ADDRESS ? (first ?? 'application') : undefined;
}
