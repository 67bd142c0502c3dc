/**
 * Typed reading of one JSON object's fields, reporting each wrong one with its path: the decoders
 * of every kind are written with it, so that a port given as `"80"` or an IP with a leading zero
 * is an issue, never a value that reaches a compiler.
 *
 * @module
 */
import { AddressError, formatNetwork, parseNetwork, tryParseIP, type IPAddress, type IPNetwork } from '../net/index.js';
import { invalid, joinPath, REQUIRED, type Reporter, unsupported } from './issues.js';

interface Need {
  /** Report `Required value` when the field is missing. */
  required?: boolean;
}

/** Why text is not an IP address kubepath accepts, or undefined when it is one. */
export function ipProblem(text: string): string | undefined {
  if (tryParseIP(text)) return undefined;
  if (/^[0-9.]+$/.test(text) && /(^|\.)0[0-9]/.test(text)) return 'must not have leading zeros (they are octal to some parsers)';
  return 'must be a valid IP address (e.g. 10.9.8.7 or 2001:db8::ffff)';
}

/** A CIDR as Kubernetes requires it: ADDRESS/LENGTH with no host bits set; or why it is not. */
export function parseCIDR(text: string): IPNetwork | string {
  if (!text.includes('/')) return 'must be a valid CIDR value (e.g. 10.9.8.0/24 or 2001:db8::/64)';
  const address = text.slice(0, text.indexOf('/'));
  const bad = ipProblem(address);
  if (bad) return bad;
  try {
    return parseNetwork(text, { strictHostBits: true });
  } catch (e) {
    if (!(e instanceof AddressError)) throw e;
    try {
      const loose = parseNetwork(text);
      return `must have no bits set beyond the prefix length (the network is ${formatNetwork(loose)})`;
    } catch {
      return 'must be a valid CIDR value (e.g. 10.9.8.0/24 or 2001:db8::/64)';
    }
  }
}

/** The fields of one JSON object, read with checks. */
export class Fields {
  readonly report: Reporter;
  readonly #object: Record<string, unknown>;

  private constructor(object: Record<string, unknown>, report: Reporter) {
    this.#object = object;
    this.report = report;
  }

  /** The fields of `value`, or undefined (and an issue) when it is not an object. */
  static of(value: unknown, report: Reporter): Fields | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      report.error('', invalid(value, 'must be an object'));
      return undefined;
    }
    return new Fields(value as Record<string, unknown>, report);
  }

  /** True when the field is present and not null. */
  has(key: string): boolean {
    const v = this.#object[key];
    return v !== undefined && v !== null;
  }

  /** Report every field not in `known` (for kubepath's own kinds, where a typo must not pass unnoticed). */
  only(known: readonly string[]): void {
    for (const k of this.keys()) if (!known.includes(k)) this.report.error(k, `Unsupported field: expected one of ${known.join(', ')}`);
  }

  /** The field's value as given (null as undefined). */
  raw(key: string): unknown {
    return this.#object[key] ?? undefined;
  }

  /** The keys present. */
  keys(): string[] {
    return Object.keys(this.#object);
  }

  #get(key: string, need: Need | undefined): unknown {
    const v = this.#object[key];
    if (v === undefined || v === null) {
      if (need?.required) this.report.error(key, REQUIRED);
      return undefined;
    }
    return v;
  }

  string(key: string, need?: Need): string | undefined {
    const v = this.#get(key, need);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') {
      this.report.error(key, invalid(v, 'must be a string'));
      return undefined;
    }
    if (need?.required && v === '') {
      this.report.error(key, REQUIRED);
      return undefined;
    }
    return v;
  }

  boolean(key: string): boolean | undefined {
    const v = this.#get(key, undefined);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') {
      this.report.error(key, invalid(v, 'must be a boolean (true or false)'));
      return undefined;
    }
    return v;
  }

  /** An integer, checked against `min`..`max` inclusive when given. */
  integer(key: string, need?: Need & { min?: number; max?: number }): number | undefined {
    const v = this.#get(key, need);
    if (v === undefined) return undefined;
    return checkInteger(v, this.report.at(key), need);
  }

  /** One of `values`, as the API's enums are. */
  oneOf<T extends string>(key: string, values: readonly T[], need?: Need): T | undefined {
    const v = this.string(key, need);
    if (v === undefined) return undefined;
    if (!(values as readonly string[]).includes(v)) {
      this.report.error(key, unsupported(v, values));
      return undefined;
    }
    return v as T;
  }

  /** A map of strings to strings (labels, annotations, selectors, data). */
  stringMap(key: string): Record<string, string> | undefined {
    const f = this.object(key, (f) => f);
    if (!f) return undefined;
    const out: Record<string, string> = {};
    for (const k of f.keys()) {
      const v = f.string(k);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }

  /** A list; `item` reads each element (and reports its own issues). Invalid elements are left out. */
  list<T>(key: string, item: (value: unknown, report: Reporter, index: number) => T | undefined, need?: Need): T[] | undefined {
    const v = this.#get(key, need);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) {
      this.report.error(key, invalid(v, 'must be a list'));
      return undefined;
    }
    const out: T[] = [];
    v.forEach((element, i) => {
      const x = item(element, this.report.at(joinPath(key, `[${i}]`)), i);
      if (x !== undefined) out.push(x);
    });
    return out;
  }

  /** A list of objects, each read with `read`. */
  objects<T>(key: string, read: (f: Fields, index: number) => T | undefined, need?: Need): T[] | undefined {
    return this.list(key, (v, r, i) => {
      const f = Fields.of(v, r);
      return f ? read(f, i) : undefined;
    }, need);
  }

  /** A nested object, read with `read`. */
  object<T>(key: string, read: (f: Fields) => T, need?: Need): T | undefined {
    const v = this.#get(key, need);
    if (v === undefined) return undefined;
    const f = Fields.of(v, this.report.at(key));
    return f ? read(f) : undefined;
  }

  /** A string that `check` accepts (it reports why not). */
  #checked(key: string, check: Check, need?: Need): string | undefined {
    const v = this.string(key, need);
    return v !== undefined && check(v, this.report.at(key)) ? v : undefined;
  }

  /** A list of strings, each one that `check` accepts. */
  #checkedList(key: string, check: Check | undefined, need?: Need): string[] | undefined {
    return this.list(key, (v, r) => {
      if (typeof v !== 'string') return r.error('', invalid(v, 'must be a string')), undefined;
      return !check || check(v, r) ? v : undefined;
    }, need);
  }

  /** A list of strings. */
  strings(key: string, need?: Need): string[] | undefined {
    return this.#checkedList(key, undefined, need);
  }

  /** An IP address (strict: dotted-quad without leading zeros, or RFC 4291). */
  ip(key: string, need?: Need): string | undefined {
    return this.#checked(key, checkIP, need);
  }

  /** A list of IP addresses. */
  ips(key: string): string[] | undefined {
    return this.#checkedList(key, checkIP);
  }

  /** A CIDR (no host bits set). */
  cidr(key: string, need?: Need): string | undefined {
    return this.#checked(key, checkCIDR, need);
  }

  /** A list of CIDRs. */
  cidrs(key: string): string[] | undefined {
    return this.#checkedList(key, checkCIDR);
  }
}

/** Checks a string, reporting at `report` why it is not acceptable; truthy when it is. */
type Check = (text: string, report: Reporter) => unknown;

/** Check an integer value against an inclusive range, reporting at `report`. */
export function checkInteger(v: unknown, report: Reporter, range?: { min?: number; max?: number }): number | undefined {
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    report.error('', invalid(v, 'must be an integer'));
    return undefined;
  }
  const { min, max } = range ?? {};
  if ((min !== undefined && v < min) || (max !== undefined && v > max)) {
    const why = min !== undefined && max !== undefined ? `must be between ${min} and ${max}, inclusive` : min !== undefined ? `must be greater than or equal to ${min}` : `must be less than or equal to ${max}`;
    report.error('', invalid(v, why));
    return undefined;
  }
  return v;
}

/** Check IP text, reporting at `report`; the address when valid. */
export function checkIP(text: string, report: Reporter): IPAddress | undefined {
  const why = ipProblem(text);
  if (why) report.error('', invalid(text, why));
  return why ? undefined : tryParseIP(text);
}

/** Check CIDR text, reporting at `report`; the network when valid. */
export function checkCIDR(text: string, report: Reporter): IPNetwork | undefined {
  const net = parseCIDR(text);
  if (typeof net === 'string') {
    report.error('', invalid(text, net));
    return undefined;
  }
  return net;
}

/** The object without its undefined fields, so decoded objects print as the user wrote them. */
export function compact<T extends object>(object: T): T {
  for (const key of Object.keys(object) as (keyof T)[]) if (object[key] === undefined) delete object[key];
  return object;
}
