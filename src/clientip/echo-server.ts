/**
 * The echo server: HTTP (text, or JSON with `Accept: application/json` or `?format=json`) or raw
 * TCP, with the PROXY protocol accepted per policy. What `kubepath echo` runs, and the lab in
 * every pod.
 *
 * @module
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { type EchoConnection, echoReport, echoStrategies, renderEcho } from './echo.js';
import { acceptProxyProtocol, clientEndpointOf, describeProxyHeader, PROXY_PROTOCOL_ERROR_EVENT, proxyProtocolOf, type ProxyProtocolError } from './proxy-protocol/index.js';

export interface EchoServerOptions {
  /** `require`: every connection starts with a PROXY header; `optional`: from `proxyPeers` only; `off`: none accepted. */
  proxyProtocol: 'require' | 'optional' | 'off';
  /** Peers allowed to send a PROXY header (CIDRs); required for `optional`. */
  proxyPeers?: readonly string[];
  /** Proxies whose X-Forwarded-For entries are trusted (CIDRs), for RightmostTrustedRange. */
  trust?: readonly string[];
  /** Raw TCP instead of HTTP: the answer is written as soon as the connection (and its PROXY header) is in. */
  tcp?: boolean;
  /** Called with each PROXY protocol error (the connection is closed). */
  onProxyError?: (e: ProxyProtocolError, peer: string | undefined) => void;
}

function connectionOf(socket: Socket): EchoConnection {
  const info = proxyProtocolOf(socket);
  const header = info?.header ?? null;
  const source = header ? clientEndpointOf(header) : null;
  return {
    peerAddress: info?.peerAddress ?? socket.remoteAddress,
    peerPort: info?.peerPort ?? socket.remotePort,
    proxyProtocol: header ? describeProxyHeader(header) : null,
    proxySource: source && info ? { address: info.remoteAddress, port: info.remotePort } : undefined,
  };
}

function wantsJson(url: string | undefined, accept: string | undefined): boolean {
  return /[?&]format=json(&|$)/.test(url ?? '') || /application\/json/.test(accept ?? '');
}

/** Make the server (not listening yet). */
export function createEchoServer(options: EchoServerOptions): HttpServer | NetServer {
  const strategies = echoStrategies(options.trust ?? []);
  const server: HttpServer | NetServer = options.tcp
    ? createNetServer((socket) => {
        socket.on('error', () => socket.destroy());
        socket.end(renderEcho(echoReport(connectionOf(socket), undefined, strategies)));
      })
    : createHttpServer((req, res) => {
        const report = echoReport(connectionOf(req.socket), { method: req.method ?? 'GET', url: req.url ?? '/', httpVersion: req.httpVersion, rawHeaders: req.rawHeaders }, strategies);
        const json = wantsJson(req.url, req.headers.accept);
        // A Content-Length (not chunks) keeps the answer readable with nc and raw sockets.
        const body = Buffer.from(json ? JSON.stringify(report, null, 2) + '\n' : renderEcho(report));
        res.writeHead(200, { 'Content-Type': json ? 'application/json' : 'text/plain; charset=utf-8', 'Content-Length': body.length, 'Cache-Control': 'no-store' });
        res.end(body);
      });
  if (options.proxyProtocol !== 'off') {
    acceptProxyProtocol(server as NetServer, { mode: options.proxyProtocol, ...(options.proxyPeers?.length ? { trusted: options.proxyPeers } : {}) });
    server.on(PROXY_PROTOCOL_ERROR_EVENT, (e: ProxyProtocolError, socket: Socket) => options.onProxyError?.(e, socket.remoteAddress));
  }
  return server;
}
