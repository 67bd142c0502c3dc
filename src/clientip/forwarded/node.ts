/**
 * node:http: the client address of an IncomingMessage (anything shaped like one), and a request
 * listener wrapper that sets `req.clientIp`. Types are structural, so the same functions serve
 * Express and Fastify's raw requests.
 *
 * @module
 */
import type { ClientIpInput, HeaderRecord } from './headers.js';
import type { ClientIpResult } from './result.js';
import type { Strategy } from './strategy.js';

/** The parts of a node:http IncomingMessage that are read. */
export interface NodeRequestLike {
  readonly headers: HeaderRecord;
  readonly rawHeaders?: readonly string[] | undefined;
  readonly headersDistinct?: HeaderRecord | undefined;
  readonly socket?: { readonly remoteAddress?: string | undefined } | null | undefined;
}

/** Options for reading a request. */
export interface RequestOptions<Req extends NodeRequestLike = NodeRequestLike> {
  /**
   * The source address of the PROXY protocol header the listener accepted for this connection
   * (see behindProxyProtocol); undefined when there was none.
   */
  readonly proxySource?: ((req: Req) => string | undefined) | undefined;
}

/** What a strategy reads from a node:http request. */
export function requestInput<Req extends NodeRequestLike>(req: Req, options?: RequestOptions<Req>): ClientIpInput {
  return {
    remoteAddress: req.socket?.remoteAddress,
    proxySource: options?.proxySource?.(req),
    headers: req.headers,
    rawHeaders: req.rawHeaders,
    // Node computes headersDistinct from rawHeaders on first use: read it only without them.
    headersDistinct: req.rawHeaders ? undefined : req.headersDistinct,
  };
}

/** The client's canonical address under `strategy`; undefined when it has none (treat as an error). */
export function clientIp<Req extends NodeRequestLike>(req: Req, strategy: Strategy, options?: RequestOptions<Req>): string | undefined {
  return strategy.clientIP(requestInput(req, options));
}

/** The full answer: where the address came from, or why there is none. */
export function clientIpResult<Req extends NodeRequestLike>(req: Req, strategy: Strategy, options?: RequestOptions<Req>): ClientIpResult {
  return strategy.resolve(requestInput(req, options));
}

/** A request with the answer set on it. */
export type WithClientIp<Req> = Req & { clientIp: string | undefined };

/** Wrap a request listener so that `req.clientIp` is set before it runs. */
export function withClientIp<Req extends NodeRequestLike, Res>(
  strategy: Strategy,
  listener: (req: WithClientIp<Req>, res: Res) => void,
  options?: RequestOptions<Req>,
): (req: Req, res: Res) => void {
  return (req, res) => {
    const r = req as WithClientIp<Req>;
    r.clientIp = clientIp(req, strategy, options);
    listener(r, res);
  };
}
