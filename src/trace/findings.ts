/**
 * What a journey means for the user: branches that end alike grouped ("2 of 3 endpoints,
 * p = 0.667: the app sees 10.240.0.5"), and findings with the smallest fix and what it costs.
 *
 * @module
 */
import type { ConnectionOutcome } from './connection.js';
import type { JourneyOutcome } from './journey.js';
import type { JourneyPlan } from './plan.js';

/** Branches that end the same way. */
export interface OutcomeGroup {
  probability: number;
  disposition: JourneyOutcome['disposition'];
  client_address: string | null;
  /** The client IP the application's strategy resolves (when it runs one). */
  client_ip?: string | null;
  /** A client can make the application take an address of its choosing. */
  forgeable?: boolean;
  endpoints: string[];
  reason: string;
  /** Indexes into the outcomes. */
  branches: number[];
}

export function groupOutcomes(outcomes: readonly JourneyOutcome[]): OutcomeGroup[] {
  const groups = new Map<string, OutcomeGroup>();
  outcomes.forEach((o, i) => {
    const key = o.disposition === 'deliver' ? `deliver ${o.app.client_address} ${o.app.client_ip} ${o.app.forgeable}` : `${o.disposition} ${o.reason}`;
    const g = groups.get(key) ?? {
      probability: 0,
      disposition: o.disposition,
      client_address: o.app.client_address,
      ...(o.app.client_ip !== undefined ? { client_ip: o.app.client_ip } : {}),
      ...(o.app.forgeable !== undefined ? { forgeable: o.app.forgeable } : {}),
      endpoints: [],
      reason: o.reason,
      branches: [],
    };
    g.probability += o.probability;
    if (o.endpoint && !g.endpoints.includes(o.endpoint)) g.endpoints.push(o.endpoint);
    g.branches.push(i);
    groups.set(key, g);
  });
  return [...groups.values()];
}

export interface Finding {
  severity: 'info' | 'warning';
  title: string;
  detail: string;
  /** The smallest change that fixes it, as a `--set` to try. */
  fix?: string;
  cost?: string;
}

/** The Service whose external traffic was masqueraded in these steps (KUBE-EXT-… "masquerade traffic for NS/NAME external destinations"). */
function masqueradedService(o: JourneyOutcome): string | undefined {
  for (const s of o.steps) {
    const m = /"masquerade traffic for ([^ ]+) external destinations"/.exec(s.detail);
    if (s.state === 'APPLY_IPTABLES_RULE' && m) return m[1]!.replace(/:[^:]*$/, '');
  }
  return undefined;
}

function add(out: Finding[], f: Finding): void {
  if (!out.some((x) => x.title === f.title && x.fix === f.fix)) out.push(f);
}

/** Findings of connections across proxies: the hop that lost the client's address or let a forged one through, and its fix. */
function chainFindings(outcomes: readonly ConnectionOutcome[], client: string, out: Finding[]): void {
  for (const o of outcomes) {
    if (o.disposition !== 'deliver') continue;
    const app = o.app;
    if (app.client_ip !== client) {
      const idx = o.hops.findIndex((h) => h.clientAddress !== client);
      const hop = idx >= 0 ? o.hops[idx]! : undefined;
      const before = idx > 0 ? o.hops[idx - 1] : undefined;
      const svc = masqueradedService(o);
      if (hop?.received && hop.clientAddress === hop.peer && hop.advice?.ignored) {
        add(out, { severity: 'warning', title: `${hop.name} does not take ${client} for the client`, detail: hop.advice.ignored.detail, fix: hop.advice.ignored.fix });
      } else if (hop && !hop.received && before) {
        // A proxy in front opened the connection: what kube-proxy did to it after cannot bring the client back.
        const lost = before.advice?.lost;
        add(out, {
          severity: 'warning',
          title: `the client's address does not get past ${before.name} (${before.at})`,
          detail: lost?.detail ?? `${before.name} opens its own connection and passes the client's address on neither in a PROXY header nor in a header field`,
          ...(lost ? { fix: lost.fix } : {}),
        });
      } else if (hop && !hop.received && svc) {
        const seen = [...new Set(outcomes.filter((x) => x.disposition === 'deliver').map((x) => x.hops[idx]?.clientAddress).filter((a): a is string => a !== undefined && a !== client))];
        add(out, {
          severity: 'warning',
          title: `${hop.name} does not see the client ${client}`,
          detail: `the connection to it went through svc/${svc} with externalTrafficPolicy: Cluster and kube-proxy masqueraded it (it sees ${seen.join(', ')}); every hop after it can only pass that on`,
          fix: `svc/${svc}.spec.externalTrafficPolicy=Local`,
          cost: 'nodes without a ready endpoint of it then drop the traffic; the load balancer\'s health checks on healthCheckNodePort steer around them',
        });
      } else if (o.clientReachedApp && app.client_ip !== undefined) {
        add(out, {
          severity: 'warning',
          title: `the application's ${app.strategy} gives ${app.client_ip ?? 'no address'}, not ${client}`,
          detail: `the client's address reaches the application (${app.proxy_header ? 'in the PROXY header' : 'in the header fields'}) but its strategy does not read it there`,
          fix: app.proxy_header ? 'apps[].proxyProtocol: require and apps[].clientIP.strategy: RemoteAddr (the PROXY header\'s source becomes the peer)' : "apps[].clientIP: {strategy: RightmostTrustedRange, header: X-Forwarded-For, trusted: [the addresses your proxies connect from]} (or --client-ip)",
        });
      } else if (!hop && o.hops.length > 0) {
        const last = o.hops[o.hops.length - 1]!;
        if (svc) {
          add(out, { severity: 'warning', title: `the application sees ${app.client_address}, not ${client}`, detail: `after ${last.name}, the connection went through svc/${svc} with externalTrafficPolicy: Cluster and was masqueraded, and nothing above TCP carried the client's address`, fix: `svc/${svc}.spec.externalTrafficPolicy=Local` });
        } else if (last.advice?.lost) {
          add(out, { severity: 'warning', title: `the client's address does not get past ${last.name} (${last.at})`, detail: last.advice.lost.detail, fix: last.advice.lost.fix });
        }
      }
    }
    if (app.forgeable) {
      const at = o.forgedAt === 'application' ? undefined : o.hops.find((h) => h.at === o.forgedAt);
      add(out, {
        severity: 'warning',
        title: `a client can choose the address the application sees`,
        detail: at
          ? `${at.name} believes an X-Forwarded-For / X-Real-IP the client writes itself (replayed with X-Forwarded-For: 1.2.3.4): ${at.advice?.forged?.detail ?? at.why}`
          : `the application's ${app.strategy} reads a header field the client can write itself (replayed with X-Forwarded-For: 1.2.3.4): it must only trust what its own proxies add`,
        ...(at?.advice?.forged ? { fix: at.advice.forged.fix } : { fix: `apps[].clientIP: {strategy: RightmostTrustedRange, header: X-Forwarded-For, trusted: [your proxies' addresses]} (or --client-ip)` }),
      });
    }
  }
}

/** NetworkPolicy drops where the client's own address would have passed: the source was rewritten on the way (the ipBlock trap). */
function policyFindings(outcomes: readonly JourneyOutcome[], client: string, out: Finding[]): void {
  for (const o of outcomes) {
    if (o.disposition !== 'drop') continue;
    const check = [...o.steps].reverse().find((s) => s.networkPolicy?.verdict === 'deny');
    if (!check?.networkPolicy?.clientWouldPass) continue;
    const svc = masqueradedService(o);
    const seen = check.networkPolicy.source;
    add(out, {
      severity: 'warning',
      title: `${check.networkPolicy.clientWouldPass} would let ${client} in, but the packet arrives from ${seen}`,
      detail: svc
        ? `svc/${svc} has externalTrafficPolicy: Cluster: the node the connection entered masqueraded it (KUBE-MARK-MASQ, MASQUERADE) before forwarding it to the pod's node, and NetworkPolicy is judged on the packet as it arrives there. (Entered on the pod's own node, the policy agent still sees the client: it judges in FORWARD, before that node's SNAT.)`
        : `a hop on the way rewrote the source address, and NetworkPolicy is judged on the packet as it arrives at the pod`,
      ...(svc ? { fix: `svc/${svc}.spec.externalTrafficPolicy=Local`, cost: 'nodes without a ready endpoint then drop the traffic; clients must enter on, or be balanced to, nodes that run one' } : {}),
    });
  }
}

/** Findings for one journey. `clientAddress` is the address the client sent from. */
export function findingsOf(plan: JourneyPlan, all: readonly ConnectionOutcome[], clientAddress: string): Finding[] {
  const out: Finding[] = [];
  policyFindings(all, clientAddress, out);
  chainFindings(all.filter((o) => o.hops.length > 0 || o.app.forgeable), clientAddress, out);
  const outcomes = all.filter((o) => o.hops.length === 0);
  const svc = plan.service?.object;
  const ref = svc ? `svc/${svc.metadata.namespace}/${svc.metadata.name}` : undefined;
  const delivered = outcomes.filter((o) => o.disposition === 'deliver');
  const lost = delivered.filter((o) => o.app.client_address !== clientAddress);
  if (lost.length > 0 && svc && ref) {
    const seen = [...new Set(lost.map((o) => o.app.client_address))].join(', ');
    const external = plan.targetKind === 'nodePort' || plan.targetKind === 'loadBalancer';
    if (plan.targetKind === 'clusterIP' && plan.clientKind !== 'pod') {
      out.push({
        severity: 'info',
        title: `the application sees ${seen}, not ${clientAddress}`,
        detail: `kube-proxy masquerades traffic to a ClusterIP that does not come from the pod network (KUBE-SVC-… "cluster IP" rule with ! -s <clusterCIDR> -j KUBE-MARK-MASQ): the ${plan.clientKind === 'node' ? 'node itself' : 'client'} is outside it, so the reply is sure to come back through this node`,
      });
    } else if (external && svc.spec.externalTrafficPolicy !== 'Local') {
      out.push({
        severity: 'warning',
        title: `the application does not see the client address ${clientAddress}`,
        detail: `it sees ${seen}: with externalTrafficPolicy: Cluster, kube-proxy marks external traffic for masquerade (KUBE-EXT-… "masquerade traffic for … external destinations") and MASQUERADE rewrites the source to the address of the interface the packet leaves by — the bridge address when the endpoint is on the entry node, the entry node's IP when it is on another node`,
        fix: `${ref}.spec.externalTrafficPolicy=Local`,
        cost:
          svc.spec.type === 'LoadBalancer'
            ? 'nodes without a ready endpoint then drop the traffic; the load balancer learns which through the health check on healthCheckNodePort, and spreads load per node, not per pod (uneven when nodes hold different numbers of endpoints)'
            : 'a NodePort then works only on nodes that run a ready endpoint; the others drop the connection',
      });
    } else {
      out.push({ severity: 'info', title: `the application sees ${seen}, not ${clientAddress}`, detail: 'the source address was rewritten on the way (see the NAT steps)' });
    }
  }
  const droppedLocal = outcomes.filter((o) => o.disposition === 'drop' && /has no local endpoints/.test(o.steps.map((s) => s.detail).join('\n')));
  if (droppedLocal.length > 0 && ref) {
    out.push({
      severity: 'warning',
      title: 'the connection is dropped on a node without a local endpoint',
      detail: 'with externalTrafficPolicy: Local, kube-proxy sends external traffic only to endpoints on the node it entered, and drops it where there are none',
      fix: svc?.spec.type === 'LoadBalancer' ? undefined : `${ref}.spec.externalTrafficPolicy=Cluster`,
      cost: 'Cluster keeps every node working but hides the client address (masquerade); or enter through a load balancer whose health checks skip such nodes, or run an endpoint on every node (a DaemonSet)',
    });
  }
  if (outcomes.some((o) => o.disposition === 'reject' && /has no endpoints/.test(o.steps.map((s) => s.detail).join('\n')))) {
    out.push({ severity: 'warning', title: `${ref ?? 'the Service'} has no ready endpoints`, detail: 'kube-proxy rejects connections to it (REJECT in filter KUBE-SERVICES / KUBE-EXTERNAL-SERVICES): check the selector, the pods\' readiness and their ports' });
  }
  const replies = all.filter((o) => o.reply && !o.reply.accepted);
  if (replies.length > 0) {
    out.push({ severity: 'warning', title: 'the reply does not reach the client as an answer', detail: replies[0]!.reply!.reason });
  }
  return out;
}
