/**
 * Express middleware: `app.use(expressClientIp(strategy))` sets `req.clientIp`. Express is not a
 * dependency: the types below are the parts of its request and `next` that are used.
 *
 * @module
 */
import { clientIp, type NodeRequestLike, type RequestOptions } from './node.js';
import type { Strategy } from './strategy.js';

/** An Express request as the middleware sees it. */
export interface ExpressRequestLike extends NodeRequestLike {
  clientIp?: string | undefined;
}

/** Express middleware setting `req.clientIp` (undefined when the strategy has no answer). */
export function expressClientIp<Req extends ExpressRequestLike>(
  strategy: Strategy,
  options?: RequestOptions<Req>,
): (req: Req, res: unknown, next: (err?: unknown) => void) => void {
  return (req, _res, next) => {
    req.clientIp = clientIp(req, strategy, options);
    next();
  };
}
