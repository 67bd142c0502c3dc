/**
 * Istio's sidecar interception as the rules istio-iptables writes into a pod's network
 * namespace: the nat table (inbound REDIRECT to 15006, outbound REDIRECT to 15001, the owner and
 * 127.0.0.6 exemptions), in TPROXY mode the mangle table (TPROXY to 15006, marks and connmarks)
 * with its policy rule and local route, and the proxy identity those rules assume.
 *
 * ```ts
 * import { istioCaptureOf, compileIstioRules } from 'kubepath/sidecar';
 * const d = istioCaptureOf(pod, namespace);
 * if (d.sidecar && d.capture) {
 *   const { text, policyRules, routes } = compileIstioRules(d.capture, 'IPv4');
 * }
 * ```
 *
 * The rules are istio-iptables' (tools/istio-iptables/pkg/capture/run.go, iptables backend) in
 * the order they end up in the kernel, as iptables-save would list them: each rule written with
 * istio-iptables' own words, `-I` insertions already applied.
 *
 * @module
 */
import type { IPFamily } from '../cluster/objects.js';
import {
  familyOfRange,
  formatIstioIptablesArgs,
  ISTIO_OUTBOUND_MARK,
  type IstioCaptureConfig,
  isLoopbackRange,
  istioCaptureConfig,
} from './istio-config.js';
import { type IstioProxyIdentity, istioProxyIdentity } from './istio-inject.js';

export {
  type ArgsOrigin,
  formatIstioIptablesArgs,
  type IstioArgs,
  type IstioCaptureConfig,
  IstioCaptureError,
  type IstioInterceptionMode,
  ISTIO_INJECTOR_DEFAULTS,
  ISTIO_OUTBOUND_MARK,
  istioCaptureConfig,
  parseIstioIptablesArgs,
} from './istio-config.js';
export {
  ISTIO_ANNOTATIONS,
  ISTIO_IGNORED_NAMESPACES,
  type IstioDecision,
  type IstioNoSidecar,
  type IstioProxyIdentity,
  type IstioSidecar,
  istioCaptureOf,
  istioProxyIdentity,
} from './istio-inject.js';

/** What istio-iptables (and its route setup) leaves in a pod's network namespace for one family. */
export interface IstioRules {
  readonly family: IPFamily;
  /** iptables-restore text (mangle for TPROXY, nat), loadable with `iptables-restore [--noflush]` in the pod's namespace. */
  readonly text: string;
  /** Policy rules in `ip rule` syntax (TPROXY: `fwmark 1337 lookup 133`). */
  readonly policyRules: readonly string[];
  /** Routes in `ip route` syntax, with their table (TPROXY: `local default dev lo table 133`). */
  readonly routes: readonly string[];
  /** Addresses istio-iptables adds, `ip addr` syntax (IPv6: `::6/128 dev lo`, the inbound passthrough source). */
  readonly addresses: readonly string[];
  /** The proxy's uid and gid as the injection template runs it: the identity the owner rules exempt. */
  readonly proxy: IstioProxyIdentity;
  /** The istio-iptables command line that writes these rules. */
  readonly args: readonly string[];
}

const BUILTIN = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);
const BUILTIN_ORDER = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'];
const TABLE_ORDER = ['filter', 'mangle', 'nat', 'raw'];

interface Op {
  readonly table: string;
  readonly chain: string;
  /** 1-based `-I` position; undefined for `-A`. */
  readonly position: number | undefined;
  readonly words: readonly string[];
}

/** istio-iptables' rule builder: appends and inserts in call order, then the state they leave. */
class Rules {
  readonly ops: Op[] = [];

  append(table: string, chain: string, ...words: string[]): void {
    this.ops.push({ table, chain, position: undefined, words });
  }

  insert(table: string, chain: string, position: number, ...words: string[]): void {
    this.ops.push({ table, chain, position, words });
  }

  /** iptables-restore text of the final chains: user chains declared in istio's order, rules in the kernel's order. */
  text(header: string): string {
    const tables = new Map<string, { declared: string[]; chains: Map<string, string[]> }>();
    const tableOf = (name: string) => {
      let t = tables.get(name);
      if (!t) tables.set(name, (t = { declared: [], chains: new Map() }));
      return t;
    };
    const declare = (table: string, chain: string) => {
      const t = tableOf(table);
      if (!BUILTIN.has(chain) && !t.declared.includes(chain)) t.declared.push(chain);
    };
    // As istio's buildRestore: chains with rules first, in order of their first rule, then chains only jumped to.
    for (const op of this.ops) declare(op.table, op.chain);
    for (const op of this.ops) {
      const j = op.words.indexOf('-j');
      const target = j >= 0 ? op.words[j + 1]! : '';
      if (target.startsWith('ISTIO_')) declare(op.table, target);
    }
    for (const op of this.ops) {
      const chains = tableOf(op.table).chains;
      const rules = chains.get(op.chain) ?? [];
      chains.set(op.chain, rules);
      const line = op.words.join(' ');
      if (op.position === undefined) rules.push(line);
      else rules.splice(Math.min(op.position - 1, rules.length), 0, line);
    }
    const out = [header];
    for (const name of TABLE_ORDER) {
      const t = tables.get(name);
      if (!t) continue;
      out.push(`*${name}`);
      for (const chain of t.declared) out.push(`:${chain} - [0:0]`);
      const order = [...BUILTIN_ORDER.filter((c) => t.chains.has(c)), ...t.declared];
      for (const chain of order) for (const rule of t.chains.get(chain) ?? []) out.push(`-A ${chain} ${rule}`);
      out.push('COMMIT');
    }
    return out.join('\n') + '\n';
  }
}

/**
 * The rules istio-iptables writes for `config` in a pod of `family` (its IPv6 rules, ip6tables,
 * for an IPv6 pod), with the policy rule, route and address its route setup adds.
 * Throws {@link IstioCaptureError} for a config it would refuse.
 */
export function compileIstioRules(config: IstioCaptureConfig, family: IPFamily): IstioRules {
  const c = istioCaptureConfig(config);
  const v6 = family === 'IPv6';
  const fam = v6 ? 6 : 4;
  const loopback = v6 ? '::1/128' : '127.0.0.1/32';
  const passthrough = v6 ? '::6/128' : '127.0.0.6/32';
  const tproxy = c.mode === 'TPROXY';
  const mark = String(c.inboundTproxyMark);
  const tunnel = String(c.inboundTunnelPort);
  const includeRanges = c.includeOutboundIPRanges;
  const excludeRanges = c.excludeOutboundIPRanges.filter((r) => familyOfRange(r) === fam);
  // A loopback range in the include list (of either family) keeps app-to-lo traffic capturable.
  const hasLoopbackInclude = includeRanges !== '*' && includeRanges.some(isLoopbackRange);
  const r = new Rules();

  // shortCircuitExcludeInterfaces, shortCircuitKubeInternalInterface
  for (const iface of c.excludeInterfaces) {
    r.append('nat', 'PREROUTING', '-i', iface, '-j', 'RETURN');
    r.append('nat', 'OUTPUT', '-o', iface, '-j', 'RETURN');
  }
  if (tproxy) {
    for (const iface of c.excludeInterfaces) {
      r.append('mangle', 'PREROUTING', '-i', iface, '-j', 'RETURN');
      r.append('mangle', 'OUTPUT', '-o', iface, '-j', 'RETURN');
    }
  }
  for (const iface of c.kubeVirtInterfaces) r.insert('nat', 'PREROUTING', 1, '-i', iface, '-j', 'RETURN');

  r.append('nat', 'ISTIO_INBOUND', '-p', 'tcp', '--dport', tunnel, '-j', 'RETURN');
  r.append('nat', 'ISTIO_REDIRECT', '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', String(c.proxyPort));
  r.append('nat', 'ISTIO_IN_REDIRECT', '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', String(c.inboundCapturePort));

  // handleInboundPortsInclude
  const inbound = c.includeInboundPorts;
  if (inbound === '*' || inbound.length > 0) {
    const table = tproxy ? 'mangle' : 'nat';
    if (tproxy) {
      r.append('mangle', 'ISTIO_DIVERT', '-j', 'MARK', '--set-mark', mark);
      r.append('mangle', 'ISTIO_DIVERT', '-j', 'ACCEPT');
      r.append('mangle', 'ISTIO_TPROXY', '!', '-d', loopback, '-p', 'tcp', '-j', 'TPROXY', '--tproxy-mark', `${mark}/0xffffffff`, '--on-port', String(c.inboundCapturePort));
    }
    r.append(table, 'PREROUTING', '-p', 'tcp', '-j', 'ISTIO_INBOUND');
    if (inbound === '*') {
      for (const p of c.excludeInboundPorts) r.append(table, 'ISTIO_INBOUND', '-p', 'tcp', '--dport', String(p), '-j', 'RETURN');
      if (tproxy) {
        r.append('mangle', 'ISTIO_INBOUND', '-p', 'tcp', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ISTIO_DIVERT');
        r.append('mangle', 'ISTIO_INBOUND', '-p', 'tcp', '-j', 'ISTIO_TPROXY');
      } else {
        r.append('nat', 'ISTIO_INBOUND', '-p', 'tcp', '-j', 'ISTIO_IN_REDIRECT');
      }
    } else {
      for (const p of inbound) {
        if (tproxy) {
          r.append('mangle', 'ISTIO_INBOUND', '-p', 'tcp', '--dport', String(p), '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ISTIO_DIVERT');
          r.append('mangle', 'ISTIO_INBOUND', '-p', 'tcp', '--dport', String(p), '-j', 'ISTIO_TPROXY');
        } else {
          r.append('nat', 'ISTIO_INBOUND', '-p', 'tcp', '--dport', String(p), '-j', 'ISTIO_IN_REDIRECT');
        }
      }
    }
  }

  r.append('nat', 'OUTPUT', '-j', 'ISTIO_OUTPUT');
  for (const p of c.excludeOutboundPorts) {
    r.append('nat', 'ISTIO_OUTPUT', '-p', 'tcp', '--dport', String(p), '-j', 'RETURN');
    r.append('nat', 'ISTIO_OUTPUT', '-p', 'udp', '--dport', String(p), '-j', 'RETURN');
  }
  // Envoy's inbound passthrough connections come from 127.0.0.6 (::6): never captured again.
  r.append('nat', 'ISTIO_OUTPUT', '-o', 'lo', '-s', passthrough, '-j', 'RETURN');
  for (const [flag, ids] of [['--uid-owner', c.proxyUids], ['--gid-owner', c.proxyGids]] as const) {
    for (const id of ids) {
      // The proxy calling the pod's own address (a Service VIP resolved to itself) goes through its inbound side.
      r.append('nat', 'ISTIO_OUTPUT', '-o', 'lo', '!', '-d', loopback, '-p', 'tcp', '!', '--dport', tunnel, '-m', 'owner', flag, String(id), '-j', 'ISTIO_IN_REDIRECT');
      // The app calling itself over lo (its own pod IP) is left alone.
      if (!hasLoopbackInclude) r.append('nat', 'ISTIO_OUTPUT', '-o', 'lo', '-m', 'owner', '!', flag, String(id), '-j', 'RETURN');
      // The proxy's own outbound connections are never captured.
      r.append('nat', 'ISTIO_OUTPUT', '-m', 'owner', flag, String(id), '-j', 'RETURN');
    }
  }
  r.append('nat', 'ISTIO_OUTPUT', '-d', loopback, '-j', 'RETURN');
  for (const range of excludeRanges) r.append('nat', 'ISTIO_OUTPUT', '-d', range, '-j', 'RETURN');
  for (const p of c.includeOutboundPorts) r.append('nat', 'ISTIO_OUTPUT', '-p', 'tcp', '--dport', String(p), '-j', 'ISTIO_REDIRECT');
  // handleOutboundIncludeRules
  if (includeRanges === '*') {
    r.append('nat', 'ISTIO_OUTPUT', '-j', 'ISTIO_REDIRECT');
    for (const iface of c.kubeVirtInterfaces) r.insert('nat', 'PREROUTING', 1, '-i', iface, '-j', 'ISTIO_REDIRECT');
  } else {
    for (const range of includeRanges.filter((x) => familyOfRange(x) === fam)) {
      for (const iface of c.kubeVirtInterfaces) r.insert('nat', 'PREROUTING', 1, '-i', iface, '-d', range, '-j', 'ISTIO_REDIRECT');
      r.append('nat', 'ISTIO_OUTPUT', '-d', range, '-j', 'ISTIO_REDIRECT');
    }
  }

  if (tproxy) {
    // The proxy marks its connection to the app (original_src, mark 1337): the mark is saved on the
    // connection so that the app's replies are restored to it and routed back to lo (table 133).
    r.append('mangle', 'PREROUTING', '-p', 'tcp', '-m', 'mark', '--mark', mark, '-j', 'CONNMARK', '--save-mark');
    r.append('mangle', 'OUTPUT', '-p', 'tcp', '-o', 'lo', '-m', 'mark', '--mark', mark, '-j', 'RETURN');
    for (const [flag, ids] of [['--uid-owner', c.proxyUids], ['--gid-owner', c.proxyGids]] as const) {
      for (const id of ids) r.append('mangle', 'OUTPUT', '!', '-d', loopback, '-p', 'tcp', '-o', 'lo', '-m', 'owner', flag, String(id), '-j', 'MARK', '--set-mark', String(ISTIO_OUTBOUND_MARK));
    }
    r.append('mangle', 'OUTPUT', '-p', 'tcp', '-m', 'connmark', '--mark', mark, '-j', 'CONNMARK', '--restore-mark');
    r.insert('mangle', 'ISTIO_INBOUND', 1, '-p', 'tcp', '-m', 'mark', '--mark', mark, '-j', 'RETURN');
    r.insert('mangle', 'ISTIO_INBOUND', 2, '-p', 'tcp', '-s', passthrough, '-i', 'lo', '-j', 'RETURN');
    r.insert('mangle', 'ISTIO_INBOUND', 3, '-p', 'tcp', '-i', 'lo', '-m', 'mark', '!', '--mark', String(ISTIO_OUTBOUND_MARK), '-j', 'RETURN');
  }

  const args = formatIstioIptablesArgs(c);
  const header = `# ${v6 ? 'ip6tables' : 'iptables'} rules of ${args.map((a) => (a === '' ? '""' : a === '*' ? "'*'" : a)).join(' ')} (kubepath)`;
  const routed = tproxy && (inbound === '*' || inbound.length > 0);
  return {
    family,
    text: r.text(header),
    policyRules: routed ? [`fwmark ${mark} lookup ${c.inboundTproxyRouteTable}`] : [],
    routes: routed ? [`local ${v6 ? '::/0' : 'default'} dev lo table ${c.inboundTproxyRouteTable}`] : [],
    addresses: v6 ? ['::6/128 dev lo'] : [],
    proxy: istioProxyIdentity(c),
    args,
  };
}
