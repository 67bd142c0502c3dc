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

/** Reads a chain's nodes from the right; `text` and `address` describe the current one. */
export interface HopCursor {
  /** Move one node to the left; false when none is left. */
  next(): boolean;
  /** The current node as received. */
  readonly text: string;
  /** The current node's usable address (undefined for unknown, obfuscated, invalid or unspecified). */
  readonly address: NodeAddress | undefined;
}

/** A cursor over nodes already parsed (Forwarded elements). */
export class NodeListCursor implements HopCursor {
  text = '';
  address: NodeAddress | undefined = undefined;
  private index: number;

  constructor(private readonly nodes: readonly ForwardedNode[]) {
    this.index = nodes.length;
  }

  next(): boolean {
    if (this.index === 0) return false;
    const node = this.nodes[--this.index]!;
    this.text = node.text;
    this.address = node.address;
    return true;
  }
}
