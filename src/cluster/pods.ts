/**
 * Pods completed as the scheduler, the CNI's IPAM and the kubelet would: a node (round-robin),
 * IPs from the node's podCIDRs (the node's own IPs for hostNetwork pods), a phase and a Ready
 * condition when none is given; and the checks on what was given (the node exists, IPs agree).
 *
 * @module
 */
import { formatIP, formatNetwork, type IPAddress, ipKey, parseNetwork, tryParseIP } from '../net/index.js';
import type { ClusterNode } from './model.js';
import type { Pod } from './objects.js';
import { AddressPool } from './allocate.js';
import { type Assumptions, objectName } from './assumptions.js';
import type { Settings } from './environment.js';
import { duplicate, invalid } from './issues.js';
import type { Item } from './nodes.js';

/** Pods that hold their IP: not finished (Succeeded/Failed pods keep the IP in status, but it is free). */
export function isActive(pod: Pod): boolean {
  return pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed';
}

/** The pod's IPs as given, podIPs preferred; checks podIP agrees with podIPs[0] and one per family. */
function givenIPs({ object: pod, report }: Item<Pod>): string[] {
  const podIP = pod.status?.podIP;
  const podIPs = (pod.status?.podIPs ?? []).map((p) => p.ip);
  if (podIP && podIPs.length > 0 && podIPs[0] !== podIP) report.error('status.podIPs[0].ip', invalid(podIPs[0], `must match status.podIP ${JSON.stringify(podIP)}`));
  const ips = podIPs.length > 0 ? podIPs : podIP ? [podIP] : [];
  if (ips.length === 2 && tryParseIP(ips[0]!)?.family === tryParseIP(ips[1]!)?.family) report.error('status.podIPs[1].ip', invalid(ips[1], 'may specify no more than one IP for each IP family'));
  if (ips.length > 2) report.error('status.podIPs', invalid(ips, 'may specify no more than two IPs (one per family)'));
  return ips;
}

function setIPs(pod: Pod, ips: string[]): void {
  pod.status = { ...pod.status, podIPs: ips.map((ip) => ({ ip })) };
  if (ips[0] !== undefined) pod.status.podIP = ips[0];
}

/** Complete the pods in place. Pods must be in load order; nodes must be complete. */
export function completePods(pods: readonly Item<Pod>[], nodes: readonly ClusterNode[], settings: Settings, assumptions: Assumptions): void {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const schedulable = nodes.filter((n) => !n.object.spec?.unschedulable);
  let turn = 0;
  for (const { object: pod, report } of pods) {
    const nodeName = pod.spec.nodeName;
    if (nodeName !== undefined) {
      if (!byName.has(nodeName)) report.error('spec.nodeName', `Not found: ${JSON.stringify(nodeName)}: the nodes are ${nodes.map((n) => n.name).join(', ')}`);
    } else if (schedulable.length > 0) {
      pod.spec.nodeName = schedulable[turn++ % schedulable.length]!.name;
      assumptions.add(objectName('Pod', pod.metadata), 'spec.nodeName', `${pod.spec.nodeName} (round-robin over the schedulable nodes)`, report.source);
    } else {
      report.error('spec.nodeName', 'Required value: no node is schedulable, so the pod must name its node');
    }
  }

  // The CNI's IPAM: per node, per podCIDR, first free address after the gateway (.1).
  const pools = new Map(nodes.map((n) => [n.name, n.podCIDRs.map((c) => new AddressPool(parseNetwork(c), 2))]));
  const owners = new Map<number | bigint, Item<Pod>>();
  const pending: Item<Pod>[] = [];
  for (const item of pods) {
    const { object: pod, report } = item;
    const node = byName.get(pod.spec.nodeName ?? '');
    const ips = givenIPs(item);
    if (pod.spec.hostNetwork) {
      if (!node) continue;
      // A hostNetwork pod shares its node's network namespace, so its IPs are the node's.
      const nodeIPs = settings.families.map((f) => node.internalIPs.find((ip) => tryParseIP(ip)?.family === (f === 'IPv4' ? 4 : 6))).filter((ip) => ip !== undefined);
      if (ips.length > 0 && ips.join() !== nodeIPs.join()) report.warn('status.podIPs', `${ips.join(', ')}: a hostNetwork pod has its node's IPs (${nodeIPs.join(', ')}); using the node's`);
      if (ips.join() !== nodeIPs.join()) assumptions.add(objectName('Pod', pod.metadata), 'status.podIPs', `${nodeIPs.join(', ')} (hostNetwork: node ${node.name}'s InternalIPs)`, report.source);
      setIPs(pod, nodeIPs);
    } else if (ips.length > 0) {
      setIPs(pod, ips);
      ips.forEach((text, i) => {
        const ip = tryParseIP(text)!;
        const other = owners.get(ipKey(ip));
        if (other && isActive(pod) && isActive(other.object)) {
          report.error(`status.podIPs[${i}].ip`, duplicate(text, `also the IP of ${objectName('Pod', other.object.metadata)} (${other.report.source.file}#${other.report.source.document})`));
        }
        owners.set(ipKey(ip), item);
        const mine = node ? pools.get(node.name)! : [];
        const pool = mine.find((p) => p.contains(ip));
        if (pool) pool.reserve(ip);
        else if (node && isActive(pod)) report.warn(`status.podIPs[${i}].ip`, `${text} is not in node ${node.name}'s podCIDRs (${node.podCIDRs.join(', ')})`);
      });
    } else if (node && isActive(pod)) {
      pending.push(item);
    }
    if (node && !pod.status?.hostIP && node.internalIPs[0]) {
      pod.status = { ...pod.status, hostIP: node.internalIPs[0] };
    }
  }
  for (const { object: pod, report } of pending) {
    const node = byName.get(pod.spec.nodeName!)!;
    const ips: IPAddress[] = [];
    for (const pool of pools.get(node.name)!) {
      const ip = pool.next();
      if (ip) ips.push(ip);
      else report.error('status.podIP', `cannot allocate an IP: node ${node.name}'s podCIDR ${formatNetwork(pool.network)} is full`);
    }
    setIPs(pod, ips.map(formatIP));
    assumptions.add(objectName('Pod', pod.metadata), 'status.podIPs', `${ips.map(formatIP).join(', ')} (first free in node ${node.name}'s podCIDR ${node.podCIDRs.join(', ')} after the gateway)`, report.source);
  }

  for (const { object: pod, report } of pods) {
    if (!pod.status?.phase) {
      pod.status = { ...pod.status, phase: 'Running' };
      assumptions.add(objectName('Pod', pod.metadata), 'status.phase', 'Running', report.source);
    }
    if (!pod.status.conditions) {
      // The kubelet reports Ready once the containers pass their readiness probes; nothing says they fail.
      pod.status.conditions = [{ type: 'Ready', status: 'True' }];
      assumptions.add(objectName('Pod', pod.metadata), 'status.conditions', 'Ready=True (no conditions given: the pod is taken as ready)', report.source);
    }
  }
}
