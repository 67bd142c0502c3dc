/**
 * The processes the lab runs inside its namespaces, one per namespace (a socket belongs to the
 * namespace of the process that makes it). A small entry point, so a pod's server starts in a
 * fraction of the whole CLI's time:
 *
 * - `echo [--proxy-protocol require|optional] PORT...`: `kubepath echo`'s server (clientip/echo-server.ts) on each
 *   port, reading a PROXY header as the app's Environment entry says (off by default);
 * - `healthcheck JSON`: kube-proxy's service health check server (healthcheck-server.ts);
 * - `loadbalancer CONFIG STATUS`: the load balancer: probes the nodes' healthCheckNodePort over HTTP every
 *   second and, when the healthy set changes, loads the passthrough rules (loadbalancer.ts) with
 *   iptables-restore and HAProxy's configuration for the proxying ones (its child, `haproxy -db`);
 * - `sidecar CONFIG`: istio-proxy's stand-in (sidecar-proxy.ts, python3) as the proxy's uid/gid;
 * - `haproxy CONFIG PORT`: an Environment reverse proxy as HAProxy (reverse-proxy.ts), ready when it listens;
 * - `nginx CONFIG PORT`: ingress-nginx's controller as Debian's nginx (ingress-nginx.ts), ready when it listens;
 * - `probe ADDRESS PORT COUNT TIMEOUT_MS [LOCAL_ADDRESS [HOST]]`: COUNT real HTTP connections to the echo server;
 *   prints `{ "observed": { OUTCOME | "(refused)" | "(timeout)" | …: count } }` (outcome.ts: the client
 *   address, the PROXY header's source and X-Forwarded-For the echo server got).
 *
 * Long-running modes write `ready` to fd 3 when they listen, then close it.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import type { Server } from 'node:net';
import { createEchoServer } from '../clientip/echo-server.js';
import type { HealthCheckService } from '../kubeproxy/healthcheck.js';
import { startHealthChecks } from './healthcheck-server.js';
import { outcomeKey } from './outcome.js';
import { SIDECAR_PROXY_PY, type SidecarProxyConfig } from './sidecar-proxy.js';
import { haproxyConfig, type HealthyNodes, loadBalancerRules } from './loadbalancer.js';
import type { LabLoadBalancer } from './topology.js';

function ready(): void {
  try {
    writeSync(3, 'ready\n');
    closeSync(3);
  } catch {
    /* started without a readiness pipe */
  }
}

async function echo(ports: number[], proxyProtocol: 'off' | 'require' | 'optional'): Promise<void> {
  await Promise.all(
    ports.map(
      (port) =>
        new Promise<void>((resolve, reject) => {
          const server = createEchoServer({ proxyProtocol, ...(proxyProtocol === 'optional' ? { proxyPeers: ['0.0.0.0/0', '::/0'] } : {}) }) as Server;
          server.once('error', reject);
          server.listen(port, '0.0.0.0', () => resolve());
        }),
    ),
  );
  process.stdout.write(`kubepath echo: listening on ${ports.map((p) => `0.0.0.0:${p}`).join(', ')} (HTTP, PROXY protocol ${proxyProtocol})\n`);
}

/** One HTTP GET of a health check: the status, or 0 when nothing answered. */
function probeHealth(address: string, port: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: address, port, path: '/healthz', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** A health check as cloud load balancers take it: healthy on 200. At start, while the nodes' servers boot (3 s at most), no answer is asked again. */
async function passes(address: string, port: number, patient: boolean): Promise<boolean> {
  const until = Date.now() + 3000;
  for (;;) {
    const status = await probeHealth(address, port, 500);
    if (status !== 0 || !patient || Date.now() > until) return status === 200;
    await new Promise((r) => setTimeout(r, 25));
  }
}

function restore(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('iptables-restore', [], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += String(d)));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`iptables-restore failed (${code}): ${err.trim()}`))));
    child.stdin.end(text);
  });
}

/** Whether something listens on TCP `port` in this namespace (/proc/net/tcp is the namespace's). */
function listening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f[3] === '0A' && f[1]?.endsWith(`:${hex}`)) return true;
      }
    } catch {
      /* no IPv6 */
    }
  }
  return false;
}

/**
 * HAProxy (Debian's) in the foreground as the controller's child: started with the first
 * configuration, replaced on a change by a new process that takes over its sockets (`-sf`). A
 * load resolves when HAProxy listens on every frontend port.
 */
function haproxyRunner(file: string, ports: readonly number[]): { load: (config: string) => Promise<void> } {
  let current: ChildProcess | undefined;
  return {
    load: async (config) => {
      writeFileSync(file, config);
      const args = ['-db', '-f', file, ...(current?.pid ? ['-sf', String(current.pid)] : [])];
      const child = spawn('haproxy', args, { stdio: ['ignore', 'inherit', 'inherit'] });
      let failed: Error | undefined;
      child.once('error', (e) => (failed = new Error(`haproxy: ${e.message} (apt-get install haproxy)`)));
      child.once('exit', (code) => (failed ??= code ? new Error(`haproxy exited with ${code} (its configuration: ${file})`) : undefined));
      const until = Date.now() + 5000;
      // A first start: until it listens; a reload: the old process serves meanwhile, a bad configuration shows at once.
      if (current) await new Promise((r) => setTimeout(r, 200));
      while (!ports.every(listening)) {
        if (failed) throw failed;
        if (Date.now() > until) throw new Error(`haproxy does not listen on ${ports.join(', ')} after 5 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
      if (failed) throw failed;
      current = child;
    },
  };
}

/** A program in the foreground as this process's child: resolves when it listens on every port; its exit ends the agent. */
async function child(program: string, args: string[], ports: readonly number[], ids: { uid?: number; gid?: number } = {}): Promise<void> {
  const proc = spawn(program, args, { stdio: ['ignore', 'inherit', 'inherit'], ...ids });
  let failed: Error | undefined;
  proc.once('error', (e) => (failed = new Error(`${program}: ${e.message}`)));
  proc.once('exit', (code) => {
    failed ??= new Error(`${program} exited with ${code}`);
    process.exit(code ?? 1);
  });
  const until = Date.now() + 5000;
  while (!ports.every(listening)) {
    if (failed) throw failed;
    if (Date.now() > until) throw new Error(`${program} does not listen on ${ports.join(', ')} after 5 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** nginx (Debian's) for ingress-nginx, ready when it listens. */
async function nginx(config: string, port: number): Promise<void> {
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dirname(config), d), { recursive: true });
  await child('nginx', ['-c', config, '-e', 'stderr'], [port]);
  process.stdout.write(`ingress-nginx (nginx ${config}) listening on :${port}\n`);
  ready();
}

/** The sidecar's stand-in proxy (sidecar-proxy.ts) as the injection template's user: ready when it listens on both ports. */
async function sidecar(configFile: string): Promise<void> {
  const text = readFileSync(configFile, 'utf8');
  const c = JSON.parse(text) as SidecarProxyConfig;
  await child('python3', ['-c', SIDECAR_PROXY_PY, text], [c.proxyPort, c.inboundPort], { uid: c.uid, gid: c.gid });
  process.stdout.write(`istio-proxy stand-in (${c.mode}, uid ${c.uid}/gid ${c.gid}) listening on :${c.proxyPort} (outbound), :${c.inboundPort} (inbound)\n`);
  ready();
}

async function loadbalancer(configFile: string, statusFile: string): Promise<void> {
  const lb = JSON.parse(readFileSync(configFile, 'utf8')) as LabLoadBalancer;
  let last = '';
  let lastProxy = '';
  let first = true;
  const haproxy = haproxyRunner(join(dirname(configFile), 'haproxy.cfg'), (lb.proxies ?? []).map((p) => p.port));
  const round = async () => {
    const healthy = new Map<string, string[]>();
    const checks: { service: string; node: string; healthy: boolean }[] = [];
    // Passthrough and proxying VIPs alike: Local ones probed, Cluster ones send to every node.
    for (const v of [...lb.vips, ...(lb.proxies ?? [])]) {
      if (!v.local) {
        healthy.set(v.service, v.backends.map((b) => b.node));
        continue;
      }
      const results = await Promise.all(v.backends.map((b) => passes(b.address, v.healthCheckNodePort, first)));
      healthy.set(v.service, v.backends.filter((_, i) => results[i]).map((b) => b.node));
      v.backends.forEach((b, i) => checks.push({ service: v.service, node: b.node, healthy: results[i]! }));
    }
    const rules = loadBalancerRules(lb, healthy as HealthyNodes);
    if (rules !== last) {
      await restore(rules);
      last = rules;
    }
    if (lb.proxies?.length) {
      const config = haproxyConfig(lb.proxies, healthy as HealthyNodes);
      if (config !== lastProxy) {
        await haproxy.load(config);
        lastProxy = config;
      }
    }
    writeFileSync(statusFile, JSON.stringify({ at: new Date().toISOString(), healthy: Object.fromEntries(healthy), checks }, null, 2));
    if (first) {
      first = false;
      process.stdout.write(`kubepath lab load balancer: ${lb.vips.length} passthrough VIP port(s), rules loaded${lb.proxies?.length ? `; HAProxy on ${lb.proxies.length} proxying VIP port(s)` : ''}\n`);
      ready();
    }
  };
  const loop = async () => {
    try {
      await round();
    } catch (e) {
      process.stderr.write(`kubepath lab load balancer: ${(e as Error).message}\n`);
    }
    setTimeout(loop, 1000).unref();
  };
  await loop();
  setInterval(() => undefined, 1 << 30); // keep running
}

/** COUNT connections, `parallel` at a time; what the echo server said each time. */
async function probe(address: string, port: number, count: number, timeoutMs: number, localAddress?: string, host?: string): Promise<void> {
  const observed: Record<string, number> = {};
  let first: unknown;
  const one = () =>
    new Promise<string>((resolve) => {
      let done = false;
      const finish = (k: string) => {
        if (!done) {
          done = true;
          resolve(k);
        }
      };
      const req = request({ host: address, port, path: '/?format=json', agent: false, timeout: timeoutMs, headers: { Connection: 'close', ...(host ? { Host: host } : {}) }, ...(localAddress ? { localAddress } : {}) }, (res) => {
        let body = '';
        res.on('data', (d) => (body += String(d)));
        res.on('end', () => {
          try {
            const report = JSON.parse(body) as { client_address: string | null; proxy_protocol: { version: number; source: { address?: string } | null } | null; headers?: [string, string][] };
            first ??= report;
            const pp = report.proxy_protocol;
            finish(outcomeKey({ clientAddress: report.client_address, proxy: pp?.source?.address ? { version: pp.version, source: pp.source.address } : undefined, headers: report.headers }));
          } catch {
            finish(res.statusCode && res.statusCode !== 200 ? `(HTTP ${res.statusCode})` : '(not an echo answer)');
          }
        });
        res.on('error', () => finish('(closed)'));
      });
      req.on('timeout', () => {
        req.destroy();
        finish('(timeout)');
      });
      req.on('error', (e: NodeJS.ErrnoException) => finish(e.code === 'ECONNREFUSED' ? '(refused)' : e.code === 'ECONNRESET' ? '(closed)' : `(${e.code ?? e.message})`));
      req.end();
    });
  const parallel = 16;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) {
        next++;
        const k = await one();
        observed[k] = (observed[k] ?? 0) + 1;
      }
    }),
  );
  process.stdout.write(JSON.stringify({ observed, first }) + '\n');
}

async function main(argv: string[]): Promise<void> {
  const [mode, ...args] = argv;
  switch (mode) {
    case 'echo': {
      // `echo [--proxy-protocol require|optional] PORT...`
      const pp = args[0] === '--proxy-protocol' ? (args[1] as 'require' | 'optional') : 'off';
      await echo(args.slice(pp === 'off' ? 0 : 2).map(Number), pp);
      ready();
      return;
    }
    case 'healthcheck': {
      const services = JSON.parse(args[0]!) as HealthCheckService[];
      await startHealthChecks(services);
      process.stdout.write(`kube-proxy health check server: ${services.map((s) => `${s.namespace}/${s.name} on :${s.port} (${s.localEndpoints} local endpoints)`).join(', ')}\n`);
      ready();
      return;
    }
    case 'sidecar':
      return sidecar(args[0]!);
    case 'haproxy':
      await child('haproxy', ['-db', '-f', args[0]!], [Number(args[1])]);
      process.stdout.write(`haproxy (${args[0]}) listening on :${args[1]}\n`);
      ready();
      return;
    case 'nginx':
      return nginx(args[0]!, Number(args[1]));
    case 'loadbalancer':
      return loadbalancer(args[0]!, args[1]!);
    case 'probe':
      return probe(args[0]!, Number(args[1]), Number(args[2]), Number(args[3]), args[4] || undefined, args[5] || undefined);
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

main(process.argv.slice(2)).catch((e: Error) => {
  process.stderr.write(`kubepath lab agent: ${e.message}\n`);
  process.exit(1);
});
