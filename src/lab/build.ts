/**
 * `lab up`: a plan (topology.ts) carried out on this kernel, in phases, each as few processes as
 * can do it: one `ip -batch` adds every namespace, one `ip -n NS -batch` per namespace makes its
 * veths and bridges and then its addresses, routes and policy rules (namespaces in parallel), one
 * shell per namespace writes its sysctls (inside it: /proc/sys/net is per namespace) and loads its
 * iptables rules with iptables-restore, then the servers start in parallel.
 *
 * Idempotent per name: the same plan already up is left as it is; another is torn down first. A
 * namespace of the plan's names that no lab of that name made is refused. Any failure tears down
 * what was made and reports the failing command with its stderr.
 *
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterSource } from '../cluster/index.js';
import { CommandError, mustRun } from './exec.js';
import { addNamespaces, listNamespaces, processesIn } from './namespaces.js';
import { startAgent } from './processes.js';
import { readState, stateDir, writeState } from './state.js';
import { teardown } from './teardown.js';
import { configBatch, type LabPlan, sysctlArgs, vethBatch } from './topology.js';

/** A phase done, for the progress display and the benchmark. */
export interface Phase {
  name: string;
  ms: number;
  detail: string;
}

/** A lab that could not be built (rolled back), or a name that is taken. */
export class LabBuildError extends Error {
  override readonly name = 'LabBuildError';
}

export interface BuildResult {
  phases: Phase[];
  /** The same plan was already up: nothing was done. */
  already: boolean;
}

function samePlan(a: LabPlan, b: LabPlan): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Whether every namespace of the plan exists and every server of it runs. */
export function labRunning(plan: LabPlan): boolean {
  const present = new Set(listNamespaces());
  if (!plan.namespaces.every((n) => present.has(n.name))) return false;
  const procs = processesIn([...plan.servers.map((s) => s.ns), ...(plan.loadBalancer ? [plan.loadBalancer.ns] : [])]);
  return [...procs.values()].every((p) => p.length > 0);
}

/** `ip -n NS -batch -`; a failure names the batch line that failed. */
async function batch(ns: string, text: string): Promise<void> {
  try {
    await mustRun('ip', ['-n', ns, '-batch', '-'], text);
  } catch (e) {
    const line = e instanceof CommandError ? /-:(\d+)/.exec(e.stderr)?.[1] : undefined;
    if (!line) throw e;
    throw new CommandError(`ip -n ${ns} ${text.split('\n')[Number(line) - 1]}`, (e as CommandError).code, (e as CommandError).stderr.replace(/\s*Command failed -:\d+\s*$/, ''));
  }
}

/** Build the lab; `onPhase` is told of each phase as it ends. */
export async function buildLab(plan: LabPlan, sources: ClusterSource[], onPhase: (p: Phase) => void = () => undefined, set: readonly string[] = []): Promise<BuildResult> {
  const previous = readState(plan.name);
  const what = set.length > 0 ? { set: [...set] } : {};
  if (previous?.upAt && samePlan(previous.plan, plan) && labRunning(plan)) {
    // The same lab; what-ifs that change only the trace's side (an app's strategy) are remembered for verify.
    writeState(plan.name, { sources, plan, ...what, upAt: previous.upAt });
    return { already: true, phases: [] };
  }
  // Namespaces of these names that no lab of this name made (its state directory names them) are someone else's.
  const existing = new Set(listNamespaces());
  const theirs = plan.namespaces.filter((n) => existing.has(n.name) && !previous?.plan.namespaces.some((p) => p.name === n.name));
  if (theirs.length > 0) throw new LabBuildError(`namespace ${theirs[0]!.name} exists and lab "${plan.name}" did not make it: choose another --name, or remove it (kubepath lab down --name ${plan.name})`);
  if (previous || plan.namespaces.some((n) => existing.has(n.name))) await teardown(plan.name);

  const phases: Phase[] = [];
  const phase = async (name: string, detail: string, fn: () => Promise<unknown>) => {
    const t = performance.now();
    await fn();
    const p = { name, ms: performance.now() - t, detail };
    phases.push(p);
    onPhase(p);
  };
  writeState(plan.name, { sources, plan, ...what });
  try {
    await phase('namespaces', `${plan.namespaces.length} network namespaces`, () => addNamespaces(plan.namespaces.map((n) => n.name)));
    // The servers boot (a Node process each, the slowest part) while the network is made around
    // them: a socket bound to 0.0.0.0 needs only its namespace.
    const t = performance.now();
    const started = Promise.allSettled(
      plan.servers.map((s) => {
        if (s.kind === 'echo') return startAgent(plan.name, s.ns, 'echo', [...(s.proxyProtocol ? ['--proxy-protocol', s.proxyProtocol] : []), ...s.ports.map(String)]);
        if (s.kind === 'healthcheck') return startAgent(plan.name, s.ns, 'healthcheck', [JSON.stringify(s.services)]);
        if (s.kind === 'haproxy') {
          const config = join(stateDir(plan.name), `haproxy-${s.ns}-${s.port}.cfg`);
          writeFileSync(config, s.config);
          return startAgent(plan.name, s.ns, 'haproxy', [config, String(s.port)]);
        }
        if (s.kind === 'sidecar') {
          const config = join(stateDir(plan.name), `sidecar-${s.ns}.json`);
          writeFileSync(config, JSON.stringify(s.config));
          return startAgent(plan.name, s.ns, 'sidecar', [config]);
        }
        const dir = join(stateDir(plan.name), `nginx-${s.ns}`);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'nginx.conf'), s.config.replaceAll('@DIR@', dir));
        return startAgent(plan.name, s.ns, 'nginx', [join(dir, 'nginx.conf'), String(s.port)]);
      }),
    );
    await phase('links', `${plan.veths.length} veth pairs, ${plan.namespaces.reduce((k, n) => k + n.bridges.length, 0)} bridges`, () =>
      Promise.all(
        plan.namespaces.map((n) => {
          const text = vethBatch(plan, n.name);
          return text ? batch(n.name, text) : undefined;
        }),
      ),
    );
    await phase('addresses', `addresses, routes and policy rules`, () => Promise.all(plan.namespaces.map((n) => batch(n.name, configBatch(n)))));
    const withRules = plan.namespaces.filter((n) => n.iptables !== undefined);
    await phase('rules', `sysctls; kube-proxy's rules on ${withRules.length} nodes (iptables-restore)`, () =>
      Promise.all(
        plan.namespaces
          .filter((n) => n.sysctls.length > 0 || n.iptables !== undefined)
          .map((n) => {
            const writes = sysctlArgs(n).map((kv) => {
              const [k, v] = kv.split('=') as [string, string];
              return `echo ${v} > /proc/sys/${k.replaceAll('.', '/')}`;
            });
            const script = [...writes, ...(n.iptables !== undefined ? ['exec iptables-restore'] : [])].join(' && ');
            return mustRun('ip', ['netns', 'exec', n.name, 'sh', '-c', script], n.iptables);
          }),
      ),
    );
    // The load balancer boots too while the servers finish; its first health checks wait for them.
    const lb = plan.loadBalancer;
    let lbStarted: Promise<void> | undefined;
    if (lb) {
      const config = join(stateDir(plan.name), 'lb.json');
      writeFileSync(config, JSON.stringify(lb));
      lbStarted = startAgent(plan.name, lb.ns, 'loadbalancer', [config, join(stateDir(plan.name), 'lb-status.json')]);
      lbStarted.catch(() => undefined);
    }
    const nginx = plan.servers.filter((s) => s.kind === 'nginx').length;
    const sidecars = plan.servers.filter((s) => s.kind === 'sidecar').length;
    const proxies = plan.servers.filter((s) => s.kind === 'haproxy').length;
    await phase('servers', `${plan.servers.filter((s) => s.kind === 'echo').length} echo servers, ${plan.servers.filter((s) => s.kind === 'healthcheck').length} health check servers${nginx ? `, ${nginx} nginx` : ''}${sidecars ? `, ${sidecars} sidecar proxies` : ''}${proxies ? `, ${proxies} HAProxy in pods` : ''} (booting since ${(performance.now() - t).toFixed(0)} ms)`, async () => {
      const failed = (await started).find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    });
    if (lb && lbStarted) await phase('load balancer', `${lb.vips.length} passthrough VIP port(s)${lb.proxies?.length ? `, ${lb.proxies.length} on HAProxy` : ''}, health checked`, () => lbStarted!);
  } catch (e) {
    await teardown(plan.name).catch(() => undefined);
    if (e instanceof CommandError) throw new LabBuildError(`lab ${plan.name}: ${e.message} (rolled back)`);
    throw e;
  }
  writeState(plan.name, { sources, plan, ...what, upAt: new Date().toISOString() });
  return { already: false, phases };
}
