/**
 * Node's `dns.resolve4`/`dns.resolve6` (c-ares `ares_query`): one question for the name exactly as
 * given — no search list, no ndots (observed: `resolve4('my-svc')` sends one `my-svc A`). Node's
 * `dns.lookup` is getaddrinfo: {@link glibcLookup} on glibc images, {@link muslLookup} on Alpine.
 *
 * Retry timing is c-ares' documented shape (each round over the servers doubles the wait, from
 * resolv.conf's `timeout:`/`attempts:` or c-ares' 2 s × 3 tries) and is not observed.
 *
 * @module
 */
import { glibcConfig } from './resolv-conf.js';
import { answerKind, type DnsReply, type LookupError, type LookupResult, type QueryLog, type QueryType, type Transport, wireName } from './types.js';

/** `dns.resolve4(name)` (type A) or `dns.resolve6(name)` (AAAA) with c-ares reading `resolvConf`. */
export function caresResolve(resolvConf: string, name: string, type: QueryType, transport: Transport): LookupResult {
  const conf = glibcConfig(resolvConf);
  const given = /^\s*options\b.*\btimeout:/m.test(resolvConf);
  const timeout = (given ? conf.timeout : 2) * 1000;
  const tries = /^\s*options\b.*\battempts:/m.test(resolvConf) ? conf.attempts : 3;
  const log: QueryLog[] = [];
  const sockets = new Map<string, string>();
  let now = 0;
  let failure: DnsReply | undefined;
  const qname = wireName(name);
  for (let round = 0; round < tries; round++) {
    for (const server of conf.nameservers) {
      const socket = sockets.get(server) ?? `s${sockets.size + 1}`;
      sockets.set(server, socket);
      const seq = log.length + 1;
      const reply = transport({ name: qname, type, server, proto: 'udp', seq });
      log.push({ seq, name: qname, type, socket, server, proto: 'udp', time: now, answer: answerKind(reply, type), records: reply?.answers ?? [] });
      if (!reply) {
        now += timeout << round;
        continue;
      }
      if (reply.rcode === 'SERVFAIL' || reply.rcode === 'REFUSED') {
        failure = reply;
        continue;
      }
      const addresses = reply.rcode === 'NOERROR' ? reply.answers.filter((r) => r.type === type).map((r) => r.data) : [];
      const error: LookupError | null = reply.rcode === 'NXDOMAIN' ? 'ENOTFOUND' : addresses.length === 0 ? 'ENODATA' : null;
      return { addresses, error, queries: log, time: now };
    }
  }
  const error: LookupError = failure ? (failure.rcode === 'SERVFAIL' ? 'ESERVFAIL' : 'EREFUSED') : 'ETIMEOUT';
  return { addresses: [], error, queries: log, time: now };
}
