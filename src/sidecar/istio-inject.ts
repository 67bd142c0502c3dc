/**
 * Whether a pod has (or would get) an Istio sidecar, and what its istio-iptables is told: read
 * from a pod that is already injected (istio-init's command line), or decided the way the
 * sidecar injector decides (its webhooks' namespace and object selectors, then
 * `sidecar.istio.io/inject`), with the template's arguments built from the pod's annotations.
 *
 * @module
 */
import type { Container, Namespace, Pod } from '../cluster/objects.js';
import {
  type ArgsOrigin,
  type IstioCaptureConfig,
  IstioCaptureError,
  parseCIDRList,
  parseIstioIptablesArgs,
  parsePortList,
} from './istio-config.js';

/** Annotations (and labels) the injector and istio-iptables read. */
export const ISTIO_ANNOTATIONS = Object.freeze({
  inject: 'sidecar.istio.io/inject',
  interceptionMode: 'sidecar.istio.io/interceptionMode',
  statusPort: 'status.sidecar.istio.io/port',
  includeInboundPorts: 'traffic.sidecar.istio.io/includeInboundPorts',
  excludeInboundPorts: 'traffic.sidecar.istio.io/excludeInboundPorts',
  includeOutboundIPRanges: 'traffic.sidecar.istio.io/includeOutboundIPRanges',
  excludeOutboundIPRanges: 'traffic.sidecar.istio.io/excludeOutboundIPRanges',
  includeOutboundPorts: 'traffic.sidecar.istio.io/includeOutboundPorts',
  excludeOutboundPorts: 'traffic.sidecar.istio.io/excludeOutboundPorts',
  excludeInterfaces: 'traffic.sidecar.istio.io/excludeInterfaces',
  kubevirtInterfaces: 'traffic.sidecar.istio.io/kubevirtInterfaces',
  rerouteVirtualInterfaces: 'istio.io/reroute-virtual-interfaces',
  injectionLabel: 'istio-injection',
  revisionLabel: 'istio.io/rev',
} as const);

/** Namespaces the injector never injects into. */
export const ISTIO_IGNORED_NAMESPACES: readonly string[] = Object.freeze(['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage']);

/** The proxy's user and group as the injection template runs it (REDIRECT: 1337/1337; TPROXY: 0/1337). */
export interface IstioProxyIdentity {
  readonly uid: number;
  readonly gid: number;
}

/** A pod without a sidecar, and why. */
export interface IstioNoSidecar {
  readonly sidecar: false;
  readonly reason: string;
}

/** A pod with a sidecar: how its traffic is captured, and where kubepath learnt it. */
export interface IstioSidecar {
  readonly sidecar: true;
  /** `istio-init`: the pod's own init container's command line; `injector`: what the injector would add; `annotations`: an injected pod without istio-init (istio-cni applies the rules from its annotations). */
  readonly source: 'istio-init' | 'injector' | 'annotations';
  readonly reason: string;
  /** What istio-iptables is told; undefined when the interception mode is NONE (a proxy that captures nothing). */
  readonly capture: IstioCaptureConfig | undefined;
  /** The istio-iptables command line (as given, or as the injector's template writes it). */
  readonly args: readonly string[] | undefined;
  /** The proxy's uid and gid, from the injection template for the mode (the pod's securityContext is not read). */
  readonly proxy: IstioProxyIdentity;
  /** What kubepath leaves out or assumed. */
  readonly notes: readonly string[];
}

export type IstioDecision = IstioNoSidecar | IstioSidecar;

/** The identity the injection template gives istio-proxy for a mode. */
export function istioProxyIdentity(config: IstioCaptureConfig | undefined): IstioProxyIdentity {
  const gid = config?.proxyGids[0] ?? 1337;
  return config?.mode === 'TPROXY' ? { uid: 0, gid } : { uid: config?.proxyUids[0] ?? 1337, gid };
}

function podName(pod: Pod): string {
  return `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name}`;
}

function isProxy(c: Container): boolean {
  return c.name === 'istio-proxy';
}

/** istio-proxy started as `pilot-agent proxy router`: a gateway (ingress or egress), not a sidecar. */
function isRouter(c: Container): boolean {
  const words = [...(c.command ?? []), ...(c.args ?? [])];
  const i = words.indexOf('proxy');
  return i >= 0 && words[i + 1] === 'router';
}

/** The istio-iptables words of a container (command then args), when it runs istio-iptables. */
function iptablesWords(c: Container): string[] | undefined {
  const words = [...(c.command ?? []), ...(c.args ?? [])];
  return words.some((w) => /(^|\/)istio-iptables(\.sh)?$/.test(w)) ? words : undefined;
}

/**
 * Decide whether `pod` has a sidecar, and with which capture. `namespace` is the pod's
 * Namespace object (its labels select the injector's webhooks); undefined for a namespace
 * without labels. Throws {@link IstioCaptureError} for an annotation the injector would refuse
 * (so the pod would not be created) or an istio-init command line istio-iptables would refuse.
 */
export function istioCaptureOf(pod: Pod, namespace: Namespace | undefined): IstioDecision {
  const name = podName(pod);
  const init = (pod.spec.initContainers ?? []).map((c, i) => ({ c, i })).find(({ c }) => c.name === 'istio-init' && iptablesWords(c));
  const injected = pod.spec.containers.some(isProxy) || (pod.spec.initContainers ?? []).some(isProxy);
  if (init) {
    const origin: ArgsOrigin = { pod: name, field: `spec.initContainers[${init.i}].${init.c.args?.some((w) => /istio-iptables/.test(w)) ? 'args' : 'command'}` };
    const parsed = parseIstioIptablesArgs(iptablesWords(init.c)!, origin);
    return {
      sidecar: true,
      source: 'istio-init',
      reason: `already injected: init container istio-init runs istio-iptables${injected ? ' and istio-proxy is present' : ' (no istio-proxy container: its rules still apply)'}`,
      capture: parsed.config,
      args: iptablesWords(init.c)!,
      proxy: istioProxyIdentity(parsed.config),
      notes: parsed.notes,
    };
  }
  const gateway = pod.spec.containers.find((c) => isProxy(c) && isRouter(c));
  if (gateway && !init) return { sidecar: false, reason: `istio-proxy runs as a gateway (${[...(gateway.command ?? []), ...(gateway.args ?? [])].slice(0, 2).join(' ')}): it is the proxy the traffic is sent to, nothing is captured` };
  if (injected) {
    const built = injectorArgs(pod);
    const validation = (pod.spec.initContainers ?? []).some((c) => c.name === 'istio-validation');
    return {
      ...built,
      sidecar: true,
      source: 'annotations',
      reason: `already injected: istio-proxy is present without istio-init${validation ? ' (istio-validation: istio-cni applies the rules)' : ''}; capture as the pod's annotations ask for it`,
    };
  }
  const why = injectionDecision(pod, namespace);
  if (!why.inject) return { sidecar: false, reason: why.reason };
  return { ...injectorArgs(pod), sidecar: true, source: 'injector', reason: why.reason };
}

/** The injector's webhooks (namespace and object selectors), then its injectRequired policy. */
function injectionDecision(pod: Pod, namespace: Namespace | undefined): { inject: boolean; reason: string } {
  const ns = pod.metadata.namespace ?? 'default';
  if (pod.spec.hostNetwork) return { inject: false, reason: 'hostNetwork pods are never injected' };
  if (ISTIO_IGNORED_NAMESPACES.includes(ns)) return { inject: false, reason: `the injector ignores namespace ${ns}` };
  const nsLabels = namespace?.metadata.labels ?? {};
  const labels = pod.metadata.labels ?? {};
  const injection = nsLabels[ISTIO_ANNOTATIONS.injectionLabel];
  const nsRev = nsLabels[ISTIO_ANNOTATIONS.revisionLabel];
  const podRev = labels[ISTIO_ANNOTATIONS.revisionLabel];
  const label = labels[ISTIO_ANNOTATIONS.inject];
  let webhook: string | undefined;
  if (label === 'false') return { inject: false, reason: `pod label ${ISTIO_ANNOTATIONS.inject}=false opts out` };
  if (injection === 'enabled') webhook = `namespace ${ns} has ${ISTIO_ANNOTATIONS.injectionLabel}=enabled`;
  else if (injection !== undefined) return { inject: false, reason: `namespace ${ns} has ${ISTIO_ANNOTATIONS.injectionLabel}=${injection}` };
  else if (nsRev !== undefined) webhook = `namespace ${ns} has ${ISTIO_ANNOTATIONS.revisionLabel}=${nsRev} (a revision assumed installed)`;
  else if (podRev !== undefined) webhook = `pod label ${ISTIO_ANNOTATIONS.revisionLabel}=${podRev} (a revision assumed installed)`;
  else if (label === 'true') webhook = `pod label ${ISTIO_ANNOTATIONS.inject}=true`;
  else {
    const annotation = pod.metadata.annotations?.[ISTIO_ANNOTATIONS.inject];
    return {
      inject: false,
      reason: `namespace ${ns} is not labelled for injection${annotation !== undefined ? ` (the annotation ${ISTIO_ANNOTATIONS.inject}=${annotation} is only read once a webhook is called; the webhooks select pods by label)` : ''}`,
    };
  }
  // injectRequired: the label wins over the (deprecated) annotation; the policy is "enabled".
  const value = label ?? pod.metadata.annotations?.[ISTIO_ANNOTATIONS.inject] ?? '';
  const which = label !== undefined ? 'label' : 'annotation';
  if (value === '') return { inject: true, reason: webhook };
  if (['y', 'yes', 'true', 'on'].includes(value.toLowerCase())) return { inject: true, reason: `${webhook}; ${which} ${ISTIO_ANNOTATIONS.inject}=${value}` };
  return { inject: false, reason: `${webhook}, but ${which} ${ISTIO_ANNOTATIONS.inject}=${value} opts out` };
}

/** The injector's excludeInboundPort: the status port added to the excluded ports unless it is there or "0". */
function excludeInboundPort(statusPort: string, excluded: string): string {
  const port = statusPort.trim();
  if (port === '' || port === '0') return excluded;
  const ports = excluded.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (excluded.split(',').includes(port)) return excluded;
  return [...ports, port].join(',');
}

/**
 * The injection template's istio-init arguments for the pod, after the injector's annotation
 * checks, read into a config. NONE gives a sidecar that captures nothing.
 */
function injectorArgs(pod: Pod): Omit<IstioSidecar, 'sidecar' | 'source' | 'reason'> {
  const name = podName(pod);
  const a = pod.metadata.annotations ?? {};
  const A = ISTIO_ANNOTATIONS;
  const fail = (annotation: string) => (value: string, problem: string): never => {
    throw new IstioCaptureError(name, `annotation ${annotation}`, value, problem);
  };
  // The injector's own validation (pkg/kube/inject/validate.go): it refuses the pod otherwise.
  const mode = a[A.interceptionMode] ?? 'REDIRECT';
  if (!['REDIRECT', 'TPROXY', 'NONE'].includes(mode)) fail(A.interceptionMode)(mode, 'must be REDIRECT, TPROXY or NONE');
  const statusPort = a[A.statusPort] ?? '15020';
  if (!/^\s*[0-9]{1,5}\s*$/.test(statusPort) || Number(statusPort) > 65535) fail(A.statusPort)(statusPort, 'must be a port number (0-65535)');
  const includeIn = a[A.includeInboundPorts] ?? '*';
  if (includeIn !== '*') parsePortList(includeIn, fail(A.includeInboundPorts));
  const excludeIn = a[A.excludeInboundPorts] ?? '';
  parsePortList(excludeIn, fail(A.excludeInboundPorts));
  const includeOut = a[A.includeOutboundIPRanges] ?? '*';
  if (includeOut !== '*') strictCIDRs(includeOut, fail(A.includeOutboundIPRanges));
  const excludeOut = a[A.excludeOutboundIPRanges] ?? '';
  strictCIDRs(excludeOut, fail(A.excludeOutboundIPRanges));
  if (a[A.excludeOutboundPorts] !== undefined) parsePortList(a[A.excludeOutboundPorts], fail(A.excludeOutboundPorts));
  if (a[A.includeOutboundPorts] !== undefined) parsePortList(a[A.includeOutboundPorts], fail(A.includeOutboundPorts));
  if (mode === 'NONE') {
    return { capture: undefined, args: undefined, proxy: istioProxyIdentity(undefined), notes: [`${A.interceptionMode}=NONE: no istio-init, nothing is captured`] };
  }
  const excluded = excludeInboundPort(statusPort, excludeIn);
  const args = ['istio-iptables', '-p', '15001', '-z', '15006', '-u', '1337', '-m', mode, '-i', includeOut, '-x', excludeOut, '-b', includeIn, '-d', excluded ? `15090,15021,${excluded}` : '15090,15021'];
  if (a[A.includeOutboundPorts] !== undefined) args.push('-q', a[A.includeOutboundPorts]);
  if (a[A.excludeOutboundPorts] !== undefined) args.push('-o', a[A.excludeOutboundPorts]);
  const virt = a[A.rerouteVirtualInterfaces] !== undefined ? A.rerouteVirtualInterfaces : a[A.kubevirtInterfaces] !== undefined ? A.kubevirtInterfaces : undefined;
  if (virt) args.push('-k', a[virt]!);
  if (a[A.excludeInterfaces] !== undefined) args.push('-c', a[A.excludeInterfaces]);
  // Values the injector passes through unchecked fail in istio-iptables; name the annotation they came from.
  const origin = (flag: string): string => {
    const from: Record<string, string> = { '-q': A.includeOutboundPorts, '-o': A.excludeOutboundPorts, '-k': virt ?? A.kubevirtInterfaces, '-c': A.excludeInterfaces };
    return from[flag] ?? flag;
  };
  let parsed;
  try {
    parsed = parseIstioIptablesArgs(args, { pod: name, field: 'istio-iptables' });
  } catch (e) {
    if (!(e instanceof IstioCaptureError)) throw e;
    const flag = e.field.split(' ').pop() ?? '';
    throw new IstioCaptureError(name, `annotation ${origin(flag)}`, e.value, e.problem);
  }
  return { capture: parsed.config, args, proxy: istioProxyIdentity(parsed.config), notes: parsed.notes };
}

/** CIDRs as the injector checks them (netip.ParsePrefix: ADDRESS/LENGTH, no spaces). */
function strictCIDRs(text: string, fail: (value: string, problem: string) => never): void {
  if (text === '') return;
  for (const c of text.split(',')) {
    if (c === '' || c.trim() !== c) fail(text, `"${c}" is not a CIDR (ADDRESS/LENGTH, comma-separated without spaces)`);
  }
  parseCIDRList(text, fail);
}
