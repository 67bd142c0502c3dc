/**
 * What a strategy reads: the connection's peer, the PROXY protocol source if the listener read
 * one, and the request's header fields in whichever shapes the server gives them. Node joins
 * repeated fields with ", " in `req.headers` (harmless for list headers like X-Forwarded-For,
 * wrong for single-address headers, where the last instance counts), so `rawHeaders` or
 * `headersDistinct` are read when the number of instances matters.
 *
 * @module
 */

/** One field's value(s) as a record holds it: a string (Node joins repeats) or every instance. */
export type HeaderValue = string | readonly string[] | undefined;

/** Header fields by lower-case name, as Node's `req.headers` or `req.headersDistinct`. */
export interface HeaderRecord {
  readonly [name: string]: HeaderValue;
}

/** The request as a strategy sees it. */
export interface ClientIpInput {
  /** The TCP peer (`socket.remoteAddress`, or Go-style `ip:port`); undefined when the socket has none or is gone. */
  readonly remoteAddress: string | undefined;
  /** The source address of a PROXY protocol header the listener accepted from a trusted peer. */
  readonly proxySource?: string | undefined;
  /** Fields by lower-case name, repeats joined with ", " or as arrays (Node's `req.headers`). */
  readonly headers?: HeaderRecord | undefined;
  /** Every instance of each field in order, by lower-case name (Node's `req.headersDistinct`). */
  readonly headersDistinct?: HeaderRecord | undefined;
  /** Names and values as received, `[name, value, name, value, …]`, names in any case (`req.rawHeaders`). */
  readonly rawHeaders?: readonly string[] | undefined;
}

/** ASCII case-insensitive equality against a lower-case name, without allocating. */
function sameName(received: string, lower: string): boolean {
  if (received.length !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    let c = received.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Every instance of a field in `rawHeaders`, in order. */
function rawInstances(raw: readonly string[], lower: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (sameName(raw[i]!, lower)) out.push(raw[i + 1]!);
  return out;
}

/**
 * The instances of a list field (X-Forwarded-For, Forwarded). With `perLine`, each received line
 * separately when the input has them (rawHeaders, headersDistinct); otherwise `headers` first,
 * as Node's ", " join of a list field is the same list. Undefined when the field is absent.
 */
export function listField(input: ClientIpInput, lower: string, perLine: boolean): string | readonly string[] | undefined {
  if (!perLine && input.headers) {
    const v = input.headers[lower];
    if (v !== undefined) return v;
  }
  if (input.rawHeaders) {
    const lines = rawInstances(input.rawHeaders, lower);
    return lines.length === 0 ? undefined : lines;
  }
  const distinct = input.headersDistinct?.[lower];
  if (distinct !== undefined) return distinct;
  return input.headers?.[lower];
}

/**
 * The last instance of a single-value field (X-Real-IP, CF-Connecting-IP, …). From a joined
 * `headers` string this is the whole string, which does not parse as one address if a client
 * added a second instance: the answer is then "none", not a guess.
 */
export function lastField(input: ClientIpInput, lower: string): string | undefined {
  const raw = input.rawHeaders;
  if (raw) {
    for (let i = raw.length - 2; i >= 0; i -= 2) if (sameName(raw[i]!, lower)) return raw[i + 1];
    return undefined;
  }
  const v = input.headersDistinct?.[lower] ?? input.headers?.[lower];
  if (v === undefined || typeof v === 'string') return v;
  return v.length === 0 ? undefined : v[v.length - 1];
}

/** The lines of a field value as an array (a string is one line). */
export function linesOf(value: string | readonly string[]): readonly string[] {
  return typeof value === 'string' ? [value] : value;
}
