/**
 * The rules of one service port, in the order kube-proxy's syncProxyRules writes them: the
 * filter rules (REJECT/DROP without endpoints, firewall, health check port), the capture
 * rules in nat KUBE-SERVICES and KUBE-NODEPORTS, and the service's own chains (KUBE-EXT-,
 * KUBE-FW-, KUBE-SVC-, KUBE-SVL-, KUBE-SEP-).
 *
 * @module
 */
import { formatNetwork, networkContains, parseIPSloppy } from '../net/index.js';
import { type ProxierConfig, ifLocal, ifNotLocal } from './config.js';
import { type CategorizedEndpoints, type EndpointInfo } from './endpoints.js';
import { endpointChain } from './names.js';
import { externallyAccessible, type ServicePortInfo, usesClusterEndpoints, usesLocalEndpoints } from './service-port.js';

export const KUBE_SERVICES = 'KUBE-SERVICES';
export const KUBE_EXTERNAL_SERVICES = 'KUBE-EXTERNAL-SERVICES';
export const KUBE_NODEPORTS = 'KUBE-NODEPORTS';
export const KUBE_POSTROUTING = 'KUBE-POSTROUTING';
export const KUBE_MARK_MASQ = 'KUBE-MARK-MASQ';
export const KUBE_FORWARD = 'KUBE-FORWARD';
export const KUBE_PROXY_FIREWALL = 'KUBE-PROXY-FIREWALL';
export const KUBE_FIREWALL = 'KUBE-FIREWALL';

export const LOCALHOST_NODEPORTS_COUNTER = 'localhost_nps_accepted_pkts';
export const CT_STATE_INVALID_COUNTER = 'ct_state_invalid_dropped_pkts';

/** One service port's share of the restore text. */
export interface ServicePortRules {
  filterRules: string[];
  /** Rules in nat KUBE-SERVICES and KUBE-NODEPORTS: written on every sync, even partial ones. */
  natCaptureRules: string[];
  natChains: string[];
  /** Rules in the service's own chains: a partial sync leaves them out when the service did not change. */
  natRules: string[];
  /** NAT chains this service port keeps (stale ones are deleted). */
  activeChains: string[];
  /** The service has endpoints, but none for internal (resp. external) traffic on this node. */
  noLocalEndpointsInternal: boolean;
  noLocalEndpointsExternal: boolean;
}

/** What the writer needs besides the service port: settings and the endpoint split. */
export interface ServicePortContext {
  config: ProxierConfig;
  /** More than 1000 endpoints in all: SVC→SEP and SEP rules lose their comments. */
  largeClusterMode: boolean;
  probability: (n: number) => string;
  /** KUBE-SEP- name of an endpoint (cached: hashing is the costly part). */
  endpointChain: (svc: ServicePortInfo, ep: EndpointInfo) => string;
}

export function chainLine(chain: string): string {
  return `:${chain} - [0:0]`;
}

/** Build the rules of one service port (the body of syncProxyRules' loop). */
export function servicePortRules(svc: ServicePortInfo, eps: CategorizedEndpoints, ctx: ServicePortContext): ServicePortRules {
  const { config } = ctx;
  const out: ServicePortRules = {
    filterRules: [],
    natCaptureRules: [],
    natChains: [],
    natRules: [],
    activeChains: [],
    noLocalEndpointsInternal: false,
    noLocalEndpointsExternal: false,
  };
  const { filterRules, natChains, natRules } = out;
  const capture = out.natCaptureRules;
  const spn = svc.portName;
  const p = svc.proto;
  const dport = String(svc.port);
  const match = `-m ${p} -p ${p}`;
  const chains = svc.chains;
  const clusterPolicyChain = chains.cluster;
  const usesClusterPolicyChain = eps.cluster.length > 0 && usesClusterEndpoints(svc);
  const localPolicyChain = chains.local;
  const usesLocalPolicyChain = eps.local.length > 0 && usesLocalEndpoints(svc);
  const hasEndpoints = eps.hasAny;

  let internalTrafficChain = clusterPolicyChain;
  let hasInternalEndpoints = hasEndpoints;
  if (svc.internalPolicyLocal) {
    internalTrafficChain = localPolicyChain;
    if (eps.local.length === 0) hasInternalEndpoints = false;
  }
  let externalPolicyChain = clusterPolicyChain;
  let hasExternalEndpoints = hasEndpoints;
  if (svc.externalPolicyLocal) {
    externalPolicyChain = localPolicyChain;
    if (eps.local.length === 0) hasExternalEndpoints = false;
  }
  const externalTrafficChain = chains.external;
  const usesExternalTrafficChain = hasEndpoints && externallyAccessible(svc);
  const usesFWChain = hasEndpoints && svc.loadBalancerVIPs.length > 0 && svc.loadBalancerSourceRanges.length > 0;
  const loadBalancerTrafficChain = usesFWChain ? chains.firewall : externalTrafficChain;

  let internalFilterTarget = '';
  let internalFilterComment = '';
  let externalFilterTarget = '';
  let externalFilterComment = '';
  if (!hasEndpoints) {
    internalFilterTarget = externalFilterTarget = 'REJECT';
    internalFilterComment = externalFilterComment = `"${spn} has no endpoints"`;
  } else {
    if (!hasInternalEndpoints) {
      internalFilterTarget = 'DROP';
      internalFilterComment = `"${spn} has no local endpoints"`;
      out.noLocalEndpointsInternal = true;
    }
    if (!hasExternalEndpoints) {
      externalFilterTarget = 'DROP';
      externalFilterComment = `"${spn} has no local endpoints"`;
      out.noLocalEndpointsExternal = true;
    }
  }

  // Capture the clusterIP.
  if (hasInternalEndpoints) {
    capture.push(`-A ${KUBE_SERVICES} -m comment --comment "${spn} cluster IP" ${match} -d ${svc.clusterIP} --dport ${dport} -j ${internalTrafficChain}`);
  } else {
    filterRules.push(`-A ${KUBE_SERVICES} -m comment --comment ${internalFilterComment} ${match} -d ${svc.clusterIP} --dport ${dport} -j ${internalFilterTarget}`);
  }

  // Capture externalIPs.
  for (const ip of svc.externalIPs) {
    if (hasEndpoints) {
      capture.push(`-A ${KUBE_SERVICES} -m comment --comment "${spn} external IP" ${match} -d ${ip} --dport ${dport} -j ${externalTrafficChain}`);
    }
    if (!hasExternalEndpoints) {
      filterRules.push(`-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalFilterComment} ${match} -d ${ip} --dport ${dport} -j ${externalFilterTarget}`);
    }
  }

  // Capture load-balancer ingress.
  for (const ip of svc.loadBalancerVIPs) {
    if (hasEndpoints) {
      capture.push(`-A ${KUBE_SERVICES} -m comment --comment "${spn} loadbalancer IP" ${match} -d ${ip} --dport ${dport} -j ${loadBalancerTrafficChain}`);
    }
    if (usesFWChain) {
      filterRules.push(
        `-A ${KUBE_PROXY_FIREWALL} -m comment --comment "${spn} traffic not accepted by ${chains.firewall}" ${match} -d ${ip} --dport ${dport} -j DROP`,
      );
    }
  }
  if (!hasExternalEndpoints) {
    for (const ip of svc.loadBalancerVIPs) {
      filterRules.push(`-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalFilterComment} ${match} -d ${ip} --dport ${dport} -j ${externalFilterTarget}`);
    }
  }

  // Capture nodeports.
  if (svc.nodePort !== 0) {
    const nodePort = String(svc.nodePort);
    if (hasEndpoints) {
      if (config.localhostNodePorts && config.family === 'IPv4' && config.nfacctCounters.localhostNodePortsAcceptedPkts) {
        capture.push(
          `-A ${KUBE_NODEPORTS} -m comment --comment ${spn} ${match} -d 127.0.0.0/8 --dport ${nodePort} -m nfacct --nfacct-name ${LOCALHOST_NODEPORTS_COUNTER} -j ${externalTrafficChain}`,
        );
      }
      capture.push(`-A ${KUBE_NODEPORTS} -m comment --comment ${spn} ${match} --dport ${nodePort} -j ${externalTrafficChain}`);
    }
    if (!hasExternalEndpoints) {
      filterRules.push(
        `-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalFilterComment} -m addrtype --dst-type LOCAL ${match} --dport ${nodePort} -j ${externalFilterTarget}`,
      );
    }
  }

  // Capture healthCheckNodePorts, whether or not this node has local endpoints.
  if (svc.healthCheckNodePort !== 0) {
    filterRules.push(`-A ${KUBE_NODEPORTS} -m comment --comment "${spn} health check node port" -m tcp -p tcp --dport ${svc.healthCheckNodePort} -j ACCEPT`);
  }

  // Internal traffic: masquerade off-cluster (or all) traffic to the ClusterIP.
  if (hasInternalEndpoints) {
    const args = `-m comment --comment "${spn} cluster IP" ${match} -d ${svc.clusterIP} --dport ${dport}`;
    if (config.masqueradeAll) {
      natRules.push(`-A ${internalTrafficChain} ${args} -j ${KUBE_MARK_MASQ}`);
    } else if (config.localDetector.mode !== 'None') {
      natRules.push(`-A ${internalTrafficChain} ${args} ${ifNotLocal(config.localDetector).join(' ')} -j ${KUBE_MARK_MASQ}`);
    }
  }

  // External traffic: everything captured for external destinations goes through KUBE-EXT-.
  if (usesExternalTrafficChain) {
    natChains.push(chainLine(externalTrafficChain));
    out.activeChains.push(externalTrafficChain);
    if (!svc.externalPolicyLocal) {
      natRules.push(`-A ${externalTrafficChain} -m comment --comment "masquerade traffic for ${spn} external destinations" -j ${KUBE_MARK_MASQ}`);
    } else {
      if (config.localDetector.mode !== 'None') {
        // Pod traffic to an external destination acts as if it went out and came back in.
        natRules.push(
          `-A ${externalTrafficChain} -m comment --comment "pod traffic for ${spn} external destinations" ${ifLocal(config.localDetector).join(' ')} -j ${clusterPolicyChain}`,
        );
      }
      // The host's own traffic gets a local (VIP) source, so it must be masqueraded.
      natRules.push(
        `-A ${externalTrafficChain} -m comment --comment "masquerade LOCAL traffic for ${spn} external destinations" -m addrtype --src-type LOCAL -j ${KUBE_MARK_MASQ}`,
      );
      natRules.push(
        `-A ${externalTrafficChain} -m comment --comment "route LOCAL traffic for ${spn} external destinations" -m addrtype --src-type LOCAL -j ${clusterPolicyChain}`,
      );
    }
    if (hasExternalEndpoints) natRules.push(`-A ${externalTrafficChain} -j ${externalPolicyChain}`);
  }

  // loadBalancerSourceRanges.
  if (usesFWChain) {
    const fw = chains.firewall;
    natChains.push(chainLine(fw));
    out.activeChains.push(fw);
    const head = `-A ${fw} -m comment --comment "${spn} loadbalancer IP"`;
    const nodeIP = parseIPSloppy(config.nodeIP);
    let allowFromNode = false;
    for (const net of svc.loadBalancerSourceRanges) {
      natRules.push(`${head} -s ${formatNetwork(net)} -j ${externalTrafficChain}`);
      if (nodeIP && networkContains(net, nodeIP)) allowFromNode = true;
    }
    // A VIP bound locally loops back with itself as source; let the node reach its own LB.
    if (allowFromNode) for (const ip of svc.loadBalancerVIPs) natRules.push(`${head} -s ${ip} -j ${externalTrafficChain}`);
    natRules.push(`-A ${fw} -m comment --comment "other traffic to ${spn} will be dropped by KUBE-PROXY-FIREWALL"`);
  }

  if (usesClusterPolicyChain) {
    natChains.push(chainLine(clusterPolicyChain));
    out.activeChains.push(clusterPolicyChain);
    writeServiceToEndpointRules(natRules, svc, clusterPolicyChain, eps.cluster, ctx);
  }
  if (usesLocalPolicyChain) {
    natChains.push(chainLine(localPolicyChain));
    out.activeChains.push(localPolicyChain);
    writeServiceToEndpointRules(natRules, svc, localPolicyChain, eps.local, ctx);
  }

  // One chain per endpoint: hairpin masquerade, affinity, DNAT.
  for (const ep of eps.allReachable) {
    const chain = ctx.endpointChain(svc, ep);
    natChains.push(chainLine(chain));
    out.activeChains.push(chain);
    const head = ctx.largeClusterMode ? `-A ${chain}` : `-A ${chain} -m comment --comment ${spn}`;
    natRules.push(`${head} -s ${ep.ip} -j ${KUBE_MARK_MASQ}`);
    const recent = svc.sessionAffinityClientIP ? ` -m recent --name ${chain} --set` : '';
    natRules.push(`${head}${recent} ${match} -j DNAT --to-destination ${ep.endpoint}`);
  }
  return out;
}

export function endpointChainOf(svc: ServicePortInfo, ep: EndpointInfo): string {
  return endpointChain(svc.portName, svc.proto, ep.endpoint);
}

function writeServiceToEndpointRules(
  natRules: string[],
  svc: ServicePortInfo,
  svcChain: string,
  endpoints: readonly EndpointInfo[],
  ctx: ServicePortContext,
): void {
  const comment = (ep: EndpointInfo) => (ctx.largeClusterMode ? '' : ` -m comment --comment "${svc.portName} -> ${ep.endpoint}"`);
  if (svc.sessionAffinityClientIP) {
    for (const ep of endpoints) {
      const chain = ctx.endpointChain(svc, ep);
      natRules.push(`-A ${svcChain}${comment(ep)} -m recent --name ${chain} --rcheck --seconds ${svc.stickyMaxAgeSeconds} --reap -j ${chain}`);
    }
  }
  const n = endpoints.length;
  endpoints.forEach((ep, i) => {
    const statistic = i < n - 1 ? ` -m statistic --mode random --probability ${ctx.probability(n - i)}` : '';
    natRules.push(`-A ${svcChain}${comment(ep)}${statistic} -j ${ctx.endpointChain(svc, ep)}`);
  });
}
