/**
 * X-Forwarded-For: a comma-separated list over every instance of the field, in order (repeated
 * lines concatenate, as Node's ", " join and nginx's linked headers do). Items are split as
 * realclientip splits them: an empty item is an item (an invalid node), so counts from the right
 * agree. The cursor reads from the right without splitting the whole field, so the work is the
 * number of hops walked, not the length an attacker padded the field to.
 *
 * @module
 */
import { ipv4Node, isOWS, type NodeAddress, parseNodeAddress, trimmed } from './address.js';
import { linesOf } from './headers.js';
import { type ForwardedNode, type HopCursor, makeNode } from './nodes.js';

/** Every node of X-Forwarded-For, left to right (the client's claim first, the nearest proxy's last). */
export function readXForwardedFor(value: string | readonly string[]): ForwardedNode[] {
  const out: ForwardedNode[] = [];
  for (const line of linesOf(value)) {
    let start = 0;
    for (;;) {
      const comma = line.indexOf(',', start);
      const end = comma < 0 ? line.length : comma;
      const text = trimmed(line, start, end);
      out.push(makeNode(text, parseNodeAddress(text)));
      if (comma < 0) break;
      start = comma + 1;
    }
  }
  return out;
}

const OCTET_WEIGHT = [1, 256, 65536];

/** Reads X-Forwarded-For's items from the right, across lines, without slicing plain IPv4 nodes. */
export class XffCursor implements HopCursor {
  v4 = -1;
  hop = 0;
  private line: number;
  private current = '';
  /** The current item is current[start, end), white space trimmed. */
  private start = 0;
  private end = 0;
  /** Exclusive end of the unread part of the current line; -1 once the line is used up. */
  private rest: number;

  constructor(private readonly lines: string | readonly string[]) {
    this.line = typeof lines === 'string' ? 0 : lines.length - 1;
    this.rest = this.line >= 0 ? this.lineAt(this.line).length : -1;
  }

  private lineAt(i: number): string {
    return typeof this.lines === 'string' ? this.lines : this.lines[i]!;
  }

  next(): boolean {
    while (this.line >= 0) {
      if (this.rest >= 0) {
        const s = this.lineAt(this.line);
        this.current = s;
        if (!this.scanPlainV4(s)) this.scanAny(s);
        this.hop++;
        return true;
      }
      if (--this.line >= 0) this.rest = this.lineAt(this.line).length;
    }
    return false;
  }

  /**
   * The hot path: read a plain dotted-quad node backwards from `rest` in one pass, finding its
   * comma on the way (no lastIndexOf, no slice). Same rules as net/'s parser: decimal octets
   * 0-255, no leading zeros. False, with nothing changed, for any other node.
   */
  private scanPlainV4(s: string): boolean {
    let i = this.rest - 1;
    while (i >= 0 && isOWS(s.charCodeAt(i))) i--;
    const end = i + 1;
    let value = 0;
    let octet = 0;
    let place = 1;
    let digits = 0;
    let dots = 0;
    let first = 0; // the leftmost digit read so far in this octet
    for (; i >= 0; i--) {
      const c = s.charCodeAt(i);
      if (c >= 48 && c <= 57) {
        if (digits === 3) return false;
        octet += (c - 48) * place;
        place *= 10;
        digits++;
        first = c;
      } else if (c === 46) {
        if (digits === 0 || dots === 3 || octet > 255 || (digits > 1 && first === 48)) return false;
        value += octet * OCTET_WEIGHT[dots]!;
        dots++;
        octet = 0;
        place = 1;
        digits = 0;
      } else break;
    }
    if (dots !== 3 || digits === 0 || octet > 255 || (digits > 1 && first === 48)) return false;
    const start = i + 1;
    while (i >= 0 && isOWS(s.charCodeAt(i))) i--;
    if (i >= 0 && s.charCodeAt(i) !== 44) return false;
    value += octet * 16777216;
    if (value === 0) return false; // 0.0.0.0: the slow path refuses it
    this.v4 = value;
    this.start = start;
    this.end = end;
    this.rest = i;
    return true;
  }

  /** Any node: up to the previous comma, white space trimmed. */
  private scanAny(s: string): void {
    const comma = this.rest === 0 ? -1 : s.lastIndexOf(',', this.rest - 1);
    let start = comma + 1;
    let end = this.rest;
    while (start < end && isOWS(s.charCodeAt(start))) start++;
    while (end > start && isOWS(s.charCodeAt(end - 1))) end--;
    this.start = start;
    this.end = end;
    this.rest = comma;
    this.v4 = -1;
  }

  text(): string {
    return this.current.slice(this.start, this.end);
  }

  address(): NodeAddress | undefined {
    return this.v4 >= 0 ? ipv4Node(this.v4) : parseNodeAddress(this.text());
  }
}
