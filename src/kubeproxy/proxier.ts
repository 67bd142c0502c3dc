/**
 * kube-proxy's iptables Proxier, one per IP family: it takes Service and EndpointSlice events,
 * and each sync produces the iptables-restore input kube-proxy would write. Work is kept per
 * service port and redone only for services whose Service or endpoints changed, so a sync
 * after one EndpointSlice change costs that service plus assembling the text.
 *
 * Syncs are full or partial as kube-proxy's are: the first sync, a forced one, one after a
 * settings change or a failed restore is full; later ones leave out the chains of services
 * that did not change (their rules already sit in the kernel).
 *
 * @module
 */
import type { EndpointSlice, Service } from '../cluster/objects.js';
import { type ProxierConfig, nodePortAddresses, nodePortIPs } from './config.js';
import { categorizeEndpoints, type EndpointInfo, endpointsOfSlices, sliceServiceName } from './endpoints.js';
import { isServiceChain } from './names.js';
import type { HealthCheckService } from './healthcheck.js';
import { Probabilities } from './probability.js';
import { servicePortsOf, type ServicePortInfo } from './service-port.js';
import {
  chainLine,
  CT_STATE_INVALID_COUNTER,
  endpointChainOf,
  KUBE_EXTERNAL_SERVICES,
  KUBE_FIREWALL,
  KUBE_FORWARD,
  KUBE_MARK_MASQ,
  KUBE_NODEPORTS,
  KUBE_POSTROUTING,
  KUBE_PROXY_FIREWALL,
  KUBE_SERVICES,
  servicePortRules,
} from './service-rules.js';

/** Above this many endpoints in all, kube-proxy drops per-endpoint comments. */
export const LARGE_CLUSTER_ENDPOINTS_THRESHOLD = 1000;

export interface SyncOptions {
  /** Force a full sync (kube-proxy's forceSyncProxyRules). */
  force?: boolean;
}

export interface SyncResult {
  /** The iptables-restore input (filter and nat tables), as kube-proxy writes it. */
  restore: string;
  /** True for a full sync; a partial one omits unchanged services' chains. */
  full: boolean;
  /** Stale service chains this sync deletes (`-X`). */
  deletedChains: string[];
  largeClusterMode: boolean;
  servicePorts: number;
  endpoints: number;
  /** Service ports whose rules were recomputed in this sync. */
  recomputed: number;
  filterRules: number;
  natRules: number;
}

interface ServiceState {
  ports: ServicePortInfo[];
  endpoints: Map<string, EndpointInfo[]>;
  /** Serialized ports and endpoints, made when first needed: a change that leaves them equal is not a change. */
  fingerprint?: string;
}

function fingerprintOf(st: ServiceState): string {
  st.fingerprint ??= JSON.stringify(
    [st.ports, [...st.endpoints].map(([k, v]) => [k, v.map((e) => [e, [...(e.zoneHints ?? [])], [...(e.nodeHints ?? [])]])])],
    (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
  );
  return st.fingerprint;
}

/** A service port's rules, kept as text blocks so a sync joins blocks rather than lines. */
interface CachedRules {
  filterRules: number;
  captureRules: number;
  natRules: number;
  activeChains: string[];
  filterText: string;
  captureText: string;
  chainsText: string;
  rulesText: string;
}

function block(lines: readonly string[]): string {
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}

function serviceKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? 'default'}/${name}`;
}

export class IptablesProxier {
  #config: ProxierConfig;
  readonly #services = new Map<string, Service>();
  readonly #slices = new Map<string, Map<string, EndpointSlice>>();
  readonly #state = new Map<string, ServiceState>();
  /** Services whose objects changed since the last sync (recompute and compare). */
  readonly #dirty = new Set<string>();
  /** Services whose ports or endpoints really changed since the last successful sync. */
  readonly #updated = new Set<string>();
  readonly #rules = new Map<string, CachedRules>();
  readonly #endpointChains = new WeakMap<EndpointInfo, string>();
  readonly #probabilities = new Probabilities();
  #needFullSync = true;
  #largeClusterMode = false;
  /** NAT chains in the kernel after the last successful restore. */
  #existingNatChains = new Set<string>();
  /** The set before the last sync, restored when that sync's restore fails. */
  #previousExisting: Set<string> | undefined;
  /** Logical clock (seconds) for stale-chain cleanup in large clusters; pure, advanced by the caller. */
  #now = 0;
  #lastCleanup = Number.NEGATIVE_INFINITY;
  #syncPeriod = 0;

  constructor(config: ProxierConfig) {
    this.#config = config;
  }

  get config(): Readonly<ProxierConfig> {
    return this.#config;
  }

  /**
   * Change settings; every service is recomputed. The next sync is full unless `fullSync` is
   * false (kube-proxy's own settings never change at run time; its tests poke them between syncs).
   */
  updateConfig(fields: Partial<ProxierConfig>, options: { fullSync?: boolean } = {}): void {
    this.#config = { ...this.#config, ...fields };
    this.#rules.clear();
    for (const key of this.#services.keys()) this.#dirty.add(key);
    for (const key of this.#slices.keys()) this.#dirty.add(key);
    if (options.fullSync !== false) this.#needFullSync = true;
  }

  /** iptables.syncPeriod: in large clusters stale chains are deleted at most once per period. */
  setSyncPeriod(seconds: number): void {
    this.#syncPeriod = seconds;
  }

  /** Advance the logical clock, or set when stale chains were last cleaned up (relative to now). */
  advanceClock(seconds: number): void {
    this.#now += seconds;
  }

  setLastCleanup(secondsAgo: number): void {
    this.#lastCleanup = this.#now - secondsAgo;
  }

  onServiceAdd(service: Service): void {
    this.onServiceUpdate(undefined, service);
  }

  onServiceUpdate(_old: Service | undefined, service: Service): void {
    const key = serviceKey(service.metadata.namespace, service.metadata.name);
    this.#services.set(key, service);
    this.#dirty.add(key);
  }

  onServiceDelete(service: Service): void {
    const key = serviceKey(service.metadata.namespace, service.metadata.name);
    this.#services.delete(key);
    this.#dirty.add(key);
  }

  onEndpointSliceAdd(slice: EndpointSlice): void {
    this.onEndpointSliceUpdate(undefined, slice);
  }

  onEndpointSliceUpdate(_old: EndpointSlice | undefined, slice: EndpointSlice): void {
    const key = sliceServiceName(slice);
    if (!key) return; // kube-proxy logs and ignores slices without the service-name label
    let slices = this.#slices.get(key);
    if (!slices) this.#slices.set(key, (slices = new Map()));
    slices.set(slice.metadata.name, slice);
    this.#dirty.add(key);
  }

  onEndpointSliceDelete(slice: EndpointSlice): void {
    const key = sliceServiceName(slice);
    if (!key) return;
    const slices = this.#slices.get(key);
    if (!slices?.delete(slice.metadata.name)) return;
    if (slices.size === 0) this.#slices.delete(key);
    this.#dirty.add(key);
  }

  /** Node labels changed (topology): kube-proxy resyncs everything. */
  onNodeLabels(labels: Record<string, string>): void {
    this.updateConfig({ nodeLabels: { ...labels } });
  }

  /** The restore failed: nothing of the last sync reached the kernel; the next sync is full. */
  restoreFailed(): void {
    if (this.#previousExisting) this.#existingNatChains = this.#previousExisting;
    this.#previousExisting = undefined;
    this.#needFullSync = true;
  }

  /** Compute this sync's restore input and assume it is applied (see {@link restoreFailed}). */
  sync(options: SyncOptions = {}): SyncResult {
    const config = this.#config;
    const full = this.#needFullSync || options.force === true;
    this.#refreshDirty();

    const ports: ServicePortInfo[] = [];
    let totalEndpoints = 0;
    for (const key of [...this.#state.keys()].sort()) {
      const st = this.#state.get(key)!;
      for (const p of st.ports) {
        ports.push(p);
        totalEndpoints += st.endpoints.get(p.key)?.length ?? 0;
      }
    }
    ports.sort((a, b) => (a.portName < b.portName ? -1 : a.portName > b.portName ? 1 : a.protocol < b.protocol ? -1 : 1));
    const large = config.largeClusterMode ?? totalEndpoints > LARGE_CLUSTER_ENDPOINTS_THRESHOLD;
    if (large !== this.#largeClusterMode) {
      this.#largeClusterMode = large;
      this.#rules.clear();
    }

    const filterChains = [KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL].map(chainLine);
    const filterHead: string[] = [];
    const natChains = [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ].map(chainLine);
    const mark = config.masqueradeMark;
    const natHead = [
      `-A ${KUBE_POSTROUTING} -m mark ! --mark ${mark}/${mark} -j RETURN`,
      // Clear the mark so a packet that traverses the stack again is not masqueraded twice.
      `-A ${KUBE_POSTROUTING} -j MARK --xor-mark ${mark}`,
      `-A ${KUBE_POSTROUTING} -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${config.randomFully ? ' --random-fully' : ''}`,
      `-A ${KUBE_MARK_MASQ} -j MARK --or-mark ${mark}`,
    ];
    const isIPv6 = config.family === 'IPv6';
    if (!isIPv6 && config.localhostNodePorts) {
      // route_localnet opens a hole (issue 90259) that this rule closes.
      filterChains.push(chainLine(KUBE_FIREWALL));
      filterHead.push(
        `-A ${KUBE_FIREWALL} -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`,
      );
    }

    const active = new Set<string>();
    let recomputed = 0;
    const ctx = {
      config,
      largeClusterMode: large,
      probability: (n: number) => this.#probabilities.get(n),
      endpointChain: (svc: ServicePortInfo, ep: EndpointInfo) => {
        const known = this.#endpointChains.get(ep);
        if (known !== undefined) return known;
        const chain = endpointChainOf(svc, ep);
        this.#endpointChains.set(ep, chain);
        return chain;
      },
    };
    const filterText: string[] = [];
    const natChainsText: string[] = [];
    const natRulesText: string[] = [];
    let filterCount = 0;
    let natCount = 0;
    for (const svc of ports) {
      const svcKey = serviceKey(svc.namespace, svc.name);
      let cached = this.#rules.get(svc.key);
      if (!cached) {
        const st = this.#state.get(svcKey)!;
        const eps = categorizeEndpoints(
          st.endpoints.get(svc.key) ?? [],
          svc,
          config.nodeName,
          config.nodeLabels['topology.kubernetes.io/zone'] ?? '',
          config.featureGates.preferSameTrafficDistribution,
        );
        const rules = servicePortRules(svc, eps, ctx);
        cached = {
          filterRules: rules.filterRules.length,
          captureRules: rules.natCaptureRules.length,
          natRules: rules.natRules.length,
          activeChains: rules.activeChains,
          filterText: block(rules.filterRules),
          captureText: block(rules.natCaptureRules),
          chainsText: block(rules.natChains),
          rulesText: block(rules.natRules),
        };
        this.#rules.set(svc.key, cached);
        recomputed++;
      }
      filterText.push(cached.filterText);
      natRulesText.push(cached.captureText);
      filterCount += cached.filterRules;
      natCount += cached.captureRules;
      for (const c of cached.activeChains) active.add(c);
      if (full || this.#updated.has(svcKey)) {
        natChainsText.push(cached.chainsText);
        natRulesText.push(cached.rulesText);
        natCount += cached.natRules;
      }
    }

    // Delete chains no longer in use; large clusters do this at most once per sync period.
    const deletedChains: string[] = [];
    const staleChains: string[] = [];
    const filterRules: string[] = [];
    const natRules: string[] = [];
    const existing = new Set([...this.#existingNatChains, ...active]);
    if (!large || this.#now - this.#lastCleanup > this.#syncPeriod) {
      for (const chain of [...this.#existingNatChains].sort()) {
        if (active.has(chain) || !isServiceChain(chain)) continue;
        staleChains.push(chainLine(chain));
        natRules.push(`-X ${chain}`);
        deletedChains.push(chain);
        existing.delete(chain);
      }
      this.#lastCleanup = this.#now;
    }

    // Finally the tail call to KUBE-NODEPORTS, after every other service portal rule.
    const npa = nodePortAddresses(config.family, config.nodePortAddresses);
    const tailComment = '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"';
    if (npa.matchAll) {
      let destinations = '-m addrtype --dst-type LOCAL';
      // Localhost NodePorts never work on IPv6, and on IPv4 only with route_localnet.
      if (isIPv6) destinations += ' ! -d ::1/128';
      else if (!config.localhostNodePorts) destinations += ' ! -d 127.0.0.0/8';
      natRules.push(`-A ${KUBE_SERVICES} ${tailComment} ${destinations} -j ${KUBE_NODEPORTS}`);
    } else {
      for (const ip of nodePortIPs(npa, config.interfaceAddresses)) {
        const loopback = ip === '::1' || ip.startsWith('127.');
        if (loopback && (isIPv6 || !config.localhostNodePorts)) continue;
        natRules.push(`-A ${KUBE_SERVICES} ${tailComment} -d ${ip} -j ${KUBE_NODEPORTS}`);
      }
    }

    // Drop INVALID packets, which would otherwise reset connections (issues 74839, 117924).
    if (!config.conntrackTCPLiberal) {
      const counter = config.nfacctCounters.ctStateInvalidDroppedPkts ? ` -m nfacct --nfacct-name ${CT_STATE_INVALID_COUNTER}` : '';
      filterRules.push(`-A ${KUBE_FORWARD} -m conntrack --ctstate INVALID${counter} -j DROP`);
    }
    filterRules.push(`-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`);
    filterRules.push(`-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);

    // kube-proxy's order: head lines, per-service blocks, then the tail rules written after the loop.
    const restore =
      block(['*filter', ...filterChains]) +
      block(filterHead) +
      filterText.join('') +
      block([...filterRules, 'COMMIT', '*nat', ...natChains]) +
      natChainsText.join('') +
      block(staleChains) +
      block(natHead) +
      natRulesText.join('') +
      block([...natRules, 'COMMIT']);
    this.#previousExisting = this.#existingNatChains;
    this.#existingNatChains = existing;
    this.#updated.clear();
    this.#needFullSync = false;
    return {
      restore,
      full,
      deletedChains,
      largeClusterMode: large,
      servicePorts: ports.length,
      endpoints: totalEndpoints,
      recomputed,
      filterRules: filterHead.length + filterCount + filterRules.length,
      natRules: natHead.length + natCount + natRules.length - deletedChains.length,
    };
  }

  /**
   * The health check listeners of this node after the last sync: one per Service with a
   * healthCheckNodePort, counting distinct IPs of local ready endpoints over all its ports.
   */
  healthChecks(): HealthCheckService[] {
    const out: HealthCheckService[] = [];
    for (const [key, st] of [...this.#state].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const port = st.ports.find((p) => p.healthCheckNodePort !== 0)?.healthCheckNodePort;
      if (port === undefined) continue;
      const ips = new Set<string>();
      for (const eps of st.endpoints.values()) for (const ep of eps) if (ep.isLocal && ep.ready) ips.add(ep.ip);
      const [namespace, name] = key.split('/') as [string, string];
      out.push({ namespace, name, port, localEndpoints: ips.size });
    }
    return out;
  }

  /** Recompute ports and endpoints of services whose objects changed; note which really changed. */
  #refreshDirty(): void {
    const config = this.#config;
    for (const key of this.#dirty) {
      const service = this.#services.get(key);
      const ports = service ? servicePortsOf(service, config.family, { loadBalancerIPMode: config.featureGates.loadBalancerIPMode }) : [];
      const slices = this.#slices.get(key);
      const endpoints = slices
        ? endpointsOfSlices(slices.values(), config.family, config.nodeName, config.featureGates.preferSameTrafficDistribution)
        : new Map<string, EndpointInfo[]>();
      const old = this.#state.get(key);
      const next: ServiceState = { ports, endpoints };
      if (old && fingerprintOf(old) === fingerprintOf(next)) continue;
      for (const p of old?.ports ?? []) this.#rules.delete(p.key);
      for (const p of ports) this.#rules.delete(p.key);
      if (ports.length === 0 && endpoints.size === 0) this.#state.delete(key);
      else this.#state.set(key, next);
      this.#updated.add(key);
    }
    this.#dirty.clear();
  }
}
