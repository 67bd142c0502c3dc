/**
 * Read `conntrack -L` output (plain or `-o extended`) into a conntrack table, so a packet of a
 * connection that exists on a real node follows that connection's NAT.
 *
 * @module
 */
import { parseIP, parsePort, protocolNumber } from '../net/index.js';
import { type ConntrackEntry, ConntrackTable, type CtTuple, invertTuple } from './conntrack.js';

/** Thrown for a line that is not a conntrack entry; names file and line. */
export class ConntrackSyntaxError extends Error {
  override readonly name = 'ConntrackSyntaxError';
}

function tupleFrom(fields: Map<string, string>[], index: number, where: string): CtTuple {
  const f = fields[index];
  if (!f || !f.has('src') || !f.has('dst')) throw new ConntrackSyntaxError(`${where}: expected src= and dst= for the ${index === 0 ? 'original' : 'reply'} direction`);
  try {
    return {
      source: parseIP(f.get('src')!),
      destination: parseIP(f.get('dst')!),
      sourcePort: f.has('sport') ? parsePort(f.get('sport')!) : undefined,
      destinationPort: f.has('dport') ? parsePort(f.get('dport')!) : undefined,
    };
  } catch (e) {
    throw new ConntrackSyntaxError(`${where}: ${(e as Error).message}`);
  }
}

/** Parse `conntrack -L` output. Lines that only summarise ("N flow entries") are skipped. */
export function parseConntrackList(text: string, file: string): ConntrackTable {
  const table = new ConntrackTable();
  text.split(/\r?\n/).forEach((raw, n) => {
    const line = raw.trim();
    const where = `${file}:${n + 1}`;
    if (line === '' || line.startsWith('#') || /flow entries have been shown/.test(line) || line.startsWith('conntrack v')) return;
    const words = line.split(/\s+/);
    let i = 0;
    if (words[0] === 'ipv4' || words[0] === 'ipv6') i = 2; // -o extended: "ipv4 2 tcp 6 ..."
    const protoName = words[i];
    const protocol = protoName === undefined ? undefined : protocolNumber(protoName);
    if (protocol === undefined) throw new ConntrackSyntaxError(`${where}: "${protoName ?? ''}" is not a protocol: expected "conntrack -L" output`);
    const directions: Map<string, string>[] = [];
    let mark = 0;
    const flags = new Set<string>();
    for (const w of words.slice(i + 1)) {
      const eq = w.indexOf('=');
      if (w.startsWith('[') && w.endsWith(']')) {
        flags.add(w.slice(1, -1));
        continue;
      }
      if (eq < 0) continue; // protocol number, timeout, TCP state
      const key = w.slice(0, eq);
      const value = w.slice(eq + 1);
      if (key === 'src') directions.push(new Map());
      if (key === 'mark') {
        mark = Number(value) >>> 0;
        continue;
      }
      directions[directions.length - 1]?.set(key, value);
    }
    if (directions.length !== 2) throw new ConntrackSyntaxError(`${where}: expected two directions (src=... dst=... twice)`);
    const original = tupleFrom(directions, 0, where);
    const reply = tupleFrom(directions, 1, where);
    const family = original.source.family;
    if (reply.source.family !== family) throw new ConntrackSyntaxError(`${where}: the two directions are of different families`);
    const inverse = invertTuple(original);
    const entry: ConntrackEntry = {
      family,
      protocol,
      original,
      reply,
      srcNat: !(reply.destination.value === inverse.destination.value && reply.destinationPort === inverse.destinationPort),
      dstNat: !(reply.source.value === inverse.source.value && reply.sourcePort === inverse.sourcePort),
      seenReply: !flags.has('UNREPLIED'),
      confirmed: true,
      srcManipDone: true,
      dstManipDone: true,
      mark,
    };
    table.add(entry);
  });
  return table;
}
