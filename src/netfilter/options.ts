/**
 * Options of match and target modules as the rule parser hands them over, the registries of
 * modules, and the small value parsers they share (marks, port ranges, lists).
 *
 * @module
 */
import type { IPFamily } from '../net/index.js';
import type { Match, Negatable, TableName } from './ir.js';
import type { Target } from './targets.js';

/** One option as written: `! --dport 80` is `{name: '--dport', values: ['80'], negated: true}`. */
export interface ParsedOption {
  readonly name: string;
  readonly values: readonly string[];
  readonly negated: boolean;
}

/** What a module may need to know about the rule it is part of. */
export interface RuleInfo {
  readonly family: IPFamily;
  readonly table: TableName;
  readonly chain: string;
  readonly protocol: Negatable<number> | undefined;
  /**
   * The rule's target as written (`-j NAME OPTIONS`), when it is exactly the text a target
   * module would make from its options; the module may use it instead of making the same text.
   */
  readonly targetText?: string | undefined;
}

/** Thrown by a module for an option it cannot accept; the parser adds file and line. */
export class OptionError extends Error {
  override readonly name = 'OptionError';
}

/** A match extension (`-m NAME`): its options (name → number of values) and its builder. */
export interface MatchModule {
  readonly name: string;
  readonly options: Readonly<Record<string, number>>;
  build(options: readonly ParsedOption[], info: RuleInfo): Match;
}

/** A target extension (`-j NAME`): its options and its builder. */
export interface TargetModule {
  readonly name: string;
  readonly options: Readonly<Record<string, number>>;
  build(options: readonly ParsedOption[], info: RuleInfo): Target;
}

/** Text of options, for traces: `! --dport 80 --syn`. */
export function optionsText(options: readonly ParsedOption[]): string {
  let out = '';
  for (let k = 0; k < options.length; k++) {
    const o = options[k]!;
    // The option's non-empty parts, space-separated; options are joined by a space even when empty.
    let text = o.negated ? '!' : '';
    if (o.name !== '') text = text === '' ? o.name : `${text} ${o.name}`;
    for (const value of o.values) {
      const quoted = quoteIfNeeded(value);
      if (quoted !== '') text = text === '' ? quoted : `${text} ${quoted}`;
    }
    out = k === 0 ? text : `${out} ${text}`;
  }
  return out;
}

function quoteIfNeeded(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 32 || c === 9 || c === 34 || c === 92) return `"${value.replace(/["\\]/g, (x) => `\\${x}`)}"`;
  }
  return value === '' ? '""' : value;
}

/** The only option of a name, or undefined; a repeated option is an error as in iptables. */
export function single(options: readonly ParsedOption[], name: string, alias?: string): ParsedOption | undefined {
  let found: ParsedOption | undefined;
  for (const o of options) {
    if (o.name !== name && o.name !== alias) continue;
    if (found) throw new OptionError(`${name} given more than once`);
    found = o;
  }
  return found;
}

/** Refuse `!` on an option that does not take it. */
export function notNegated(option: ParsedOption): void {
  if (option.negated) throw new OptionError(`${option.name} cannot be negated with "!"`);
}

/** Parse a 32-bit value in decimal or 0x-hex. */
export function parseU32(text: string, what: string): number {
  let value = NaN;
  if (/^0x[0-9a-fA-F]{1,8}$/.test(text)) value = parseInt(text.slice(2), 16);
  else if (/^(?:0|[1-9][0-9]{0,9})$/.test(text)) value = Number(text);
  if (!Number.isInteger(value) || value > 0xffffffff) throw new OptionError(`${what} "${text}" is not a 32-bit value`);
  return value >>> 0;
}

/** Parse `VALUE[/MASK]` (mask defaults to all ones). */
export function parseValueMask(text: string, what: string): { value: number; mask: number } {
  const [v, m, extra] = text.split('/');
  if (extra !== undefined || v === undefined || v === '') throw new OptionError(`${what} "${text}" is not VALUE[/MASK]`);
  const value = parseU32(v, what);
  const mask = m === undefined ? 0xffffffff : parseU32(m, what);
  return { value, mask };
}

/** Parse a port (decimal; iptables-save always prints numbers). */
export function parsePortValue(text: string): number {
  // Plain decimal, 1 to 5 digits, no leading zero: /^(?:0|[1-9][0-9]{0,4})$/ and at most 65535.
  const n = text.length;
  let ok = n >= 1 && n <= 5 && (n === 1 || text.charCodeAt(0) !== 48);
  let value = 0;
  for (let i = 0; ok && i < n; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) ok = false;
    else value = value * 10 + d;
  }
  if (!ok || value > 65535) {
    throw new OptionError(`"${text}" is not a port number (service names are not resolved; use the number)`);
  }
  return value;
}

/** Parse `PORT` or `MIN:MAX` (iptables also accepts `:MAX` and `MIN:`). */
export function parsePortRange(text: string): { min: number; max: number } {
  const colon = text.indexOf(':');
  if (colon < 0) {
    const p = parsePortValue(text);
    return { min: p, max: p };
  }
  const lo = text.slice(0, colon);
  const hi = text.slice(colon + 1);
  const min = lo === '' ? 0 : parsePortValue(lo);
  const max = hi === '' ? 65535 : parsePortValue(hi);
  if (min > max) throw new OptionError(`port range "${text}" is empty (${min} > ${max})`);
  return { min, max };
}

/** Split a comma list, refusing empty items. */
export function parseList(text: string, what: string): string[] {
  const items = text.split(',');
  if (items.some((s) => s === '')) throw new OptionError(`${what} "${text}" has an empty item`);
  return items;
}

/** Format a value as iptables-save does: 0x-hex. */
export function hex(value: number): string {
  return `0x${(value >>> 0).toString(16)}`;
}
