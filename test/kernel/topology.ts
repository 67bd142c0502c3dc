/**
 * The fixed topology of the kernel differential lab, as plain data (no side effects), shared by
 * the lab harness (lab.ts) and the case generator (generate.ts).
 *
 *   client (eth0) ──veth── (eth0) node (eth1) ──veth── (eth0) server
 *   10.1.0.2-4/24          10.1.0.1/24   10.2.0.1/24          10.2.0.2-5/24
 *                                        192.168.0.2/32 (on eth1, not connected to anything)
 *
 * IPv6 (only when a lab is created with `ipv6: true`): fd00:1::/64 on the client side,
 * fd00:2::/64 on the server side, fd00:ff::2/128 as the node's extra local address.
 *
 * @module
 */

/** Which namespace of the lab. */
export type LabRole = 'client' | 'node' | 'server';

/** Same shape as `HostSpec` in src/netfilter/host.ts (not imported on purpose). */
export interface LabHostSpec {
  readonly interfaces: readonly { readonly name: string; readonly addresses: readonly string[] }[];
  readonly routes: readonly string[];
  readonly ipForward: boolean;
}

export const CLIENT_V4 = ['10.1.0.2', '10.1.0.3', '10.1.0.4'] as const;
export const SERVER_V4 = ['10.2.0.2', '10.2.0.3', '10.2.0.4', '10.2.0.5'] as const;
/** The node's addresses: eth0, eth1, and the extra /32 on eth1. */
export const NODE_V4 = { eth0: '10.1.0.1', eth1: '10.2.0.1', extra: '192.168.0.2' } as const;

export const CLIENT_V6 = ['fd00:1::2', 'fd00:1::3', 'fd00:1::4'] as const;
export const SERVER_V6 = ['fd00:2::2', 'fd00:2::3', 'fd00:2::4', 'fd00:2::5'] as const;
export const NODE_V6 = { eth0: 'fd00:1::1', eth1: 'fd00:2::1', extra: 'fd00:ff::2' } as const;

/**
 * The node (host under test) as a HostSpec. With `ipv6`, the IPv6 addresses are included.
 *
 * Addresses are listed per family in the order the kernel keeps them, as `ip -j addr show` (and
 * so kubepath's `--ip-addr`) prints them, because the order means something: the first IPv4
 * address is the primary one, and for IPv6 the kernel lists the newest address of a scope first
 * (REDIRECT, for one, takes the first address of the incoming interface). The lab adds
 * fd00:2::1 before fd00:ff::2 on eth1, so eth1 lists fd00:ff::2 first. The harness checks this
 * order against the real namespace.
 */
export function labHostSpec(ipv6 = false): LabHostSpec {
  return {
    interfaces: [
      { name: 'eth0', addresses: ipv6 ? [`${NODE_V4.eth0}/24`, `${NODE_V6.eth0}/64`] : [`${NODE_V4.eth0}/24`] },
      {
        name: 'eth1',
        addresses: ipv6
          ? [`${NODE_V4.eth1}/24`, `${NODE_V4.extra}/32`, `${NODE_V6.extra}/128`, `${NODE_V6.eth1}/64`]
          : [`${NODE_V4.eth1}/24`, `${NODE_V4.extra}/32`],
      },
    ],
    routes: [],
    ipForward: true,
  };
}

/** Addresses per namespace (IPv4 first, then IPv6 when enabled). */
export interface LabAddresses {
  readonly client: readonly string[];
  readonly node: readonly string[];
  readonly server: readonly string[];
}

export function labAddresses(ipv6 = false): LabAddresses {
  return {
    client: [...CLIENT_V4, ...(ipv6 ? CLIENT_V6 : [])],
    node: [NODE_V4.eth0, NODE_V4.eth1, NODE_V4.extra, ...(ipv6 ? [NODE_V6.eth0, NODE_V6.eth1, NODE_V6.extra] : [])],
    server: [...SERVER_V4, ...(ipv6 ? SERVER_V6 : [])],
  };
}

/** Ports the agents listen on (TCP and UDP) unless the lab is told otherwise. */
export const DEFAULT_LISTEN_PORTS = { tcp: [53, 80, 8080, 8081, 9000, 9001, 9002, 9003, 30080], udp: [53, 80, 8080, 8081, 9000, 9001, 9002, 9003, 30080] } as const;
