/**
 * The echo server's answer: what a connection and its request say about the client — the TCP
 * peer, the PROXY protocol header if any, the forwarded headers as received, the client IP under
 * each strategy with the trust given, and hints when they disagree. `kubepath echo` serves it;
 * the lab runs it in every pod.
 *
 * @module
 */
import { isPrivateOrLocal, parseTrustedRanges, RemoteAddr, RightmostNonPrivate, RightmostTrustedRange, SingleIPHeader, type Strategy } from './forwarded/index.js';
import type { ClientIpInput } from './forwarded/index.js';
import { tryParseIP } from '../net/index.js';

/** What the listener knows of the connection. */
export interface EchoConnection {
  /** The TCP peer as the kernel reports it (before any PROXY header). */
  peerAddress: string | undefined;
  peerPort: number | undefined;
  /** The PROXY header, described as JSON, when one was accepted. */
  proxyProtocol: unknown;
  /** The PROXY header's source address and port, when it has one. */
  proxySource: { address: string; port: number } | undefined;
}

/** One strategy's answer. */
export interface EchoStrategyAnswer {
  strategy: string;
  client_ip: string | null;
  why: string;
}

/** The echo answer (JSON as documented in docs/echo.md). */
export interface EchoReport {
  /** The client as the application sees the connection: the PROXY source when accepted, else the TCP peer. */
  client_address: string | null;
  client_port: number | null;
  /** The TCP peer itself. */
  peer: { address: string | null; port: number | null };
  proxy_protocol: unknown;
  /** Request line and headers as received, every instance in order (HTTP only). */
  request: { method: string; url: string; http_version: string } | null;
  headers: [string, string][];
  strategies: EchoStrategyAnswer[];
  hints: string[];
}

/** Unmap `::ffff:a.b.c.d` (what a dual-stack socket reports for IPv4 peers). */
function plain(ip: string | undefined): string | undefined {
  return ip?.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** The strategies the echo answers under, given the trusted proxy ranges. */
export function echoStrategies(trust: readonly string[]): { name: string; strategy: Strategy }[] {
  const out: { name: string; strategy: Strategy }[] = [
    { name: 'RemoteAddr (the TCP peer, or the PROXY header\'s source)', strategy: new RemoteAddr() },
    { name: 'RightmostNonPrivate(X-Forwarded-For)', strategy: new RightmostNonPrivate('X-Forwarded-For') },
    { name: 'RightmostNonPrivate(Forwarded)', strategy: new RightmostNonPrivate('Forwarded') },
    { name: 'SingleIPHeader(X-Real-IP)', strategy: new SingleIPHeader('X-Real-IP') },
  ];
  if (trust.length > 0) {
    const ranges = parseTrustedRanges(trust);
    out.push({ name: `RightmostTrustedRange(X-Forwarded-For, ${trust.join(' ')})`, strategy: new RightmostTrustedRange('X-Forwarded-For', ranges) });
  }
  return out;
}

/** Build the answer for one request (or one raw TCP connection, without `request`). */
export function echoReport(
  conn: EchoConnection,
  request: { method: string; url: string; httpVersion: string; rawHeaders: readonly string[] } | undefined,
  strategies: readonly { name: string; strategy: Strategy }[],
): EchoReport {
  const peer = plain(conn.peerAddress);
  const clientAddress = conn.proxySource ? conn.proxySource.address : (peer ?? null);
  const clientPort = conn.proxySource ? conn.proxySource.port : (conn.peerPort ?? null);
  const headers: [string, string][] = [];
  const raw = request?.rawHeaders ?? [];
  for (let i = 0; i + 1 < raw.length; i += 2) headers.push([raw[i]!, raw[i + 1]!]);
  const input: ClientIpInput = { remoteAddress: clientAddress ?? undefined, rawHeaders: raw };
  const answers = strategies.map(({ name, strategy }) => {
    const r = strategy.resolve(input);
    return r.ok
      ? { strategy: name, client_ip: r.client.ip, why: r.client.source === 'header' ? `${r.client.header}, hop ${r.client.hop ?? 'single'}` : r.client.source }
      : { strategy: name, client_ip: null, why: r.reason };
  });
  return {
    client_address: clientAddress,
    client_port: clientPort,
    peer: { address: peer ?? null, port: conn.peerPort ?? null },
    proxy_protocol: conn.proxyProtocol ?? null,
    request: request ? { method: request.method, url: request.url, http_version: request.httpVersion } : null,
    headers,
    strategies: answers,
    hints: hintsOf(clientAddress, answers, headers.length > 0),
  };
}

/** Say what the disagreements mean. */
function hintsOf(client: string | null, answers: readonly EchoStrategyAnswer[], http: boolean): string[] {
  const hints: string[] = [];
  if (!client) return ['the connection has no peer address (the socket closed)'];
  const fromHeaders = answers.filter((a) => a.client_ip !== null && a.client_ip !== client && !a.strategy.startsWith('RemoteAddr'));
  const parsed = tryParseIP(client.split('%')[0]!);
  const privatePeer = parsed !== undefined && isPrivateOrLocal(parsed);
  if (privatePeer && fromHeaders.length === 0) {
    hints.push(
      `the peer ${client} is a private address and no header names another client: if this pod sits behind a Service, kube-proxy may have masqueraded the connection (a node IP or the node's bridge address; see externalTrafficPolicy), or a proxy in front did not add X-Forwarded-For`,
    );
  }
  if (fromHeaders.length > 0) {
    const names = [...new Set(fromHeaders.map((a) => a.client_ip))].join(', ');
    hints.push(
      `the peer ${client} is not the client the headers name (${names}): a proxy is in front; trust its headers only if it is yours (--trust its CIDR), else any client can write them`,
    );
  }
  if (!http) hints.push('raw TCP: no headers; only the peer and a PROXY protocol header can name the client');
  return hints;
}

/** The answer as text for people. */
export function renderEcho(r: EchoReport): string {
  const lines = [`client_address=${r.client_address ?? '-'}`, `client_port=${r.client_port ?? '-'}`, `peer=${r.peer.address ?? '-'}:${r.peer.port ?? '-'}`];
  lines.push(`proxy_protocol=${r.proxy_protocol === null ? 'none' : JSON.stringify(r.proxy_protocol)}`);
  if (r.request) lines.push('', `${r.request.method} ${r.request.url} HTTP/${r.request.http_version}`, ...r.headers.map(([k, v]) => `${k}: ${v}`));
  lines.push('', 'client IP by strategy:');
  const width = Math.max(...r.strategies.map((s) => s.strategy.length));
  for (const s of r.strategies) lines.push(`  ${s.strategy.padEnd(width)}  ${s.client_ip ?? '-'}  (${s.why})`);
  if (r.hints.length > 0) lines.push('', ...r.hints.map((h) => `hint: ${h}`));
  return lines.join('\n') + '\n';
}
