/**
 * The one error a strategy's or header reader's configuration can throw. Reading headers never
 * throws: an address that is not there or not usable is a "no result" answer, never an exception.
 *
 * @module
 */

/** A strategy (or a trust list) was configured wrongly; `message` says what to change. */
export class StrategyError extends Error {
  override readonly name = 'StrategyError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
