/**
 * What netfilter needs to know about the host it runs on: interfaces and their addresses
 * (for `addrtype`, MASQUERADE, REDIRECT and local delivery), routes and policy rules (the
 * routing decision between PREROUTING and INPUT/FORWARD, and after OUTPUT), and the sysctls
 * that change the path (`ip_forward`, `route_localnet`).
 *
 * @module
 */
import {
  AddressError,
  DEFAULT_POLICY_RULES,
  familyBits,
  formatIP,
  hostNetwork,
  type IPAddress,
  type IPFamily,
  type IPNetwork,
  isLoopback,
  LOCAL_TABLE,
  lookupRoute,
  MAIN_TABLE,
  networkContains,
  networkOf,
  parseIP,
  parseNetwork,
  type PolicyRule,
  type Route,
  type RouteMatch,
  type RouteType,
} from '../net/index.js';

/** An address on an interface, with its prefix length (`ip addr add 10.0.0.1/24 dev eth0`). */
export interface InterfaceAddress {
  readonly ip: IPAddress;
  readonly prefixLength: number;
}

/** A network interface of the host. */
export interface HostInterface {
  readonly name: string;
  /** In order: the first of a family is the primary address. */
  readonly addresses: readonly InterfaceAddress[];
}

/** The host as netfilter sees it. Build one with {@link buildHost}. */
export interface Host {
  readonly interfaces: readonly HostInterface[];
  /** All routes: the user's, plus the connected and local routes the kernel adds for addresses. */
  readonly routes: readonly Route[];
  readonly policyRules: readonly PolicyRule[];
  /** `net.ipv4.ip_forward` / `net.ipv6.conf.all.forwarding`. */
  readonly ipForward: boolean;
  /** `net.ipv4.conf.all.route_localnet`: accept 127.0.0.0/8 destinations from other interfaces. */
  readonly routeLocalnet: boolean;
}

/** Plain-text description of a host, as a user or a test writes it. */
export interface HostSpec {
  /** Interfaces with `ADDR/LEN` addresses; `lo` with 127.0.0.1/8 and ::1/128 is added if missing. */
  readonly interfaces?: readonly { readonly name: string; readonly addresses: readonly string[] }[];
  /** Routes in `ip route` syntax: `10.2.0.0/16 via 10.1.0.254 dev eth0`, `default dev eth0`. */
  readonly routes?: readonly string[];
  /** Policy rules in `ip rule` syntax: `fwmark 0x1/0x1 lookup 100 priority 100`. */
  readonly policyRules?: readonly string[];
  readonly ipForward?: boolean;
  readonly routeLocalnet?: boolean;
}

/** Thrown for a host description that cannot be understood; names the field. */
export class HostSpecError extends Error {
  override readonly name = 'HostSpecError';
}

const ROUTE_TYPES: ReadonlySet<string> = new Set(['unicast', 'local', 'anycast', 'blackhole', 'unreachable', 'prohibit']);

function tableId(text: string, where: string): number {
  if (text === 'main') return MAIN_TABLE;
  if (text === 'local') return LOCAL_TABLE;
  if (text === 'default') return 253;
  if (!/^[0-9]+$/.test(text)) throw new HostSpecError(`${where}: table "${text}" is not a number or main/local/default`);
  return Number(text);
}

/** Parse one route in `ip route` syntax. */
export function parseRoute(text: string, family?: IPFamily): Route {
  const words = text.trim().split(/\s+/);
  const where = `route "${text}"`;
  let i = 0;
  let type: RouteType = 'unicast';
  if (ROUTE_TYPES.has(words[0]!)) type = words[i++] as RouteType;
  const dst = words[i++];
  if (!dst) throw new HostSpecError(`${where}: missing destination`);
  let destination;
  try {
    if (dst === 'default') {
      const fam = family ?? (words.includes('via') && words[words.indexOf('via') + 1]?.includes(':') ? 6 : 4);
      destination = networkOf(fam === 4 ? parseIP('0.0.0.0') : parseIP('::'), 0);
    } else {
      destination = parseNetwork(dst, { strictHostBits: true });
    }
  } catch (e) {
    throw new HostSpecError(`${where}: ${(e as Error).message}`);
  }
  let device: string | undefined;
  let gateway: IPAddress | undefined;
  let source: IPAddress | undefined;
  let table = type === 'local' || type === 'anycast' ? LOCAL_TABLE : MAIN_TABLE;
  let metric = 0;
  while (i < words.length) {
    const key = words[i++]!;
    const value = words[i++];
    if (value === undefined) throw new HostSpecError(`${where}: "${key}" needs a value`);
    try {
      switch (key) {
        case 'dev':
          device = value;
          break;
        case 'via':
          gateway = parseIP(value);
          break;
        case 'src':
          source = parseIP(value);
          break;
        case 'table':
          table = tableId(value, where);
          break;
        case 'metric':
        case 'preference':
          if (!/^[0-9]+$/.test(value)) throw new HostSpecError(`${where}: metric "${value}" is not a number`);
          metric = Number(value);
          break;
        case 'proto':
        case 'scope':
          break; // informational in `ip route` output; the lookup does not depend on them
        default:
          throw new HostSpecError(`${where}: unknown keyword "${key}"`);
      }
    } catch (e) {
      if (e instanceof HostSpecError) throw e;
      throw new HostSpecError(`${where}: ${(e as AddressError).message}`);
    }
  }
  if (gateway && gateway.family !== destination.family) {
    throw new HostSpecError(`${where}: gateway ${formatIP(gateway)} is not of the destination's family`);
  }
  if ((type === 'unicast' || type === 'local' || type === 'anycast') && !device) {
    throw new HostSpecError(`${where}: needs "dev IFACE"`);
  }
  return { destination, type, device, gateway, source, table, metric };
}

/** Parse one policy rule in `ip rule` syntax. */
export function parsePolicyRule(text: string): PolicyRule {
  const words = text.trim().split(/\s+/);
  const where = `rule "${text}"`;
  let fwmark: number | undefined;
  let fwmask = 0xffffffff;
  let table: number | undefined;
  let priority = 32765;
  for (let i = 0; i < words.length; ) {
    const key = words[i++]!;
    const value = words[i++];
    if (value === undefined) throw new HostSpecError(`${where}: "${key}" needs a value`);
    if (key === 'fwmark') {
      const [m, k] = value.split('/');
      fwmark = parseMarkValue(m!, where);
      if (k !== undefined) fwmask = parseMarkValue(k, where);
      fwmark = (fwmark & fwmask) >>> 0;
    } else if (key === 'lookup' || key === 'table') {
      table = tableId(value, where);
    } else if (key === 'priority' || key === 'pref' || key === 'prio') {
      if (!/^[0-9]+$/.test(value)) throw new HostSpecError(`${where}: priority "${value}" is not a number`);
      priority = Number(value);
    } else {
      throw new HostSpecError(`${where}: unknown keyword "${key}" (supported: fwmark, lookup, priority)`);
    }
  }
  if (table === undefined) throw new HostSpecError(`${where}: needs "lookup TABLE"`);
  return { priority, fwmark, fwmask, table };
}

function parseMarkValue(text: string, where: string): number {
  const v = /^0x[0-9a-fA-F]{1,8}$/.test(text) ? parseInt(text, 16) : /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(v) || v > 0xffffffff) throw new HostSpecError(`${where}: "${text}" is not a 32-bit mark`);
  return v >>> 0;
}

/** A route of the local table, as the kernel adds one for each local address. */
function localRoute(destination: IPNetwork, device: string, source: IPAddress): Route {
  return { destination, type: 'local', device, gateway: undefined, source, table: LOCAL_TABLE, metric: 0 };
}

/**
 * Build a Host from its description, adding what the kernel adds by itself: `lo`, a connected
 * route per interface address (main table) and a local route per address (local table).
 */
export function buildHost(spec: HostSpec): Host {
  const interfaces: HostInterface[] = [];
  const given = spec.interfaces ?? [];
  const names = new Set<string>();
  for (const iface of given) {
    if (!/^[A-Za-z0-9_.@:+-]{1,15}$/.test(iface.name)) {
      throw new HostSpecError(`interface "${iface.name}": not a valid interface name (1-15 characters)`);
    }
    if (names.has(iface.name)) throw new HostSpecError(`interface "${iface.name}" is given twice`);
    names.add(iface.name);
    interfaces.push({
      name: iface.name,
      addresses: iface.addresses.map((text) => parseInterfaceAddress(text, iface.name)),
    });
  }
  if (!names.has('lo')) {
    interfaces.unshift({
      name: 'lo',
      addresses: [
        { ip: parseIP('127.0.0.1'), prefixLength: 8 },
        { ip: parseIP('::1'), prefixLength: 128 },
      ],
    });
  }
  const routes: Route[] = [];
  for (const iface of interfaces) {
    for (const a of iface.addresses) {
      const bits = familyBits(a.ip.family);
      routes.push(localRoute(hostNetwork(a.ip), iface.name, a.ip));
      // The kernel makes all of 127.0.0.0/8 local for lo's 127.0.0.1/8.
      if (iface.name === 'lo' && a.prefixLength < bits) {
        routes.push(localRoute(networkOf(a.ip, a.prefixLength), iface.name, a.ip));
      } else if (a.prefixLength < bits) {
        // An IPv6 router owns the subnet-router anycast address of each prefix (RFC 4291 2.6.1).
        if (a.ip.family === 6 && (spec.ipForward ?? true) && a.prefixLength < 127) {
          routes.push({ ...localRoute(hostNetwork(networkOf(a.ip, a.prefixLength).network), iface.name, a.ip), type: 'anycast' });
        }
        routes.push({
          destination: networkOf(a.ip, a.prefixLength),
          type: 'unicast',
          device: iface.name,
          gateway: undefined,
          source: a.ip,
          table: MAIN_TABLE,
          metric: a.ip.family === 6 ? 256 : 0,
        });
      }
    }
  }
  for (const text of spec.routes ?? []) {
    const route = parseRoute(text);
    if (route.device && !interfaces.some((i) => i.name === route.device)) {
      throw new HostSpecError(`route "${text}": no interface "${route.device}" (give it with its addresses first)`);
    }
    routes.push(route);
  }
  const policyRules = [...DEFAULT_POLICY_RULES, ...(spec.policyRules ?? []).map(parsePolicyRule)];
  return {
    interfaces,
    routes,
    policyRules,
    ipForward: spec.ipForward ?? true,
    routeLocalnet: spec.routeLocalnet ?? false,
  };
}

function parseInterfaceAddress(text: string, iface: string): InterfaceAddress {
  try {
    const slash = text.indexOf('/');
    const ip = parseIP(slash < 0 ? text : text.slice(0, slash));
    const bits = familyBits(ip.family);
    const prefixLength = slash < 0 ? bits : Number(text.slice(slash + 1));
    if (slash >= 0 && !/^[0-9]{1,3}$/.test(text.slice(slash + 1))) throw new AddressError(`"${text}": bad prefix length`);
    if (prefixLength > bits) throw new AddressError(`"${text}": prefix length longer than ${bits}`);
    return { ip, prefixLength };
  } catch (e) {
    throw new HostSpecError(`interface "${iface}": ${(e as Error).message}`);
  }
}

/** True when the address is one of the host's (routing says `local`). */
export function isLocalAddress(host: Host, ip: IPAddress): boolean {
  const match = lookupRoute(host.routes, host.policyRules, ip);
  return match?.route.type === 'local';
}

/** Route lookup with the host's policy rules. */
export function routeFor(host: Host, destination: IPAddress, mark: number): RouteMatch | undefined {
  return lookupRoute(host.routes, host.policyRules, destination, mark);
}

/** The interface of a name, if the host has it. */
export function findInterface(host: Host, name: string): HostInterface | undefined {
  return host.interfaces.find((i) => i.name === name);
}

/**
 * The source address the kernel picks on an interface (inet_select_addr): the primary address
 * of the family in the next hop's subnet, else the interface's first address of the family,
 * else the first global address of any other interface. Undefined when there is none.
 */
export function selectSourceAddress(
  host: Host,
  device: string | undefined,
  family: IPFamily,
  nextHop: IPAddress | undefined,
): IPAddress | undefined {
  const iface = device ? findInterface(host, device) : undefined;
  const own = (iface?.addresses ?? []).filter((a) => a.ip.family === family);
  if (nextHop) {
    const inSubnet = own.find((a) => networkContains(networkOf(a.ip, a.prefixLength), nextHop));
    if (inSubnet) return inSubnet.ip;
  }
  if (own[0]) return own[0].ip;
  for (const other of host.interfaces) {
    if (other === iface) continue;
    const a = other.addresses.find((x) => x.ip.family === family && !isLoopback(x.ip));
    if (a) return a.ip;
  }
  return undefined;
}
