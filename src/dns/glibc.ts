/**
 * glibc's stub resolver as getaddrinfo drives it (nss_dns → `__res_context_search` in
 * resolv/res_query.c → `__res_context_send`/`send_dg` in resolv/res_send.c), simulated against a
 * {@link Transport}: which names it asks, in which order, from which socket, with which timeouts.
 *
 * - Search: as-is first when the name has at least `ndots` dots (or a trailing dot: then only
 *   as-is); then each search domain, going on after NXDOMAIN, NODATA and SERVFAIL, stopping on a
 *   timeout, REFUSED or anything else; as-is last if not tried yet (even after a stop).
 * - A name is one `res_send`: A and AAAA back to back on one connected UDP socket per nameserver,
 *   opened for that name and closed after it. Tries: `attempts` × the nameservers in order, the
 *   wait `timeout << ns` (divided by the count for later servers, at least 1 s).
 * - SERVFAIL, REFUSED: that server is done for this try. A reply lost while the other arrived:
 *   the same server again with the queries in turn (`single-request`, sticky for the rest of the
 *   lookup), then in turn from a new socket (`single-request-reopen`).
 *
 * Replies take no time; only timeouts do.
 *
 * @module
 */
import { glibcConfig, type GlibcConfig } from './resolv-conf.js';
import { answerKind, dotsIn, type DnsReply, type LookupError, type LookupResult, type QueryLog, type QueryType, type Transport, wireName } from './types.js';

export interface LookupOptions {
  /** `any` asks A and AAAA (AF_UNSPEC), 4 only A (AF_INET), 6 only AAAA (AF_INET6). */
  family?: 'any' | 4 | 6;
  /** AI_ADDRCONFIG: with IPv6 off in the pod (`ipv6: false`), no AAAA is asked. */
  addrconfig?: boolean;
  /** Whether the pod has IPv6 at all (net.ipv6.conf.all.disable_ipv6=0). A link-local address is enough. */
  ipv6?: boolean;
}

/** The questions of one name for a family: glibc's T_QUERY_A_AND_AAAA, or one type. */
export function questionTypes(options: LookupOptions, noAaaa = false): QueryType[] {
  const family = options.family ?? 'any';
  if (family === 4) return ['A'];
  if (family === 6) return ['AAAA'];
  if (noAaaa || (options.addrconfig && options.ipv6 === false)) return ['A'];
  return ['A', 'AAAA'];
}

/** h_errno values of res_query. */
type HErrno = 'HOST_NOT_FOUND' | 'NO_DATA' | 'TRY_AGAIN' | 'NO_RECOVERY';

interface QueryOutcome {
  ok: boolean;
  herrno?: HErrno;
  /** The rcode in the first answer buffer: what `__res_context_search` looks at after TRY_AGAIN. */
  bufferRcode: DnsReply['rcode'];
  replies: DnsReply[];
}

/** What send_dg leaves: the replies in its two buffers, or nothing (go on to the next server). */
interface SendOutcome {
  buffer1?: DnsReply;
  /** Length of buffer 1 as glibc counts it: 0 after a failure reply. */
  resplen: number;
  buffer2?: DnsReply;
}

const FAILURE = new Set(['SERVFAIL', 'REFUSED']);

class GlibcResolver {
  now = 0;
  seq = 0;
  sockets = 0;
  readonly log: QueryLog[] = [];
  /** Set by a lost reply for the rest of the lookup (glibc writes it into the resolver state). */
  singleRequest: boolean;
  singleRequestReopen: boolean;
  rotation = 0;

  constructor(readonly conf: GlibcConfig, readonly transport: Transport) {
    this.singleRequest = conf.singleRequest;
    this.singleRequestReopen = conf.singleRequestReopen;
  }

  newSocket(): string {
    return `s${++this.sockets}`;
  }

  send(name: string, type: QueryType, server: string, socket: string, proto: 'udp' | 'tcp'): DnsReply | undefined {
    const seq = ++this.seq;
    const reply = this.transport({ name, type, server, proto, seq });
    this.log.push({ seq, name, type, socket, server, proto, time: this.now, answer: answerKind(reply, type), records: reply?.answers ?? [] });
    return reply;
  }

  /** res_send of one name: every try over every nameserver until one answers. */
  resSend(name: string, types: QueryType[]): { sent?: SendOutcome; lastBuffer1?: DnsReply } {
    const servers = [...this.conf.nameservers];
    if (this.conf.rotate) {
      for (let i = 0; i < this.rotation % servers.length; i++) servers.push(servers.shift()!);
      this.rotation++;
    }
    const sockets: (string | undefined)[] = servers.map(() => undefined);
    const state = { lastBuffer1: undefined as DnsReply | undefined };
    const attempts = this.conf.useVc ? 1 : this.conf.attempts;
    for (let attempt = 0; attempt < attempts; attempt++) {
      for (let ns = 0; ns < servers.length; ns++) {
        const r = this.conf.useVc ? this.sendVc(name, types, servers[ns]!, state) : this.sendDg(name, types, servers, ns, sockets, state);
        if (r && (r.resplen > 0 || r.buffer2)) return { sent: r, lastBuffer1: state.lastBuffer1 };
      }
    }
    return { lastBuffer1: state.lastBuffer1 };
  }

  /** send_vc: both questions on one TCP connection to one server. */
  sendVc(name: string, types: QueryType[], server: string, state: { lastBuffer1?: DnsReply }): SendOutcome | undefined {
    const socket = this.newSocket();
    const replies = types.map((t) => this.send(name, t, server, socket, 'tcp'));
    if (replies.some((r) => r === undefined)) return undefined;
    const [first, second] = replies as DnsReply[];
    state.lastBuffer1 = first;
    if (replies.every((r) => FAILURE.has(r!.rcode))) return undefined;
    return { buffer1: first, resplen: FAILURE.has(first!.rcode) ? 0 : 1, ...(second ? { buffer2: second } : {}) };
  }

  /** send_dg to nameserver `ns` (its position in the list sets the wait). */
  sendDg(name: string, types: QueryType[], servers: string[], ns: number, sockets: (string | undefined)[], state: { lastBuffer1?: DnsReply }): SendOutcome | undefined {
    const server = servers[ns]!;
    const seconds = Math.max(1, ns === 0 ? this.conf.timeout : Math.floor((this.conf.timeout << ns) / servers.length));
    let single = this.singleRequest || this.singleRequestReopen;
    let reopen = this.singleRequestReopen;
    const two = types.length === 2;
    for (;;) {
      const start = this.now;
      let socket = (sockets[ns] ??= this.newSocket());
      const received = [false, false];
      let resplen = 0;
      let buffer1: DnsReply | undefined;
      let buffer2: DnsReply | undefined;
      // Replies in flight, in the order they arrive (the order they were sent: replies take no time).
      const inFlight: { index: number; reply: DnsReply | undefined }[] = [];
      const sendQuestion = (index: number) => inFlight.push({ index, reply: this.send(name, types[index]!, server, socket, 'udp') });
      sendQuestion(0);
      if (two && !single) sendQuestion(1);
      while (inFlight.length > 0) {
        const { index, reply } = inFlight.shift()!;
        if (!reply) continue; // lost: nothing arrives
        const intoFirst = (!received[0] && !received[1]) || !two;
        if (intoFirst) {
          buffer1 = reply;
          state.lastBuffer1 = reply;
        } else buffer2 = reply;
        if (FAILURE.has(reply.rcode)) {
          if (received[0] || (two && received[1])) return { ...(buffer1 ? { buffer1 } : {}), resplen };
          if (two) {
            resplen = 0;
            received[index] = true;
            continue; // wait for the other reply (in single-request mode it was never sent)
          }
          sockets[ns] = undefined; // glibc closes the socket before the next server
          return undefined;
        }
        if (intoFirst) resplen = 1;
        received[index] = true;
        if (!two || (received[0] && received[1])) return { ...(buffer1 ? { buffer1 } : {}), resplen, ...(buffer2 ? { buffer2 } : {}) };
        if (single) {
          if (reopen) socket = sockets[ns] = this.newSocket();
          sendQuestion(index === 0 ? 1 : 0);
        }
      }
      // Nothing more arrives: the poll times out.
      this.now = start + seconds * 1000;
      if (resplen > 0 && (received[0] || received[1])) {
        if (!single) {
          single = this.singleRequest = true;
          continue;
        }
        if (!reopen) {
          reopen = this.singleRequestReopen = true;
          sockets[ns] = undefined;
          continue;
        }
        return { ...(buffer1 ? { buffer1 } : {}), resplen };
      }
      return undefined;
    }
  }

  /** res_query: one name, its replies judged as __res_context_query does. */
  query(name: string, types: QueryType[]): QueryOutcome {
    const { sent, lastBuffer1 } = this.resSend(name, types);
    if (!sent) return { ok: false, herrno: 'TRY_AGAIN', bufferRcode: lastBuffer1?.rcode ?? 'NOERROR', replies: [] };
    let hp = sent.buffer1;
    const hp2 = sent.buffer2 ?? hp;
    if (sent.resplen === 0 && sent.buffer2) hp = sent.buffer2;
    const replies = [hp, hp2].filter((r): r is DnsReply => r !== undefined).filter((r, i, all) => all.indexOf(r) === i);
    const answered = (r: DnsReply | undefined) => r?.rcode === 'NOERROR' && r.answers.length > 0;
    if (answered(hp) || answered(hp2)) return { ok: true, bufferRcode: sent.buffer1?.rcode ?? 'NOERROR', replies };
    const rcode = hp?.rcode === 'NOERROR' ? hp2?.rcode : hp?.rcode;
    const herrno: HErrno = rcode === 'NXDOMAIN' ? 'HOST_NOT_FOUND' : rcode === 'SERVFAIL' ? 'TRY_AGAIN' : rcode === 'NOERROR' ? 'NO_DATA' : 'NO_RECOVERY';
    return { ok: false, herrno, bufferRcode: sent.buffer1?.rcode ?? 'NOERROR', replies };
  }

  /** __res_context_search. */
  search(name: string, types: QueryType[]): { replies: DnsReply[] } | { herrno: HErrno } {
    const dots = dotsIn(name);
    const trailing = name.endsWith('.');
    const bare = wireName(name);
    let savedHerrno: HErrno | undefined;
    let triedAsIs = false;
    let gotNodata = false;
    let gotServfail = false;
    let rootOnList = false;
    let searched = false;
    let last: HErrno = 'HOST_NOT_FOUND';
    if (dots >= this.conf.ndots || trailing) {
      const r = this.query(bare, types);
      if (r.ok) return { replies: r.replies };
      if (trailing) return { herrno: r.herrno! };
      savedHerrno = last = r.herrno!;
      triedAsIs = true;
    }
    if (!trailing) {
      for (const domain of this.conf.search) {
        searched = true;
        const d = domain.replace(/^\./, '');
        if (d === '') rootOnList = true;
        const r = this.query(d === '' ? bare : `${bare}.${d.replace(/\.$/, '')}`, types);
        if (r.ok) return { replies: r.replies };
        last = r.herrno!;
        if (r.herrno === 'NO_DATA') gotNodata = true;
        else if (r.herrno === 'HOST_NOT_FOUND') continue;
        else if (r.herrno === 'TRY_AGAIN' && r.bufferRcode === 'SERVFAIL') gotServfail = true;
        else break;
      }
    }
    if ((dots > 0 || !searched || !this.conf.noTldQuery) && !(triedAsIs || rootOnList)) {
      const r = this.query(bare, types);
      if (r.ok) return { replies: r.replies };
      last = r.herrno!;
    }
    if (savedHerrno) return { herrno: savedHerrno };
    if (gotNodata) return { herrno: 'NO_DATA' };
    if (gotServfail) return { herrno: 'TRY_AGAIN' };
    return { herrno: last };
  }
}

const GAI_ERROR: Record<HErrno, LookupError> = { HOST_NOT_FOUND: 'EAI_NONAME', NO_DATA: 'EAI_NODATA', TRY_AGAIN: 'EAI_AGAIN', NO_RECOVERY: 'EAI_FAIL' };

/** The addresses of the replies: A first, then AAAA (getaddrinfo's RFC 6724 sorting is not modelled). */
export function addressesIn(replies: readonly DnsReply[], types: readonly QueryType[]): string[] {
  const out: string[] = [];
  for (const t of types) for (const r of replies) for (const rec of r.answers) if (rec.type === t && !out.includes(rec.data)) out.push(rec.data);
  return out;
}

/** getaddrinfo(name) with glibc 2.36 reading `resolvConf`, against `transport`. */
export function glibcLookup(resolvConf: string, name: string, transport: Transport, options: LookupOptions = {}): LookupResult {
  const conf = glibcConfig(resolvConf);
  const types = questionTypes(options, conf.noAaaa);
  const resolver = new GlibcResolver(conf, transport);
  if (name === '' || name.endsWith('..')) return { addresses: [], error: 'EAI_NONAME', queries: [], time: 0 };
  const r = resolver.search(name, types);
  const base = { queries: resolver.log, time: resolver.now };
  if ('herrno' in r) return { ...base, addresses: [], error: GAI_ERROR[r.herrno] };
  const addresses = addressesIn(r.replies, types);
  return { ...base, addresses, error: addresses.length > 0 ? null : 'EAI_NODATA' };
}
