/**
 * The lab's long-lived agent: one runs inside each network namespace
 * (`ip netns exec NS node agent.js ROLE`) and speaks JSON lines on stdin/stdout.
 *
 * Requests  `{"id":1,"cmd":"listen","tcp":[80],"udp":[53],"ipv6":false}`
 *           `{"id":2,"cmd":"send","probeId":"p1","proto":"tcp","src":"10.1.0.2","dst":"10.2.0.3","dport":8080,"timeoutMs":700,"udpWaitMs":300}`
 *           `{"id":3,"cmd":"settle","probeId":"p1"}`  (a UDP send stops waiting for an ICMP error now)
 *           `{"id":4,"cmd":"close","probeId":"p1"}`   (reset the probe's TCP connection)
 *           `{"id":5,"cmd":"query"}` / `{"id":6,"cmd":"reset"}` / `{"id":7,"cmd":"ping"}`
 * Replies   `{"id":N,"ok":true,...}` or `{"id":N,"ok":false,"error":"..."}`
 * Events    `{"ev":"ready","role":"server","pid":123}`, `{"ev":"recv","rec":{...}}`
 *
 * The agent exits when its stdin closes, so it never outlives the lab process. It only starts
 * with the `--kp-lab-agent` flag (`node agent.js --kp-lab-agent ROLE`): `node --test dist/test`
 * runs every .js file under a test/ directory, and must find nothing to do here.
 *
 * @module
 */
import * as dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as readline from 'node:readline';

const AGENT_FLAG = '--kp-lab-agent';
const role = process.argv[3] ?? 'agent';

interface RecvRecord {
  at: string;
  proto: 'tcp' | 'udp';
  probeId: string;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  t: number;
}

interface Request {
  id: number;
  cmd: string;
  [k: string]: unknown;
}

const records: RecvRecord[] = [];
const servers: net.Server[] = [];
const udpSockets: dgram.Socket[] = [];
const accepted = new Set<net.Socket>();
/** TCP client sockets kept open after `connected`, until `close`. */
const openProbes = new Map<string, net.Socket>();
/** UDP sends waiting for a possible ICMP error; `settle` ends the wait. */
const pendingUdp = new Map<string, () => void>();
/** `settle` requests that came before their send was waiting. */
const settledEarly = new Set<string>();

function write(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function plain(addr: string | undefined): string {
  if (!addr) return '';
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

function probeIdOf(text: string): string {
  const m = /^KP ([A-Za-z0-9_.:-]+)/.exec(text);
  return m ? m[1]! : '';
}

function record(rec: Omit<RecvRecord, 'at' | 't'>): void {
  const full: RecvRecord = { at: role, ...rec, t: Date.now() };
  if (records.length < 10000) records.push(full);
  write({ ev: 'recv', rec: full });
}

function localAddresses(ipv6: boolean): { v4: string[]; v6: string[] } {
  const v4: string[] = [];
  const v6: string[] = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === 'IPv4') v4.push(a.address);
      else if (ipv6 && a.family === 'IPv6' && !a.address.toLowerCase().startsWith('fe80')) v6.push(a.address);
    }
  }
  return { v4: [...new Set(v4)], v6: [...new Set(v6)] };
}

function listenTcp(port: number, host: string, ipv6Only: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((sock) => {
      accepted.add(sock);
      let buf = '';
      let done = false;
      const localAddress = plain(sock.localAddress);
      const localPort = sock.localPort ?? 0;
      const remoteAddress = plain(sock.remoteAddress);
      const remotePort = sock.remotePort ?? 0;
      const finish = () => {
        if (done) return;
        done = true;
        record({ proto: 'tcp', probeId: probeIdOf(buf), localAddress, localPort, remoteAddress, remotePort });
      };
      sock.setTimeout(5000, () => sock.destroy());
      sock.on('data', (d) => {
        buf += d.toString('latin1');
        if (buf.includes('\n') || buf.length > 200) finish();
      });
      sock.on('error', () => undefined);
      sock.on('close', () => {
        finish();
        accepted.delete(sock);
      });
    });
    server.on('error', reject);
    server.listen({ host, port, ipv6Only, backlog: 128 }, () => {
      server.off('error', reject);
      server.on('error', () => undefined);
      servers.push(server);
      resolve();
    });
  });
}

function listenUdp(port: number, address: string, wildcard: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const v6 = address.includes(':');
    const sock = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', reuseAddr: true, ipv6Only: v6 });
    sock.on('message', (msg, rinfo) => {
      record({
        proto: 'udp',
        probeId: probeIdOf(msg.toString('latin1')),
        // A wildcard socket only gets what no address-bound socket took; the kernel does not
        // tell it the destination address (no IP_PKTINFO in node), so it reports the wildcard.
        localAddress: wildcard ? address : plain(address),
        localPort: port,
        remoteAddress: plain(rinfo.address),
        remotePort: rinfo.port,
      });
    });
    sock.once('error', reject);
    sock.bind({ address, port, exclusive: true }, () => {
      sock.off('error', reject);
      sock.on('error', () => undefined);
      udpSockets.push(sock);
      resolve();
    });
  });
}

async function listen(req: Request): Promise<Record<string, unknown>> {
  const tcp = (req.tcp as number[] | undefined) ?? [];
  const udp = (req.udp as number[] | undefined) ?? [];
  const ipv6 = req.ipv6 === true;
  const addrs = localAddresses(ipv6);
  for (const port of tcp) {
    await listenTcp(port, '0.0.0.0', false);
    if (ipv6) await listenTcp(port, '::', true);
  }
  for (const port of udp) {
    await listenUdp(port, '0.0.0.0', true);
    for (const a of addrs.v4) await listenUdp(port, a, false);
    if (ipv6) {
      await listenUdp(port, '::', true);
      for (const a of addrs.v6) await listenUdp(port, a, false);
    }
  }
  return { addresses: [...addrs.v4, ...addrs.v6] };
}

/**
 * ICMP/ICMPv6 "destination unreachable" messages received by this namespace so far. A UDP socket
 * is told only of the "hard" ones (port unreachable, prohibited: ECONNREFUSED/EHOSTUNREACH);
 * net/host unreachable are soft errors it never sees without IP_RECVERR, which node cannot set.
 */
function icmpUnreachCount(): number {
  let n = 0;
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n');
    for (let i = 0; i + 1 < lines.length; i++) {
      if (lines[i]!.startsWith('Icmp: ') && lines[i + 1]!.startsWith('Icmp: ')) {
        const keys = lines[i]!.split(/\s+/);
        const values = lines[i + 1]!.split(/\s+/);
        n += Number(values[keys.indexOf('InDestUnreachs')] ?? 0);
        break;
      }
    }
  } catch {
    /* no /proc */
  }
  try {
    const m = /^Icmp6InDestUnreachs\s+(\d+)/m.exec(readFileSync('/proc/net/snmp6', 'utf8'));
    if (m) n += Number(m[1]);
  } catch {
    /* no IPv6 */
  }
  return n;
}

function classify(code: string | undefined): string {
  switch (code) {
    case 'ECONNREFUSED':
    case 'ECONNRESET':
      return 'refused';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable';
    case 'ETIMEDOUT':
      return 'timeout';
    case 'EPERM':
    case 'EACCES':
      return 'denied';
    default:
      return `error:${code ?? 'unknown'}`;
  }
}

function send(req: Request): Promise<Record<string, unknown>> {
  const probeId = String(req.probeId);
  const proto = req.proto === 'udp' ? 'udp' : 'tcp';
  const src = String(req.src);
  const dst = String(req.dst);
  const dport = Number(req.dport);
  const sport = typeof req.sport === 'number' ? req.sport : 0;
  const timeoutMs = typeof req.timeoutMs === 'number' ? req.timeoutMs : 700;
  const udpWaitMs = typeof req.udpWaitMs === 'number' ? req.udpWaitMs : 300;
  const payload = `KP ${probeId}\n`;
  const started = Date.now();
  return new Promise((resolve) => {
    let done = false;
    if (proto === 'tcp') {
      const sock = new net.Socket();
      let localPort: number | undefined;
      const grabPort = () => {
        try {
          localPort ??= sock.localPort;
        } catch {
          /* not bound yet */
        }
      };
      const finish = (result: string, code?: string) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        grabPort();
        if (result === 'connected') {
          openProbes.set(probeId, sock);
          // Safety net: never keep a probe connection for long.
          setTimeout(() => closeProbe(probeId), 10000).unref();
        } else {
          sock.destroy();
        }
        resolve({ result, code, localPort, ms: Date.now() - started });
      };
      const timer = setTimeout(() => finish('timeout', 'ETIMEDOUT'), timeoutMs);
      sock.on('error', (e: NodeJS.ErrnoException) => finish(classify(e.code), e.code));
      sock.once('connect', () => {
        sock.write(payload);
        finish('connected');
      });
      sock.connect({ host: dst, port: dport, localAddress: src, localPort: sport || undefined });
      setImmediate(grabPort);
    } else {
      const sock = dgram.createSocket({ type: dst.includes(':') ? 'udp6' : 'udp4' });
      let localPort: number | undefined;
      let timer: NodeJS.Timeout | undefined;
      const finish = (result: string, code?: string) => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        if (poll) clearInterval(poll);
        pendingUdp.delete(probeId);
        try {
          localPort ??= sock.address().port;
        } catch {
          /* not bound */
        }
        try {
          sock.close();
        } catch {
          /* already closed */
        }
        resolve({ result, code, localPort, ms: Date.now() - started });
      };
      // ICMP errors on a connected UDP socket surface as an 'error' (recvmsg) event.
      sock.on('error', (e: NodeJS.ErrnoException) => finish(classify(e.code), e.code));
      const icmpBefore = icmpUnreachCount();
      let poll: NodeJS.Timeout | undefined;
      sock.on('message', () => undefined);
      timer = setTimeout(() => finish('timeout', 'ETIMEDOUT'), Math.max(timeoutMs, udpWaitMs) + 1000);
      sock.bind({ address: src, port: sport }, () => {
        try {
          localPort = sock.address().port;
        } catch {
          /* ignore */
        }
        sock.connect(dport, dst, (err?: Error) => {
          if (err) return finish(classify((err as NodeJS.ErrnoException).code), (err as NodeJS.ErrnoException).code);
          sock.send(payload, (err2) => {
            if (err2) return finish(classify((err2 as NodeJS.ErrnoException).code), (err2 as NodeJS.ErrnoException).code);
            if (done) return;
            clearTimeout(timer);
            if (settledEarly.delete(probeId)) return finish('sent');
            pendingUdp.set(probeId, () => finish('sent'));
            timer = setTimeout(() => finish('sent'), udpWaitMs);
            // A soft ICMP error (net/host unreachable) reaches no socket: watch the counters,
            // and give a hard error that came with it 20 ms to arrive as a socket error first.
            poll = setInterval(() => {
              if (icmpUnreachCount() > icmpBefore) {
                clearInterval(poll);
                poll = undefined;
                setTimeout(() => finish('unreachable', 'ICMP_UNREACH'), 20);
              }
            }, 5);
          });
        });
      });
    }
  });
}

function closeProbe(probeId: string): Promise<void> {
  const sock = openProbes.get(probeId);
  openProbes.delete(probeId);
  if (!sock || sock.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, 500);
    sock.once('close', () => {
      clearTimeout(t);
      resolve();
    });
    // RST instead of FIN: no TIME_WAIT (a fixed source port can be reused at once) and no
    // teardown packets trickling into the next probe's counters.
    sock.resetAndDestroy();
  });
}

async function handle(req: Request): Promise<Record<string, unknown>> {
  switch (req.cmd) {
    case 'ping':
      return { role, pid: process.pid };
    case 'listen':
      return listen(req);
    case 'send':
      return send(req);
    case 'settle': {
      const f = pendingUdp.get(String(req.probeId));
      if (f) f();
      else if (settledEarly.size < 1000) settledEarly.add(String(req.probeId));
      return { settled: Boolean(f) };
    }
    case 'close':
      await closeProbe(String(req.probeId));
      return {};
    case 'closeAll': {
      // Reset every TCP connection this agent has, accepted or opened: nothing of a probe may
      // linger and send packets (FIN, retransmissions) into the next probe's counters.
      const n = accepted.size + openProbes.size;
      await Promise.all([...openProbes.keys()].map((id) => closeProbe(id)));
      for (const sock of accepted) {
        if (!sock.destroyed) sock.resetAndDestroy();
      }
      accepted.clear();
      return { closed: n };
    }
    case 'query':
      return { records: records.slice() };
    case 'reset':
      records.length = 0;
      return {};
    case 'exit':
      setImmediate(shutdown);
      return {};
    default:
      throw new Error(`unknown command ${String(req.cmd)}`);
  }
}

function shutdown(): void {
  for (const s of openProbes.values()) s.destroy();
  for (const s of accepted) s.destroy();
  for (const s of servers) s.close();
  for (const s of udpSockets) {
    try {
      s.close();
    } catch {
      /* ignore */
    }
  }
  process.exit(0);
}

function main(): void {
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (!line.trim()) return;
    let req: Request;
    try {
      req = JSON.parse(line) as Request;
    } catch {
      write({ id: -1, ok: false, error: `bad JSON: ${line.slice(0, 100)}` });
      return;
    }
    handle(req).then(
      (res) => write({ id: req.id, ok: true, ...res }),
      (e: unknown) => write({ id: req.id, ok: false, error: e instanceof Error ? e.message : String(e) }),
    );
  });
  rl.on('close', shutdown);
  process.on('SIGTERM', shutdown);
  write({ ev: 'ready', role, pid: process.pid });
}

if (process.argv[2] === AGENT_FLAG) main();
