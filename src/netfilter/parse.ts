/**
 * Parse `iptables-save` / `ip6tables-save` output (legacy and nf_tables backends) and
 * kube-proxy's `iptables-restore` input into the rule IR. Every error names the file and line;
 * with `lenient`, rules using extensions kubepath does not model are kept as "unmodelled"
 * (a trace that reaches them is undetermined) instead of failing the whole file.
 *
 * @module
 */
import { AddressError, type IPFamily, type IPNetwork, parseNetwork, protocolNumber } from '../net/index.js';
import {
  BUILTIN_CHAINS,
  type Chain,
  type InterfaceMatch,
  type Match,
  type Negatable,
  type Rule,
  type SourceLocation,
  type Ruleset,
  type Table,
  type TableName,
} from './ir.js';
import { implicitProtocolMatch, MATCH_MODULES } from './matches/index.js';
import { type MatchModule, OptionError, type ParsedOption, type RuleInfo, type TargetModule } from './options.js';
import { type Target, TARGET_MODULES } from './targets.js';

/** Thrown for text that is not a valid ruleset; `file` and `line` say where. */
export class RulesetSyntaxError extends Error {
  override readonly name = 'RulesetSyntaxError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}: ${detail}`);
  }
}

/** Text safe to quote in a message: control and non-ASCII characters as \\xNN / \\u{…}. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/gu, (c) => {
    const code = c.codePointAt(0)!;
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

/** Options for {@link parseRuleset}. */
export interface ParseRulesetOptions {
  /** Name of the file, for messages (`-` for stdin). */
  readonly file?: string;
  /** Address family; by default taken from the header or the first address seen, else IPv4. */
  readonly family?: IPFamily;
  /** Keep rules with unknown extensions as unmodelled instead of failing (default false). */
  readonly lenient?: boolean;
}

const TABLES: ReadonlySet<string> = new Set(['raw', 'mangle', 'nat', 'filter', 'security']);

/**
 * Split a rule line into words the way iptables-restore does: double quotes group words and
 * may appear inside a word; inside quotes a backslash escapes the next character.
 */
export function tokenizeRule(text: string): string[] {
  const simple = !text.includes('\t') && !text.includes('  ') && !text.includes('\\');
  if (!text.includes('"')) {
    const words = simple ? text.split(' ') : text.split(/[ \t]+/);
    if (words[0] === '') words.shift();
    if (words.length > 0 && words[words.length - 1] === '') words.pop();
    return words;
  }
  if (simple) {
    // Quotes only around whole words ("a b c"), as iptables-save writes them: rejoin the pieces.
    const parts = text.split(' ');
    const words: string[] = [];
    let ok = true;
    for (let i = 0; i < parts.length && ok; i++) {
      const part = parts[i]!;
      if (part.charCodeAt(0) !== 34) {
        if (part.includes('"')) ok = false;
        else if (part !== '') words.push(part);
        continue;
      }
      let joined = part.slice(1);
      let closed = joined.endsWith('"') && !joined.slice(0, -1).includes('"');
      if (joined.slice(0, -1).includes('"')) ok = false;
      while (!closed && ok && ++i < parts.length) {
        const next = parts[i]!;
        const q = next.indexOf('"');
        if (q >= 0 && q !== next.length - 1) ok = false;
        joined += ` ${next}`;
        closed = q === next.length - 1;
      }
      if (!closed) ok = false;
      else words.push(joined.slice(0, -1));
    }
    if (ok) return words;
  }
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      // A quoted run: up to the closing quote, with backslash escapes.
      inWord = true;
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        const b = text.indexOf('\\', i);
        if (q < 0) throw new OptionError('unterminated quote');
        if (b >= 0 && b < q) {
          current += text.slice(i, b) + text.charAt(b + 1);
          i = b + 2;
          continue;
        }
        current += text.slice(i, q);
        i = q + 1;
        break;
      }
    } else if (c === 32 || c === 9) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
      i++;
    } else {
      // A plain run: up to the next space, tab or quote.
      let j = i + 1;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 32 || d === 9 || d === 34) break;
        j++;
      }
      current = inWord ? current + text.slice(i, j) : text.slice(i, j);
      inWord = true;
      i = j;
    }
  }
  if (inWord) words.push(current);
  return words;
}

/** "-" and one printable ASCII character, by the character's code. */
const DASH_WORDS: readonly (string | undefined)[] = Array.from({ length: 128 }, (_, c) => (c > 32 && c < 127 ? `-${String.fromCharCode(c)}` : undefined));

/** True when the text has an even number of double quotes; the first is at `first` (-1: none). */
function quotesPaired(text: string, first: number): boolean {
  let count = 0;
  for (let q = first; q >= 0; q = text.indexOf('"', q + 1)) count++;
  return (count & 1) === 0;
}

/**
 * The words of one rule line, read in place: the same words as {@link tokenizeRule}, without
 * building the array. Lines with a backslash, a tab or an odd number of quotes (rare in
 * iptables-save output) go through tokenizeRule instead, so its errors come first, as before.
 */
class RuleWords {
  private text = '';
  private pos = 0;
  /** Where the next double quote is, at or after `pos` (-1: none). */
  private quote = -1;
  private list: readonly string[] | undefined = undefined;
  private index = 0;
  private savedPos = 0;
  private savedQuote = -1;
  private savedIndex = 0;
  /** Where the last word starts in the line, and whether it was read as written (no quotes). */
  wordStart = 0;
  plain = false;

  /** Where the last word ends in the line (meaningful when {@link plain}). */
  get wordEnd(): number {
    return this.pos;
  }

  /** Start on a line; throws {@link OptionError} for text tokenizeRule refuses. */
  start(text: string): void {
    this.text = text;
    this.pos = 0;
    const quote = text.indexOf('"');
    this.quote = quote;
    this.index = 0;
    // Without backslashes, quotes pair up in order: an odd count is the only unterminated quote.
    this.list = text.indexOf('\\') >= 0 || text.indexOf('\t') >= 0 || !quotesPaired(text, quote) ? tokenizeRule(text) : undefined;
  }

  /**
   * The next word, or undefined at the end of the line. Kept small (it is inlined wherever a
   * word is read); quoted words and tokenized lines take the other methods.
   */
  next(): string | undefined {
    if (this.list !== undefined) return this.nextListed();
    const text = this.text;
    const n = text.length;
    let i = this.pos;
    while (i < n && text.charCodeAt(i) === 32) i++;
    if (i >= n) {
      this.pos = n;
      return undefined;
    }
    const space = text.indexOf(' ', i);
    const end = space < 0 ? n : space;
    if (this.quote >= 0 && this.quote < end) return this.nextQuoted(i);
    this.pos = end;
    this.wordStart = i;
    this.plain = true;
    // "-p", "-m", "-j", ...: the same text, without making a string.
    if (end - i === 2 && text.charCodeAt(i) === 45) {
      const word = DASH_WORDS[text.charCodeAt(i + 1)];
      if (word !== undefined) return word;
    }
    return text.slice(i, end);
  }

  private nextListed(): string | undefined {
    const list = this.list!;
    this.plain = false;
    return this.index < list.length ? list[this.index++] : undefined;
  }

  /** A word with quotes, from `i`: a quoted run keeps its spaces and loses its quotes. */
  private nextQuoted(i: number): string {
    const text = this.text;
    const n = text.length;
    this.plain = false;
    let word = '';
    let j = i;
    while (j < n) {
      const c = text.charCodeAt(j);
      if (c === 32) break;
      if (c === 34) {
        const q = text.indexOf('"', j + 1); // paired: checked in start()
        word += text.slice(j + 1, q);
        j = q + 1;
      } else {
        let k = j + 1;
        while (k < n) {
          const d = text.charCodeAt(k);
          if (d === 32 || d === 34) break;
          k++;
        }
        word += text.slice(j, k);
        j = k;
      }
    }
    this.pos = j;
    this.quote = text.indexOf('"', j);
    return word;
  }

  /**
   * Whether the line starts with `-A NAME` as written (no quotes), NAME being `name`: then the
   * two words are read, without making strings of them.
   */
  appendingTo(name: string): boolean {
    const text = this.text;
    const end = 3 + name.length;
    if (this.list !== undefined || (this.quote >= 0 && this.quote < end)) return false;
    if (text.charCodeAt(0) !== 45 /* - */ || text.charCodeAt(1) !== 65 /* A */ || text.charCodeAt(2) !== 32) return false;
    if (end > text.length || (end < text.length && text.charCodeAt(end) !== 32)) return false;
    // The last character first: names differ mostly at the end (kube-proxy's end in a hash). Then
    // the whole name, as a string: comparing strings is faster than comparing characters here.
    if (text.charCodeAt(end - 1) !== name.charCodeAt(name.length - 1) || text.slice(3, end) !== name) return false;
    this.pos = end;
    return true;
  }

  /** Remember the position, to read ahead and {@link restore} it. */
  save(): void {
    this.savedPos = this.pos;
    this.savedQuote = this.quote;
    this.savedIndex = this.index;
  }

  restore(): void {
    this.pos = this.savedPos;
    this.quote = this.savedQuote;
    this.index = this.savedIndex;
  }
}

interface TableBuilder {
  readonly table: Table;
  /**
   * The table's chains in declaration order, while that is known (undefined after -X, -P or a
   * repeated user chain declaration). iptables-save writes the rules chain by chain in that
   * order, so the chain of a rule is usually one of the next few after the previous rule's.
   */
  order: Chain[] | undefined;
  /** {@link fingerprint} of each chain's name in `order`. */
  readonly prints: number[];
  /** `-j NAME` for the chains in `order`, made when first used. */
  readonly jumps: (Target | undefined)[];
  /** Index in `order` of the chain of the last rule (-1: none). */
  cursor: number;
  /** Index in `order` of the chain the last jump found near went to (-1: none). */
  jumpCursor: number;
  /** Index in `order` of the chain {@link findChain} found last (-1: not known). */
  found: number;
  /**
   * The jumps of the rules read so far, as indexes in `order` (edge k goes from chain
   * edgeFrom[k] to chain edgeTo[k]), while {@link edgesKnown}: then COMMIT need not look the
   * jump targets up by name again.
   */
  readonly edgeFrom: number[];
  readonly edgeTo: number[];
  /**
   * False once a jump's chain was not found in `order` (not declared yet, a built-in chain, an
   * extension target, a goto), or once -I or -F changed rules: then COMMIT resolves every jump by
   * name, as it did before edges were kept, with the same errors.
   */
  edgesKnown: boolean;
  /** Indexes in `order` of chains looked up by name ({@link chainIndex}). */
  readonly indexes: Map<string, number>;
  /** How many chains {@link chainIndex} has compared, past a limit it gives up; where it found the last. */
  scanned: number;
  scanCursor: number;
}

/** How many chains after the last one {@link findChain} looks at before looking up the name. */
const LOOKAHEAD = 4;
/**
 * How many chains after the last jump's {@link RuleParser.jumpTo} looks at (kube-proxy declares
 * each Service's chains together: KUBE-SVC, KUBE-EXT, then its KUBE-SEP chains).
 */
const JUMP_LOOKAHEAD = 8;

/**
 * A small number from a name's length and last two characters: different numbers, different
 * names, without reading the names (chain names differ mostly at the end: kube-proxy's end in a hash).
 */
function fingerprint(name: string): number {
  const n = name.length;
  return n * 65536 + (name.charCodeAt(n - 1) & 0xff) * 256 + (name.charCodeAt(n - 2) & 0xff);
}

/** Where `name` is among the `count` chains after index `from` in the builder's order (-1: not there). */
function near(builder: TableBuilder, order: readonly Chain[], name: string, print: number, from: number, count: number): number {
  const prints = builder.prints;
  const end = Math.min(order.length, from + 1 + count);
  for (let k = from + 1; k < end; k++) if (prints[k] === print && order[k]!.name === name) return k;
  return -1;
}

/** The chain named `name`: one of the next few declared chains, else found by name. */
function findChain(builder: TableBuilder, name: string): Chain | undefined {
  const order = builder.order;
  if (order !== undefined) {
    const k = near(builder, order, name, fingerprint(name), builder.cursor, LOOKAHEAD);
    if (k >= 0) {
      builder.cursor = k;
      builder.found = k;
      return order[k];
    }
  }
  builder.found = chainIndex(builder, name);
  return builder.table.chains.get(name);
}

/**
 * Index in the builder's order of the chain named `name`, for a chain found by name (-1: no such
 * chain, or the order is not known). The order is searched from where the last search ended
 * (iptables-save writes jumps like KUBE-NODEPORTS' in declaration order too), and each answer
 * kept (KUBE-MARK-MASQ is the target of jumps from everywhere). After comparing a few times as
 * many chains as there are, it gives up and lets COMMIT resolve jumps by name.
 */
function chainIndex(builder: TableBuilder, name: string): number {
  const order = builder.order;
  if (order === undefined) return -1;
  const known = builder.indexes.get(name);
  if (known !== undefined) return known;
  const chain = builder.table.chains.get(name);
  const n = order.length;
  if (chain === undefined || builder.scanned > 4 * n + 4096) return -1;
  let k = builder.scanCursor;
  for (let i = 0; i < n; i++) {
    if (++k >= n) k = 0;
    if (order[k] === chain) {
      builder.scanned += i + 1;
      builder.scanCursor = k;
      builder.indexes.set(name, k);
      return k;
    }
  }
  builder.scanned += n;
  return -1;
}

function detectFamily(text: string): IPFamily {
  const head = text.slice(0, 200);
  if (/ip6tables-save/.test(head)) return 6;
  if (/iptables-save/.test(head)) return 4;
  const m = /\s(?:-s|-d|--to-destination|--to-source)\s+!?\s*(\S+)/.exec(text);
  return m && m[1]!.includes(':') && !/^[0-9.]+:[0-9-]+$/.test(m[1]!) ? 6 : 4;
}

/** Parse a ruleset dump. Throws {@link RulesetSyntaxError} for anything it cannot accept. */
export function parseRuleset(text: string, options: ParseRulesetOptions = {}): Ruleset {
  const file = options.file ?? '<rules>';
  const family = options.family ?? detectFamily(text);
  const lenient = options.lenient ?? false;
  if (text.includes('\u0000')) {
    throw new RulesetSyntaxError(file, text.slice(0, text.indexOf('\u0000')).split('\n').length, 'a NUL byte: this is not iptables-save text');
  }
  const reader = new DumpReader(file, family, lenient);
  // Lines as text.split(/\r?\n/) gives them, trimmed; without building the array. The loop is
  // kept small: the work of a line is in the reader's methods, which the optimizing compiler
  // takes one at a time (a loop with all of it inline was compiled late, and dropped when the
  // first line of a new kind came).
  let lineNo = 0;
  for (let start = 0; start <= text.length; ) {
    lineNo++;
    const newline = text.indexOf('\n', start);
    let end = newline < 0 ? text.length : newline;
    if (newline >= 0 && end > start && text.charCodeAt(end - 1) === 13 /* \r */) end--;
    const raw = text.slice(start, end);
    start = newline < 0 ? text.length + 1 : newline + 1;
    // trim() only when an end is not printable ASCII (which is never whitespace).
    const first = raw.charCodeAt(0);
    const last = raw.charCodeAt(raw.length - 1);
    const line = first > 32 && first < 127 && last > 32 && last < 127 ? raw : raw.trim();
    if (line === '' || line.charCodeAt(0) === 35 /* # */) continue;
    reader.line(line, lineNo);
  }
  return reader.finish(text, lineNo);
}

/** The state of one parse between lines: the tables read, the one being read, pending rules. */
class DumpReader {
  private readonly tables = new Map<TableName, Table>();
  private readonly tableLines = new Map<TableName, number>();
  private current: TableBuilder | undefined = undefined;
  /** The chain of the previous line's rule, while lines append to one chain, and its index in the table's order (-1: not known). */
  private lastChain: Chain | undefined = undefined;
  private lastChainIndex = -1;
  private readonly parser: RuleParser;
  /** {@link fail} as a function, for the helpers that report errors. */
  private readonly failer: (line: number, detail: string) => never;
  // The rules appended to one chain in a row go into the chain together, when the chain changes:
  // appending one at a time would leave spare room in most of kube-proxy's short chains.
  private pendingChain: Chain | undefined = undefined;
  /** The first pendingCount entries. */
  private readonly pending: Rule[] = [];
  private pendingCount = 0;

  constructor(
    private readonly file: string,
    private readonly family: IPFamily,
    private readonly lenient: boolean,
  ) {
    this.parser = new RuleParser(family, lenient);
    this.failer = (line, detail) => this.fail(line, detail);
  }

  private fail(line: number, detail: string): never {
    throw new RulesetSyntaxError(this.file, line, detail);
  }

  private flush(): void {
    const chain = this.pendingChain;
    if (chain === undefined) return;
    const pending = this.pending;
    const count = this.pendingCount;
    const rules = chain.rules;
    if (rules.length === 0) (chain as { rules: Rule[] }).rules = pending.slice(0, count);
    else for (let k = 0; k < count; k++) rules.push(pending[k]!);
    this.pendingCount = 0;
    this.pendingChain = undefined;
  }

  /** One line: trimmed, not empty, not a comment. */
  line(line: string, lineNo: number): void {
    const c = line.charCodeAt(0);
    if (c === 42 /* * */) return this.startTable(line, lineNo);
    const builder = this.current;
    if (builder === undefined) return this.fail(lineNo, `"${printable(line.slice(0, 40))}" is outside a table: a table starts with "*filter", "*nat", ...`);
    if (c === 67 /* C */ && line === 'COMMIT') return this.commit(builder);
    if (c === 58 /* : */) {
      this.flush();
      this.lastChain = undefined;
      return declareChain(builder, line, lineNo, this.file, this.failer);
    }
    this.command(builder, line, lineNo);
  }

  private startTable(line: string, lineNo: number): void {
    const file = this.file;
    if (this.current) this.fail(lineNo, `table "${line.slice(1)}" starts before table "${this.current.table.name}" was closed with COMMIT`);
    const name = line.slice(1).trim();
    if (!TABLES.has(name)) this.fail(lineNo, `unknown table "${name}" (raw, mangle, nat, filter, security)`);
    const tname = name as TableName;
    if (this.tables.has(tname)) this.fail(lineNo, `table "${name}" appears twice (first at line ${this.tableLines.get(tname)})`);
    const table: Table = { name: tname, location: { file, line: lineNo }, chains: new Map() };
    const order: Chain[] = [];
    for (const hook of BUILTIN_CHAINS[tname]) {
      const chain: Chain = { table: tname, name: hook, builtin: true, policy: 'ACCEPT', location: { file, line: lineNo }, rules: [] };
      table.chains.set(hook, chain);
      order.push(chain);
    }
    this.current = {
      table,
      order,
      prints: order.map((c) => fingerprint(c.name)),
      jumps: order.map(() => undefined),
      cursor: -1,
      jumpCursor: -1,
      found: -1,
      edgeFrom: [],
      edgeTo: [],
      edgesKnown: true,
      indexes: new Map(),
      scanned: 0,
      scanCursor: -1,
    };
    this.tableLines.set(tname, lineNo);
  }

  private commit(builder: TableBuilder): void {
    this.flush();
    if (finishTable(builder, this.lenient, this.failer)) this.parser.unmodelledSeen = true;
    this.tables.set(builder.table.name, builder.table);
    this.current = undefined;
  }

  /** A line with a command (-A, -I, -N, -X, -F, -P), maybe after counters. */
  private command(builder: TableBuilder, line: string, lineNo: number): void {
    const words = this.parser.words;
    let body = line;
    let counters: Rule['counters'];
    const counterMatch = body.charCodeAt(0) === 91 /* [ */ ? /^\[([0-9]+):([0-9]+)\]\s+/.exec(body) : null;
    if (counterMatch) {
      counters = { packets: BigInt(counterMatch[1]!), bytes: BigInt(counterMatch[2]!) };
      body = body.slice(counterMatch[0].length);
    }
    try {
      words.start(body);
    } catch (e) {
      return this.fail(lineNo, (e as Error).message);
    }
    const lastChain = this.lastChain;
    if (lastChain !== undefined && lastChain.table === builder.table.name && words.appendingTo(lastChain.name)) {
      // Another rule for the chain of the previous line: iptables-save writes them together.
      return this.append(builder, lastChain, this.lastChainIndex, body, counters, lineNo);
    }
    const command = words.next()!;
    const chainName = words.next();
    if (command === '-A' || command === '--append') {
      if (!chainName) this.fail(lineNo, `${command} needs a chain name`);
      // iptables-save groups rules by chain: look the chain up only when it changes.
      if (lastChain === undefined || lastChain.name !== chainName || lastChain.table !== builder.table.name) {
        this.lastChain = findChain(builder, chainName!);
        this.lastChainIndex = builder.found;
      }
      const chain = this.lastChain;
      if (!chain) this.fail(lineNo, `chain "${chainName}" does not exist in table ${builder.table.name} (declare it with ":${chainName} - [0:0]")`);
      return this.append(builder, chain!, this.lastChainIndex, body, counters, lineNo);
    }
    this.flush();
    this.lastChain = undefined;
    this.otherCommand(builder, command, chainName, body, counters, lineNo);
  }

  /**
   * `-A CHAIN ...`, the chain found (`index` in the table's order, -1: not known), the words read
   * up to the chain name. A jump is kept as an edge for COMMIT's loop check.
   */
  private append(builder: TableBuilder, chain: Chain, index: number, body: string, counters: Rule['counters'], lineNo: number): void {
    if (chain !== this.pendingChain) {
      this.flush();
      this.pendingChain = chain;
    }
    const count = this.pendingCount;
    const rule = this.parser.rule(builder, chain, chain.rules.length + count + 1, body, counters, { file: this.file, line: lineNo });
    this.pending[count] = rule;
    this.pendingCount = count + 1;
    const to = this.parser.jumpIndex;
    if (to !== NO_JUMP && builder.edgesKnown) {
      if (index < 0 || to < 0 || builder.order![to]!.builtin) builder.edgesKnown = false;
      else {
        builder.edgeFrom.push(index);
        builder.edgeTo.push(to);
      }
    }
  }

  /** -I, -N, -X, -F, -P (and unknown commands), the words read up to the chain name. */
  private otherCommand(builder: TableBuilder, command: string, chainName: string | undefined, body: string, counters: Rule['counters'], lineNo: number): void {
    const file = this.file;
    const words = this.parser.words;
    const table = builder.table;
    switch (command) {
      case '-I':
      case '--insert': {
        if (!chainName) this.fail(lineNo, `${command} needs a chain name`);
        const chain = findChain(builder, chainName!);
        this.lastChain = chain;
        this.lastChainIndex = builder.found;
        builder.edgesKnown = false;
        if (!chain) this.fail(lineNo, `chain "${chainName}" does not exist in table ${table.name} (declare it with ":${chainName} - [0:0]")`);
        // -I: at the position given, else first.
        let position = 0;
        words.save();
        const insertAt = words.next();
        if (insertAt !== undefined && /^[0-9]+$/.test(insertAt)) {
          position = Number(insertAt) - 1;
          if (position < 0 || position > chain!.rules.length) this.fail(lineNo, `-I ${chainName} ${insertAt}: no such position`);
        } else {
          words.restore();
        }
        const rule = this.parser.rule(builder, chain!, position + 1, body, counters, { file, line: lineNo });
        if (position === chain!.rules.length) {
          chain!.rules.push(rule);
        } else {
          chain!.rules.splice(position, 0, rule);
          // -I shifts the rules after it down by one.
          for (let k = position + 1; k < chain!.rules.length; k++) chain!.rules[k] = { ...chain!.rules[k]!, number: k + 1 };
        }
        break;
      }
      case '-N':
      case '--new-chain':
        if (!chainName) this.fail(lineNo, '-N needs a chain name');
        if (table.chains.has(chainName!)) this.fail(lineNo, `chain "${chainName}" already exists`);
        declareChain(builder, `:${chainName} - [0:0]`, lineNo, file, this.failer);
        break;
      case '-X':
      case '--delete-chain':
        if (chainName === undefined) {
          builder.order = undefined;
          for (const [name, chain] of table.chains) if (!chain.builtin) table.chains.delete(name);
        } else {
          const chain = table.chains.get(chainName);
          if (!chain) this.fail(lineNo, `-X: chain "${chainName}" does not exist`);
          if (chain!.builtin) this.fail(lineNo, `-X: cannot delete built-in chain ${chainName}`);
          builder.order = undefined;
          table.chains.delete(chainName);
        }
        break;
      case '-F':
      case '--flush':
        builder.edgesKnown = false;
        if (chainName === undefined) {
          for (const chain of table.chains.values()) chain.rules.length = 0;
        } else {
          const chain = table.chains.get(chainName);
          if (!chain) this.fail(lineNo, `-F: chain "${chainName}" does not exist`);
          chain!.rules.length = 0;
        }
        break;
      case '-P':
      case '--policy': {
        const chain = chainName ? table.chains.get(chainName) : undefined;
        const policy = words.next();
        if (!chain || !chain.builtin) this.fail(lineNo, `-P: "${chainName ?? ''}" is not a built-in chain of table ${table.name}`);
        if (policy !== 'ACCEPT' && policy !== 'DROP') this.fail(lineNo, `-P: policy must be ACCEPT or DROP, not "${policy ?? ''}"`);
        builder.order = undefined;
        table.chains.set(chainName!, { ...chain!, policy: policy as 'ACCEPT' | 'DROP' });
        break;
      }
      default:
        this.fail(lineNo, `unknown command "${command}" (expected -A, -I, -N, -X, -F, -P, a ":CHAIN" declaration or COMMIT)`);
    }
  }

  /** The ruleset, after the last line (`lineNo`). */
  finish(text: string, lineNo: number): Ruleset {
    const tables = this.tables;
    if (this.current) throw new RulesetSyntaxError(this.file, lineNo, `table "${this.current.table.name}" is not closed with COMMIT`);
    if (tables.size === 0 && text.split(/\r?\n/).some((l) => l.trim() !== '' && !l.trim().startsWith('#'))) {
      throw new RulesetSyntaxError(this.file, 1, 'no table found (expected "*filter", "*nat", ...)');
    }
    const unmodelled: Rule[] = [];
    if (this.parser.unmodelledSeen) {
      for (const table of tables.values()) {
        for (const chain of table.chains.values()) for (const rule of chain.rules) if (rule.unmodelled) unmodelled.push(rule);
      }
    }
    return { family: this.family, file: this.file, tables, unmodelled };
  }
}

function declareChain(
  builder: TableBuilder,
  line: string,
  lineNo: number,
  file: string,
  fail: (line: number, detail: string) => never,
): void {
  let name: string | undefined;
  let policy: string | undefined;
  if (simpleDeclaration(line)) {
    const { space, policyEnd } = DECLARATION;
    name = line.slice(1, space);
    // "-" (user chains) without making a string.
    policy = policyEnd === space + 2 && line.charCodeAt(space + 1) === 45 /* - */ ? '-' : line.slice(space + 1, policyEnd);
  } else {
    const m = /^:(\S+)\s+(\S+)(?:\s+\[([0-9]+):([0-9]+)\])?$/.exec(line);
    if (!m) fail(lineNo, `bad chain declaration "${line}" (expected ":NAME POLICY [packets:bytes]")`);
    [, name, policy] = m!;
  }
  if (name!.length > 28) fail(lineNo, `chain name "${name}" is longer than 28 characters`);
  const table = builder.table;
  // (Built-in chain names are at most 11 characters long.)
  const builtin = name!.length <= 11 && (BUILTIN_CHAINS[table.name] as readonly string[]).includes(name!);
  if (builtin) {
    // "-" keeps the policy the chain has (iptables-restore), ACCEPT on a fresh table.
    if (policy !== 'ACCEPT' && policy !== 'DROP' && policy !== '-') fail(lineNo, `built-in chain ${name} needs policy ACCEPT, DROP or -, not "${policy}"`);
    if (table.name === 'nat' && policy === 'DROP') fail(lineNo, `the nat table's built-in chains cannot have policy DROP`);
    const existing = table.chains.get(name!);
    // The chain's rules so far are dropped: jumps kept from them would be wrong. (iptables-save
    // declares the built-in chains before any rule: then there are none.)
    if (existing!.rules.length > 0) builder.edgesKnown = false;
    const kept = policy === '-' ? existing!.policy : (policy as 'ACCEPT' | 'DROP');
    const chain: Chain = { ...existing!, policy: kept, location: { file, line: lineNo }, rules: [] };
    table.chains.set(name!, chain);
    const at = builder.order?.indexOf(existing!) ?? -1;
    if (at >= 0) builder.order![at] = chain;
    else builder.order = undefined;
  } else {
    if (policy !== '-') fail(lineNo, `user chain ${name} cannot have a policy ("${policy}"); write "-"`);
    // A repeated declaration flushes the chain, as iptables-restore does.
    const chain: Chain = { table: table.name, name: name!, builtin: false, policy: undefined, location: { file, line: lineNo }, rules: [] };
    const size = table.chains.size;
    table.chains.set(name!, chain);
    if (table.chains.size === size) {
      builder.order = undefined; // a repeated declaration replaced the chain
    } else if (builder.order) {
      builder.order.push(chain);
      builder.prints.push(fingerprint(chain.name));
      builder.jumps.push(undefined);
    }
  }
}

/** True for a run of printable ASCII other than space (none of it whitespace). */
function isPrintableWord(text: string, from: number, to: number): boolean {
  if (from >= to) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c <= 32 || c >= 127) return false;
  }
  return true;
}

/** Where the name and the policy of the last {@link simpleDeclaration} end. */
const DECLARATION = { space: 0, policyEnd: 0 };

/**
 * Whether a declaration is as iptables-save writes it, `:NAME POLICY [0:0]` with single spaces
 * and printable ASCII; then {@link DECLARATION} says where its name and policy end. Anything
 * else the full pattern decides.
 */
function simpleDeclaration(line: string): boolean {
  const space = line.indexOf(' ', 1);
  if (space < 0 || !isPrintableWord(line, 1, space)) return false;
  const second = line.indexOf(' ', space + 1);
  const policyEnd = second < 0 ? line.length : second;
  if (!isPrintableWord(line, space + 1, policyEnd)) return false;
  if (second >= 0) {
    // "[digits:digits]" and nothing after it.
    const n = line.length;
    const colon = line.indexOf(':', second + 1);
    if (line.charCodeAt(second + 1) !== 91 /* [ */ || line.charCodeAt(n - 1) !== 93 /* ] */ || colon < 0) return false;
    if (!isDigits(line, second + 2, colon) || !isDigits(line, colon + 1, n - 1)) return false;
  }
  DECLARATION.space = space;
  DECLARATION.policyEnd = policyEnd;
  return true;
}

function isDigits(text: string, from: number, to: number): boolean {
  if (from >= to) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

const HOOKS_WITH_IN: readonly string[] = ['PREROUTING', 'INPUT', 'FORWARD'];
const HOOKS_WITH_OUT: readonly string[] = ['FORWARD', 'OUTPUT', 'POSTROUTING'];

/**
 * A few string keys, found without hashing the key (the words of a line are fresh strings that
 * have no hash yet): by length, then by comparison.
 */
class SmallMap<V> {
  private readonly keys: (string[] | undefined)[] = [];
  private readonly values: (V[] | undefined)[] = [];

  constructor(entries: Iterable<readonly [string, V]>) {
    for (const [key, value] of entries) {
      const keys = (this.keys[key.length] ??= []);
      const values = (this.values[key.length] ??= []);
      const at = keys.indexOf(key);
      if (at >= 0) values[at] = value;
      else {
        keys.push(key);
        values.push(value);
      }
    }
  }

  get(key: string): V | undefined {
    const keys = this.keys[key.length];
    if (keys !== undefined) {
      for (let i = 0; i < keys.length; i++) if (keys[i] === key) return this.values[key.length]![i];
    }
    return undefined;
  }
}

/** A module's options (name → number of values). */
const optionCountsCache = new WeakMap<MatchModule | TargetModule, SmallMap<number>>();

function optionCounts(module: MatchModule | TargetModule): SmallMap<number> {
  let counts = optionCountsCache.get(module);
  if (!counts) {
    counts = new SmallMap(Object.entries(module.options));
    optionCountsCache.set(module, counts);
  }
  return counts;
}

/** A module with its options. */
interface ModuleEntry<M> {
  readonly module: M;
  readonly counts: SmallMap<number>;
}

function entries<M extends MatchModule | TargetModule>(modules: ReadonlyMap<string, M>): SmallMap<ModuleEntry<M>> {
  return new SmallMap([...modules].map(([name, module]) => [name, { module, counts: optionCounts(module) }] as const));
}

const MATCHES_BY_NAME = entries(MATCH_MODULES);
const TARGETS_BY_NAME = entries(TARGET_MODULES);
/** No module of that name (an object, so that reading its fields is the same code either way). */
const NO_MODULE = { module: undefined, counts: undefined } as const;
/** The options of no module. */
const NO_OPTIONS = new SmallMap<number>([]);

// The words a rule's own options start with (anything else starting with "-" is a module's option).
const enum Option {
  None = 0,
  Not = 1,
  Protocol = 2,
  Source = 3,
  Destination = 4,
  InInterface = 5,
  OutInterface = 6,
  Fragment = 7,
  Match = 8,
  Jump = 9,
  Goto = 10,
  SetCounters = 11,
}

/** `-X` options by the code of X. */
const SHORT_OPTIONS = new Uint8Array(128);
for (const [c, code] of [
  ['p', Option.Protocol],
  ['s', Option.Source],
  ['d', Option.Destination],
  ['i', Option.InInterface],
  ['o', Option.OutInterface],
  ['f', Option.Fragment],
  ['m', Option.Match],
  ['j', Option.Jump],
  ['g', Option.Goto],
  ['c', Option.SetCounters],
] as const) {
  SHORT_OPTIONS[c.charCodeAt(0)] = code;
}

const LONG_OPTIONS = new SmallMap<Option>([
  ['!', Option.Not],
  ['--protocol', Option.Protocol],
  ['--source', Option.Source],
  ['--src', Option.Source],
  ['--destination', Option.Destination],
  ['--dst', Option.Destination],
  ['--in-interface', Option.InInterface],
  ['--out-interface', Option.OutInterface],
  ['--fragment', Option.Fragment],
  ['--match', Option.Match],
  ['--jump', Option.Jump],
  ['--goto', Option.Goto],
  ['--set-counters', Option.SetCounters],
]);

/** Which of the rule's own options a word is. */
function optionCode(word: string): Option {
  if (word.length === 2) {
    const c = word.charCodeAt(1);
    return word.charCodeAt(0) === 45 /* - */ && c < 128 ? (SHORT_OPTIONS[c]! as Option) : Option.None;
  }
  return LONG_OPTIONS.get(word) ?? Option.None;
}

/** One option of a match module as read; reused from rule to rule with its {@link PendingModule}. */
class OptionSlot {
  name = '';
  negated = false;
  /** An option kubepath does not model, kept with the module it follows (lenient parsing). */
  unknown = false;
  /** The first {@link valueCount} entries. */
  readonly values: string[] = [];
  valueCount = 0;

  constructor() {
    // An array that holds strings from the start, and is its own (a literal's would be shared
    // until written): either kind of change under optimized code drops that code.
    this.values.push('');
  }
}

/**
 * A match module being collected while a rule's words are read. The parser keeps a pool of them
 * and of their option slots, so reading a rule makes no objects or arrays for its matches: the
 * options a builder takes are made only when the match is built.
 */
class PendingModule {
  name = '';
  module: MatchModule | undefined = undefined;
  counts: SmallMap<number> | undefined = undefined;
  /** The first {@link optionCount} entries. */
  readonly options: OptionSlot[] = [new OptionSlot(), new OptionSlot()];
  optionCount = 0;
  /** Whether some option is {@link OptionSlot.unknown}. */
  unknownOptions = false;

  reset(name: string, module: MatchModule | undefined, counts: SmallMap<number> | undefined): void {
    this.name = name;
    this.module = module;
    this.counts = counts;
    this.optionCount = 0;
    this.unknownOptions = false;
  }

  /** A new option, its values to be added to {@link OptionSlot.values}. */
  add(name: string, negated: boolean, unknown: boolean): OptionSlot {
    // (Not read past the end: an out-of-bounds read would drop the optimized code.)
    let slot = this.optionCount < this.options.length ? this.options[this.optionCount]! : undefined;
    if (slot === undefined) {
      slot = new OptionSlot();
      this.options.push(slot);
    }
    this.optionCount++;
    slot.name = name;
    slot.negated = negated;
    slot.unknown = unknown;
    slot.valueCount = 0;
    if (unknown) this.unknownOptions = true;
    return slot;
  }

  /** The options as a builder takes them (new objects: a built match may keep them). */
  parsedOptions(): ParsedOption[] {
    const options: ParsedOption[] = [];
    for (let k = 0; k < this.optionCount; k++) {
      const o = this.options[k]!;
      options.push({ name: o.name, values: o.values.slice(0, o.valueCount), negated: o.negated });
    }
    return options;
  }

  /** The module and every option with its values, as one string (for modules with unknown options). */
  key(): string {
    let key = this.name;
    for (let k = 0; k < this.optionCount; k++) {
      const o = this.options[k]!;
      key += `\u0001${o.unknown ? '?' : ''}${o.negated ? '!' : ''}${o.name}\u0000${o.values.slice(0, o.valueCount).join('\u0000')}`;
    }
    return key;
  }
}

/**
 * The matches of one module in one {@link BuildContext}, by the module's options in order: one
 * node per option name and per value, so that finding a match again makes no key string (a
 * string joined from a rule's words would be made, flattened and hashed for every rule).
 */
class MatchNode {
  match: Match | undefined = undefined;
  /** After this node: the next option by name, not negated / negated; or the option's next value. */
  private plain: Map<string, MatchNode> | undefined = undefined;
  private negated: Map<string, MatchNode> | undefined = undefined;
  private values: Map<string, MatchNode> | undefined = undefined;

  option(name: string, negated: boolean): MatchNode {
    const map = negated ? (this.negated ??= new Map()) : (this.plain ??= new Map());
    let node = map.get(name);
    if (node === undefined) {
      node = new MatchNode();
      map.set(name, node);
    }
    return node;
  }

  value(value: string): MatchNode {
    const map = (this.values ??= new Map());
    let node = map.get(value);
    if (node === undefined) {
      node = new MatchNode();
      map.set(value, node);
    }
    return node;
  }
}

/**
 * What match and target builders may depend on besides their options (see
 * {@link RuleParser.context}), with what was built for it.
 */
class BuildContext {
  /** Matches by module, then options ({@link MatchNode}). */
  readonly matches = new Map<MatchModule, MatchNode>();
  /** Matches of modules with options kubepath does not model (lenient parsing), by {@link PendingModule.key}. */
  readonly matchesByKey = new Map<string, Match>();
  /** Targets by name, goto and options ({@link targetKey}). */
  readonly targets = new Map<string, Target>();
  /** Targets of a module, without options, by name. */
  readonly plainTargets = new Map<string, Target>();
}

/** `-j NAME` to a chain. */
function jump(name: string): Target {
  return { name, text: `-j ${name}`, kind: 'jump', chain: name, goto: false };
}

/** Stands for "no -p" where a protocol object is compared. */
const NO_PROTOCOL: Negatable<number> = { value: -1, negated: false };

/** The `matches` of every rule without conditions other than the header fields. */
const NO_MATCHES: readonly Match[] = Object.freeze([]);

function parseInterfaceOption(opt: string, name: string, location: SourceLocation): InterfaceMatch {
  if (name.length === 0 || name.length > 15 || /[\s/]/.test(name)) failAt(location, `${opt} "${name}" is not an interface name`);
  return name.endsWith('+') ? { name: name.slice(0, -1), wildcard: true } : { name, wildcard: false };
}

function failAt(location: SourceLocation, detail: string): never {
  throw new RulesetSyntaxError(location.file, location.line, detail);
}

/** Build a match; a module's complaint becomes an error at the rule's line. */
function buildMatch(m: PendingModule, info: RuleInfo, location: SourceLocation): Match {
  try {
    return m.module!.build(m.parsedOptions(), info);
  } catch (e) {
    if (e instanceof OptionError || e instanceof AddressError) failAt(location, `-m ${m.name}: ${e.message}`);
    throw e;
  }
}

/** Build a target; a module's complaint becomes an error at the rule's line. */
function buildTarget(module: TargetModule, name: string, options: readonly ParsedOption[], info: RuleInfo, location: SourceLocation): Target {
  try {
    return module.build(options, info);
  } catch (e) {
    if (e instanceof OptionError || e instanceof AddressError) failAt(location, `-j ${name}: ${e.message}`);
    throw e;
  }
}

/**
 * What the words of the rule being read say so far: one per parser, reset for every rule. The
 * words are read by small functions, one per kind of option, rather than in one large one: the
 * optimizing compiler handles them sooner and drops less work when a rule brings something new.
 */
class RuleDraft {
  location: SourceLocation = { file: '', line: 0 };
  table: TableName = 'filter';
  chain = '';
  builtin = false;
  protocol: Negatable<number> | undefined = undefined;
  source: Negatable<IPNetwork> | undefined = undefined;
  destination: Negatable<IPNetwork> | undefined = undefined;
  inInterface: Negatable<InterfaceMatch> | undefined = undefined;
  outInterface: Negatable<InterfaceMatch> | undefined = undefined;
  fragment: Negatable<true> | undefined = undefined;
  counters: Rule['counters'] = undefined;
  /** The rule's matches, in order: the first {@link moduleCount} (a pool, kept from rule to rule). */
  // (Made with room for most rules: objects made while optimized code runs drop that code.)
  readonly modules: PendingModule[] = [new PendingModule(), new PendingModule(), new PendingModule(), new PendingModule()];
  moduleCount = 0;
  targetName: string | undefined = undefined;
  targetModule: TargetModule | undefined = undefined;
  targetCounts: SmallMap<number> = NO_OPTIONS;
  goto = false;
  targetOptions: ParsedOption[] | undefined = undefined;
  unknown: string[] | undefined = undefined;
  negate = false;
  comment: string | undefined = undefined;
  // The target as written: from "-j" (writtenStart) to the end of its last word (writtenEnd),
  // while its words follow each other with single spaces and no quotes (else writtenEnd < 0).
  writtenStart = 0;
  writtenEnd = -1;
  /** Where the last "!" starts, when written plainly (-1: not). */
  bang = -1;
  /** What module builders may depend on; made only when something is built. */
  info: RuleInfo | undefined = undefined;
  /** The rule's text (after `-A CHAIN`'s counters), for the target as written. */
  text = '';

  reset(chain: Chain, text: string, counters: Rule['counters'], location: SourceLocation): void {
    this.location = location;
    this.text = text;
    this.table = chain.table;
    this.chain = chain.name;
    this.builtin = chain.builtin;
    this.protocol = undefined;
    this.source = undefined;
    this.destination = undefined;
    this.inInterface = undefined;
    this.outInterface = undefined;
    this.fragment = undefined;
    this.counters = counters;
    this.moduleCount = 0;
    this.targetName = undefined;
    this.targetModule = undefined;
    this.targetCounts = NO_OPTIONS;
    this.goto = false;
    this.targetOptions = undefined;
    this.unknown = undefined;
    this.negate = false;
    this.comment = undefined;
    this.writtenStart = 0;
    this.writtenEnd = -1;
    this.bang = -1;
    this.info = undefined;
  }
}

function infoOf(p: RuleParser, d: RuleDraft): RuleInfo {
  if (d.info !== undefined) return d.info;
  // The target as written, when it is what the target module would make (see RuleInfo).
  const targetText = d.writtenEnd >= 0 && d.targetModule ? d.text.slice(d.writtenStart, d.writtenEnd) : undefined;
  return (d.info = { family: p.family, table: d.table, chain: d.chain, protocol: d.protocol, targetText });
}

/** A new match module of the rule, from the draft's pool. */
function addModule(d: RuleDraft, name: string, module: MatchModule | undefined, counts: SmallMap<number> | undefined): PendingModule {
  let m = d.moduleCount < d.modules.length ? d.modules[d.moduleCount]! : undefined;
  if (m === undefined) {
    m = new PendingModule();
    d.modules.push(m);
  }
  d.moduleCount++;
  m.reset(name, module, counts);
  return m;
}

/** The next word, the value of option `opt`. */
function valueOf(p: RuleParser, opt: string, location: SourceLocation): string {
  const v = p.words.next();
  if (v === undefined) failAt(location, `${opt} needs a value`);
  return v;
}

/** The next `count` words, the values of option `opt`. */
function valuesOf(p: RuleParser, opt: string, count: number, location: SourceLocation): string[] {
  const values: string[] = [];
  for (let k = 0; k < count; k++) {
    const v = p.words.next();
    if (v === undefined) failAt(location, `${opt} needs ${count === 1 ? 'a value' : `${count} values`}`);
    values.push(v);
  }
  return values;
}

/** `-p PROTO` */
function protocolOption(p: RuleParser, d: RuleDraft, w: string): void {
  const text = valueOf(p, w, d.location);
  let value = p.protocolValue;
  if (text !== p.protocolText || text === '') {
    const number = protocolNumber(text);
    if (number === undefined) failAt(d.location, `-p: unknown protocol "${text}"`);
    value = p.protocolValue = number;
    p.protocolText = text;
  }
  const slot = 2 * value + (d.negate ? 1 : 0);
  d.protocol = p.protocols[slot] ??= { value, negated: d.negate };
}

/** iptables also takes and prints masks like 255.255.0.0. */
const ALLOW_MASK = { allowMask: true } as const;

/** `-s ADDRESS`, `-d ADDRESS` */
function addressOption(p: RuleParser, d: RuleDraft, w: string, code: Option): void {
  const location = d.location;
  const text = valueOf(p, w, location);
  // The same text as the last address of this option and negation (kube-proxy writes
  // '! -s POD-CIDR' in every Service's chain): the same value.
  const slot = (code === Option.Source ? 0 : 2) + (d.negate ? 1 : 0);
  let address = text === p.addressTexts[slot] ? p.addresses[slot] : undefined;
  if (address === undefined) {
    address = parsedAddress(p, d, w, text);
    p.addressTexts[slot] = text;
    p.addresses[slot] = address;
  }
  if (code === Option.Source) d.source = address;
  else d.destination = address;
}

function parsedAddress(p: RuleParser, d: RuleDraft, w: string, text: string): Negatable<IPNetwork> {
  const location = d.location;
  if (text.includes(',')) failAt(location, `${w} ${text}: address lists expand to one rule per address in iptables-save; give one address`);
  let net: IPNetwork;
  try {
    net = parseNetwork(text, ALLOW_MASK);
  } catch (e) {
    if (e instanceof AddressError) failAt(location, `${w}: ${e.message}`);
    throw e;
  }
  if (net.family !== p.family) failAt(location, `${w} ${text} is an IPv${net.family} address in an IPv${p.family} ruleset`);
  return { value: net, negated: d.negate };
}

/** `-i NAME`, `-o NAME` */
function interfaceOption(p: RuleParser, d: RuleDraft, w: string, code: Option): void {
  const location = d.location;
  if (code === Option.InInterface) {
    if (d.builtin && !HOOKS_WITH_IN.includes(d.chain)) failAt(location, `-i cannot be used in ${d.chain}: packets there have no input interface`);
    d.inInterface = { value: parseInterfaceOption(w, valueOf(p, w, location), location), negated: d.negate };
  } else {
    if (d.builtin && !HOOKS_WITH_OUT.includes(d.chain)) failAt(location, `-o cannot be used in ${d.chain}: packets there have no output interface yet`);
    d.outInterface = { value: parseInterfaceOption(w, valueOf(p, w, location), location), negated: d.negate };
  }
}

/** `-m NAME` */
function matchOption(p: RuleParser, d: RuleDraft, w: string): void {
  if (d.negate) failAt(d.location, '"!" cannot negate -m');
  const name = valueOf(p, w, d.location);
  const entry = MATCHES_BY_NAME.get(name) ?? NO_MODULE;
  if (!entry.module) {
    if (!p.lenient) failAt(d.location, `match extension "${name}" is not modelled by kubepath`);
    (d.unknown ??= []).push(`-m ${name}`);
  }
  addModule(d, name, entry.module, entry.counts);
}

/** `-j TARGET`, `-g CHAIN` */
function jumpOption(p: RuleParser, d: RuleDraft, w: string, code: Option): void {
  const words = p.words;
  if (d.negate) failAt(d.location, `"!" cannot negate ${w}`);
  if (d.targetName !== undefined) failAt(d.location, 'a rule has one target (-j/-g) only');
  const start = words.wordStart;
  const plain = words.plain && w === '-j';
  const name = valueOf(p, w, d.location);
  d.targetName = name;
  d.writtenStart = start;
  d.writtenEnd = plain && words.plain && words.wordEnd - start === 3 + name.length ? words.wordEnd : -1;
  d.goto = code === Option.Goto;
  const entry = (d.goto ? undefined : TARGETS_BY_NAME.get(name)) ?? NO_MODULE;
  d.targetModule = entry.module;
  d.targetCounts = entry.counts ?? NO_OPTIONS;
}

/** `-c PACKETS BYTES` (a "!" before it applies to the next option). */
function countersOption(p: RuleParser, d: RuleDraft, w: string): void {
  const packets = valueOf(p, w, d.location);
  const bytes = valueOf(p, w, d.location);
  if (!/^[0-9]+$/.test(packets) || !/^[0-9]+$/.test(bytes)) failAt(d.location, '-c needs two counter values');
  d.counters = { packets: BigInt(packets), bytes: BigInt(bytes) };
}

/** An option of the target module, with its values. */
function targetOption(p: RuleParser, d: RuleDraft, w: string, count: number, negated: boolean): void {
  const words = p.words;
  const start = words.wordStart;
  const plain = words.plain;
  const values = valuesOf(p, w, count, d.location);
  if (d.writtenEnd >= 0) {
    // Written as "[! ]OPTION VALUE..." right after the target's previous word.
    let length = w.length;
    for (const value of values) length += 1 + value.length;
    const from = negated ? d.bang : start;
    const follows = from === d.writtenEnd + 1 && (!negated || start === d.bang + 2);
    d.writtenEnd = plain && follows && words.wordEnd - start === length ? words.wordEnd : -1;
  }
  (d.targetOptions ??= []).push({ name: w, values, negated });
}

/** A target module's options as one string (for targets found again by their options). */
function targetKey(d: RuleDraft): string {
  let key = '';
  const options = d.targetModule ? d.targetOptions : undefined;
  if (options !== undefined) for (const o of options) key += `${o.negated ? '!' : ''}${o.name}\u0000${o.values.join('\u0000')}\u0001`;
  return key;
}

/**
 * A module's option: the target's, else the most recent match's that has it, else the implicit
 * protocol match's; in lenient parsing, an option of an extension kubepath does not model.
 */
function moduleOption(p: RuleParser, d: RuleDraft, w: string): void {
  const location = d.location;
  if (w.charCodeAt(0) !== 45 /* - */) failAt(location, `unexpected "${printable(w)}" (bad argument: quote values that contain spaces)`);
  const negated = d.negate;
  d.negate = false;
  const targetCount = d.targetCounts.get(w);
  if (targetCount !== undefined) return targetOption(p, d, w, targetCount, negated);
  const modules = d.modules;
  let owner: PendingModule | undefined;
  let count: number | undefined;
  for (let k = d.moduleCount - 1; k >= 0 && count === undefined; k--) {
    count = modules[k]!.counts?.get(w);
    if (count !== undefined) owner = modules[k];
  }
  if (!owner && d.protocol && !d.protocol.negated) {
    const implicit = implicitProtocolMatch(d.protocol.value);
    count = implicit ? optionCounts(implicit).get(w) : undefined;
    if (implicit && count !== undefined) {
      owner = addModule(d, implicit.name, implicit, optionCounts(implicit));
    }
  }
  if (owner && owner.name === 'comment' && w === '--comment' && !negated && d.comment === undefined) {
    // Always matches: kept as the rule's comment rather than as a condition. A comment like the
    // previous rule's is kept as the previous rule's string (kube-proxy gives the rules of a
    // Service's chains the same comment): fewer strings live on.
    let comment = valueOf(p, w, location);
    if (comment.length > 255) failAt(location, '-m comment: --comment is longer than 255 characters');
    if (comment === p.lastComment) comment = p.lastComment;
    else p.lastComment = comment;
    d.comment = comment;
    return;
  }
  if (owner && count !== undefined) {
    const slot = owner.add(w, negated, false);
    const words = p.words;
    for (let k = 0; k < count; k++) {
      const v = words.next();
      if (v === undefined) failAt(location, `${w} needs ${count === 1 ? 'a value' : `${count} values`}`);
      slot.values[slot.valueCount++] = v;
    }
    return;
  }
  if (p.lenient && (d.unknown !== undefined || (d.targetName !== undefined && !d.targetModule))) return unmodelledOption(p, d, w, negated);
  const loaded = d.modules.slice(0, d.moduleCount).map((m) => m.name);
  failAt(location, `unknown option "${printable(w)}"${loaded.length ? ` (loaded matches: ${loaded.join(', ')})` : ''}${d.targetName ? ` (target ${d.targetName})` : ''}`);
}

/** An option of an extension kubepath does not model (lenient parsing): keep its values with it. */
function unmodelledOption(p: RuleParser, d: RuleDraft, w: string, negated: boolean): void {
  const words = p.words;
  const values: string[] = [];
  for (;;) {
    words.save();
    const v = words.next();
    if (v === undefined || v.startsWith('-') || v === '!') break;
    values.push(v);
  }
  words.restore();
  if (d.targetName !== undefined && !d.targetModule) (d.targetOptions ??= []).push({ name: w, values, negated });
  else {
    // The option becomes part of the module it follows, so it must be part of that module's key too:
    // otherwise a later rule with the same known options would share a match that carries it.
    const slot = d.modules[d.moduleCount - 1]!.add(w, negated, true);
    for (const v of values) slot.values[slot.valueCount++] = v;
  }
}

/** The matches of the rule read into `d`, built or found again. */
function matchesOf(p: RuleParser, d: RuleDraft): readonly Match[] {
  const built = p.built;
  let count = 0;
  for (let k = 0; k < d.moduleCount; k++) {
    const m = d.modules[k]!;
    const module = m.module;
    if (!module) continue;
    if (m.optionCount === 0 && m.name === 'comment' && d.comment !== undefined) continue;
    const context = p.context(d);
    let match: Match | undefined;
    if (m.unknownOptions) {
      const key = m.key();
      match = context.matchesByKey.get(key);
      if (!match) {
        match = buildMatch(m, infoOf(p, d), d.location);
        context.matchesByKey.set(key, match);
      }
    } else {
      let node = context.matches.get(module);
      if (node === undefined) {
        node = new MatchNode();
        context.matches.set(module, node);
      }
      for (let i = 0; i < m.optionCount; i++) {
        const o = m.options[i]!;
        node = node.option(o.name, o.negated);
        for (let j = 0; j < o.valueCount; j++) node = node.value(o.values[j]!);
      }
      match = node.match ??= buildMatch(m, infoOf(p, d), d.location);
    }
    built[count++] = match;
  }
  if (count === 0) return NO_MATCHES;
  if (count > 1) return built.slice(0, count);
  const only = built[0]!;
  let list = p.single.get(only);
  if (!list) {
    list = Object.freeze([only]);
    p.single.set(only, list);
  }
  return list;
}

/**
 * The target of the rule read into `d` (a target module's, or a jump), built or found again; an
 * unmodelled one is noted in `d.unknown` (lenient parsing) or refused. Target objects have many
 * shapes: their kind is read here where they are made, not for every rule.
 */
function targetOf(p: RuleParser, d: RuleDraft, builder: TableBuilder): Target | undefined {
  p.jumpIndex = NO_JUMP;
  const name = d.targetName;
  if (name === undefined) return undefined;
  const module = d.targetModule;
  if (!module && d.targetOptions === undefined) {
    // A jump or goto to a chain (resolved at COMMIT): shared per chain name.
    if (!d.goto) return p.jumpTo(builder, name);
    p.jumpIndex = chainIndex(builder, name);
    let target = p.gotos.get(name);
    if (!target) {
      target = { name, text: `-g ${name}`, kind: 'jump', chain: name, goto: true };
      p.gotos.set(name, target);
    }
    return target;
  }
  // Targets that carry addresses (DNAT, SNAT, ...) are mostly one of a kind: not worth a key.
  const perRule = module !== undefined && PER_RULE_TARGETS.has(name);
  // A target module without options (ACCEPT, DROP, ...) by its name alone.
  const plain = module !== undefined && d.targetOptions === undefined;
  const cache = perRule ? undefined : plain ? p.context(d).plainTargets : p.context(d).targets;
  const key = perRule ? '' : plain ? name : `${name}|${d.goto}|${targetKey(d)}`;
  let target = cache?.get(key);
  if (target) {
    if (p.unmodelledTargets.size > 0 && p.unmodelledTargets.has(target) && target.kind === 'unmodelled') unmodelledTarget(p, d, target.reason);
    if (p.keyedJumps && target.kind === 'jump') p.jumpIndex = -1;
    return target;
  }
  const options = d.targetOptions ?? [];
  if (module) {
    target = buildTarget(module, name, options, infoOf(p, d), d.location);
  } else if (options.length > 0) {
    // Options after an unknown -j: an extension target kubepath does not model.
    if (!p.lenient) failAt(d.location, `target "${name}" is not modelled by kubepath`);
    target = { name, text: `-j ${name}`, kind: 'unmodelled', reason: `target ${name} is not modelled` };
  } else {
    // Resolved at COMMIT: a user chain, or an extension target without options.
    target = { name, text: `${d.goto ? '-g' : '-j'} ${name}`, kind: 'jump', chain: name, goto: d.goto };
    p.jumpIndex = -1;
    p.keyedJumps = true;
  }
  cache?.set(key, target);
  if (target.kind === 'unmodelled') {
    p.unmodelledTargets.add(target);
    unmodelledTarget(p, d, target.reason);
  }
  return target;
}

function unmodelledTarget(p: RuleParser, d: RuleDraft, reason: string): void {
  if (!p.lenient) failAt(d.location, `-j ${d.targetName}: ${reason}`);
  (d.unknown ??= []).push(`-j ${d.targetName}`);
}

/**
 * Reads rules, one at a time, for one parse. Identical matches and targets (the same
 * `-m tcp --dport 80` in thousands of kube-proxy rules) are built once per parse and shared, as
 * are protocols: none of them holds per-rule state.
 */
class RuleParser {
  readonly words = new RuleWords();
  readonly draft = new RuleDraft();
  /** What was built, by what it may depend on (see {@link context}): table, chain, protocol. */
  private readonly contexts = new Map<TableName, Map<string, Map<Negatable<number>, BuildContext>>>();
  readonly jumps = new Map<string, Target>();
  readonly gotos = new Map<string, Target>();
  /** The last protocol text and its number. */
  protocolText = '';
  protocolValue = 0;
  /** Negatable protocols by `2 * number + negated`. */
  readonly protocols: (Negatable<number> | undefined)[] = [];
  /** Scratch list of a rule's matches. */
  readonly built: Match[] = [];
  /** Rules with one match share a frozen one-element list per match. */
  readonly single = new Map<Match, readonly Match[]>();
  /** Whether some rule was kept as unmodelled (lenient parsing). */
  unmodelledSeen = false;
  /** The last rule's comment. */
  lastComment = '';
  /**
   * The last address of -s, ! -s, -d, ! -d: its text and value. (Texts are strings from the
   * start, in arrays of their own: a change of kind under optimized code drops that code.)
   */
  readonly addressTexts: string[] = Array.from({ length: 4 }, () => '');
  readonly addresses: (Negatable<IPNetwork> | undefined)[] = Array.from({ length: 4 }, () => undefined);
  /** The interned targets that are unmodelled. */
  readonly unmodelledTargets = new Set<Target>();
  /** The target found by name last: kube-proxy jumps to KUBE-MARK-MASQ from everywhere. */
  private lastJump: Target | undefined;
  /** The table it was found for, and its chain's index there (see {@link chainIndex}). */
  private lastJumpBuilder: TableBuilder | undefined;
  private lastJumpIndex = -1;
  /**
   * Index in the table's order of the chain the last rule's jump or goto goes to: -1 when not
   * known, {@link NO_JUMP} when the rule does not jump. (Read instead of the target's kind: target
   * objects have many shapes.)
   */
  jumpIndex = NO_JUMP;
  /** Whether a jump target was kept among the targets found by key (not with the jumps). */
  keyedJumps = false;
  private contextTable: TableName | undefined;
  private contextChain = '';
  private contextProtocol: Negatable<number> = NO_PROTOCOL;
  /** The context of the last rule that needed one. */
  private lastContext: BuildContext | undefined;

  constructor(
    readonly family: IPFamily,
    readonly lenient: boolean,
  ) {}

  /**
   * `-j NAME` to a chain (resolved at COMMIT), shared by the rules that jump there: looked for
   * among the chains declared just after this rule's chain or the last jump's, then by name. It
   * names the chain with the declared chain's own string when it can, so COMMIT finds the chain
   * without comparing text.
   */
  jumpTo(builder: TableBuilder, name: string): Target {
    const last = this.lastJump;
    if (last !== undefined && last.name === name) {
      this.jumpIndex = builder === this.lastJumpBuilder ? this.lastJumpIndex : chainIndex(builder, name);
      return last;
    }
    const order = builder.order;
    if (order !== undefined) {
      const print = fingerprint(name);
      let k = near(builder, order, name, print, builder.cursor, LOOKAHEAD);
      if (k < 0) k = near(builder, order, name, print, builder.jumpCursor, JUMP_LOOKAHEAD);
      if (k >= 0) {
        builder.jumpCursor = k;
        this.jumpIndex = k;
        return (builder.jumps[k] ??= jump(order[k]!.name));
      }
    }
    let target = this.jumps.get(name);
    if (!target) {
      target = jump(builder.table.chains.get(name)?.name ?? name);
      this.jumps.set(name, target);
    }
    this.lastJump = target;
    this.lastJumpBuilder = builder;
    this.lastJumpIndex = this.jumpIndex = chainIndex(builder, name);
    return target;
  }

  /**
   * What a module builder may depend on besides its options: the table, the chain when it is
   * built in, and the protocol (the family is the parse's). Kept from rule to rule while it does
   * not change. Protocols are shared objects, one per number and negation, so they stand for
   * themselves.
   */
  context(d: RuleDraft): BuildContext {
    const table = d.table;
    const chain = d.builtin ? d.chain : '-';
    // (A stand-in object for "no protocol" keeps the comparison between objects.)
    const protocol = d.protocol ?? NO_PROTOCOL;
    const last = this.lastContext;
    if (last !== undefined && table === this.contextTable && chain === this.contextChain && protocol === this.contextProtocol) return last;
    this.contextTable = table;
    this.contextChain = chain;
    this.contextProtocol = protocol;
    let chains = this.contexts.get(table);
    if (chains === undefined) {
      chains = new Map();
      this.contexts.set(table, chains);
    }
    let protocols = chains.get(chain);
    if (protocols === undefined) {
      protocols = new Map();
      chains.set(chain, protocols);
    }
    let context = protocols.get(protocol);
    if (context === undefined) {
      context = new BuildContext();
      protocols.set(protocol, context);
    }
    this.lastContext = context;
    return context;
  }

  /** Read the rest of the current line (after `-A CHAIN`) as a rule of `chain`. */
  rule(builder: TableBuilder, chain: Chain, number: number, text: string, counters: Rule['counters'], location: SourceLocation): Rule {
    const words = this.words;
    const d = this.draft;
    d.reset(chain, text, counters, location);
    for (;;) {
      const w = words.next();
      if (w === undefined) break;
      const code = optionCode(w);
      switch (code) {
        case Option.None:
          moduleOption(this, d, w); // handles "!" itself
          continue;
        case Option.Not:
          if (d.negate) failAt(location, 'two "!" in a row');
          d.negate = true;
          d.bang = words.plain ? words.wordStart : -1;
          continue;
        case Option.SetCounters:
          countersOption(this, d, w);
          continue;
        case Option.Protocol:
          protocolOption(this, d, w);
          break;
        case Option.Source:
        case Option.Destination:
          addressOption(this, d, w, code);
          break;
        case Option.InInterface:
        case Option.OutInterface:
          interfaceOption(this, d, w, code);
          break;
        case Option.Fragment:
          d.fragment = { value: true, negated: d.negate };
          break;
        case Option.Match:
          matchOption(this, d, w);
          break;
        case Option.Jump:
        case Option.Goto:
          jumpOption(this, d, w, code);
          break;
      }
      d.negate = false;
    }
    if (d.negate) failAt(location, '"!" at the end of the rule negates nothing');

    const matches = d.moduleCount === 0 ? NO_MATCHES : matchesOf(this, d);
    const target = targetOf(this, d, builder);
    if (d.unknown !== undefined) this.unmodelledSeen = true;
    return {
      table: d.table,
      chain: d.chain,
      number,
      location,
      text,
      protocol: d.protocol,
      source: d.source,
      destination: d.destination,
      inInterface: d.inInterface,
      outInterface: d.outInterface,
      fragment: d.fragment,
      matches,
      comment: d.comment,
      target,
      unmodelled: d.unknown !== undefined ? `${d.unknown.join(', ')} not modelled` : undefined,
      counters: d.counters,
    };
  }
}

/** {@link RuleParser.jumpIndex} of a rule without a jump. */
const NO_JUMP = -2;

/** Targets whose options are usually different in every rule. */
const PER_RULE_TARGETS: ReadonlySet<string> = new Set(['DNAT', 'SNAT', 'TPROXY']);

/** Targets that exist in iptables but that kubepath does not model. */
const UNMODELLED_TARGETS: readonly string[] = [
  'QUEUE', 'NFQUEUE', 'CLASSIFY', 'DSCP', 'TOS', 'SECMARK', 'CONNSECMARK', 'TEE', 'HMARK',
  'SET', 'IDLETIMER', 'LED', 'SYNPROXY', 'NETMAP', 'TTL', 'HL', 'ECN', 'ULOG', 'CLUSTERIP',
];

/**
 * Resolve jumps to chains and refuse loops, as iptables-restore does at COMMIT. Returns whether a
 * jump was kept as unmodelled (lenient parsing).
 */
function finishTable(builder: TableBuilder, lenient: boolean, fail: (line: number, detail: string) => never): boolean {
  const order = builder.order;
  if (order !== undefined && builder.edgesKnown) {
    // Every jump was found among the declared chains as its rule was read: its edges are known.
    // (While the order is known it is the order of table.chains.)
    const from = builder.edgeFrom;
    const to = builder.edgeTo;
    const n = order.length;
    const edgeStart = new Int32Array(n + 1);
    for (let k = 0; k < from.length; k++) edgeStart[from[k]! + 1]!++;
    for (let i = 0; i < n; i++) edgeStart[i + 1]! += edgeStart[i]!;
    // Each chain's edges in rule order (the rules of a chain were appended in that order).
    const fill = edgeStart.slice(0, n);
    const edges = new Int32Array(from.length);
    for (let k = 0; k < from.length; k++) edges[fill[from[k]!]!++] = to[k]!;
    checkLoops(order, edges, edgeStart, fail);
    return false;
  }
  const table = builder.table;
  const chains = [...table.chains.values()];
  const indexOf = new Map<string, number>();
  for (let i = 0; i < chains.length; i++) indexOf.set(chains[i]!.name, i);
  // Each chain's jump targets, as chain indexes, for the loop check below: chain i's targets
  // are edges[edgeStart[i]] to edges[edgeStart[i + 1] - 1].
  const edges: number[] = [];
  const edgeStart = new Int32Array(chains.length + 1);
  let replaced = false;
  for (let from = 0; from < chains.length; from++) {
    edgeStart[from] = edges.length;
    const rules = chains[from]!.rules;
    for (let index = 0; index < rules.length; index++) {
      const r = rules[index]!;
      const t = r.target;
      if (t?.kind !== 'jump') continue;
      const to = indexOf.get(t.chain);
      if (to !== undefined) {
        if (chains[to]!.builtin) fail(r.location.line, `${t.goto ? '-g' : '-j'} ${t.chain}: cannot jump to a built-in chain`);
        edges.push(to);
        continue;
      }
      const isTarget = UNMODELLED_TARGETS.includes(t.chain);
      if (!isTarget) fail(r.location.line, `${t.goto ? '-g' : '-j'} ${t.chain}: no chain "${t.chain}" in table ${table.name}, and no target of that name`);
      const why = `target ${t.chain} is not modelled by kubepath`;
      if (!lenient) fail(r.location.line, why);
      rules[index] = { ...r, target: { name: t.chain, text: t.text, kind: 'unmodelled', reason: why }, unmodelled: why };
      replaced = true;
    }
  }
  edgeStart[chains.length] = edges.length;
  checkLoops(chains, edges, edgeStart, fail);
  return replaced;
}

/**
 * Refuse jumps that loop (the kernel refuses such a table): depth-first, iteratively. Chain i
 * jumps to chains edges[edgeStart[i]] to edges[edgeStart[i + 1] - 1].
 */
function checkLoops(chains: readonly Chain[], edges: ArrayLike<number>, edgeStart: Int32Array, fail: (line: number, detail: string) => never): void {
  const state = new Uint8Array(chains.length); // 0 new, 1 on the path, 2 done
  const stack: number[] = [];
  const next: number[] = [];
  for (let root = 0; root < chains.length; root++) {
    if (state[root] !== 0) continue;
    stack.push(root);
    next.push(edgeStart[root]!);
    state[root] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const k = next[next.length - 1]!;
      if (k < edgeStart[top + 1]!) {
        next[next.length - 1] = k + 1;
        const to = edges[k]!;
        if (state[to] === 2) continue;
        if (state[to] === 1) {
          const names = stack.map((i) => chains[i]!.name);
          fail(chains[to]!.location.line, `chains jump in a loop: ${[...names.slice(names.indexOf(chains[to]!.name)), chains[to]!.name].join(' -> ')}`);
        }
        state[to] = 1;
        stack.push(to);
        next.push(edgeStart[to]!);
      } else {
        state[top] = 2;
        stack.pop();
        next.pop();
      }
    }
  }
}
