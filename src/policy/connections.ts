/**
 * Sets of connections a policy allows: every protocol (`All Connections`, what a rule without
 * `ports` allows), or port ranges per protocol for TCP, UDP and SCTP. Printed as np-guard's
 * netpol-analyzer prints them (`All Connections`, `No Connections`, `SCTP 7070,TCP 8080-8081,UDP
 * 9090`: protocols in alphabetical order, each followed by its ports and ranges).
 *
 * @module
 */
import type { Protocol } from '../cluster/index.js';

/** The protocols whose ports a NetworkPolicy names, in the order np-guard prints them. */
export const PORT_PROTOCOLS: readonly Protocol[] = ['SCTP', 'TCP', 'UDP'];

/** Sorted, disjoint, non-adjacent inclusive ranges `[a0, b0, a1, b1, …]`. */
type Ranges = readonly number[];

const FULL: Ranges = [1, 65535];

function normalize(ranges: number[][]): number[] {
  const sorted = ranges.filter(([a, b]) => a! <= b!).sort((x, y) => x[0]! - y[0]!);
  const out: number[] = [];
  for (const [a, b] of sorted) {
    const n = out.length;
    if (n > 0 && a! <= out[n - 1]! + 1) out[n - 1] = Math.max(out[n - 1]!, b!);
    else out.push(a!, b!);
  }
  return out;
}

function pairs(r: Ranges): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < r.length; i += 2) out.push([r[i]!, r[i + 1]!]);
  return out;
}

function unionRanges(a: Ranges, b: Ranges): Ranges {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  return normalize([...pairs(a), ...pairs(b)]);
}

function intersectRanges(a: Ranges, b: Ranges): Ranges {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const lo = Math.max(a[i]!, b[j]!);
    const hi = Math.min(a[i + 1]!, b[j + 1]!);
    if (lo <= hi) out.push(lo, hi);
    if (a[i + 1]! < b[j + 1]!) i += 2;
    else j += 2;
  }
  return out;
}

function sameRanges(a: Ranges, b: Ranges): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

let ALL: Connections | undefined;
let NONE: Connections | undefined;

/** An immutable set of connections. */
export class Connections {
  /** Every protocol and port (also ICMP and the rest): what a rule without `ports` allows. */
  static get ALL(): Connections {
    return (ALL ??= new Connections(true, new Map()));
  }

  static get NONE(): Connections {
    return (NONE ??= new Connections(false, new Map()));
  }

  readonly all: boolean;
  readonly #ports: ReadonlyMap<Protocol, Ranges>;
  // Results already computed with another set: matrices combine the same few sets millions of times.
  readonly #unions = new Map<Connections, Connections>();
  readonly #intersections = new Map<Connections, Connections>();
  #text: string | undefined;

  private constructor(all: boolean, ports: ReadonlyMap<Protocol, Ranges>) {
    this.all = all;
    this.#ports = ports;
  }

  /** Ports `from`..`to` of one protocol; without `from`, every port of it. */
  static ports(protocol: Protocol, from?: number, to?: number): Connections {
    const r: Ranges = from === undefined ? FULL : [from, to ?? from];
    return new Connections(false, new Map([[protocol, r]]));
  }

  get empty(): boolean {
    return !this.all && this.#ports.size === 0;
  }

  /** The ranges of one protocol, as `[from, to]` pairs (every port when `all`). */
  rangesOf(protocol: Protocol): [number, number][] {
    return pairs(this.all ? FULL : (this.#ports.get(protocol) ?? [])) as [number, number][];
  }

  /** True when the set holds this protocol and port (`port` undefined: a protocol without ports, e.g. ICMP). */
  has(protocol: Protocol | undefined, port: number | undefined): boolean {
    if (this.all) return true;
    if (protocol === undefined || port === undefined) return false;
    const r = this.#ports.get(protocol);
    if (!r) return false;
    for (let i = 0; i < r.length; i += 2) if (port >= r[i]! && port <= r[i + 1]!) return true;
    return false;
  }

  union(other: Connections): Connections {
    if (this === other || this.all || other.empty) return this;
    if (other.all || this.empty) return other;
    let out = this.#unions.get(other);
    if (!out) {
      const m = new Map(this.#ports);
      for (const [p, r] of other.#ports) m.set(p, unionRanges(m.get(p) ?? [], r));
      out = new Connections(false, m);
      this.#unions.set(other, out);
    }
    return out;
  }

  intersect(other: Connections): Connections {
    if (this.all || this === other) return other;
    if (other.all) return this;
    let out = this.#intersections.get(other);
    if (!out) {
      out = this.#intersect(other);
      this.#intersections.set(other, out);
    }
    return out;
  }

  #intersect(other: Connections): Connections {
    const m = new Map<Protocol, Ranges>();
    for (const [p, r] of this.#ports) {
      const o = other.#ports.get(p);
      if (!o) continue;
      const i = intersectRanges(r, o);
      if (i.length > 0) m.set(p, i);
    }
    return m.size === 0 ? Connections.NONE : new Connections(false, m);
  }

  equals(other: Connections): boolean {
    if (this.all || other.all) return this.all === other.all;
    if (this.#ports.size !== other.#ports.size) return false;
    for (const [p, r] of this.#ports) {
      const o = other.#ports.get(p);
      if (!o || !sameRanges(r, o)) return false;
    }
    return true;
  }

  /** Every port of TCP, UDP and SCTP (and, when `all`, every other protocol too). */
  get allPorts(): boolean {
    return this.all || PORT_PROTOCOLS.every((p) => sameRanges(this.#ports.get(p) ?? [], FULL));
  }

  /**
   * np-guard's text: `All Connections`, `No Connections`, or `PROTO ports,…` per protocol. Like
   * np-guard, every port of TCP, UDP and SCTP prints as `All Connections` (protocols without ports,
   * such as ICMP, are in the set only when `all`).
   */
  toString(): string {
    return (this.#text ??= this.#format());
  }

  #format(): string {
    if (this.allPorts) return 'All Connections';
    if (this.#ports.size === 0) return 'No Connections';
    return PORT_PROTOCOLS.filter((p) => this.#ports.has(p))
      .map((p) => `${p} ${pairs(this.#ports.get(p)!).map(([a, b]) => (a === b ? String(a) : `${a}-${b}`)).join(',')}`)
      .join(',');
  }
}
