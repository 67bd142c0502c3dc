/**
 * The passthrough load balancer of the lab, as iptables rules in its namespace (pure): a new
 * connection to a VIP:port picks one of the healthy nodes with equal chances (`statistic
 * --mode random`, as kube-proxy spreads endpoints), and keeps it for its life (conntrack).
 *
 * - delivery `VIP` (GCE, ULB4): mangle PREROUTING marks the connection with the node's mark
 *   (CONNMARK), and policy routing (`fwmark N lookup 100+N`, `default via NODE`) hands the packet to
 *   that node unchanged: the node's kube-proxy matches the VIP itself.
 * - delivery `NodePort`: nat PREROUTING DNATs it to nodeIP:nodePort, the client address kept.
 *
 * Replies come back through the load balancer (the router sends them here), so its conntrack
 * sees both directions and reverses the DNAT.
 *
 * @module
 */
import { probabilityText } from '../kubeproxy/probability.js';
import type { LabLoadBalancer, LabProxyVip, LabVip } from './topology.js';

/** The healthy nodes of each VIP (`LabVip.service`). */
export type HealthyNodes = ReadonlyMap<string, readonly string[]>;

function chainOf(i: number): string {
  return `KP-LB-${i}`;
}

/** The nodes a VIP sends to: for Local, those that passed the health check; for Cluster, all (as the simulator takes them). */
export function eligible(v: Pick<LabVip | LabProxyVip, 'service' | 'local' | 'backends'>, healthy: HealthyNodes): { node: string; address: string }[] {
  if (!v.local) return v.backends;
  const ok = new Set(healthy.get(v.service) ?? []);
  return v.backends.filter((b) => ok.has(b.node));
}

/** The iptables-restore text for the load balancer, given the healthy nodes. */
export function loadBalancerRules(lb: LabLoadBalancer, healthy: HealthyNodes): string {
  const mangle: string[] = ['*mangle', ':PREROUTING ACCEPT [0:0]', ':KP-LB - [0:0]'];
  const nat: string[] = ['*nat', ':PREROUTING ACCEPT [0:0]'];
  const markChains = new Map(lb.marks.map((m) => [m.node, `KP-LB-TO-${m.mark}`]));
  for (const m of lb.marks) mangle.push(`:KP-LB-TO-${m.mark} - [0:0]`);
  const mangleRules: string[] = [
    '-A PREROUTING -i wan -j KP-LB',
    '-A KP-LB -m conntrack ! --ctstate NEW -j CONNMARK --restore-mark',
    '-A KP-LB -m conntrack ! --ctstate NEW -j RETURN',
  ];
  for (const m of lb.marks) mangleRules.push(`-A KP-LB-TO-${m.mark} -j MARK --set-mark ${m.mark}`, `-A KP-LB-TO-${m.mark} -j CONNMARK --save-mark`);
  const natRules: string[] = [];
  lb.vips.forEach((v, i) => {
    const chain = chainOf(i);
    const match = `-d ${v.vip}/32 -p tcp -m tcp --dport ${v.port}`;
    const nodes = eligible(v, healthy);
    const comment = `-m comment --comment "${v.service}"`;
    const lines: string[] = [];
    nodes.forEach((n, k) => {
      const left = nodes.length - k;
      const stat = left > 1 ? ` -m statistic --mode random --probability ${probabilityText(left)}` : '';
      lines.push(v.delivery === 'VIP' ? `-A ${chain}${stat} -g ${markChains.get(n.node)}` : `-A ${chain}${stat} -p tcp -j DNAT --to-destination ${n.address}:${v.nodePort}`);
    });
    if (nodes.length === 0) lines.push(`-A ${chain} -j DROP`);
    if (v.delivery === 'VIP' || nodes.length === 0) {
      mangle.push(`:${chain} - [0:0]`);
      mangleRules.push(`-A KP-LB ${match} ${comment} -j ${chain}`, ...lines);
    } else {
      nat.push(`:${chain} - [0:0]`);
      natRules.push(`-A PREROUTING -i wan ${match} ${comment} -j ${chain}`, ...lines);
    }
  });
  return [...mangle, ...mangleRules, 'COMMIT', ...nat, ...natRules, 'COMMIT', ''].join('\n');
}

/**
 * HAProxy's configuration for the proxying load balancers: per VIP port a frontend bound to
 * VIP:port and a backend connecting from the LB's source address to nodeIP:nodePort of each
 * healthy node, chosen at random per connection (`balance random(1)`: the trace's equal shares),
 * never reusing a server connection for another client's request (`http-reuse never`: each request
 * is a new connection through kube-proxy, as the trace takes it). `mode http` adds `option
 * forwardfor` (the client appended to X-Forwarded-For); `mode tcp` writes a PROXY header with
 * `send-proxy`/`send-proxy-v2` when the load balancer has PROXY protocol on. The health checks are
 * the controller's (the passthrough LB's rules): a node that fails them is left out of the backend.
 */
export function haproxyConfig(proxies: readonly LabProxyVip[], healthy: HealthyNodes): string {
  const lines = ['global', '  maxconn 4096', '', 'defaults', '  timeout connect 2s', '  timeout client 10s', '  timeout server 10s', ''];
  proxies.forEach((p, i) => {
    const nodes = eligible(p, healthy);
    lines.push(`# ${p.service}: ${p.product} (${p.mode === 'http' ? 'HTTP, X-Forwarded-For' : p.sendProxy ? `TCP, PROXY v${p.sendProxy}` : 'TCP, no PROXY header'})`);
    lines.push(`frontend vip${i}`, `  bind ${p.vip}:${p.port}`, `  mode ${p.mode}`);
    if (p.mode === 'http') lines.push('  option forwardfor');
    lines.push(`  default_backend nodes${i}`, '');
    lines.push(`backend nodes${i}`, `  mode ${p.mode}`, '  balance random(1)', `  source ${p.source}`);
    if (p.mode === 'http') lines.push('  http-reuse never');
    const send = p.sendProxy === 2 ? ' send-proxy-v2' : p.sendProxy === 1 ? ' send-proxy' : '';
    for (const n of nodes) lines.push(`  server ${n.node.replace(/[^A-Za-z0-9._-]/g, '_')} ${n.address}:${p.nodePort}${send}`);
    lines.push('');
  });
  return lines.join('\n');
}
