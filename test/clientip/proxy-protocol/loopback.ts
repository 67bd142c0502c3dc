/**
 * Real sockets on loopback for the PROXY protocol tests: listening, raw clients that write in
 * chosen pieces (binding to 127.x.y.z to stand for different peers), and a forwarder that plays
 * the load balancer in front of an app.
 */
import { once } from 'node:events';
import net from 'node:net';
import {
  PROXY_PROTOCOL_ERROR_EVENT,
  type ProxyProtocolError,
  connectWithProxyHeader,
  proxyHeaderFor,
} from '../../../src/clientip/proxy-protocol/index.js';

export async function listen(server: net.Server, host = '127.0.0.1'): Promise<number> {
  server.listen(0, host);
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

/** Close a server and every connection it still has. */
export async function close(server: net.Server): Promise<void> {
  const s = server as net.Server & { closeAllConnections?: () => void };
  s.closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** The next header error the server reports. */
export function nextError(server: net.Server): Promise<ProxyProtocolError> {
  return new Promise((resolve) => server.once(PROXY_PROTOCOL_ERROR_EVENT, (e: ProxyProtocolError) => resolve(e)));
}

export interface Exchange {
  /** Everything the server sent until it closed. */
  readonly data: Buffer;
  /** The connection was reset or refused rather than closed. */
  readonly error: string | undefined;
}

/** Connect, write the pieces (with a pause between them), half-close, and read until the server closes. */
export async function exchange(port: number, pieces: readonly Uint8Array[], options: { localAddress?: string; gapMs?: number; end?: boolean } = {}): Promise<Exchange> {
  const socket = net.connect({ port, host: '127.0.0.1', ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
  socket.setNoDelay(true);
  const chunks: Buffer[] = [];
  let error: string | undefined;
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', (e) => (error = e.message));
  // Not events.once: it rejects on 'error', and a reset is an outcome here, not a failure.
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  await Promise.race([new Promise<void>((resolve) => socket.on('connect', () => resolve())), closed]);
  for (const p of pieces) {
    if (socket.destroyed) break;
    socket.write(p);
    if (options.gapMs !== undefined) await new Promise((r) => setTimeout(r, options.gapMs));
  }
  if (options.end ?? false) socket.end();
  await closed;
  return { data: Buffer.concat(chunks), error };
}

export const GET = (path = '/'): Buffer => Buffer.from(`GET ${path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n`);

/** The body of a raw HTTP/1.1 response. */
export function body(response: Buffer): string {
  const text = response.toString('utf8');
  const at = text.indexOf('\r\n\r\n');
  return at < 0 ? '' : text.slice(at + 4);
}

/**
 * A TCP load balancer on 127.0.0.2 in front of `port`: it connects from `from` and sends a PROXY
 * header (of `version`) naming the client it accepted, then relays both ways.
 */
export async function forwarder(port: number, from: string, version: 1 | 2): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = connectWithProxyHeader({ port, host: '127.0.0.1', localAddress: from }, proxyHeaderFor(client, { version }));
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  const p = await listen(server, '127.0.0.2');
  return {
    port: p,
    close: async () => {
      for (const s of sockets) s.destroy();
      await close(server);
    },
  };
}
