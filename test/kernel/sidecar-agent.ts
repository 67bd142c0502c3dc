/**
 * The sidecar lab's small agent, run inside a network namespace as some user
 * (`ip netns exec NS setpriv --reuid U --regid G --clear-groups node sidecar-agent.js --kp-sidecar-agent …`):
 *
 * - `listen PORT…`: plain TCP listeners on 0.0.0.0; prints `{"ev":"ready"}`, then one line per
 *   accepted connection `{"ev":"accept","port":P,"local":"A:P","remote":"A:P"}` (`port` is the
 *   listener's, `local` what the accepted socket is bound to) and closes it. Exits when stdin closes.
 * - `connect HOST PORT [LOCAL_ADDRESS]`: one TCP connection; prints
 *   `{"ev":"connected","local":"A:P"}` or `{"ev":"failed","error":"ECONNREFUSED"|"timeout"|…}` and exits.
 *
 * It does nothing without `--kp-sidecar-agent` (test runners may load every .js file).
 *
 * @module
 */
import * as net from 'node:net';

const FLAG = '--kp-sidecar-agent';

function print(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function endpoint(address: string | undefined, port: number | undefined): string {
  return `${(address ?? '').replace(/^::ffff:/, '')}:${port ?? 0}`;
}

function listen(ports: number[]): void {
  let ready = 0;
  for (const port of ports) {
    const server = net.createServer((socket) => {
      print({ ev: 'accept', port, local: endpoint(socket.localAddress, socket.localPort), remote: endpoint(socket.remoteAddress, socket.remotePort) });
      socket.on('error', () => undefined);
      socket.end();
    });
    server.on('error', (e) => {
      print({ ev: 'error', port, error: (e as NodeJS.ErrnoException).code ?? String(e) });
      process.exit(1);
    });
    server.listen({ port, host: '0.0.0.0' }, () => {
      if (++ready === ports.length) print({ ev: 'ready', pid: process.pid });
    });
  }
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}

function connect(host: string, port: number, localAddress: string | undefined, timeoutMs: number): void {
  const socket = net.connect({ host, port, ...(localAddress ? { localAddress } : {}) });
  const timer = setTimeout(() => {
    print({ ev: 'failed', error: 'timeout' });
    socket.destroy();
    process.exit(0);
  }, timeoutMs);
  socket.on('connect', () => {
    clearTimeout(timer);
    print({ ev: 'connected', local: endpoint(socket.localAddress, socket.localPort) });
    socket.destroy();
    process.exit(0);
  });
  socket.on('error', (e) => {
    clearTimeout(timer);
    print({ ev: 'failed', error: (e as NodeJS.ErrnoException).code ?? String(e) });
    process.exit(0);
  });
}

const at = process.argv.indexOf(FLAG);
if (at >= 0) {
  const [cmd, ...rest] = process.argv.slice(at + 1);
  if (cmd === 'listen') listen(rest.map(Number));
  else if (cmd === 'connect') connect(rest[0]!, Number(rest[1]), rest[2] || undefined, Number(process.env['KP_CONNECT_TIMEOUT_MS'] ?? 1500));
  else {
    process.stderr.write(`unknown command ${cmd ?? ''}\n`);
    process.exit(2);
  }
}
