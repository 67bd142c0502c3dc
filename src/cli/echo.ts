/**
 * `kubepath echo`: the diagnostic server to run as a pod. It answers every request (or raw TCP
 * connection) with what it can tell about the client: the TCP peer, the PROXY header, the
 * forwarded headers, the client IP under each strategy, and hints.
 *
 * @module
 */
import type { AddressInfo } from 'node:net';
import { createEchoServer } from '../clientip/index.js';
import { parseNetwork } from '../net/index.js';
import { EXIT, UserError } from './errors.js';

export interface EchoFlags {
  readonly port: string;
  readonly host?: string;
  readonly proxyProtocol: 'require' | 'optional' | 'off';
  readonly proxyPeer?: string[];
  readonly trust?: string[];
  readonly tcp?: boolean;
}

function cidrs(list: readonly string[] | undefined, flag: string): string[] {
  return (list ?? []).map((c) => {
    try {
      parseNetwork(c);
      return c;
    } catch (e) {
      throw new UserError(`${flag} ${c}: ${(e as Error).message}`);
    }
  });
}

/** Start the server; it runs until the process is stopped. Prints where it listens. */
export function runEcho(flags: EchoFlags, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): number {
  const port = Number(flags.port);
  if (!/^\d+$/.test(flags.port) || port > 65535) throw new UserError(`--port ${flags.port}: expected 0-65535`);
  const proxyPeers = cidrs(flags.proxyPeer, '--proxy-peer');
  if (flags.proxyProtocol === 'optional' && proxyPeers.length === 0) {
    throw new UserError('--proxy-protocol optional: give the peers that may send a header with --proxy-peer CIDR (presence is never guessed)');
  }
  const server = createEchoServer({
    proxyProtocol: flags.proxyProtocol,
    proxyPeers,
    trust: cidrs(flags.trust, '--trust'),
    tcp: flags.tcp === true,
    onProxyError: (e, peer) => stderr.write(`kubepath echo: PROXY protocol error from ${peer ?? 'a closed socket'}: ${e.message}\n`),
  });
  server.on('error', (e: NodeJS.ErrnoException) => {
    stderr.write(`kubepath: error: cannot listen on ${flags.host ?? '0.0.0.0'}:${port}: ${e.code === 'EADDRINUSE' ? 'the port is in use' : e.code === 'EACCES' ? 'permission denied' : e.message}\n`);
    process.exitCode = EXIT.badInput;
  });
  server.listen(port, flags.host ?? '0.0.0.0', () => {
    const a = server.address() as AddressInfo;
    stdout.write(`kubepath echo: listening on ${a.address}:${a.port} (${flags.tcp ? 'raw TCP' : 'HTTP'}, PROXY protocol ${flags.proxyProtocol})\n`);
  });
  const stop = () => server.close(() => process.exit(EXIT.ok));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return EXIT.ok;
}
