/**
 * X-Forwarded-For: a comma-separated list over every instance of the field, in order (repeated
 * lines concatenate, as Node's ", " join and nginx's linked headers do). Items are split as
 * realclientip splits them: an empty item is an item (an invalid node), so counts from the right
 * agree. The cursor reads from the right without splitting the whole field, so the work is the
 * number of hops walked, not the length an attacker padded the field to.
 *
 * @module
 */
import { type NodeAddress, parseNodeAddress, trimmed } from './address.js';
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

/** Reads X-Forwarded-For's items from the right, across lines, parsing each once. */
export class XffCursor implements HopCursor {
  text = '';
  address: NodeAddress | undefined = undefined;
  private line: number;
  /** Exclusive end of the unread part of the current line; -1 once the line is used up. */
  private end: number;

  constructor(private readonly lines: readonly string[]) {
    this.line = lines.length - 1;
    this.end = this.line >= 0 ? lines[this.line]!.length : -1;
  }

  next(): boolean {
    while (this.line >= 0) {
      if (this.end >= 0) {
        const s = this.lines[this.line]!;
        const comma = this.end === 0 ? -1 : s.lastIndexOf(',', this.end - 1);
        this.text = trimmed(s, comma + 1, this.end);
        this.end = comma;
        this.address = parseNodeAddress(this.text);
        return true;
      }
      if (--this.line >= 0) this.end = this.lines[this.line]!.length;
    }
    return false;
  }
}
