/**
 * The host a trace runs on, from flags (`--local-ip`, `--route`, `--ip-rule`) or files: a
 * kubepath host file (JSON), or what `ip -j addr show` and `ip -j route show` print on a node.
 *
 * @module
 */
import { buildHost, type Host, type HostSpec } from '../netfilter/index.js';
import { readInput, UserError } from './errors.js';

/** The host flags of a command. */
export interface HostFlags {
  readonly host?: string;
  readonly ipAddr?: string;
  readonly ipRoute?: string[];
  readonly localIp?: string[];
  readonly route?: string[];
  readonly ipRule?: string[];
  readonly forward?: boolean;
  readonly routeLocalnet?: boolean;
  readonly inIface?: string;
}

interface IpAddrJson {
  ifname?: string;
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}

interface IpRouteJson {
  type?: string;
  dst?: string;
  gateway?: string;
  dev?: string;
  prefsrc?: string;
  table?: string;
  metric?: number;
}

function parseJson<T>(text: string, file: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new UserError(`${file}: not ${what} JSON: ${(e as Error).message}`);
  }
}

/** Interfaces from `ip -j addr show`. */
export function interfacesFromIpAddr(text: string, file: string): NonNullable<HostSpec['interfaces']> {
  const data = parseJson<IpAddrJson[]>(text, file, '"ip -j addr show"');
  if (!Array.isArray(data)) throw new UserError(`${file}: expected the JSON array "ip -j addr show" prints`);
  return data.map((iface, i) => {
    if (typeof iface.ifname !== 'string') throw new UserError(`${file}: entry ${i} has no "ifname"`);
    const addresses = (iface.addr_info ?? [])
      .filter((a) => (a.family === 'inet' || a.family === 'inet6') && typeof a.local === 'string')
      .map((a) => `${a.local}/${a.prefixlen ?? (a.family === 'inet' ? 32 : 128)}`);
    return { name: iface.ifname, addresses };
  });
}

/** Routes from `ip -j route show` (any table), as `ip route` text. Kernel-made routes are skipped: buildHost adds them. */
export function routesFromIpRoute(text: string, file: string): string[] {
  const data = parseJson<IpRouteJson[]>(text, file, '"ip -j route show"');
  if (!Array.isArray(data)) throw new UserError(`${file}: expected the JSON array "ip -j route show" prints`);
  const routes: string[] = [];
  data.forEach((r, i) => {
    if (typeof r.dst !== 'string') throw new UserError(`${file}: route ${i} has no "dst"`);
    const type = r.type && r.type !== 'unicast' ? `${r.type} ` : '';
    if (r.type === 'local' || r.type === 'broadcast' || r.type === 'multicast') return; // the kernel's own, rebuilt from addresses
    if (r.table === 'local') return;
    const parts = [`${type}${r.dst}`];
    if (r.gateway) parts.push(`via ${r.gateway}`);
    if (r.dev) parts.push(`dev ${r.dev}`);
    if (r.prefsrc) parts.push(`src ${r.prefsrc}`);
    if (r.table && r.table !== 'main') parts.push(`table ${r.table}`);
    if (r.metric !== undefined) parts.push(`metric ${r.metric}`);
    // A connected route (no gateway) duplicates the one the address makes; keep it harmlessly.
    routes.push(parts.join(' '));
  });
  return routes;
}

/** `--route CIDR=IF[,via=IP][,table=N]` or `ip route` syntax. */
export function routeFlag(text: string): string {
  if (!text.includes('=')) return text;
  const [dst, rest] = text.split('=', 2) as [string, string];
  const [dev, ...opts] = rest.split(',');
  const parts = [dst, `dev ${dev}`];
  for (const opt of opts) {
    const [k, v] = opt.split('=');
    if (!v || !['via', 'table', 'src', 'metric'].includes(k!)) throw new UserError(`--route "${text}": unknown option "${opt}" (via=IP, src=IP, table=N, metric=N)`);
    parts.push(`${k} ${v}`);
  }
  return parts.join(' ');
}

/** Build the host from the flags. */
export function hostFromFlags(flags: HostFlags): Host {
  let spec: { interfaces: { name: string; addresses: string[] }[]; routes: string[]; policyRules: string[] } = {
    interfaces: [],
    routes: [],
    policyRules: [],
  };
  if (flags.host) {
    const given = parseJson<HostSpec>(readInput(flags.host, 'host file'), flags.host, 'a kubepath host');
    if (typeof given !== 'object' || given === null || Array.isArray(given)) throw new UserError(`${flags.host}: expected an object with "interfaces" and "routes"`);
    for (const key of Object.keys(given)) {
      if (!['interfaces', 'routes', 'policyRules', 'ipForward', 'routeLocalnet'].includes(key)) {
        throw new UserError(`${flags.host}: unknown field "${key}" (interfaces, routes, policyRules, ipForward, routeLocalnet)`);
      }
    }
    spec = {
      interfaces: (given.interfaces ?? []).map((i) => ({ name: i.name, addresses: [...i.addresses] })),
      routes: [...(given.routes ?? [])],
      policyRules: [...(given.policyRules ?? [])],
    };
    if (given.ipForward === false && flags.forward !== true) flags = { ...flags, forward: false };
    if (given.routeLocalnet === true) flags = { ...flags, routeLocalnet: true };
  }
  if (flags.ipAddr) spec.interfaces.push(...interfacesFromIpAddr(readInput(flags.ipAddr, '"ip -j addr" file'), flags.ipAddr).map((i) => ({ name: i.name, addresses: [...i.addresses] })));
  for (const file of flags.ipRoute ?? []) spec.routes.push(...routesFromIpRoute(readInput(file, '"ip -j route" file'), file));
  for (const text of flags.localIp ?? []) {
    const at = text.lastIndexOf('@');
    const address = at >= 0 ? text.slice(0, at) : text;
    const iface = at >= 0 ? text.slice(at + 1) : (flags.inIface && flags.inIface !== 'lo' ? flags.inIface : 'eth0');
    let entry = spec.interfaces.find((i) => i.name === iface);
    if (!entry) {
      entry = { name: iface, addresses: [] };
      spec.interfaces.push(entry);
    }
    entry.addresses.push(address);
  }
  if (flags.inIface && !spec.interfaces.some((i) => i.name === flags.inIface) && flags.inIface !== 'lo') {
    spec.interfaces.push({ name: flags.inIface, addresses: [] });
  }
  spec.routes.push(...(flags.route ?? []).map(routeFlag));
  spec.policyRules.push(...(flags.ipRule ?? []));
  return buildHost({ ...spec, ipForward: flags.forward ?? true, routeLocalnet: flags.routeLocalnet ?? false });
}
