/**
 * `kubepath/net`: addresses, networks, ports, 5-tuples, packets and routes.
 *
 * @module
 */
export * from './ip.js';
export * from './cidr.js';
export * from './packet.js';
export * from './route.js';
export * from './sloppy.js';
