/**
 * The `kubepath` command.
 *
 * @module
 */
import { Command, CommanderError, Option } from 'commander';
import { EXIT, isUserError } from './errors.js';
import { type NetfilterTraceFlags, runNetfilterTrace } from './netfilter-trace.js';
import { type RulesFlags, runRules } from './rules.js';
import { runTrace, type TraceFlags } from './trace.js';
import { runDemo } from './demo.js';
import { type EchoFlags, runEcho } from './echo.js';
import { addLabCommand } from './lab.js';
import { registerDns } from './dns.js';
import { registerPolicyCommands } from './policy.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `-f PATH`, as kubectl takes manifests. */
const manifestsOption = () =>
  new Option('-f, --filename <path>', 'manifests: a YAML or JSON file, a directory (recursive) or - for stdin; repeat').argParser(collect);

/** Build the command tree (exported for tests). */
export function buildProgram(io: { stdout: NodeJS.WritableStream & { isTTY?: boolean }; stderr: NodeJS.WritableStream }, setExit: (code: number) => void): Command {
  const program = new Command('kubepath')
    .description('Shows, and proves, what happens to a connection on its way through a Kubernetes cluster.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride();

  const netfilter = program.command('netfilter').description('Linux netfilter (iptables) on its own: trace a packet through any iptables-save dump');

  netfilter
    .command('trace')
    .description('Trace one packet through an iptables-save dump: every chain and rule it meets, NAT, conntrack, and each outcome with its probability')
    .option('--rules <file>', 'iptables-save output for IPv4 ("-" reads stdin)')
    .option('--rules6 <file>', 'ip6tables-save output for IPv6')
    .addOption(new Option('--proto <proto>', 'transport').default('tcp').choices(['tcp', 'udp', 'sctp', 'icmp', 'icmpv6']))
    .option('--src <ip[:port]>', `source address (port default 40000)`)
    .option('--dst <ip:port>', 'destination address and port ([IPv6]:PORT)')
    .option('--in-iface <if>', 'the packet arrives on this interface (PREROUTING first)')
    .option('--local-out', 'the packet is sent by a local process (OUTPUT first)')
    .option('--local-ip <ip[/len][@if]>', "an address of this host, on an interface (default: the --in-iface, else eth0); repeat", collect)
    .option('--route <route>', 'a route: CIDR=IF[,via=IP][,table=N] or "ip route" syntax ("default via 10.0.0.1 dev eth0"); repeat', collect)
    .option('--ip-rule <rule>', 'a policy rule in "ip rule" syntax ("fwmark 0x1 lookup 100"); repeat', collect)
    .option('--host <file>', 'the host as JSON: {"interfaces":[{"name","addresses":["IP/LEN"]}],"routes":["ip route text"],"policyRules":[...]}')
    .option('--ip-addr <file>', 'interfaces from "ip -j addr show" output taken on the node')
    .option('--ip-route <file>', 'routes from "ip -j route show [table all]" output; repeat', collect)
    .option('--no-forward', 'ip_forward is 0 on this host')
    .option('--route-localnet', 'route_localnet is 1 (127.0.0.0/8 reachable from other interfaces)')
    .option('--mark <n>', 'the packet mark on entry')
    .option('--uid <n>', 'uid of the sending socket (with --local-out, for -m owner)')
    .option('--gid <n>', 'gid of the sending socket (with --local-out)')
    .option('--tcp-flags <flags>', 'TCP flags of the packet (default SYN)')
    .option('--icmp-type <type[/code]>', 'ICMP type (default echo-request)')
    .option('--physdev-in <if>', 'the bridge port the packet came through (bridged packets, br_netfilter)')
    .option('--mac <mac>', 'source MAC address (for -m mac)')
    .option('--ipset <file>', '"ipset save" output with the sets -m set refers to; repeat', collect)
    .option('--conntrack <file>', '"conntrack -L" output: existing connections (a later packet or a reply follows its entry\'s NAT)')
    .option('--recent <name=ip[@ago]>', 'an xt_recent entry: list NAME has IP, seen AGO seconds ago; repeat', collect)
    .option('--nth <table/chain/num=n>', 'statistic --mode nth: packets the rule has seen before; repeat', collect)
    .option('--reply', 'also trace the reply back through the same host (conntrack reverses the NAT)')
    .option('--strict', 'fail on rules that use extensions kubepath does not model (default: such rules make a path through them undetermined)')
    .option('-v, --verbose', 'show the rules that did not match, and why')
    .option('--json', 'print the trace as JSON (docs/netfilter-trace-json.md)')
    .addHelpText(
      'after',
      `
Exit codes: 0 traced, 1 bad input, 2 undetermined (an outcome depends on something not modelled).

Example:
  kubepath netfilter trace --rules examples/kube-proxy-node.rules --host examples/kube-proxy-node.host.json \\
    --in-iface eth0 --src 203.0.113.7:51000 --dst 192.168.0.2:30080`,
    )
    .action((flags: NetfilterTraceFlags) => {
      setExit(runNetfilterTrace(flags, io.stdout, io.stderr));
    });

  program
    .command('echo')
    .description('The diagnostic server to run as a pod: answers with the TCP peer, the PROXY protocol header, the forwarded headers and the client IP under each strategy')
    .option('--port <n>', 'port to listen on (0: any free port)', '8080')
    .option('--host <address>', 'address to listen on (default 0.0.0.0)')
    .addOption(new Option('--proxy-protocol <mode>', 'PROXY protocol: require it, accept it from --proxy-peer only, or off').default('off').choices(['require', 'optional', 'off']))
    .option('--proxy-peer <cidr>', 'a load balancer that may send a PROXY header; repeat', collect)
    .option('--trust <cidr>', 'a proxy whose X-Forwarded-For entries are trusted (RightmostTrustedRange); repeat', collect)
    .option('--tcp', 'raw TCP instead of HTTP: write the answer as soon as a connection is in')
    .addHelpText('after', '\nHTTP answers are text; JSON with Accept: application/json or ?format=json (docs/echo.md).')
    .action((flags: EchoFlags) => {
      setExit(runEcho(flags, io.stdout, io.stderr));
    });

  program
    .command('demo')
    .description("The seeds' scenarios (pod, ClusterIP, NodePort and LoadBalancer with externalTrafficPolicy Cluster and Local) on a built-in three-node cluster: what the app sees as the client address, and why")
    .option('--json', 'print the scenarios and their outcomes as JSON')
    .action((flags: { json?: boolean }) => {
      setExit(runDemo(flags, io.stdout));
    });

  program
    .command('trace')
    .description('One connection across the cluster, hop by hop: every rule and NAT on the way, each branch with its probability, and the client address the application sees')
    .addOption(manifestsOption())
    .option('--from <client>', 'external:IP, pod/NS/NAME, node/NAME, or a client named in the Environment')
    .option('--to <target>', 'svc/NS/NAME[:PORT], lb/NS/NAME[:PORT], nodeport/NODE/PORT, pod/NS/NAME:PORT or IP:PORT')
    .option('--via <node>', 'node/NAME: the node an external client enters by (a NodePort), or the node the load balancer is made to pick')
    .addOption(new Option('--proto <proto>', 'transport').default('tcp').choices(['tcp', 'udp', 'sctp']))
    .option('--set <KIND/NS/NAME.PATH=VALUE>', "what-if: change a field before loading, e.g. 'svc/shop/web.spec.externalTrafficPolicy=Local'; repeat", collect)
    .option('--round-trip', 'also trace each reply back to the client through conntrack')
    .option('--host <host>', 'the HTTP Host the client sends (default: the Ingress rule\'s host, else the target\'s name)')
    .option('--path <path>', 'the HTTP request path (default /)')
    .option('-H, --header <NAME: VALUE>', "a header field the client sends, e.g. 'X-Forwarded-For: 1.2.3.4' (a forged one); repeat", collect)
    .option('--tcp', 'the client sends raw TCP, not HTTP (no headers for proxies to read)')
    .option('--client-ip <strategy>', "the application's client IP strategy, e.g. RemoteAddr, 'RightmostTrustedRange(X-Forwarded-For, 10.0.0.0/8)' (over the Environment's apps)")
    .option('-v, --verbose', 'show every rule that matched, and the replies step by step')
    .option('--json', 'print the journey as JSON (docs/trace-json.md)')
    .addHelpText(
      'after',
      `
Exit codes: 0 traced, 1 bad input (manifests, unknown names: the message lists what exists), 2 undetermined.

Examples:
  kubepath trace -f examples/seeds/03-nodeport-cluster --from external:104.132.1.79 --to nodeport/kubernetes-node-cx31/30080
  kubepath trace -f examples/cluster --from office --to lb/ingress-nginx/ingress-nginx-controller --round-trip`,
    )
    .action((flags: TraceFlags) => {
      setExit(runTrace(flags, io.stdout));
    });

  program
    .command('rules')
    .description("The iptables rules kube-proxy (iptables mode) writes on a node, as iptables-restore input that loads on an empty host")
    .addOption(manifestsOption())
    .option('--node <name>', 'the node to compile the rules for')
    .option('--family <family>', 'ipv4 or ipv6 (default: the first family of the node)')
    .option('--nfacct', "kube-proxy's nfacct counters exist on the host (rules carry -m nfacct; the text then loads only where they exist)")
    .option('--no-random-fully', 'iptables without --random-fully (before 1.6.2): MASQUERADE without it')
    .option('--json', 'print the rule IR, settings and assumptions as JSON (docs/rules-json.md)')
    .addHelpText(
      'after',
      `
Exit codes: 0 rules written, 1 bad input (manifests, unknown node, flags).

Example:
  kubepath rules -f examples/cluster --node node-1 > node-1.rules
  sudo ip netns exec kp-test iptables-restore < node-1.rules`,
    )
    .action((flags: RulesFlags & { filename?: string[] }) => {
      setExit(runRules({ ...flags, file: flags.filename }, io.stdout));
    });

  addLabCommand(program, io, setExit, manifestsOption);
  registerDns(program, io, setExit);
  registerPolicyCommands(program, io.stdout, setExit);
  return program;
}

/** Run kubepath with arguments; returns the exit code. User errors print one line, no stack. */
export function main(argv: readonly string[], io = { stdout: process.stdout, stderr: process.stderr }): number {
  let code: number = EXIT.ok;
  const program = buildProgram(io, (c) => (code = c));
  try {
    program.parse(argv as string[], { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    }
    if (isUserError(e)) {
      io.stderr.write(`kubepath: error: ${e.message}\n`);
      return EXIT.badInput;
    }
    io.stderr.write(`kubepath: internal error (a bug; please report it with the command line):\n${(e as Error).stack ?? String(e)}\n`);
    return EXIT.internal;
  }
}
