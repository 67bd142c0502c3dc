/**
 * The nodes of a forwarding chain and a cursor that reads them from the right, the direction in
 * which trust is established: the rightmost node was written by the proxy nearest to us.
 *
 * @module
 */
import { type NodeAddress, type NodeKind, nodeKind } from './address.js';

/** One node of X-Forwarded-For or one `for=` of Forwarded. */
export interface ForwardedNode {
  /** The node as received (X-Forwarded-For item trimmed; Forwarded `for` value unquoted; '' when missing). */
  readonly text: string;
  readonly kind: NodeKind;
  /** The usable address; undefined unless kind is 'ip'. */
  readonly address: NodeAddress | undefined;
}

/** Make a node from its text and parsed address. */
export function makeNode(text: string, address: NodeAddress | undefined): ForwardedNode {
  return { text, kind: nodeKind(text, address), address };
}

/**
 * Reads a chain's nodes from the right. `v4` is the hot path: the node's value when it is a plain
 * dotted-quad IPv4 address other than 0.0.0.0 (no port, no brackets), else -1; `text()` and
 * `address()` build strings and objects, for the answer and for every other kind of node.
 */
export interface HopCursor {
  /** Move one node to the left; false when none is left. */
  next(): boolean;
  /** The current node as a plain IPv4 value, or -1. */
  readonly v4: number;
  /** The current node's place counted from the right: 1 is the rightmost. */
  readonly hop: number;
  /** The current node as received. */
  text(): string;
  /** The current node's usable address (undefined for unknown, obfuscated, invalid or unspecified). */
  address(): NodeAddress | undefined;
}

/**
 * A cursor over nodes already parsed (Forwarded elements; X-Forwarded-For read left to right).
 * From the right by default; `fromLeft` walks the other way. `hop` is the current node's place
 * counted from the right (1 = rightmost) either way.
 */
export class NodeListCursor implements HopCursor {
  readonly v4 = -1;
  private index: number;

  constructor(
    private readonly nodes: readonly ForwardedNode[],
    private readonly fromLeft = false,
  ) {
    this.index = fromLeft ? -1 : nodes.length;
  }

  next(): boolean {
    if (this.fromLeft) return ++this.index < this.nodes.length;
    if (this.index === 0) return false;
    this.index--;
    return true;
  }

  get hop(): number {
    return this.nodes.length - this.index;
  }

  text(): string {
    return this.nodes[this.index]!.text;
  }

  address(): NodeAddress | undefined {
    return this.nodes[this.index]!.address;
  }
}
