/**
 * The sending side: connect and write the header before anything else, as HAProxy's
 * `send-proxy` / `send-proxy-v2` do. Works under HTTP clients (`createConnection`) and TLS
 * (`tls.connect({ socket })`), which write after it.
 *
 * @module
 */
import net from 'node:net';
import { type ProxyEndpointInit, type ProxyHeaderInit, encodeProxyHeader } from './encode.js';
import { ProxyProtocolError } from './errors.js';
import type { ProxyTlv } from './header.js';

/** Open a TCP (or IPC) connection whose first bytes are `header` (encoded now, so errors throw here). */
export function connectWithProxyHeader(options: net.NetConnectOpts, header: ProxyHeaderInit | Uint8Array, connectListener?: () => void): net.Socket {
  const bytes = header instanceof Uint8Array ? header : encodeProxyHeader(header);
  const socket = connectListener === undefined ? net.connect(options) : net.connect(options, connectListener);
  // Writes before the connection is up are queued in order: the header goes first.
  socket.write(bytes);
  return socket;
}

/**
 * The header a proxy sends for a connection it accepted: the client (the socket's peer) as source,
 * the address it was reached at as destination.
 */
export function proxyHeaderFor(
  accepted: net.Socket,
  options: { readonly version?: 1 | 2; readonly tlvs?: readonly ProxyTlv[]; readonly crc32c?: boolean } = {},
): ProxyHeaderInit {
  const endpoint = (address: string | undefined, port: number | undefined, which: string): ProxyEndpointInit => {
    if (address === undefined || port === undefined) throw new ProxyProtocolError('invalid-argument', `proxyHeaderFor: the socket has no ${which} address`);
    return { ip: address.split('%')[0]!, port };
  };
  return {
    ...options,
    command: 'PROXY',
    source: endpoint(accepted.remoteAddress, accepted.remotePort, 'remote'),
    destination: endpoint(accepted.localAddress, accepted.localPort, 'local'),
  };
}
