/**
 * What istio-iptables is told: its settings as plain data ({@link IstioCaptureConfig}), the
 * sidecar injector's defaults, and the command line in both directions (istio-init's `args`
 * read into a config, a config written back as the command that would make it).
 *
 * Modelled on istio-iptables' iptables backend (tools/istio-iptables, Istio 1.2x): flags
 * `-p -z -e -u -g -m -b -d -c -i -x -q -o -k -t -r`, long forms, `--flag=value`.
 *
 * @module
 */
import { formatNetwork, isLoopback, parseNetwork, tryParseIP, type IPFamily } from '../net/index.js';

/** How inbound connections are handed to the proxy. Outbound ones are always REDIRECTed. */
export type IstioInterceptionMode = 'REDIRECT' | 'TPROXY';

/** istio-iptables' settings that decide what is captured. */
export interface IstioCaptureConfig {
  /** `-m`: REDIRECT (nat, the proxy sees the original destination only through conntrack) or TPROXY (mangle, addresses untouched). */
  readonly mode: IstioInterceptionMode;
  /** `-p`: the proxy's outbound listener, where captured outbound TCP goes (15001). */
  readonly proxyPort: number;
  /** `-z`: the proxy's inbound listener (15006). */
  readonly inboundCapturePort: number;
  /** `-e`: the inbound tunnel (HBONE) port, never captured (15008). */
  readonly inboundTunnelPort: number;
  /** `-u`: owners whose outbound traffic is not captured: the proxy (1337). */
  readonly proxyUids: readonly number[];
  /** `-g`: groups likewise; istio-iptables uses the uids when none are given. */
  readonly proxyGids: readonly number[];
  /** `-b`: inbound TCP ports to capture: `'*'` every port, or a list; an empty list captures nothing inbound. */
  readonly includeInboundPorts: '*' | readonly number[];
  /** `-d`: ports left alone when every inbound port is captured (the injector passes 15090,15021,15020). */
  readonly excludeInboundPorts: readonly number[];
  /** `-i`: outbound destinations to capture: `'*'`, or CIDRs (of either family); an empty list captures nothing outbound. */
  readonly includeOutboundIPRanges: '*' | readonly string[];
  /** `-x`: outbound destinations never captured (CIDRs of either family). */
  readonly excludeOutboundIPRanges: readonly string[];
  /** `-q`: outbound TCP ports captured whatever the destination. */
  readonly includeOutboundPorts: readonly number[];
  /** `-o`: outbound TCP and UDP ports never captured. */
  readonly excludeOutboundPorts: readonly number[];
  /** `-c`: interfaces whose traffic is never captured, in or out. */
  readonly excludeInterfaces: readonly string[];
  /** `-k`: interfaces of a virtual machine in the pod (KubeVirt): what arrives there is treated as outbound. */
  readonly kubeVirtInterfaces: readonly string[];
  /** `-t`: TPROXY's packet and connection mark (1337). */
  readonly inboundTproxyMark: number;
  /** `-r`: the routing table TPROXY-marked packets look up (133). */
  readonly inboundTproxyRouteTable: number;
}

/** A value istio-iptables or the sidecar injector would not accept, named by where it came from. */
export class IstioCaptureError extends Error {
  override readonly name = 'IstioCaptureError';
  constructor(
    /** `namespace/name` of the pod, when the value came from one. */
    readonly pod: string | undefined,
    /** Where the value was given: an annotation's name, or e.g. `spec.initContainers[0].args` with the flag. */
    readonly field: string,
    readonly value: string,
    readonly problem: string,
  ) {
    super(`${pod !== undefined ? `pod ${pod}: ` : ''}${field}: invalid value ${JSON.stringify(value)}: ${problem}`);
  }
}

/** What the sidecar injector's template passes: `istio-iptables -p 15001 -z 15006 -u 1337 -m REDIRECT -i '*' -x "" -b '*' -d 15090,15021,15020`. */
export const ISTIO_INJECTOR_DEFAULTS: IstioCaptureConfig = Object.freeze({
  mode: 'REDIRECT',
  proxyPort: 15001,
  inboundCapturePort: 15006,
  inboundTunnelPort: 15008,
  proxyUids: Object.freeze([1337]),
  proxyGids: Object.freeze([1337]),
  includeInboundPorts: '*',
  excludeInboundPorts: Object.freeze([15090, 15021, 15020]),
  includeOutboundIPRanges: '*',
  excludeOutboundIPRanges: Object.freeze([]),
  includeOutboundPorts: Object.freeze([]),
  excludeOutboundPorts: Object.freeze([]),
  excludeInterfaces: Object.freeze([]),
  kubeVirtInterfaces: Object.freeze([]),
  inboundTproxyMark: 1337,
  inboundTproxyRouteTable: 133,
} as const);

/** The mark istio-iptables puts on the proxy's own packets to the app in TPROXY mode (constants.OutboundMark). */
export const ISTIO_OUTBOUND_MARK = 1338;

/** A config from the injector defaults and the given settings, checked. Throws {@link IstioCaptureError}. */
export function istioCaptureConfig(settings: Partial<IstioCaptureConfig> = {}): IstioCaptureConfig {
  const c: IstioCaptureConfig = { ...ISTIO_INJECTOR_DEFAULTS, ...settings };
  checkConfig(c);
  return c;
}

// ---------------------------------------------------------------------------------------------
// Values

/** Reports a bad value; callers say where the value came from. */
type Fail = (value: string, problem: string) => never;

/** A comma list as istio splits it: empty items dropped. */
function splitList(text: string): string[] {
  return text.split(',').filter((s) => s !== '');
}

function port(text: string, fail: Fail, min = 0): number {
  const t = text.trim();
  if (!/^[0-9]{1,5}$/.test(t) || Number(t) > 65535 || Number(t) < min) fail(text, `"${t}" is not a port number (${min}-65535)`);
  return Number(t);
}

/** A comma-separated port list (`8080,9090`; spaces around ports allowed, as the injector trims them). */
export function parsePortList(text: string, fail: Fail): number[] {
  return text.trim() === '' ? [] : text.split(',').map((p) => port(p, (_, problem) => fail(text, problem)));
}

/** A comma-separated CIDR list, as istio-iptables prints the networks (host bits cleared, as iptables keeps them). */
export function parseCIDRList(text: string, fail: Fail): string[] {
  return splitList(text).map((c) => {
    if (!c.includes('/')) fail(text, `"${c}" is not a CIDR (ADDRESS/LENGTH)`);
    try {
      return formatNetwork(parseNetwork(c));
    } catch (e) {
      return fail(text, `"${c}" is not a CIDR: ${(e as Error).message}`);
    }
  });
}

function idList(text: string, fail: Fail, what: string): number[] {
  const ids = splitList(text).map((t) => {
    if (!/^[0-9]{1,10}$/.test(t) || Number(t) > 0xfffffffe) fail(text, `"${t}" is not a numeric ${what} (kubepath does not resolve names)`);
    return Number(t);
  });
  if (ids.length === 0) fail(text, `no ${what} given`);
  return ids;
}

function interfaceList(text: string, fail: Fail): string[] {
  return splitList(text).map((name) => {
    if (!/^[A-Za-z0-9_.:@+-]{1,15}$/.test(name)) fail(text, `"${name}" is not an interface name (1-15 characters, no spaces)`);
    return name;
  });
}

function decimal(text: string, fail: Fail, what: string, max: number): number {
  if (!/^[0-9]{1,10}$/.test(text) || Number(text) > max) fail(text, `not a ${what}`);
  return Number(text);
}

/** The first address of a CIDR as written is a loopback address (istio-iptables' HasLoopBackIP). */
export function isLoopbackRange(cidr: string): boolean {
  const ip = tryParseIP(cidr.split('/')[0]!);
  return ip !== undefined && isLoopback(ip);
}

/** The family of a CIDR kubepath has already checked. */
export function familyOfRange(cidr: string): IPFamily {
  return cidr.includes(':') ? 6 : 4;
}

function checkConfig(c: IstioCaptureConfig): void {
  const fail = (field: string) => (value: string, problem: string): never => {
    throw new IstioCaptureError(undefined, field, value, problem);
  };
  if (c.mode !== 'REDIRECT' && c.mode !== 'TPROXY') fail('mode')(String(c.mode), 'must be REDIRECT or TPROXY');
  for (const [key, value] of [['proxyPort', c.proxyPort], ['inboundCapturePort', c.inboundCapturePort], ['inboundTunnelPort', c.inboundTunnelPort]] as const) {
    if (!Number.isInteger(value) || value < 1 || value > 65535) fail(key)(String(value), 'must be a port number (1-65535)');
  }
  const ports = (key: string, list: readonly number[]) => {
    for (const p of list) if (!Number.isInteger(p) || p < 0 || p > 65535) fail(key)(String(p), 'must be a port number (0-65535)');
  };
  if (c.includeInboundPorts !== '*') ports('includeInboundPorts', c.includeInboundPorts);
  ports('excludeInboundPorts', c.excludeInboundPorts);
  ports('includeOutboundPorts', c.includeOutboundPorts);
  ports('excludeOutboundPorts', c.excludeOutboundPorts);
  for (const [key, ids] of [['proxyUids', c.proxyUids], ['proxyGids', c.proxyGids]] as const) {
    if (ids.length === 0) fail(key)('', 'needs at least one id');
    for (const id of ids) if (!Number.isInteger(id) || id < 0 || id > 0xfffffffe) fail(key)(String(id), 'must be a numeric id');
  }
  const ranges = (key: string, list: readonly string[]) => {
    for (const r of list) if (parseCIDRList(r, fail(key))[0] !== r) fail(key)(r, `must be written as a network with host bits cleared (${parseCIDRList(r, fail(key))[0]})`);
  };
  if (c.includeOutboundIPRanges !== '*') ranges('includeOutboundIPRanges', c.includeOutboundIPRanges);
  ranges('excludeOutboundIPRanges', c.excludeOutboundIPRanges);
  for (const [key, list] of [['excludeInterfaces', c.excludeInterfaces], ['kubeVirtInterfaces', c.kubeVirtInterfaces]] as const) {
    for (const name of list) interfaceList(name, fail(key));
  }
  if (!Number.isInteger(c.inboundTproxyMark) || c.inboundTproxyMark < 1 || c.inboundTproxyMark > 0x7fffffff) fail('inboundTproxyMark')(String(c.inboundTproxyMark), 'must be a mark (1-2147483647)');
  if (!Number.isInteger(c.inboundTproxyRouteTable) || c.inboundTproxyRouteTable < 1 || c.inboundTproxyRouteTable > 0x7fffffff || [253, 254, 255].includes(c.inboundTproxyRouteTable)) {
    fail('inboundTproxyRouteTable')(String(c.inboundTproxyRouteTable), 'must be a routing table number other than default, main and local');
  }
}

// ---------------------------------------------------------------------------------------------
// The command line

type FlagKey =
  | 'proxyPort' | 'inboundCapturePort' | 'inboundTunnelPort' | 'proxyUids' | 'proxyGids' | 'mode'
  | 'includeInboundPorts' | 'excludeInboundPorts' | 'excludeInterfaces' | 'includeOutboundIPRanges'
  | 'excludeOutboundIPRanges' | 'includeOutboundPorts' | 'excludeOutboundPorts' | 'kubeVirtInterfaces'
  | 'inboundTproxyMark' | 'inboundTproxyRouteTable';

/** istio-iptables' flags that take a value: short form, long form, the setting. */
const VALUE_FLAGS: readonly (readonly [string, string, FlagKey])[] = [
  ['p', 'envoy-port', 'proxyPort'],
  ['z', 'inbound-capture-port', 'inboundCapturePort'],
  ['e', 'inbound-tunnel-port', 'inboundTunnelPort'],
  ['u', 'proxy-uid', 'proxyUids'],
  ['g', 'proxy-gid', 'proxyGids'],
  ['m', 'istio-inbound-interception-mode', 'mode'],
  ['b', 'istio-inbound-ports', 'includeInboundPorts'],
  ['d', 'istio-local-exclude-ports', 'excludeInboundPorts'],
  ['c', 'istio-exclude-interfaces', 'excludeInterfaces'],
  ['i', 'istio-service-cidr', 'includeOutboundIPRanges'],
  ['x', 'istio-service-exclude-cidr', 'excludeOutboundIPRanges'],
  ['q', 'istio-outbound-ports', 'includeOutboundPorts'],
  ['o', 'istio-local-outbound-ports-exclude', 'excludeOutboundPorts'],
  ['k', 'kube-virt-interfaces', 'kubeVirtInterfaces'],
  ['t', 'inbound-tproxy-mark', 'inboundTproxyMark'],
  ['r', 'inbound-tproxy-route-table', 'inboundTproxyRouteTable'],
];

/** Flags that change nothing kubepath models (logging, validation, how the rules are applied). */
const IGNORED_FLAGS: ReadonlySet<string> = new Set([
  'dry-run', 'n', 'f', 'restore-format', 'iptables-trace-logging', 'trace-logging', 'run-validation', 'skip-rule-apply', 'force-apply',
  'reconcile', 'cleanup-only', 'log_as_json', 'log_output_level', 'log_caller', 'log_stacktrace_level', 'log_target', 'log_rotate',
  'log_rotate_max_age', 'log_rotate_max_backups', 'log_rotate_max_size', 'probe-timeout', 'iptables-probe-port', 'network-namespace',
  'cni-mode', 'host-nsenter-exec', 'dual-stack', 'native-nftables', 'iptables-version', 'vv',
]);

/** Flags that add capture kubepath does not model: they are kept as notes. */
const UNMODELLED_FLAGS: Readonly<Record<string, string>> = {
  'redirect-dns': 'DNS capture (ISTIO_OUTPUT_DNS: port 53 to the agent on 15053, conntrack zones in raw) is not modelled',
  'capture-all-dns': 'DNS capture (ISTIO_OUTPUT_DNS) is not modelled',
  'drop-invalid': 'the ISTIO_DROP rule for conntrack INVALID packets is not modelled',
};

/** A command line read: the config, and what it asked for that kubepath leaves out. */
export interface IstioArgs {
  readonly config: IstioCaptureConfig;
  /** Flags of capture kubepath does not model, each with what is left out. */
  readonly notes: readonly string[];
}

/** Where the words of a command line came from, for errors (e.g. `spec.initContainers[0].args`). */
export interface ArgsOrigin {
  readonly pod?: string | undefined;
  readonly field: string;
}

/**
 * Read an istio-iptables command line, e.g. istio-init's `args`
 * (`istio-iptables -p 15001 -z 15006 -u 1337 -m REDIRECT -i * -x "" -b * -d 15090,15021,15020`).
 * Words before `istio-iptables` (an entrypoint such as `pilot-agent`) are skipped; without that
 * word the whole list is read as its flags. Settings not given take istio-iptables' own defaults
 * (which capture nothing: `-b` and `-i` default to empty). Throws {@link IstioCaptureError}.
 */
export function parseIstioIptablesArgs(words: readonly string[], origin: ArgsOrigin = { field: 'istio-iptables' }): IstioArgs {
  const start = words.findIndex((w) => /(^|\/)istio-iptables(\.sh)?$/.test(w));
  const args = start >= 0 ? words.slice(start + 1) : words;
  const given = new Map<FlagKey, { flag: string; value: string }>();
  const notes: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    const bad = (problem: string): never => {
      throw new IstioCaptureError(origin.pod, origin.field, word, problem);
    };
    let name: string;
    let inline: string | undefined;
    if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      name = eq < 0 ? word.slice(2) : word.slice(2, eq);
      inline = eq < 0 ? undefined : word.slice(eq + 1);
    } else if (word.startsWith('-') && word.length >= 2) {
      name = word[1]!;
      inline = word.length > 2 ? (word[2] === '=' ? word.slice(3) : word.slice(2)) : undefined;
    } else {
      return bad('istio-iptables takes no arguments besides its flags');
    }
    const flag = VALUE_FLAGS.find(([s, l]) => (word.startsWith('--') ? l === name : s === name));
    if (!flag) {
      if (UNMODELLED_FLAGS[name] !== undefined) {
        if (inline === undefined || inline === 'true') notes.push(`--${name}: ${UNMODELLED_FLAGS[name]}`);
        continue;
      }
      if (IGNORED_FLAGS.has(name)) {
        // Boolean flags take no value; the few valued ones here are always written with "=" or their value follows.
        if (inline === undefined && ['probe-timeout', 'iptables-probe-port', 'network-namespace', 'iptables-version', 'log_target', 'log_output_level'].includes(name)) i++;
        continue;
      }
      return bad(`unknown flag (istio-iptables would refuse it)`);
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= args.length) return bad('needs a value');
      value = args[++i]!;
    }
    given.set(flag[2], { flag: word.startsWith('--') ? `--${flag[1]}` : `-${flag[0]}`, value });
  }
  const read = <T>(key: FlagKey, parse: (value: string, fail: Fail) => T, otherwise: T): T => {
    const g = given.get(key);
    if (!g) return otherwise;
    return parse(g.value, (value, problem) => {
      throw new IstioCaptureError(origin.pod, `${origin.field} ${g.flag}`, value, problem);
    });
  };
  const uids = read('proxyUids', (v, f) => idList(v, f, 'uid'), [1337]);
  const config: IstioCaptureConfig = {
    mode: read('mode', (v, f) => (v === 'TPROXY' ? 'TPROXY' : v === 'REDIRECT' || v === '' ? 'REDIRECT' : f(v, 'must be REDIRECT or TPROXY')), 'REDIRECT'),
    proxyPort: read('proxyPort', (v, f) => port(v, f, 1), 15001),
    inboundCapturePort: read('inboundCapturePort', (v, f) => port(v, f, 1), 15006),
    inboundTunnelPort: read('inboundTunnelPort', (v, f) => port(v, f, 1), 15008),
    proxyUids: uids,
    proxyGids: read('proxyGids', (v, f) => idList(v, f, 'gid'), uids),
    includeInboundPorts: read('includeInboundPorts', (v, f) => (v.trim() === '*' ? ('*' as const) : parsePortList(v, f)), []),
    excludeInboundPorts: read('excludeInboundPorts', parsePortList, []),
    includeOutboundIPRanges: read('includeOutboundIPRanges', (v, f) => (v === '*' ? ('*' as const) : parseCIDRList(v, f)), []),
    excludeOutboundIPRanges: read('excludeOutboundIPRanges', (v, f) => (v === '*' ? f(v, 'istio-iptables refuses "*" here') : parseCIDRList(v, f)), []),
    includeOutboundPorts: read('includeOutboundPorts', parsePortList, []),
    excludeOutboundPorts: read('excludeOutboundPorts', parsePortList, []),
    excludeInterfaces: read('excludeInterfaces', interfaceList, []),
    kubeVirtInterfaces: read('kubeVirtInterfaces', interfaceList, []),
    inboundTproxyMark: read('inboundTproxyMark', (v, f) => decimal(v, f, 'decimal mark', 0x7fffffff), 1337),
    inboundTproxyRouteTable: read('inboundTproxyRouteTable', (v, f) => decimal(v, f, 'routing table number', 0x7fffffff), 133),
  };
  checkConfig(config);
  return { config, notes };
}

/**
 * The istio-iptables command line that makes this config, in the injector's order
 * (`istio-iptables -p 15001 -z 15006 -u 1337 -m REDIRECT -i * -x  -b * -d 15090,15021,15020`),
 * with the other flags only where they differ from istio-iptables' defaults.
 */
export function formatIstioIptablesArgs(c: IstioCaptureConfig): string[] {
  const list = (xs: readonly (number | string)[] | '*') => (xs === '*' ? '*' : xs.join(','));
  const out = ['istio-iptables', '-p', String(c.proxyPort), '-z', String(c.inboundCapturePort), '-u', list(c.proxyUids)];
  if (list(c.proxyGids) !== list(c.proxyUids)) out.push('-g', list(c.proxyGids));
  out.push('-m', c.mode, '-i', list(c.includeOutboundIPRanges), '-x', list(c.excludeOutboundIPRanges), '-b', list(c.includeInboundPorts), '-d', list(c.excludeInboundPorts));
  if (c.inboundTunnelPort !== 15008) out.push('-e', String(c.inboundTunnelPort));
  if (c.includeOutboundPorts.length > 0) out.push('-q', list(c.includeOutboundPorts));
  if (c.excludeOutboundPorts.length > 0) out.push('-o', list(c.excludeOutboundPorts));
  if (c.kubeVirtInterfaces.length > 0) out.push('-k', list(c.kubeVirtInterfaces));
  if (c.excludeInterfaces.length > 0) out.push('-c', list(c.excludeInterfaces));
  if (c.inboundTproxyMark !== 1337) out.push('-t', String(c.inboundTproxyMark));
  if (c.inboundTproxyRouteTable !== 133) out.push('-r', String(c.inboundTproxyRouteTable));
  return out;
}
