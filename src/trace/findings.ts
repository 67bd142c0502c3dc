/**
 * What a journey means for the user: branches that end alike grouped ("2 of 3 endpoints,
 * p = 0.667: the app sees 10.240.0.5"), and findings with the smallest fix and what it costs.
 *
 * @module
 */
import type { JourneyOutcome } from './journey.js';
import type { JourneyPlan } from './plan.js';

/** Branches that end the same way. */
export interface OutcomeGroup {
  probability: number;
  disposition: JourneyOutcome['disposition'];
  client_address: string | null;
  endpoints: string[];
  reason: string;
  /** Indexes into the outcomes. */
  branches: number[];
}

export function groupOutcomes(outcomes: readonly JourneyOutcome[]): OutcomeGroup[] {
  const groups = new Map<string, OutcomeGroup>();
  outcomes.forEach((o, i) => {
    const key = o.disposition === 'deliver' ? `deliver ${o.app.client_address}` : `${o.disposition} ${o.reason}`;
    const g = groups.get(key) ?? { probability: 0, disposition: o.disposition, client_address: o.app.client_address, endpoints: [], reason: o.reason, branches: [] };
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

/** Findings for one journey. `clientAddress` is the address the client sent from. */
export function findingsOf(plan: JourneyPlan, outcomes: readonly JourneyOutcome[], clientAddress: string): Finding[] {
  const out: Finding[] = [];
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
  const replies = outcomes.filter((o) => o.reply && !o.reply.accepted);
  if (replies.length > 0) {
    out.push({ severity: 'warning', title: 'the reply does not reach the client as an answer', detail: replies[0]!.reply!.reason });
  }
  return out;
}
