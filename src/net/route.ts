/**
 * Routes and policy rules as `ip route` / `ip rule` hold them, and the kernel's lookup:
 * rules by priority (fwmark selects a table), then the longest prefix, then the lowest metric.
 *
 * @module
 */
import { type IPNetwork, networkContains } from './cidr.js';
import type { IPAddress, IPFamily } from './ip.js';

/** Route types of `ip route` that decide a packet's fate. */
export type RouteType = 'unicast' | 'local' | 'anycast' | 'blackhole' | 'unreachable' | 'prohibit';

/** The main routing table's id (`ip route` without `table`). */
export const MAIN_TABLE = 254;
/** The local table's id, where the kernel keeps one `local` route per local address. */
export const LOCAL_TABLE = 255;

/** One route: `[TYPE] DST [via GW] dev DEV [src SRC] [table N] [metric M]`. */
export interface Route {
  readonly destination: IPNetwork;
  readonly type: RouteType;
  /** Output device; absent only for blackhole/unreachable/prohibit. */
  readonly device: string | undefined;
  readonly gateway: IPAddress | undefined;
  /** Preferred source address (`src`), used when the host picks a source. */
  readonly source: IPAddress | undefined;
  readonly table: number;
  readonly metric: number;
}

/** A policy routing rule: `ip rule add [fwmark M[/MASK]] table N priority P`. */
export interface PolicyRule {
  readonly priority: number;
  readonly fwmark: number | undefined;
  readonly fwmask: number;
  readonly table: number;
}

/** The kernel's default rules: local (0), main (32766); default (32767) is empty here. */
export const DEFAULT_POLICY_RULES: readonly PolicyRule[] = [
  { priority: 0, fwmark: undefined, fwmask: 0xffffffff, table: LOCAL_TABLE },
  { priority: 32766, fwmark: undefined, fwmask: 0xffffffff, table: MAIN_TABLE },
];

/** The result of a lookup: the route and the table it came from. */
export interface RouteMatch {
  readonly route: Route;
  readonly table: number;
  readonly rule: PolicyRule;
}

/**
 * Look a destination up the way `ip route get DST mark MARK` does: walk policy rules by
 * priority; in each selected table take the longest matching prefix, then the lowest metric.
 */
export function lookupRoute(
  routes: readonly Route[],
  rules: readonly PolicyRule[],
  destination: IPAddress,
  mark = 0,
): RouteMatch | undefined {
  const ordered = [...rules].sort((a, b) => a.priority - b.priority);
  for (const rule of ordered) {
    if (rule.fwmark !== undefined && ((mark & rule.fwmask) >>> 0) !== rule.fwmark) continue;
    const route = bestRoute(routes, rule.table, destination);
    if (route) return { route, table: rule.table, rule };
  }
  return undefined;
}

function bestRoute(routes: readonly Route[], table: number, destination: IPAddress): Route | undefined {
  let best: Route | undefined;
  for (const route of routes) {
    if (route.table !== table || !networkContains(route.destination, destination)) continue;
    if (!best) {
      best = route;
      continue;
    }
    const len = route.destination.prefixLength ?? 0;
    const bestLen = best.destination.prefixLength ?? 0;
    if (len > bestLen || (len === bestLen && route.metric < best.metric)) best = route;
  }
  return best;
}

/** The family a route serves. */
export function routeFamily(route: Route): IPFamily {
  return route.destination.family;
}
