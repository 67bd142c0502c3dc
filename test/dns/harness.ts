/**
 * The DNS harness of ../shared/research/harness/dns-harness, as the conformance test needs it: the
 * zone its server answered from (read from run_cases.py, where it is written once) and the server's
 * rules (dnsserver.py: records, nodata, servfail, refused, per-name drops, dead servers), as a
 * kubepath Transport. Nothing of the data is copied into the project.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DnsReply, Transport } from '../../src/dns/index.js';
import { sharedDir } from '../support/shared.js';

export interface HarnessZone {
  records: Record<string, Partial<Record<'A' | 'AAAA', string[]>>>;
}

export interface ServerBehaviour {
  nodata?: string[];
  servfail?: string[];
  refused?: string[];
  drop?: { name: string; qtype?: string; count: number }[];
  drop_all?: boolean;
  drop_servers?: string[];
}

export interface ObservedQuery {
  dt_ms: number;
  server: string;
  socket: string;
  proto: 'udp' | 'tcp';
  qname: string;
  qtype: string;
  server_action: string;
}

export interface ObservedRun {
  case: string;
  libc: string;
  name: string;
  family: 'unspec' | 'inet' | 'inet6';
  ai_addrconfig: boolean;
  resolv_conf: string;
  result: { rc: number | string; err: string; ms: number; addrs: string[] };
  queries: ObservedQuery[];
  server_behaviour?: ServerBehaviour;
  note?: string;
}

export interface Observed {
  environment: Record<string, string>;
  results: ObservedRun[];
}

/** BASE_ZONE of run_cases.py: a Python dict literal that is JSON but for its booleans and trailing commas. */
export function harnessZone(): HarnessZone {
  const dir = sharedDir();
  if (!dir) throw new Error('shared data not found (../shared)');
  const text = readFileSync(resolve(dir, 'research/harness/dns-harness/run_cases.py'), 'utf8');
  const start = text.indexOf('BASE_ZONE = {');
  const end = text.indexOf('\n}\n', start);
  if (start < 0 || end < 0) throw new Error('BASE_ZONE not found in run_cases.py');
  const literal = text.slice(start + 'BASE_ZONE = '.length, end + 2).replace(/\bFalse\b/g, 'false').replace(/\bTrue\b/g, 'true').replace(/,(\s*[}\]])/g, '$1');
  return JSON.parse(literal) as HarnessZone;
}

/** dnsserver.py's build_answer as a Transport (drop counters are per transport, as per server run). */
export function harnessTransport(zone: HarnessZone, behaviour: ServerBehaviour = {}): Transport {
  const drops = (behaviour.drop ?? []).map((d) => ({ ...d }));
  const key = (n: string) => n.toLowerCase().replace(/\.$/, '');
  const has = (list: string[] | undefined, name: string) => (list ?? []).some((n) => key(n) === name);
  const records = new Map(Object.entries(zone.records).map(([n, r]) => [key(n), r]));
  return (q) => {
    const name = key(q.name);
    if (behaviour.drop_all || (behaviour.drop_servers ?? []).includes(q.server)) return undefined;
    for (const d of drops) {
      if (d.count > 0 && key(d.name) === name && (d.qtype ?? q.type) === q.type) {
        d.count--;
        return undefined;
      }
    }
    if (has(behaviour.servfail, name)) return { rcode: 'SERVFAIL', answers: [] };
    if (has(behaviour.refused, name)) return { rcode: 'REFUSED', answers: [] };
    const rec = records.get(name);
    if (rec) {
      const data = q.type === 'A' || q.type === 'AAAA' ? (rec[q.type] ?? []) : [];
      return { rcode: 'NOERROR', answers: data.map((d) => ({ name, type: q.type, data: d })) } satisfies DnsReply;
    }
    if (has(behaviour.nodata, name)) return { rcode: 'NOERROR', answers: [] };
    return { rcode: 'NXDOMAIN', answers: [] };
  };
}
