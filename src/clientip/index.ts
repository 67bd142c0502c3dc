/**
 * `kubepath/clientip`: the client's real address inside applications — the PROXY protocol
 * (v1/v2 codec, server and client sides), forwarded headers read strictly with realclientip's
 * strategies and presets, middleware for node:http, Express and Fastify, and the echo server.
 *
 * @module
 */
export * from './proxy-protocol/index.js';
export * from './forwarded/index.js';
export { type EchoConnection, type EchoReport, type EchoStrategyAnswer, echoReport, echoStrategies, renderEcho } from './echo.js';
export { createEchoServer, type EchoServerOptions } from './echo-server.js';
