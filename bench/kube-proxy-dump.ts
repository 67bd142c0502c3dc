/**
 * A kube-proxy-shaped iptables-save dump of N Services with M endpoints each, laid out as
 * kube-proxy's iptables proxier writes it (KUBE-SERVICES, KUBE-SVC-*, KUBE-SEP-*, NodePorts).
 */
import { createHash } from 'node:crypto';

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

/** kube-proxy's chain-name hash: base32(sha256(text))[:16]. */
export function chainHash(text: string): string {
  return base32(createHash('sha256').update(text).digest()).slice(0, 16);
}

function groupByChain(rules: readonly string[]): string[] {
  const byChain = new Map<string, string[]>();
  for (const rule of rules) {
    const chain = rule.split(' ', 2)[1]!;
    const list = byChain.get(chain);
    if (list) list.push(rule);
    else byChain.set(chain, [rule]);
  }
  return [...byChain.values()].flat();
}

/** The dump, and the Services in it (for picking packets to trace). */
export function kubeProxyDump(services: number, endpoints: number): { text: string; clusterIPs: string[]; nodePorts: number[] } {
  const nat: string[] = [];
  const natChains: string[] = [':KUBE-MARK-MASQ - [0:0]', ':KUBE-NODEPORTS - [0:0]', ':KUBE-POSTROUTING - [0:0]', ':KUBE-SERVICES - [0:0]'];
  const svcRules: string[] = [];
  const nodePortRules: string[] = [];
  const clusterIPs: string[] = [];
  const nodePorts: number[] = [];
  for (let s = 0; s < services; s++) {
    const spn = `ns${s % 97}/svc${s}:http`;
    const hash = chainHash(`${spn}tcp`);
    const svc = `KUBE-SVC-${hash}`;
    const ip = `10.${96 + Math.floor(s / 65536)}.${Math.floor(s / 256) % 256}.${s % 256}`;
    clusterIPs.push(ip);
    natChains.push(`:${svc} - [0:0]`);
    svcRules.push(`-A KUBE-SERVICES -m comment --comment "${spn} cluster IP" -m tcp -p tcp -d ${ip} --dport 80 -j ${svc}`);
    nat.push(`-A ${svc} -m comment --comment "${spn} cluster IP" -m tcp -p tcp -d ${ip} --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ`);
    if (s % 4 === 0 && nodePorts.length < 2768) {
      const np = 30000 + nodePorts.length;
      nodePorts.push(np);
      const ext = `KUBE-EXT-${hash}`;
      natChains.push(`:${ext} - [0:0]`);
      nodePortRules.push(`-A KUBE-NODEPORTS -m comment --comment ${spn} -m tcp -p tcp --dport ${np} -j ${ext}`);
      nat.push(`-A ${ext} -m comment --comment "masquerade traffic for ${spn} external destinations" -j KUBE-MARK-MASQ`);
      nat.push(`-A ${ext} -j ${svc}`);
    }
    for (let e = 0; e < endpoints; e++) {
      const ep = `10.${244 + (e % 4)}.${(s >> 8) % 256}.${(s + e) % 250 + 2}:8080`;
      const sep = `KUBE-SEP-${chainHash(`${spn}tcp${ep}`)}`;
      natChains.push(`:${sep} - [0:0]`);
      const left = endpoints - e;
      const prob = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(10)}` : '';
      nat.push(`-A ${svc} -m comment --comment "${spn} -> ${ep}"${prob} -j ${sep}`);
      nat.push(`-A ${sep} -m comment --comment ${spn} -s ${ep.split(':')[0]} -j KUBE-MARK-MASQ`);
      nat.push(`-A ${sep} -m comment --comment ${spn} -m tcp -p tcp -j DNAT --to-destination ${ep}`);
    }
  }
  const text = [
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':KUBE-FORWARD - [0:0]',
    ':KUBE-SERVICES - [0:0]',
    '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
    '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP',
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    'COMMIT',
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ...natChains,
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    ...nodePortRules,
    ...svcRules,
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
    // iptables-save prints each chain's rules together.
    ...groupByChain(nat),
    'COMMIT',
    '',
  ].join('\n');
  return { text, clusterIPs, nodePorts };
}
