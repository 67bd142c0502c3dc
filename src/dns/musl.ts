/**
 * musl's resolver as getaddrinfo drives it (src/network/lookup_name.c `name_from_dns_search`,
 * `name_from_dns`; res_msend.c `__res_msend_rc`), simulated against a {@link Transport}.
 *
 * - Search: a name with at least `ndots` dots, or a trailing dot, is asked as-is only (no search
 *   after a miss). Otherwise each search domain, going on only after NXDOMAIN; NODATA, SERVFAIL
 *   and a timeout end the lookup with an error; then as-is last.
 * - A name is one exchange on one unconnected UDP socket (a new one per name): A and AAAA sent to
 *   every nameserver at once; the first NOERROR or NXDOMAIN per question is taken; SERVFAIL is
 *   re-sent at once (at most twice the number of questions per interval) and never taken; REFUSED
 *   is ignored. Unanswered questions are re-sent every `timeout/attempts`, until `timeout`.
 * - No `single-request`, `rotate`, `use-vc` or `edns0`: musl reads only ndots, attempts, timeout.
 *
 * @module
 */
import { addressesIn, type LookupOptions, questionTypes } from './glibc.js';
import { muslConfig, type MuslConfig } from './resolv-conf.js';
import { answerKind, dotsIn, type DnsReply, type LookupError, type LookupResult, type QueryLog, type QueryType, type Transport } from './types.js';

export interface MuslOptions extends LookupOptions {
  /** musl's version: 1.2.4 made a NOERROR answer without addresses EAI_NODATA (before: EAI_NONAME). Default 1.2.5. */
  version?: string;
}

/** True when version `v` (`1.2.3`) is at least `min`. */
function atLeast(v: string, min: number[]): boolean {
  const parts = v.split('.').map(Number);
  for (let i = 0; i < min.length; i++) {
    const a = parts[i] ?? 0;
    if (a !== min[i]) return a > min[i]!;
  }
  return true;
}

class MuslResolver {
  now = 0;
  seq = 0;
  sockets = 0;
  readonly log: QueryLog[] = [];

  constructor(readonly conf: MuslConfig, readonly transport: Transport) {}

  /** __res_msend_rc: the answers per question (undefined: none taken before the timeout). */
  msend(name: string, types: QueryType[]): (DnsReply | undefined)[] {
    const socket = `s${++this.sockets}`;
    const timeout = this.conf.timeout * 1000;
    const interval = Math.floor(timeout / this.conf.attempts);
    const t0 = this.now;
    const answers: (DnsReply | undefined)[] = types.map(() => undefined);
    const servers = this.conf.nameservers;
    for (let t1 = t0; t1 - t0 < timeout; t1 += interval) {
      this.now = t1;
      let servfailRetry = 2 * types.length;
      const inFlight: { index: number; server: string; reply: DnsReply | undefined }[] = [];
      const send = (index: number, server: string) => {
        const seq = ++this.seq;
        const reply = this.transport({ name, type: types[index]!, server, proto: 'udp', seq });
        this.log.push({ seq, name, type: types[index]!, socket, server, proto: 'udp', time: this.now, answer: answerKind(reply, types[index]!), records: reply?.answers ?? [] });
        inFlight.push({ index, server, reply });
      };
      types.forEach((_, i) => {
        if (!answers[i]) for (const server of servers) send(i, server);
      });
      while (inFlight.length > 0) {
        const { index, server, reply } = inFlight.shift()!;
        if (!reply || answers[index]) continue;
        if (reply.rcode === 'NOERROR' || reply.rcode === 'NXDOMAIN') answers[index] = reply;
        else if (reply.rcode === 'SERVFAIL' && servfailRetry > 0) {
          servfailRetry--;
          send(index, server);
        }
      }
      if (answers.every((a) => a !== undefined)) return answers;
    }
    this.now = t0 + timeout;
    return answers;
  }

  /** name_from_dns: addresses (>0), 0 for NXDOMAIN (search on), or an error. */
  fromDns(name: string, types: QueryType[], nodata: LookupError): { addresses: string[] } | { next: true } | { error: LookupError } {
    const answers = this.msend(name, types);
    for (const a of answers) {
      if (!a || a.rcode === 'SERVFAIL') return { error: 'EAI_AGAIN' };
      if (a.rcode === 'NXDOMAIN') return { next: true };
      if (a.rcode !== 'NOERROR') return { error: 'EAI_FAIL' };
    }
    const addresses = addressesIn(answers as DnsReply[], types);
    return addresses.length > 0 ? { addresses } : { error: nodata };
  }
}

/** getaddrinfo(name) with musl reading `resolvConf`, against `transport`. */
export function muslLookup(resolvConf: string, name: string, transport: Transport, options: MuslOptions = {}): LookupResult {
  const conf = muslConfig(resolvConf);
  const types = questionTypes(options);
  const nodata: LookupError = atLeast(options.version ?? '1.2.5', [1, 2, 4]) ? 'EAI_NODATA' : 'EAI_NONAME';
  const resolver = new MuslResolver(conf, transport);
  const done = (r: { addresses: string[] } | { error: LookupError }): LookupResult => ({
    addresses: 'addresses' in r ? r.addresses : [],
    error: 'error' in r ? r.error : null,
    queries: resolver.log,
    time: resolver.now,
  });
  const absolute = name.endsWith('.');
  const bare = absolute ? name.slice(0, -1) : name;
  if (bare === '' || bare.endsWith('.')) return done({ error: 'EAI_NONAME' });
  const search = dotsIn(name) >= conf.ndots || absolute ? [] : conf.search;
  for (const domain of search) {
    const r = resolver.fromDns(`${bare}.${domain.replace(/\.$/, '')}`, types, nodata);
    if (!('next' in r)) return done(r);
  }
  const r = resolver.fromDns(bare, types, nodata);
  return done('next' in r ? { error: 'EAI_NONAME' } : r);
}
