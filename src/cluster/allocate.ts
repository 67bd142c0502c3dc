/**
 * Deterministic allocators for what the cluster hands out: addresses of a network (ClusterIPs,
 * pod IPs, node IPs), subnets of a network (node podCIDRs) and ports of a range (NodePorts).
 * Each first takes what the user gave (`reserve`), then gives out the lowest free one (`next`):
 * Kubernetes picks at random, kubepath picks the same way every time.
 *
 * @module
 */
import { familyBits, type IPAddress, type IPNetwork, ipKey, ipv4, ipv6, networkContains, networkOf } from '../net/index.js';

function addressAt(net: IPNetwork, offset: bigint): IPAddress {
  const base = net.network;
  return base.family === 4 ? ipv4(base.value + Number(offset)) : ipv6(base.value + offset);
}

/** How many addresses a network holds. */
function networkSize(net: IPNetwork): bigint {
  return 1n << BigInt(familyBits(net.family) - (net.prefixLength ?? familyBits(net.family)));
}

/** Addresses of one network, handed out from `first` (an offset into the network) upward. */
export class AddressPool {
  readonly network: IPNetwork;
  readonly #taken = new Set<number | bigint>();
  readonly #first: bigint;
  readonly #end: bigint;
  #cursor: bigint;

  /**
   * @param first offset of the first address to hand out (1 skips the network address, 2 also the gateway)
   * IPv4's broadcast address is never handed out.
   */
  constructor(network: IPNetwork, first: number) {
    this.network = network;
    const size = networkSize(network);
    this.#first = BigInt(first);
    this.#end = network.family === 4 && size > 2n ? size - 1n : size;
    this.#cursor = this.#first;
  }

  contains(ip: IPAddress): boolean {
    return networkContains(this.network, ip);
  }

  /** Mark an address as used; false when it already was. */
  reserve(ip: IPAddress): boolean {
    const key = ipKey(ip);
    if (this.#taken.has(key)) return false;
    this.#taken.add(key);
    return true;
  }

  /** Take the address at `offset` if it is free (e.g. `.1` for the `kubernetes` Service). */
  take(offset: number): IPAddress | undefined {
    const ip = addressAt(this.network, BigInt(offset));
    return BigInt(offset) < this.#end && this.reserve(ip) ? ip : undefined;
  }

  /** The lowest free address from `first` on, or undefined when the network is full. */
  next(): IPAddress | undefined {
    while (this.#cursor < this.#end) {
      const ip = addressAt(this.network, this.#cursor++);
      if (this.reserve(ip)) return ip;
    }
    return undefined;
  }
}

/** True when two networks share an address. */
export function overlaps(a: IPNetwork, b: IPNetwork): boolean {
  return networkContains(a, b.network) || networkContains(b, a.network);
}

/** Subnets of one prefix length inside a network, lowest free first (the node IPAM's podCIDRs). */
export class SubnetPool {
  readonly network: IPNetwork;
  readonly prefixLength: number;
  readonly #taken: IPNetwork[] = [];
  #index = 0n;

  constructor(network: IPNetwork, prefixLength: number) {
    this.network = network;
    this.prefixLength = prefixLength;
  }

  reserve(subnet: IPNetwork): void {
    this.#taken.push(subnet);
  }

  next(): IPNetwork | undefined {
    const bits = familyBits(this.network.family);
    const count = 1n << BigInt(this.prefixLength - (this.network.prefixLength ?? bits));
    const step = 1n << BigInt(bits - this.prefixLength);
    while (this.#index < count) {
      const subnet = networkOf(addressAt(this.network, this.#index++ * step), this.prefixLength);
      if (!this.#taken.some((t) => overlaps(t, subnet))) {
        this.#taken.push(subnet);
        return subnet;
      }
    }
    return undefined;
  }
}

/** Ports of a range (`--service-node-port-range`), lowest free first. */
export class PortPool {
  readonly base: number;
  readonly max: number;
  readonly #taken = new Set<number>();
  #cursor: number;

  constructor(range: { base: number; max: number }) {
    this.base = range.base;
    this.max = range.max;
    this.#cursor = range.base;
  }

  inRange(port: number): boolean {
    return port >= this.base && port <= this.max;
  }

  /** Mark a port as used; false when it already was. */
  reserve(port: number): boolean {
    if (this.#taken.has(port)) return false;
    this.#taken.add(port);
    return true;
  }

  next(): number | undefined {
    while (this.#cursor <= this.max) {
      const port = this.#cursor++;
      if (this.reserve(port)) return port;
    }
    return undefined;
  }
}
