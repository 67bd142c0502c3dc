/**
 * The words of the DNS layer: query types, a server's reply, one query as a resolver sent it, and
 * the outcome of a lookup. A reply is what the model of a server (CoreDNS, an upstream, a test's
 * zone) answers; `lost` is a reply that never arrives (the conntrack race, a dead server).
 *
 * @module
 */

export type QueryType = 'A' | 'AAAA' | 'SRV' | 'CNAME' | 'PTR' | 'TXT';

/** Response codes kubepath distinguishes (RFC 1035 §4.1.1). */
export type Rcode = 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED';

export interface DnsRecord {
  /** Owner name, lower case, without the trailing dot. */
  name: string;
  type: QueryType;
  /** Address text (A/AAAA), target name (CNAME), `PRIORITY WEIGHT PORT TARGET` (SRV). */
  data: string;
}

/** A server's answer. NODATA is NOERROR with no record of the asked type (RFC 2308). */
export interface DnsReply {
  rcode: Rcode;
  answers: DnsRecord[];
}

/** What a reply looked like to the client, in one word: NODATA for NOERROR without an answer. */
export type AnswerKind = 'NOERROR' | 'NODATA' | 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED' | 'lost';

/** One question put to a server, as the resolver sends it. */
export interface Question {
  /** Name as sent, without the trailing dot. */
  name: string;
  type: QueryType;
  server: string;
  proto: 'udp' | 'tcp';
  /** 1-based number of this query in the lookup's send order. */
  seq: number;
}

/** A DNS server as resolvers meet it: a reply, or undefined when the reply is lost. */
export type Transport = (q: Question) => DnsReply | undefined;

/** One query of a lookup, in send order. */
export interface QueryLog {
  seq: number;
  name: string;
  type: QueryType;
  /** `s1`, `s2`, …: equal for queries sent from the same socket (the same conntrack 5-tuple). */
  socket: string;
  server: string;
  proto: 'udp' | 'tcp';
  /** Milliseconds since the lookup began, when the query was sent. */
  time: number;
  answer: AnswerKind;
  /** The A/AAAA addresses (and CNAME targets) in the reply. */
  records: DnsRecord[];
}

/** getaddrinfo's errors (and c-ares' for dns.resolve*), as their constant names. */
export type LookupError =
  | 'EAI_NONAME'
  | 'EAI_NODATA'
  | 'EAI_AGAIN'
  | 'EAI_FAIL'
  | 'ENOTFOUND'
  | 'ENODATA'
  | 'ESERVFAIL'
  | 'EREFUSED'
  | 'ETIMEOUT';

export interface LookupResult {
  addresses: string[];
  error: LookupError | null;
  queries: QueryLog[];
  /** Milliseconds until the call returned (replies take no time; timeouts do). */
  time: number;
}

/** How a reply reads to a client. */
export function answerKind(reply: DnsReply | undefined, type: QueryType): AnswerKind {
  if (!reply) return 'lost';
  if (reply.rcode !== 'NOERROR') return reply.rcode;
  return reply.answers.some((r) => r.type === type) ? 'NOERROR' : 'NODATA';
}

/** The addresses of a reply for an A or AAAA question. */
export function addressesOf(reply: DnsReply | undefined, type: QueryType): string[] {
  return reply?.rcode === 'NOERROR' ? reply.answers.filter((r) => r.type === type).map((r) => r.data) : [];
}

/** Count of dots, the way both libcs count them (a trailing dot included). */
export function dotsIn(name: string): number {
  let n = 0;
  for (const c of name) if (c === '.') n++;
  return n;
}

/** A name as it goes on the wire, without the trailing dot (an absolute name's root). */
export function wireName(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}
