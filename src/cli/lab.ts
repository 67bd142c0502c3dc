/**
 * `kubepath lab`: the cluster of the manifests built from real network namespaces, veths,
 * bridges, routes and kube-proxy's rules on this kernel (src/lab/), with real servers in it;
 * `curl` and `verify` send real connections and hold what the app saw against the trace.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { type ClusterSource, loadCluster, parsePatch } from '../cluster/index.js';
import { buildLab, LabBuildError, labRunning, type Phase } from '../lab/build.js';
import { labNamespaces, processesIn } from '../lab/namespaces.js';
import { readState, stateDir, stateLabs } from '../lab/state.js';
import { teardown } from '../lab/teardown.js';
import { LAB_NAME, type LabPlan, type LabTools, planLab } from '../lab/topology.js';
import { type CheckResult, checksOf, predict, probe, verifyLab } from '../lab/verify.js';
import { percent, type Style, styleFor, table } from '../report/style.js';
import { buildWorld, type World } from '../trace/world.js';
import { readClusterSources } from './cluster-input.js';
import { EXIT, isUserError, UserError } from './errors.js';

type Out = NodeJS.WritableStream & { isTTY?: boolean };
interface Io {
  stdout: Out;
  stderr: Out;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `lab verify`: some check disagrees with the trace. */
export const LAB_MISMATCH = 2;

function labName(name: string | undefined): string {
  const n = name ?? 'lab';
  if (!LAB_NAME.test(n)) throw new UserError(`--name ${n}: expected lower-case letters and digits, starting with a letter, at most 12 (it names the namespaces kp-${n}-…)`);
  return n;
}

/** Root and iproute2/iptables: checked before anything is made. */
function requireRoot(): void {
  if (process.platform !== 'linux') throw new UserError(`kubepath lab needs Linux network namespaces (this is ${process.platform})`);
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) throw new UserError('kubepath lab needs root (it makes network namespaces and loads iptables rules): run it with sudo');
  for (const tool of ['ip', 'iptables-restore']) {
    const r = spawnSync(tool, ['-V'], { encoding: 'utf8' });
    if (r.error || r.status !== 0) throw new UserError(`kubepath lab needs ${tool} (apt-get install iproute2 iptables)`);
  }
}

let tools: LabTools | undefined;
/** Which optional programs this host has (looked up once). */
function labTools(): LabTools {
  tools ??= { haproxy: !spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).error, nginx: !spawnSync('nginx', ['-v'], { encoding: 'utf8' }).error, python3: !spawnSync('python3', ['-V'], { encoding: 'utf8' }).error };
  return tools;
}

function worldOf(sources: ClusterSource[], name: string, set: readonly string[] = []): { world: World; plan: LabPlan } {
  const world = buildWorld(loadCluster(sources, { patches: set.map(parsePatch) }));
  return { world, plan: planLab(world, name, labTools()) };
}

/** The lab's state, or a UserError saying it is not up. */
function upLab(name: string): { sources: ClusterSource[]; plan: LabPlan; set?: string[] } {
  const state = readState(name);
  if (!state) throw new UserError(`no lab "${name}" (kubepath lab up -f PATH --name ${name}); labs: ${stateLabs().join(', ') || '(none)'}`);
  return state;
}

function statusRows(plan: LabPlan, style: Style): string[][] {
  const procs = processesIn(plan.namespaces.map((n) => n.name));
  const present = new Set(labNamespaces(plan.name));
  const serves = new Map<string, string>();
  for (const s of plan.servers) {
    const text = s.kind === 'echo' ? `kubepath echo :${s.ports.join(',')}` : s.kind === 'nginx' ? `ingress-nginx (nginx) :${s.port}` : s.kind === 'sidecar' ? `istio-proxy stand-in (${s.config.mode}) :${s.config.proxyPort},${s.config.inboundPort}` : s.kind === 'haproxy' ? `HAProxy "${s.name}" :${s.port}` : `health check ${s.services.map((x) => `:${x.port} (${x.localEndpoints} local)`).join(', ')}`;
    serves.set(s.ns, serves.has(s.ns) ? `${serves.get(s.ns)}, ${text}` : text);
  }
  if (plan.loadBalancer) {
    const lb = plan.loadBalancer;
    const proxied = (lb.proxies ?? []).map((p) => `HAProxy ${p.vip}:${p.port} (${p.mode}${p.sendProxy ? `, PROXY v${p.sendProxy}` : p.mode === 'http' ? ', forwardfor' : ''}) → nodePort ${p.nodePort} from ${p.source}`);
    serves.set(lb.ns, [...lb.vips.map((v) => `${v.vip}:${v.port} → ${v.delivery === 'VIP' ? 'VIP' : `nodePort ${v.nodePort}`}`), ...proxied].join(', '));
  }
  const rows = [['ROLE', 'HOST', 'NAMESPACE', 'ADDRESSES', 'RUNS', 'STATE']];
  for (const n of plan.namespaces) {
    const running = (procs.get(n.name) ?? []).length;
    const want = serves.has(n.name);
    const state = !present.has(n.name) ? style.red('missing') : want && running === 0 ? style.red('stopped') : style.green('up');
    rows.push([n.role, n.id, n.name, n.addresses.filter((a) => a.dev !== 'lo').map((a) => `${a.cidr} ${a.dev}`).join(', ') || '-', serves.get(n.name) ?? '-', state]);
  }
  return rows;
}

function lbHealth(name: string): string | undefined {
  try {
    const s = JSON.parse(readFileSync(join(stateDir(name), 'lb-status.json'), 'utf8')) as { healthy: Record<string, string[]>; checks: { service: string; node: string; healthy: boolean }[] };
    return Object.entries(s.healthy)
      .map(([svc, nodes]) => `${svc}: sends to ${nodes.join(', ') || '(no healthy node)'}`)
      .join('\n');
  } catch {
    return undefined;
  }
}

async function up(flags: { filename?: string[]; name?: string; set?: string[]; json?: boolean }, io: Io): Promise<number> {
  if (!flags.filename?.length) throw new UserError('-f/--filename: give the manifests (files, directories or - for stdin)');
  const name = labName(flags.name);
  const sources = readClusterSources(flags.filename);
  const set = flags.set ?? [];
  const { plan } = worldOf(sources, name, set); // bad manifests (and what-ifs) fail here, before anything is made
  requireRoot();
  const style = styleFor(io.stderr);
  const t0 = performance.now();
  const progress = (p: Phase) => {
    if (!flags.json) io.stderr.write(`  ${style.green('✓')} ${p.name.padEnd(14)}${p.detail.padEnd(60)}${style.dim(`${p.ms.toFixed(0)} ms`)}\n`);
  };
  if (!flags.json) io.stderr.write(`${style.bold(`lab ${name}`)}: building ${plan.namespaces.length} namespaces\n`);
  let result;
  try {
    result = await buildLab(plan, sources, progress, set);
  } catch (e) {
    if (e instanceof LabBuildError) throw new UserError(e.message);
    throw e;
  }
  const ms = performance.now() - t0;
  if (flags.json) {
    io.stdout.write(JSON.stringify({ name, already: result.already, ms: Math.round(ms), phases: result.phases.map((p) => ({ ...p, ms: Math.round(p.ms) })), plan }, null, 2) + '\n');
    return EXIT.ok;
  }
  io.stdout.write(`${result.already ? `lab ${name} is already up (same manifests)` : `lab ${name} up in ${(ms / 1000).toFixed(2)} s`}\n\n${table(statusRows(plan, styleFor(io.stdout)), styleFor(io.stdout))}\n`);
  for (const n of [...set.map((x) => `what-if: ${x}`), ...plan.notes]) io.stdout.write(`note: ${n}\n`);
  return EXIT.ok;
}

async function down(flags: { name?: string; all?: boolean; json?: boolean }, io: Io): Promise<number> {
  if (flags.all && flags.name) throw new UserError('--all and --name: give one');
  const name = flags.all ? undefined : labName(flags.name);
  requireRoot();
  const t0 = performance.now();
  const r = await teardown(name);
  const ms = performance.now() - t0;
  if (flags.json) io.stdout.write(JSON.stringify({ ...r, ms: Math.round(ms) }) + '\n');
  else io.stdout.write(r.namespaces === 0 ? `nothing to remove${name ? ` for lab ${name}` : ''}\n` : `removed ${r.namespaces} namespaces and ${r.processes} processes of ${r.labs.join(', ')} in ${ms.toFixed(0)} ms\n`);
  return EXIT.ok;
}

function status(flags: { name?: string; json?: boolean }, io: Io): number {
  const names = flags.name ? [labName(flags.name)] : stateLabs();
  if (flags.json) {
    const labs = names.flatMap((n) => {
      const s = readState(n);
      return s ? [{ name: n, up: s.upAt !== undefined && labRunning(s.plan), upAt: s.upAt ?? null, plan: s.plan }] : [];
    });
    io.stdout.write(JSON.stringify({ labs }, null, 2) + '\n');
    return EXIT.ok;
  }
  if (names.length === 0) {
    io.stdout.write('no labs (kubepath lab up -f PATH)\n');
    return EXIT.ok;
  }
  const style = styleFor(io.stdout);
  for (const n of names) {
    const { plan } = upLab(n);
    const s = readState(n)!;
    io.stdout.write(`${style.bold(`lab ${n}`)}: ${s.upAt ? (labRunning(plan) ? `up since ${s.upAt}` : style.red('broken (run kubepath lab up again, or lab down)')) : style.red('not finished (lab up was stopped): kubepath lab down')}\n`);
    io.stdout.write(table(statusRows(plan, style), style) + '\n');
    const health = lbHealth(n);
    if (health) io.stdout.write(`load balancer: ${health}\n`);
  }
  return EXIT.ok;
}

/** The namespace of NODE, POD (NS/NAME), CLIENT, or a host id (`node/…`, `pod/…`, `client/…`), `lb`, `router`. */
function namespaceOf(plan: LabPlan, target: string): string {
  const hit = plan.namespaces.find((n) => n.id === target || n.id === `node/${target}` || n.id === `pod/${target}` || n.id === `client/${target}` || n.name === target);
  if (!hit) throw new UserError(`no ${target} in lab ${plan.name}; there are: ${plan.namespaces.map((n) => n.id).join(', ')}`);
  return hit.name;
}

function exec(target: string, command: string[], flags: { name?: string }): number {
  const { plan } = upLab(labName(flags.name));
  if (command.length === 0) throw new UserError('give the command after --, e.g. kubepath lab exec node-1 -- iptables-save');
  requireRoot();
  const r = spawnSync('ip', ['netns', 'exec', namespaceOf(plan, target), ...command], { stdio: 'inherit' });
  if (r.error) throw new UserError(`${command[0]}: ${r.error.message}`);
  return r.status ?? 1;
}

function shares(o: Record<string, number>): string {
  return Object.entries(o)
    .sort((a, b) => b[1] - a[1])
    .map(([k, p]) => (p === 1 ? k : `${k} ${percent(p)}`))
    .join(', ');
}

async function curl(flags: { from?: string; to?: string; host?: string; name?: string; count: string; json?: boolean }, io: Io): Promise<number> {
  if (!flags.from) throw new UserError('--from: the client (a client of the Environment, external:IP of one, pod/NS/NAME)');
  if (!flags.to) throw new UserError('--to: the target (svc/NS/NAME[:PORT], lb/NS/NAME[:PORT], nodeport/NODE/PORT, pod/NS/NAME:PORT or IP:PORT)');
  const count = Number(flags.count);
  if (!Number.isInteger(count) || count < 1 || count > 10000) throw new UserError(`--count ${flags.count}: expected 1-10000`);
  const name = labName(flags.name);
  const { sources, set } = upLab(name);
  requireRoot();
  const { world, plan } = worldOf(sources, name, set);
  const pr = predict(world, plan, { from: flags.from, to: flags.to, host: flags.host });
  const got = await probe(pr.ns, pr.source, pr.address, pr.port, count, 2000, pr.host);
  const n = Object.values(got.observed).reduce((a, b) => a + b, 0);
  const observed = Object.fromEntries(Object.entries(got.observed).map(([k, c]) => [k, c / n]));
  if (flags.json) {
    io.stdout.write(JSON.stringify({ from: flags.from, to: flags.to, address: `${pr.address}:${pr.port}`, connections: n, predicted: pr.outcomes, observed, echo: got.first ?? null }, null, 2) + '\n');
    return EXIT.ok;
  }
  const style = styleFor(io.stdout);
  const first = got.first as { client_address?: string; peer?: { address: string; port: number }; headers?: [string, string][] } | undefined;
  if (first) io.stdout.write(`echo: client_address=${first.client_address} peer=${first.peer?.address}:${first.peer?.port}\n`);
  io.stdout.write(table([['', 'CLIENT ADDRESS (what the app saw)'], ['trace', shares(pr.outcomes)], [`lab (${n})`, shares(observed)]], style) + '\n');
  return EXIT.ok;
}

async function verify(flags: { filename?: string[]; name?: string; set?: string[]; connections: string; json?: boolean }, io: Io): Promise<number> {
  const connections = Number(flags.connections);
  if (!Number.isInteger(connections) || connections < 1 || connections > 10000) throw new UserError(`--connections ${flags.connections}: expected 1-10000`);
  const name = labName(flags.name);
  let sources: ClusterSource[];
  let set: string[];
  let t0 = performance.now();
  if (flags.filename?.length) {
    sources = readClusterSources(flags.filename);
    set = flags.set ?? [];
    const { plan } = worldOf(sources, name, set);
    requireRoot();
    const r = await buildLab(plan, sources, undefined, set).catch((e: unknown) => {
      throw e instanceof LabBuildError ? new UserError(e.message) : e;
    });
    if (!flags.json) io.stderr.write(`lab ${name} ${r.already ? 'already up' : `up in ${((performance.now() - t0) / 1000).toFixed(2)} s`}\n`);
  } else {
    if (flags.set?.length) throw new UserError('--set needs -f: the lab is built with the what-ifs (kubepath lab verify -f PATH --set …)');
    ({ sources, set = [] } = upLab(name));
    requireRoot();
  }
  t0 = performance.now();
  const { world, plan } = worldOf(sources, name, set);
  const checks = checksOf(world, plan);
  const style = styleFor(io.stdout);
  const results = await verifyLab(world, plan, checks, { connections, timeoutMs: 1000, parallel: 3 }, (r: CheckResult) => {
    if (!flags.json && io.stderr.isTTY) io.stderr.write(`  ${r.skipped ? style.dim('-') : r.ok ? style.green('✓') : style.red('✗')} ${r.from} → ${r.to}\n`);
  });
  const ok = results.every((r) => r.ok);
  if (flags.json) {
    io.stdout.write(
      JSON.stringify(
        { ok, checks: results.map((r) => ({ from: r.from, to: r.to, ok: r.ok, ...(r.skipped ? { skipped: r.skipped } : {}), predicted: r.predicted, observed: r.observed, connections: r.connections, problems: r.problems })) },
        null,
        2,
      ) + '\n',
    );
  } else {
    const rows = [['FROM', 'TO', 'WAY', 'TRACE PREDICTS', 'LAB OBSERVED', '']];
    for (const r of results) rows.push([r.from, r.to, r.way, shares(r.predicted) || '-', r.skipped ? '-' : `${shares(r.observed)} (${r.connections})`, r.skipped ? style.yellow('skipped') : r.ok ? style.green('ok') : style.red('MISMATCH')]);
    io.stdout.write(table(rows, style) + '\n');
    for (const r of results.filter((x) => !x.ok)) io.stdout.write(`${style.red('mismatch')} ${r.from} → ${r.to}: ${r.problems.join('; ')}\n`);
    const skippedWhy = [...new Set(results.flatMap((r) => (r.skipped ? [r.skipped] : [])))];
    for (const why of skippedWhy) io.stdout.write(`${style.yellow('skipped')} ${results.filter((r) => r.skipped === why).length} check(s): ${why}\n`);
    const ran = results.filter((r) => !r.skipped);
    io.stdout.write(`${ran.filter((r) => r.ok).length} of ${ran.length} checks agree with the trace${results.length > ran.length ? `, ${results.length - ran.length} skipped` : ''} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  }
  return ok ? EXIT.ok : LAB_MISMATCH;
}

/** Add `kubepath lab` and its commands. */
export function addLabCommand(program: Command, io: Io, setExit: (code: number) => void, manifestsOption: () => Option): void {
  // Asynchronous commands end after main() returned: they set the exit code, and report errors as main() does.
  const run = (p: Promise<number> | number) => {
    if (typeof p === 'number') return setExit(p);
    void p.then(
      (code) => {
        process.exitCode = code;
      },
      (e: unknown) => {
        if (isUserError(e)) io.stderr.write(`kubepath: error: ${e.message}\n`);
        else io.stderr.write(`kubepath: internal error (a bug; please report it with the command line):\n${(e as Error).stack ?? String(e)}\n`);
        process.exitCode = isUserError(e) ? EXIT.badInput : EXIT.internal;
      },
    );
  };
  const lab = program.command('lab').description('The cluster built from real network namespaces, veths, bridges, routes and kube-proxy rules on this kernel (root), with real servers; curl and verify hold real connections against the trace');
  const nameOption = () => new Option('--name <lab>', 'the lab (namespaces kp-LAB-…)').default(undefined, 'lab');
  lab
    .command('up')
    .description('Build the lab: a namespace per node, pod, client and the load balancer, the underlay and router, kube-proxy rules, echo servers, health checks')
    .addOption(manifestsOption())
    .addOption(nameOption())
    .option('--set <KIND/NS/NAME.PATH=VALUE>', "what-if, as kubepath trace takes it: the lab is built from the changed manifests; repeat", collect)
    .option('--json', 'print the phases and the plan as JSON')
    .action((flags) => run(up(flags, io)));
  lab
    .command('down')
    .description('Remove every namespace, link and process of the lab (found by name: works after a killed lab up)')
    .addOption(nameOption())
    .option('--all', 'every kubepath lab on this host')
    .option('--json', 'print what was removed as JSON')
    .action((flags) => run(down(flags, io)));
  lab
    .command('status')
    .description('What runs where, with addresses')
    .option('--name <lab>', 'one lab (default: all)')
    .option('--json', 'print the labs and their plans as JSON')
    .action((flags) => run(status(flags, io)));
  lab
    .command('exec')
    .description('Run a command inside a node, pod or client of the lab: kubepath lab exec NODE|NS/POD|CLIENT -- iptables-save')
    .argument('<target>', 'node name, NS/POD, client name, lb, router (or node/…, pod/…, client/…)')
    .argument('[command...]', 'the command, after --')
    .addOption(nameOption())
    .action((target: string, command: string[], flags) => run(exec(target, command, flags)));
  lab
    .command('curl')
    .description("Real HTTP requests from a client to a target (the trace's syntax): what the echo server saw, next to the trace's prediction")
    .option('--from <client>', 'a client of the Environment, external:IP of one, or pod/NS/NAME')
    .option('--to <target>', 'svc/NS/NAME[:PORT], lb/NS/NAME[:PORT], nodeport/NODE/PORT, pod/NS/NAME:PORT or IP:PORT')
    .option('--host <host>', "the request's Host header (an Ingress rule's host); default the trace's")
    .option('--count <n>', 'connections', '1')
    .addOption(nameOption())
    .option('--json', 'print the prediction, the observed shares and the echo answer as JSON')
    .action((flags) => run(curl(flags, io)));
  lab
    .command('verify')
    .description('For every client × way in, many real connections: the client addresses the app saw and their shares against the trace; exit 2 on any mismatch')
    .addOption(manifestsOption())
    .addOption(nameOption())
    .option('--set <KIND/NS/NAME.PATH=VALUE>', "what-if, as kubepath trace takes it: the lab is built from the changed manifests; repeat", collect)
    .option('--connections <n>', 'connections per check', '60')
    .option('--json', 'print { ok, checks: [{ from, to, ok, predicted, observed }] }')
    .addHelpText('after', '\nExit codes: 0 every check agrees with the trace, 1 bad input or not root, 2 a mismatch.')
    .action((flags) => run(verify(flags, io)));
}
