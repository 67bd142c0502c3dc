/**
 * IP sets given as data (`ipset save` output), for `-m set --match-set NAME src,dst`.
 *
 * @module
 */
import {
  formatNetwork,
  type IPFamily,
  type IPNetwork,
  networkContains,
  parseNetwork,
  parsePort,
  protocolNumber,
} from '../net/index.js';
import type { PacketView } from './context.js';

/** Set types kubepath understands, as `ipset create NAME TYPE` names them. */
export const IPSET_TYPES = [
  'hash:ip',
  'hash:net',
  'hash:ip,port',
  'hash:net,port',
  'hash:ip,port,ip',
  'hash:ip,port,net',
  'hash:net,port,net',
  'hash:net,net',
  'bitmap:ip',
  'bitmap:port',
  'list:set',
] as const;

/** One dimension of a set element. */
type Dimension =
  | { readonly kind: 'ip'; readonly net: IPNetwork }
  | { readonly kind: 'port'; readonly protocol: number | undefined; readonly min: number; readonly max: number }
  | { readonly kind: 'set'; readonly name: string };

interface Element {
  readonly dims: readonly Dimension[];
  readonly nomatch: boolean;
}

/** A set: its type, family and elements. */
export interface Ipset {
  readonly name: string;
  readonly type: string;
  readonly family: IPFamily | undefined;
  readonly line: number;
  readonly elements: Element[];
}

/** Thrown for `ipset save` text that cannot be read; names file and line. */
export class IpsetSyntaxError extends Error {
  override readonly name = 'IpsetSyntaxError';
}

/** The sets of a host, by name. */
export class IpsetCollection {
  readonly #sets = new Map<string, Ipset>();

  /** Add a set; a second set of the same name is an error. */
  add(set: Ipset): void {
    if (this.#sets.has(set.name)) throw new IpsetSyntaxError(`set "${set.name}" is defined twice`);
    this.#sets.set(set.name, set);
  }

  get(name: string): Ipset | undefined {
    return this.#sets.get(name);
  }

  get size(): number {
    return this.#sets.size;
  }

  /**
   * Test a packet against a set with `--match-set NAME FLAGS` (flags: `src`/`dst` per
   * dimension). Returns true/false, or undefined when the set is not known.
   */
  test(name: string, flags: readonly ('src' | 'dst')[], packet: PacketView, depth = 0): boolean | undefined {
    const set = this.#sets.get(name);
    if (!set) return undefined;
    if (set.type === 'list:set') {
      if (depth > 8) return false;
      return set.elements.some((e) => {
        const d = e.dims[0];
        return d?.kind === 'set' && this.test(d.name, flags, packet, depth + 1) === true;
      });
    }
    if (set.family !== undefined && set.family !== packet.family) return false;
    let matched = false;
    let matchedPrefix = -1;
    let nomatch = false;
    for (const element of set.elements) {
      if (!elementMatches(element, flags, packet)) continue;
      // hash:net sets let the most specific prefix decide, so a nomatch /32 carves out of a /24.
      const prefix = element.dims[0]?.kind === 'ip' ? (element.dims[0].net.prefixLength ?? 0) : 0;
      if (prefix > matchedPrefix || !matched) {
        matched = true;
        matchedPrefix = prefix;
        nomatch = element.nomatch;
      }
    }
    return matched && !nomatch;
  }
}

function elementMatches(element: Element, flags: readonly ('src' | 'dst')[], packet: PacketView): boolean {
  for (let i = 0; i < element.dims.length; i++) {
    const dim = element.dims[i]!;
    const dir = flags[i] ?? flags[flags.length - 1] ?? 'src';
    if (dim.kind === 'ip') {
      if (!networkContains(dim.net, dir === 'src' ? packet.source : packet.destination)) return false;
    } else if (dim.kind === 'port') {
      const port = dir === 'src' ? packet.sourcePort : packet.destinationPort;
      if (port === undefined) return false;
      if (dim.protocol !== undefined && dim.protocol !== packet.protocol) return false;
      if (port < dim.min || port > dim.max) return false;
    } else {
      return false;
    }
  }
  return true;
}

function dimensionKinds(type: string): ('ip' | 'net' | 'port' | 'set')[] {
  const [, dims] = type.split(':') as [string, string];
  return dims.split(',').map((d) => (d === 'ip' || d === 'net' || d === 'port' || d === 'set' ? d : 'ip'));
}

/** Parse `ipset save` output into a collection (a new one, or `into` to merge several files). */
export function parseIpsetSave(text: string, file: string, into?: IpsetCollection): IpsetCollection {
  const collection = into ?? new IpsetCollection();
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    const where = `${file}:${n + 1}`;
    if (line === '' || line.startsWith('#')) continue;
    const words = line.split(/\s+/);
    if (words[0] === 'create') {
      const [, name, type] = words;
      if (!name || !type) throw new IpsetSyntaxError(`${where}: "create" needs a name and a type`);
      if (!(IPSET_TYPES as readonly string[]).includes(type)) {
        throw new IpsetSyntaxError(`${where}: set type "${type}" is not supported (supported: ${IPSET_TYPES.join(', ')})`);
      }
      const famIdx = words.indexOf('family');
      const fam = famIdx >= 0 ? words[famIdx + 1] : 'inet';
      const family: IPFamily | undefined = type.startsWith('bitmap:port') || type === 'list:set' ? undefined : fam === 'inet6' ? 6 : 4;
      try {
        collection.add({ name, type, family, line: n + 1, elements: [] });
      } catch (e) {
        throw new IpsetSyntaxError(`${where}: ${(e as Error).message}`);
      }
    } else if (words[0] === 'add') {
      const [, name, value] = words;
      const set = name ? collection.get(name) : undefined;
      if (!set || !value) throw new IpsetSyntaxError(`${where}: "add" to a set not created before: "${name ?? ''}"`);
      set.elements.push({ dims: parseElement(value, set, where), nomatch: words.includes('nomatch') });
    } else {
      throw new IpsetSyntaxError(`${where}: expected "create" or "add", found "${words[0]}"`);
    }
  }
  return collection;
}

function parseElement(value: string, set: Ipset, where: string): Dimension[] {
  const kinds = dimensionKinds(set.type);
  const parts = value.split(',');
  if (parts.length !== kinds.length) {
    throw new IpsetSyntaxError(`${where}: element "${value}" does not fit ${set.type}`);
  }
  return kinds.map((kind, i): Dimension => {
    const part = parts[i]!;
    try {
      if (kind === 'set') return { kind: 'set', name: part };
      if (kind === 'port') {
        const colon = part.indexOf(':');
        const proto = colon >= 0 ? protocolNumber(part.slice(0, colon)) : undefined;
        if (colon >= 0 && proto === undefined) throw new Error(`unknown protocol in "${part}"`);
        const range = colon >= 0 ? part.slice(colon + 1) : part;
        const [lo, hi] = range.split('-');
        return { kind: 'port', protocol: proto, min: parsePort(lo!), max: parsePort(hi ?? lo!) };
      }
      const net = parseNetwork(part);
      if (set.family !== undefined && net.family !== set.family) throw new Error(`${formatNetwork(net)} is not of the set's family`);
      return { kind: 'ip', net };
    } catch (e) {
      throw new IpsetSyntaxError(`${where}: element "${value}": ${(e as Error).message}`);
    }
  });
}
