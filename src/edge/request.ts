/**
 * What travels above TCP on one connection of a journey, as a proxy receives it and as it sends
 * it on: the PROXY protocol header at the start of the stream (the bytes on the wire), and for
 * HTTP the request's header fields in order. The TCP peer and local address are the
 * connection's own (the trace fills them in); a proxy's model reads them, never makes them up.
 *
 * @module
 */

/** One header field as on the wire: the name as sent (case kept) and the value. */
export type HeaderField = readonly [name: string, value: string];

/** An HTTP request's head as one hop receives or sends it. */
export interface HttpRequestHead {
  readonly method: string;
  /** The Host header's value (authority), e.g. `shop.example.com`. */
  readonly host: string;
  /** The request target's path, e.g. `/cart?id=1`. */
  readonly path: string;
  /** The scheme of the connection the request arrived on (TLS or not). */
  readonly scheme: 'http' | 'https';
  /** Header fields in order; repeats kept as separate fields. */
  readonly headers: readonly HeaderField[];
}

/** A PROXY protocol header sent at the start of a connection. */
export interface ProxyHeaderSent {
  readonly version: 1 | 2;
  /** `IP:port` of the client the sender stands for, and of the address it was called on. */
  readonly source: string;
  readonly destination: string;
  /** The encoded header, hex (as `encodeProxyHeader` wrote it). */
  readonly hex: string;
}

/** What arrives at a listener on one connection. */
export interface ConnectionPayload {
  /** The TCP peer as the receiving socket reports it, `IP:port`. */
  readonly peer: string;
  /** The address and port the connection arrived at, `IP:port`. */
  readonly local: string;
  /** The PROXY header at the start of the stream, if the sender wrote one. */
  readonly proxyHeader?: ProxyHeaderSent | undefined;
  /** The HTTP request, for HTTP; undefined for raw TCP (or a protocol kubepath does not read). */
  readonly http?: HttpRequestHead | undefined;
}

/** One change a hop made to the request's header fields, for the trace to show. */
export interface HeaderChange {
  readonly header: string;
  /** Undefined when the field was absent before (added) or after (removed). */
  readonly before?: string | undefined;
  readonly after?: string | undefined;
  /** Why, in the product's words (`use-forwarded-headers is off: nginx sets it to $remote_addr`). */
  readonly why: string;
}

/** What a proxying hop does with one incoming connection. */
export type ProxyDecision =
  | {
      readonly kind: 'forward';
      /** The address the proxy itself takes for the client (nginx `$remote_addr` after realip, Envoy's trusted client address). */
      readonly clientAddress: string;
      /** How it decided that, one sentence. */
      readonly clientAddressWhy: string;
      /**
       * What it sends on the new connection; the trace adds peer and local. A proxy model that writes
       * the PROXY header itself fills the {@link ProxyHeaderSent} fields (source, destination, hex).
       */
      readonly upstream: {
        readonly proxyHeader?: ({ readonly version: 1 | 2 } & Partial<Omit<ProxyHeaderSent, 'version'>>) | undefined;
        readonly http?: HttpRequestHead | undefined;
      };
      readonly changes: readonly HeaderChange[];
      readonly notes: readonly string[];
    }
  | {
      /** The proxy answers or closes itself: the connection goes no further. */
      readonly kind: 'refuse';
      /** HTTP status it answers with, when it answers (400, 404, 503); undefined when it closes. */
      readonly status?: number | undefined;
      readonly reason: string;
      readonly notes: readonly string[];
    };

/** Header fields named `name` (any case), in order. */
export function headerValues(headers: readonly HeaderField[], name: string): string[] {
  const lower = name.toLowerCase();
  return headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

/** The fields with every instance of `name` replaced by one field (or removed when `value` is undefined), kept in place of the first. */
export function setHeader(headers: readonly HeaderField[], name: string, value: string | undefined): HeaderField[] {
  const lower = name.toLowerCase();
  const out: HeaderField[] = [];
  let placed = false;
  for (const h of headers) {
    if (h[0].toLowerCase() !== lower) out.push(h);
    else if (!placed && value !== undefined) {
      out.push([name, value]);
      placed = true;
    }
  }
  if (!placed && value !== undefined) out.push([name, value]);
  return out;
}

/** The IP of an `IP:port` / `[IPv6]:port` text. */
export function hostOf(endpoint: string): string {
  if (endpoint.startsWith('[')) return endpoint.slice(1, endpoint.indexOf(']'));
  const i = endpoint.lastIndexOf(':');
  return i > 0 && endpoint.indexOf(':') === i ? endpoint.slice(0, i) : endpoint;
}
