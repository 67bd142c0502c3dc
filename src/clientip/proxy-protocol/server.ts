/**
 * The receiving side: a listener that reads the PROXY header of each connection before the
 * server (net, http, https, http2) sees it, then hands the socket on with the rest of its bytes
 * untouched and the client's address as its `remoteAddress`.
 *
 * Policy per listener, as HAProxy's `accept-proxy` / `expect-proxy … if { src … }`:
 * - `require`: every connection starts with a header (with `trusted`, peers outside it are refused);
 * - `optional`: peers in `trusted` may send one, and whether they did is read from the signature;
 *   other peers may not, and a header from them is an error;
 * - `reject`: no peer may send one.
 * The presence of a header is never guessed for a peer that may not send one: its bytes are only
 * looked at to refuse a header. Errors destroy the socket and are emitted on the server as
 * `proxyProtocolError` (error, socket); nothing is thrown into the event loop.
 *
 * @module
 */
import net from 'node:net';
import tls from 'node:tls';
import { formatIP } from '../../net/index.js';
import { PP2_SIGNATURE } from './constants.js';
import { detectProxySignature, type ProxyDecodeStep, type ProxyDecoderOptions, ProxyHeaderDecoder } from './decoder.js';
import { ProxyProtocolError, type ProxyProtocolErrorCode } from './errors.js';
import { clientEndpointOf, type ProxyHeader } from './header.js';
import { type ProxyParseOptions, resolveParseOptions } from './options.js';
import { trustedPeers } from './trust.js';

export type ProxyProtocolMode = 'require' | 'optional' | 'reject';

export interface ProxyProtocolPolicy extends ProxyParseOptions {
  readonly mode: ProxyProtocolMode;
  /** CIDRs (or addresses) of the peers that may send a header; needed for `optional`, narrows `require`. */
  readonly trusted?: readonly string[];
  /**
   * Milliseconds for the header (and, for peers that need not send one, for the first bytes that
   * show there is none). Default 10 000 as go-proxyproto; the spec asks for at least 3 s.
   */
  readonly timeoutMs?: number;
}

/** What the listener learnt about a connection. */
export interface ProxyConnectionInfo {
  /** The header, or null when the connection came without one. */
  readonly header: ProxyHeader | null;
  /** The TCP peer (the proxy or load balancer) as the socket reported it. */
  readonly peerAddress: string;
  readonly peerPort: number;
  /** The client for the application: the header's source for a PROXY command over IP, else the peer. */
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly remoteFamily: 'IPv4' | 'IPv6';
}

/** The server event on which header errors are reported: `(error: ProxyProtocolError, socket: net.Socket)`. */
export const PROXY_PROTOCOL_ERROR_EVENT = 'proxyProtocolError';

export const DEFAULT_HEADER_TIMEOUT_MS = 10_000;

const INFO = Symbol('kubepath.proxyProtocol');
const INSTALLED = new WeakSet<net.Server>();

interface WithInfo {
  [INFO]?: ProxyConnectionInfo;
}

/** What the listener learnt about the connection of `socket` (a net or TLS socket, or http2's socket proxy). */
export function proxyProtocolOf(socket: net.Socket): ProxyConnectionInfo | undefined {
  return (socket as WithInfo)[INFO];
}

/** The header of the connection: null when it had none, undefined when no listener read it. */
export function proxyHeaderOf(socket: net.Socket): ProxyHeader | null | undefined {
  return proxyProtocolOf(socket)?.header;
}

interface Compiled {
  readonly mode: ProxyProtocolMode;
  readonly hasTrusted: boolean;
  readonly isTrusted: (address: string | undefined) => boolean;
  readonly timeoutMs: number;
  /** Decoder options for peers that must send a header, and for trusted peers under `optional`. */
  readonly required: ProxyDecoderOptions;
  readonly optional: ProxyDecoderOptions;
}

function invalid(message: string): ProxyProtocolError {
  return new ProxyProtocolError('invalid-argument', `acceptProxyProtocol: ${message}`);
}

function compile(policy: ProxyProtocolPolicy): Compiled {
  if (policy.mode !== 'require' && policy.mode !== 'optional' && policy.mode !== 'reject') {
    throw invalid(`mode must be require, optional or reject, not ${String(policy.mode)}`);
  }
  const trusted = policy.trusted ?? [];
  if (policy.mode === 'optional' && trusted.length === 0) throw invalid('optional needs the trusted CIDRs that may send a header');
  if (policy.mode === 'reject' && trusted.length > 0) throw invalid('reject takes no trusted CIDRs');
  const timeoutMs = policy.timeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS;
  if (!(timeoutMs > 0 && timeoutMs <= 0x7fffffff)) throw invalid(`timeoutMs must be a positive number of milliseconds, not ${timeoutMs}`);
  const parse: ProxyParseOptions = resolveParseOptions(policy);
  return {
    mode: policy.mode,
    hasTrusted: trusted.length > 0,
    isTrusted: trustedPeers(trusted),
    timeoutMs,
    required: { ...parse, optional: false },
    optional: { ...parse, optional: true },
  };
}

/**
 * Read PROXY headers on every connection of `server` under `policy`, before its own
 * `connection` handling (HTTP, TLS, HTTP/2 all start there). Returns the server.
 * Throws ProxyProtocolError `invalid-argument` for a bad policy or a second install.
 */
export function acceptProxyProtocol<S extends net.Server>(server: S, policy: ProxyProtocolPolicy): S {
  const cfg = compile(policy);
  if (INSTALLED.has(server)) throw invalid('the server already reads PROXY headers');
  INSTALLED.add(server);
  type Emit = (this: net.Server, event: string | symbol, ...args: unknown[]) => boolean;
  const emit = server.emit as Emit;
  const released = new WeakSet<net.Socket>();
  const handOn = (socket: net.Socket, info: ProxyConnectionInfo, rest: Buffer): void => {
    attach(socket, info);
    if (rest.length > 0) socket.unshift(rest);
    released.add(socket);
    emit.call(server, 'connection', socket);
  };
  const report = (socket: net.Socket, error: ProxyProtocolError): void => {
    socket.destroy();
    emit.call(server, PROXY_PROTOCOL_ERROR_EVENT, error, socket);
  };
  // Every 'connection' goes through emit, whoever listens and whenever they subscribed.
  const intercept: Emit = function (this: net.Server, event, ...args) {
    const socket = args[0];
    if (event === 'connection' && socket instanceof net.Socket && !released.has(socket)) {
      readHeader(socket, cfg, handOn, report);
      return true;
    }
    return emit.call(this, event, ...args);
  };
  server.emit = intercept as S['emit'];
  if (server instanceof tls.Server) {
    // A TLS server wraps the socket we handed on; give the TLS socket the same view.
    server.prependListener('secureConnection', (tlsSocket: tls.TLSSocket) => {
      const parent = (tlsSocket as unknown as { _parent?: unknown })._parent;
      const info = parent instanceof net.Socket ? proxyProtocolOf(parent) : undefined;
      if (info !== undefined) attach(tlsSocket, info);
    });
  }
  return server;
}

function attach(socket: net.Socket, info: ProxyConnectionInfo): void {
  Object.defineProperty(socket, INFO, { value: info, configurable: true });
  Object.defineProperty(socket, 'remoteAddress', { value: info.remoteAddress, configurable: true });
  Object.defineProperty(socket, 'remotePort', { value: info.remotePort, configurable: true });
  Object.defineProperty(socket, 'remoteFamily', { value: info.remoteFamily, configurable: true });
}

function connectionInfo(header: ProxyHeader | null, peerAddress: string, peerPort: number, peerFamily: string | undefined): ProxyConnectionInfo {
  const client = header === null ? null : clientEndpointOf(header);
  if (client === null) {
    return { header, peerAddress, peerPort, remoteAddress: peerAddress, remotePort: peerPort, remoteFamily: peerFamily === 'IPv6' ? 'IPv6' : 'IPv4' };
  }
  return {
    header,
    peerAddress,
    peerPort,
    remoteAddress: formatIP(client.ip),
    remotePort: client.port,
    remoteFamily: client.ip.family === 6 ? 'IPv6' : 'IPv4',
  };
}

/** Peers that may not send a header: look only far enough to see whether they did. */
class SignatureWatch {
  #held: Buffer[] = [];
  #bytes = Buffer.alloc(PP2_SIGNATURE.length);
  #n = 0;

  feed(chunk: Buffer): 'header' | 'none' | 'incomplete' {
    this.#held.push(chunk);
    const take = Math.min(chunk.length, this.#bytes.length - this.#n);
    chunk.copy(this.#bytes, this.#n, 0, take);
    this.#n += take;
    const sig = detectProxySignature(this.#bytes, this.#n);
    return sig === 'incomplete' ? 'incomplete' : sig === 'none' ? 'none' : 'header';
  }

  get held(): Buffer {
    return this.#held.length === 1 ? this.#held[0]! : Buffer.concat(this.#held);
  }
}

function readHeader(
  socket: net.Socket,
  cfg: Compiled,
  handOn: (socket: net.Socket, info: ProxyConnectionInfo, rest: Buffer) => void,
  report: (socket: net.Socket, error: ProxyProtocolError) => void,
): void {
  const peerAddress = socket.remoteAddress;
  const peerPort = socket.remotePort ?? 0;
  const peerFamily = socket.remoteFamily;
  if (peerAddress === undefined) {
    socket.destroy(); // gone before we looked
    return;
  }
  const from = `from ${peerAddress}:${peerPort}`;
  const trusted = cfg.isTrusted(peerAddress);
  if (cfg.mode === 'require' && cfg.hasTrusted && !trusted) {
    report(socket, new ProxyProtocolError('untrusted-peer', `PROXY protocol: connection ${from}, which is not a trusted proxy`));
    return;
  }
  // Only a peer allowed to send a header gets its bytes parsed as one.
  const decoder = cfg.mode === 'require' ? new ProxyHeaderDecoder(cfg.required) : trusted ? new ProxyHeaderDecoder(cfg.optional) : undefined;
  const watch = decoder === undefined ? new SignatureWatch() : undefined;
  let settled = false;

  const finish = (): void => {
    settled = true;
    clearTimeout(timer);
    socket.removeListener('readable', onReadable);
    socket.removeListener('end', onEnd);
    socket.removeListener('error', onError);
    socket.removeListener('close', onClose);
  };
  const fail = (code: ProxyProtocolErrorCode, message: string, cause?: unknown, offset?: number): void => {
    if (settled) return;
    finish();
    report(socket, new ProxyProtocolError(code, `${message} (${from})`, offset === undefined ? { cause } : { cause, offset }));
  };
  // The decoder throws nothing but ProxyProtocolError; anything else would be a bug, reported the same way.
  const failWith = (e: unknown): void => {
    if (e instanceof ProxyProtocolError) fail(e.code, e.message, e, e.offset);
    else fail('truncated', `PROXY protocol: ${(e as Error).message}`, e);
  };
  const done = (step: ProxyDecodeStep & { status: 'complete' | 'absent' }): void => {
    finish();
    handOn(socket, connectionInfo(step.status === 'complete' ? step.header : null, peerAddress, peerPort, peerFamily), step.rest);
  };
  const onReadable = (): void => {
    let chunk: Buffer | null;
    while (!settled && (chunk = socket.read() as Buffer | null) !== null) {
      if (watch !== undefined) {
        const seen = watch.feed(chunk);
        if (seen === 'header') {
          const why = cfg.mode === 'reject' ? 'this listener takes no PROXY header' : 'the peer is not a trusted proxy';
          fail('header-not-allowed', `PROXY protocol: a header ${from}, but ${why}`);
        } else if (seen === 'none') done({ status: 'absent', rest: watch.held });
        continue;
      }
      let step: ProxyDecodeStep;
      try {
        step = decoder!.feed(chunk);
      } catch (e) {
        failWith(e);
        return;
      }
      if (step.status !== 'incomplete') done(step);
    }
  };
  const onEnd = (): void => fail('truncated', 'PROXY protocol: the connection ended before the header was complete');
  const onError = (e: Error): void => fail('truncated', `PROXY protocol: ${e.message} before the header was complete`, e);
  const onClose = (): void => {
    if (!settled) finish();
  };
  const timer = setTimeout(() => fail('header-timeout', `PROXY protocol: no complete header within ${cfg.timeoutMs} ms`), cfg.timeoutMs);
  timer.unref();
  socket.on('readable', onReadable);
  socket.on('end', onEnd);
  socket.on('error', onError);
  socket.on('close', onClose);
}
