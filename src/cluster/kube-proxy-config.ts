/**
 * kube-proxy's configuration: a bare `KubeProxyConfiguration`, or the `kube-system/kube-proxy`
 * ConfigMap that kubeadm writes (the same document under `data["config.conf"]`); merging the
 * cluster-wide settings with a node's overrides; and kube-proxy's own defaults.
 *
 * @module
 */
import { parseDocument } from 'yaml';
import type { ConfigMap, KubeProxyConfiguration } from './objects.js';
import { checkCIDR, compact, Fields } from './fields.js';
import { type Reporter, unsupported } from './issues.js';

export const KUBE_PROXY_API_VERSION = 'kubeproxy.config.k8s.io/v1alpha1';
/** The ConfigMap and key kubeadm keeps kube-proxy's configuration in. */
export const KUBE_PROXY_CONFIGMAP = { namespace: 'kube-system', name: 'kube-proxy', key: 'config.conf' } as const;

const MODES = ['', 'iptables', 'ipvs', 'nftables'] as const;
const DETECT_LOCAL_MODES = ['', 'ClusterCIDR', 'NodeCIDR', 'BridgeInterface', 'InterfaceNamePrefix'] as const;

/** The fields of a KubeProxyConfiguration that kubepath models (others are left out). */
export function decodeKubeProxyConfiguration(f: Fields): KubeProxyConfiguration {
  const clusterCIDR = f.string('clusterCIDR');
  // A comma-separated list, one CIDR per family (dual-stack).
  if (clusterCIDR) for (const cidr of clusterCIDR.split(',')) checkCIDR(cidr.trim(), f.report.at('clusterCIDR'));
  const nodePortAddresses = f.strings('nodePortAddresses');
  nodePortAddresses?.forEach((a, i) => a === 'primary' || checkCIDR(a, f.report.at(`nodePortAddresses[${i}]`)));
  return compact({
    mode: f.oneOf('mode', MODES),
    clusterCIDR,
    detectLocalMode: f.oneOf('detectLocalMode', DETECT_LOCAL_MODES),
    detectLocal: f.object('detectLocal', (d) => compact({ bridgeInterface: d.string('bridgeInterface'), interfaceNamePrefix: d.string('interfaceNamePrefix') })),
    nodePortAddresses,
    iptables: f.object('iptables', (i) =>
      compact({
        masqueradeAll: i.boolean('masqueradeAll'),
        masqueradeBit: i.integer('masqueradeBit', { min: 0, max: 31 }),
        localhostNodePorts: i.boolean('localhostNodePorts'),
        syncPeriod: i.string('syncPeriod'),
        minSyncPeriod: i.string('minSyncPeriod'),
      }),
    ),
    conntrack: f.object('conntrack', (c) => compact({ tcpBeLiberal: c.boolean('tcpBeLiberal') })),
    hostnameOverride: f.string('hostnameOverride'),
    featureGates: f.object('featureGates', (g) => {
      const gates: Record<string, boolean> = {};
      for (const k of g.keys()) {
        const v = g.boolean(k);
        if (v !== undefined) gates[k] = v;
      }
      return gates;
    }),
  });
}

/** True for the ConfigMap that holds kube-proxy's configuration. */
export function isKubeProxyConfigMap(cm: ConfigMap): boolean {
  return cm.metadata.namespace === KUBE_PROXY_CONFIGMAP.namespace && cm.metadata.name === KUBE_PROXY_CONFIGMAP.name;
}

/** The configuration inside kube-proxy's ConfigMap; issues are reported at `data[config.conf]`. */
export function decodeKubeProxyConfigMap(cm: ConfigMap, report: Reporter): KubeProxyConfiguration | undefined {
  const at = report.at(`data[${KUBE_PROXY_CONFIGMAP.key}]`);
  const text = cm.data?.[KUBE_PROXY_CONFIGMAP.key];
  if (text === undefined) {
    at.error('', 'Required value: kube-proxy reads its configuration from this key');
    return undefined;
  }
  const doc = parseDocument(text, { prettyErrors: true, schema: 'core' });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const pos = e.linePos?.[0];
      at.error('', `${pos ? `line ${pos.line}, column ${pos.col} of the embedded document: ` : ''}YAML syntax error: ${e.message.split(' at line ')[0]}`);
    }
    return undefined;
  }
  const f = Fields.of(doc.toJS(), at);
  if (!f) return undefined;
  const kind = f.string('kind');
  if (kind !== 'KubeProxyConfiguration') at.error('kind', unsupported(kind ?? '', ['KubeProxyConfiguration']));
  return decodeKubeProxyConfiguration(f);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `base` with `override` laid over it: nested objects merged, lists and values replaced. */
export function mergeKubeProxy(base: KubeProxyConfiguration, override: KubeProxyConfiguration | undefined): KubeProxyConfiguration {
  if (!override) return structuredClone(base);
  const merge = (a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = structuredClone(a);
    for (const [k, v] of Object.entries(b)) out[k] = isPlainObject(v) && isPlainObject(out[k]) ? merge(out[k] as Record<string, unknown>, v) : structuredClone(v);
    return out;
  };
  return merge(base as Record<string, unknown>, override as Record<string, unknown>) as KubeProxyConfiguration;
}

/** A default kube-proxy applies, with why, for the assumption that reports it. */
export interface KubeProxyDefault {
  field: string;
  value: string;
}

/**
 * Fill kube-proxy's own defaults (SetDefaults_KubeProxyConfiguration, Linux) into `config`;
 * returns what was filled.
 */
export function applyKubeProxyDefaults(config: KubeProxyConfiguration): KubeProxyDefault[] {
  const filled: KubeProxyDefault[] = [];
  if (!config.mode) {
    config.mode = 'iptables';
    filled.push({ field: 'mode', value: 'iptables (kube-proxy\'s default on Linux)' });
  }
  if (!config.detectLocalMode) {
    config.detectLocalMode = 'ClusterCIDR';
    filled.push({ field: 'detectLocalMode', value: 'ClusterCIDR (kube-proxy\'s default)' });
  }
  const ipt = (config.iptables ??= {});
  const fill = <K extends keyof NonNullable<KubeProxyConfiguration['iptables']>>(key: K, value: NonNullable<KubeProxyConfiguration['iptables']>[K]) => {
    if (ipt[key] !== undefined) return;
    ipt[key] = value;
    filled.push({ field: `iptables.${key}`, value: `${String(value)} (kube-proxy's default)` });
  };
  fill('masqueradeAll', false);
  fill('masqueradeBit', 14);
  fill('localhostNodePorts', true);
  return filled;
}

/** Why a kube-proxy setting cannot work on its own, e.g. a detector mode without its parameter. */
export function kubeProxyProblems(config: KubeProxyConfiguration): { field: string; message: string; warning?: boolean }[] {
  const problems: { field: string; message: string; warning?: boolean }[] = [];
  if (config.detectLocalMode === 'BridgeInterface' && !config.detectLocal?.bridgeInterface) {
    problems.push({ field: 'detectLocal.bridgeInterface', message: 'Required value: detectLocalMode BridgeInterface needs it' });
  }
  if (config.detectLocalMode === 'InterfaceNamePrefix' && !config.detectLocal?.interfaceNamePrefix) {
    problems.push({ field: 'detectLocal.interfaceNamePrefix', message: 'Required value: detectLocalMode InterfaceNamePrefix needs it' });
  }
  if (config.mode && config.mode !== 'iptables') {
    problems.push({ field: 'mode', message: `${config.mode}: kubepath models the iptables proxier only; rules are computed as iptables mode would write them`, warning: true });
  }
  return problems;
}
