/**
 * Fastify plugin: `app.register(fastifyClientIp, { strategy })` decorates every request with
 * `clientIp`. Fastify is not a dependency: the types below are the parts of its instance and
 * request that are used; the plugin is marked to skip encapsulation (what fastify-plugin does),
 * so the decoration reaches every route.
 *
 * @module
 */
import { clientIp, type NodeRequestLike } from './node.js';
import type { Strategy } from './strategy.js';

/** A Fastify request as the plugin sees it. */
export interface FastifyRequestLike {
  readonly raw: NodeRequestLike;
  clientIp?: string | undefined;
}

/** The parts of a Fastify instance the plugin uses. */
export interface FastifyInstanceLike {
  decorateRequest(name: string, value: unknown): unknown;
  addHook(name: 'onRequest', hook: (request: FastifyRequestLike, reply: unknown, done: (err?: Error) => void) => void): unknown;
}

/** Options of the plugin. */
export interface FastifyClientIpOptions {
  readonly strategy: Strategy;
  /** The PROXY protocol source for a request (see behindProxyProtocol). */
  readonly proxySource?: (raw: NodeRequestLike) => string | undefined;
}

/** The plugin: `request.clientIp` is the strategy's answer (undefined when it has none). */
export function fastifyClientIp(instance: FastifyInstanceLike, options: FastifyClientIpOptions, done: (err?: Error) => void): void {
  const { strategy, proxySource } = options;
  instance.decorateRequest('clientIp', undefined);
  instance.addHook('onRequest', (request, _reply, next) => {
    request.clientIp = clientIp(request.raw, strategy, proxySource ? { proxySource } : undefined);
    next();
  });
  done();
}

// fastify-plugin's markers: no encapsulation, and a name in Fastify's errors and printPlugins().
Object.assign(fastifyClientIp, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'kubepath-client-ip',
});
