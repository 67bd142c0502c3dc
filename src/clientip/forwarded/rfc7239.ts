/**
 * RFC 7239 `Forwarded`: a list of elements, each `name=value` pairs joined by ";", values tokens
 * or quoted strings (with `\` escapes; commas and semicolons inside quotes are text). Names are
 * case-insensitive. Each received line is parsed on its own, so a quote left open in one line
 * cannot swallow the lines after it.
 *
 * A broken element is kept as an invalid element (no `for`), and parsing resumes at the next
 * comma outside quotes; an unterminated quoted string makes the rest of its line one invalid
 * element. Either way it is a node that ends a walk from the right: no guess about what the
 * sender meant. Two leniencies, both common in the wild: white space around ";" and ",", and
 * unquoted values holding ":" "[" "]" (IPv6 written without quotes); white space around "=",
 * repeated parameters in one element and non-token names make the element invalid.
 *
 * @module
 */
import { isOWS, parseNodeAddress } from './address.js';
import { linesOf } from './headers.js';
import { type ForwardedNode, makeNode } from './nodes.js';

/** One forwarded-element. */
export interface ForwardedElement {
  /** Parameters by lower-case name, values unquoted and unescaped; empty when the element is invalid. */
  readonly params: ReadonlyMap<string, string>;
  /** Why the element is invalid; undefined when it is valid. */
  readonly error: string | undefined;
  /** The element's text as received. */
  readonly text: string;
}

/** RFC 7230 tchar. */
function isTchar(c: number): boolean {
  if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return true;
  // ! # $ % & ' * + - . ^ _ ` | ~
  return c === 33 || (c >= 35 && c <= 39) || c === 42 || c === 43 || c === 45 || c === 46 || c === 94 || c === 95 || c === 96 || c === 124 || c === 126;
}

/** A character of an unquoted value: a visible character other than `"` `,` `;`. */
function isValueChar(c: number): boolean {
  return c > 32 && c < 127 && c !== 34 && c !== 44 && c !== 59;
}

/** qdtext / quoted-pair content: HTAB, SP, VCHAR, obs-text. */
function isQuotedChar(c: number): boolean {
  return c === 9 || (c >= 32 && c !== 127 && c <= 255);
}

class LineParser {
  private i = 0;
  constructor(private readonly s: string) {}

  /** Parse the whole line into `out`. */
  run(out: ForwardedElement[]): void {
    const s = this.s;
    for (;;) {
      this.skipOWS();
      if (this.i >= s.length) return;
      if (s.charCodeAt(this.i) === 44) {
        this.i++; // an empty list element (RFC 7230 §7): ignored
        continue;
      }
      const start = this.i;
      const params = new Map<string, string>();
      const error = this.element(params);
      if (error !== undefined) this.skipToComma();
      out.push({ params: error === undefined ? params : new Map(), error, text: s.slice(start, this.i).trim() });
      if (this.i < s.length) this.i++; // the comma
    }
  }

  private skipOWS(): void {
    while (this.i < this.s.length && isOWS(this.s.charCodeAt(this.i))) this.i++;
  }

  /** Parse pairs up to the element's end (a comma or the line's end); returns an error or undefined. */
  private element(params: Map<string, string>): string | undefined {
    const s = this.s;
    for (;;) {
      this.skipOWS();
      if (this.i >= s.length || s.charCodeAt(this.i) === 44) return undefined;
      if (s.charCodeAt(this.i) === 59) {
        this.i++;
        continue;
      }
      const nameStart = this.i;
      while (this.i < s.length && isTchar(s.charCodeAt(this.i))) this.i++;
      if (this.i === nameStart) return `unexpected character ${JSON.stringify(s[this.i])} where a parameter name belongs`;
      const name = s.slice(nameStart, this.i).toLowerCase();
      if (s.charCodeAt(this.i) !== 61) return `parameter "${name}" has no "=" right after its name`;
      this.i++;
      if (isOWS(s.charCodeAt(this.i))) return `white space after "=" in parameter "${name}"`;
      const value = s.charCodeAt(this.i) === 34 ? this.quoted() : this.unquoted();
      if (typeof value !== 'string') return value.error;
      if (params.has(name)) return `parameter "${name}" appears twice in one element`;
      params.set(name, value);
      this.skipOWS();
      const c = s.charCodeAt(this.i);
      if (this.i < s.length && c !== 59 && c !== 44) return `unexpected character ${JSON.stringify(s[this.i])} after the value of "${name}"`;
    }
  }

  private unquoted(): string | { error: string } {
    const start = this.i;
    while (this.i < this.s.length && isValueChar(this.s.charCodeAt(this.i))) this.i++;
    if (this.i === start) return { error: 'empty value' };
    return this.s.slice(start, this.i);
  }

  /** A quoted string; on a bad character it still reads on to the closing quote, so resuming is outside it. */
  private quoted(): string | { error: string } {
    const s = this.s;
    this.i++; // opening quote
    let value = '';
    let from = this.i;
    let bad: string | undefined;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 34) {
        value += s.slice(from, this.i);
        this.i++;
        return bad === undefined ? value : { error: bad };
      }
      if (c === 92 && this.i + 1 < s.length) {
        if (!isQuotedChar(s.charCodeAt(this.i + 1))) bad ??= 'control character escaped in a quoted string';
        value += s.slice(from, this.i) + s[this.i + 1];
        this.i += 2;
        from = this.i;
        continue;
      }
      if (!isQuotedChar(c)) bad ??= 'control character in a quoted string';
      this.i++;
    }
    return { error: 'quoted string not terminated' };
  }

  /** After an error: on to the next comma outside quotes (the line's end if a quote stays open). */
  private skipToComma(): void {
    const s = this.s;
    let quoted = false;
    for (; this.i < s.length; this.i++) {
      const c = s.charCodeAt(this.i);
      if (quoted) {
        if (c === 92) this.i++;
        else if (c === 34) quoted = false;
      } else if (c === 34) quoted = true;
      else if (c === 44) return;
    }
  }
}

/** Parse every element of a Forwarded field (one string, or one per received line), left to right. */
export function readForwarded(value: string | readonly string[]): ForwardedElement[] {
  const out: ForwardedElement[] = [];
  for (const line of linesOf(value)) new LineParser(line).run(out);
  return out;
}

/** The `for` node of each element: an element without `for`, or an invalid one, is an invalid node. */
export function forwardedForNodes(elements: readonly ForwardedElement[]): ForwardedNode[] {
  return elements.map((e) => {
    const text = e.params.get('for') ?? '';
    return makeNode(text, text === '' ? undefined : parseNodeAddress(text));
  });
}
