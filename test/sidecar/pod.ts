/**
 * A pod's network namespace for the sidecar tests: eth0 with the pod IP, lo, a default route to
 * the client's side, and what istio-iptables adds (rules, policy rule, table 133); packets and
 * the socket owners of the pod's processes.
 */
import { parseIP, type Packet } from '../../src/net/index.js';
import { buildHost, type Host, parseRuleset, type Ruleset, type SocketOwner } from '../../src/netfilter/index.js';
import { compileIstioRules, type IstioCaptureConfig, type IstioRules, istioCaptureConfig } from '../../src/sidecar/index.js';

export const POD_IP = '10.250.0.2';
export const CLIENT_IP = '10.250.0.1';

/** The pod's network namespace as a host, with what istio-iptables adds to it. */
export function podHost(rules: IstioRules): Host {
  return buildHost({
    interfaces: [{ name: 'eth0', addresses: [`${POD_IP}/24`] }],
    routes: [`default via ${CLIENT_IP} dev eth0`, ...rules.routes],
    policyRules: rules.policyRules,
    ipForward: false,
  });
}

export function tcp(src: string, dst: string, flags = 0x02): Packet {
  const [s, sp] = src.split(':');
  const [d, dp] = dst.split(':');
  return {
    family: 4,
    protocol: 6,
    source: parseIP(s!),
    destination: parseIP(d!),
    sourcePort: Number(sp),
    destinationPort: Number(dp),
    tcpFlags: flags,
    icmpType: undefined,
    icmpCode: undefined,
    length: undefined,
  };
}

export const socket = (uid: number, gid: number): SocketOwner => ({ uid, gid, supplementaryGids: [] });
export const APP = socket(1000, 1000);
export const ENVOY = socket(1337, 1337);
/** istio-proxy in TPROXY mode, as the injection template runs it. */
export const ENVOY_TPROXY = socket(0, 1337);

export interface PodSetup {
  rules: IstioRules;
  ruleset: Ruleset;
  host: Host;
}

export function setup(config: Partial<IstioCaptureConfig> = {}): PodSetup {
  const rules = compileIstioRules(istioCaptureConfig(config), 'IPv4');
  return { rules, ruleset: parseRuleset(rules.text, { file: 'istio.rules', family: 4 }), host: podHost(rules) };
}
