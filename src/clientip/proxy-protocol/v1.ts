/**
 * PROXY protocol v1: one US-ASCII line, `PROXY TCP4|TCP6|UNKNOWN …` ending in CRLF, at most 107
 * bytes. The scanner reads any prefix of a stream and says, exactly, whether it is a complete
 * header, could still become one, or can not: a prefix is rejected at the first byte after which
 * no valid line (within 107 bytes) starts with it.
 *
 * @module
 */
import { ipv6, type IPAddress, tryParseIP } from '../../net/index.js';
import { PP1_MAX_LENGTH, PP1_SIGNATURE } from './constants.js';
import { type ProxyProtocolErrorCode, ProxyProtocolError } from './errors.js';
import type { ProxyFamily, ProxyHeader, ProxyInetEndpoint } from './header.js';
import type { ResolvedParseOptions } from './options.js';
import { ipv4Completion, ipv6Completion, portCompletion, protocolCompletion } from './v1-tokens.js';

type Word = 'TCP4' | 'TCP6' | 'UNKNOWN';
const WORDS: readonly Word[] = ['TCP4', 'TCP6', 'UNKNOWN'];
const NO_TLVS: readonly never[] = [];

type LineScan =
  | { kind: 'error'; code: ProxyProtocolErrorCode; offset: number; message: string }
  | { kind: 'incomplete'; min: number }
  | { kind: 'complete'; header: ProxyHeader };

/**
 * Scan bytes[0, n) as the start of a v1 header: the header when a whole line is there, null when
 * more bytes could still complete one. Throws ProxyProtocolError.
 */
export function scanV1(bytes: Uint8Array, n: number, options: ResolvedParseOptions): ProxyHeader | null {
  const m = Math.min(n, PP1_MAX_LENGTH);
  const r = scanLine(bytes, m, options);
  if (r.kind === 'complete') return r.header;
  if (r.kind === 'incomplete') {
    if (m + r.min > PP1_MAX_LENGTH) throw tooLong(bytes, m, options);
    return null;
  }
  // The shortest line a prefix can still become only grows, so if the bytes before the bad one
  // could already not end within 107 bytes, length is the first thing that went wrong.
  const before = scanLine(bytes, r.offset, options);
  if (before.kind === 'incomplete' && r.offset + before.min > PP1_MAX_LENGTH) throw tooLong(bytes, r.offset, options);
  throw new ProxyProtocolError(r.code, `PROXY v1: ${r.message} (byte ${r.offset})`, { offset: r.offset });
}

/** The error for a prefix bytes[0, upTo) that cannot end within 107 bytes, at the byte that made it so. */
function tooLong(bytes: Uint8Array, upTo: number, o: ResolvedParseOptions): ProxyProtocolError {
  // prefix length + shortest completion grows with the prefix: find where it first passes 107.
  let lo = 1;
  let hi = upTo;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const r = scanLine(bytes, mid, o);
    if (r.kind === 'incomplete' && mid + r.min > PP1_MAX_LENGTH) hi = mid;
    else lo = mid + 1;
  }
  return new ProxyProtocolError('v1-too-long', `PROXY v1: no valid line ends with CRLF within ${PP1_MAX_LENGTH} bytes (byte ${lo - 1})`, { offset: lo - 1 });
}

function fail(code: ProxyProtocolErrorCode, offset: number, message: string): LineScan {
  return { kind: 'error', code, offset, message };
}

function latin1(bytes: Uint8Array, end: number): string {
  let s = '';
  for (let i = 0; i < end; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

function scanLine(bytes: Uint8Array, n: number, o: ResolvedParseOptions): LineScan {
  for (let i = 0; i < PP1_SIGNATURE.length; i++) {
    if (i >= n) return { kind: 'incomplete', min: 15 - i }; // "PROXY UNKNOWN\r\n"
    if (bytes[i] !== PP1_SIGNATURE[i]) return fail('not-proxy-protocol', i, 'not a PROXY protocol signature');
  }
  let end = -1;
  for (let i = PP1_SIGNATURE.length; i < n; i++) {
    const c = bytes[i]!;
    if (c === 13 || c === 10) {
      end = i;
      break;
    }
  }
  if (end < 0) return scanContent(latin1(bytes, n), false, o, 0);
  const content = latin1(bytes, end);
  if (bytes[end] === 10) {
    const r = scanContent(content, false, o, 0);
    return r.kind === 'error' ? r : fail('v1-bad-line-ending', end, 'LF without CR before it');
  }
  const r = scanContent(content, true, o, end + 2);
  if (r.kind === 'error' || end + 1 >= n) return r.kind === 'error' ? r : { kind: 'incomplete', min: 1 };
  if (bytes[end + 1] !== 10) return fail('v1-bad-line-ending', end + 1, 'CR not followed by LF');
  return r;
}

/** Offset in `token` of the first character after which `completion` says no; its length when none. */
function firstBad(token: string, completion: (s: string) => number): number {
  for (let k = 1; k <= token.length; k++) if (completion(token.slice(0, k)) < 0) return k - 1;
  return token.length;
}

/** Shortest text after the protocol word: its fields, separators and CRLF. */
function afterWord(word: Word): number {
  return word === 'UNKNOWN' ? 2 : 2 * (1 + minAddress(word)) + 2 * (1 + 1) + 2;
}

function minAddress(word: Word): number {
  return word === 'TCP4' ? 7 : 2; // "0.0.0.0" / "::"
}

function addressCompletion(word: Word, o: ResolvedParseOptions): (s: string) => number {
  if (word === 'TCP4') return ipv4Completion;
  if (!o.v1AcceptIPv4InTCP6) return ipv6Completion;
  return (s) => {
    const a = ipv6Completion(s);
    const b = ipv4Completion(s);
    return a < 0 ? b : b < 0 ? a : Math.min(a, b);
  };
}

/**
 * The line's text before CR/LF. `final`: the line ends right after it; else more may follow.
 * `length` is the header length when final (text + CRLF).
 */
function scanContent(c: string, final: boolean, o: ResolvedParseOptions, length: number): LineScan {
  if (c.length === 5) return final ? fail('v1-malformed', 5, 'expected a space after "PROXY"') : { kind: 'incomplete', min: 10 };
  if (c.charCodeAt(5) !== 32) return fail('v1-malformed', 5, 'expected a space after "PROXY"');
  let start = 6;
  let sp = c.indexOf(' ', start);
  let token = c.slice(start, sp < 0 ? c.length : sp);
  const wordPrefix = (s: string): number => (WORDS.some((w) => w.startsWith(s)) ? 0 : -1);
  if (sp < 0 && !final) {
    let best = -1;
    for (const w of WORDS) {
      const r = protocolCompletion(token, w);
      if (r >= 0 && (best < 0 || r + afterWord(w) < best)) best = r + afterWord(w);
    }
    if (best < 0) return fail('v1-malformed', start + firstBad(token, wordPrefix), 'the protocol is not TCP4, TCP6 or UNKNOWN');
    return { kind: 'incomplete', min: best };
  }
  const word = WORDS.find((w) => w === token);
  if (word === undefined) return fail('v1-malformed', start + firstBad(token, wordPrefix), 'the protocol is not TCP4, TCP6 or UNKNOWN');
  if (word === 'UNKNOWN') {
    // The rest of an UNKNOWN line is ignored, but it is still US-ASCII text.
    for (let i = start + token.length; i < c.length; i++) {
      const ch = c.charCodeAt(i);
      if (ch < 0x20 || ch > 0x7e) return fail('v1-malformed', i, 'a non-printable byte in the line');
    }
    return final ? complete('UNKNOWN', null, null, length) : { kind: 'incomplete', min: 2 };
  }
  const address = addressCompletion(word, o);
  const fields: string[] = [];
  for (let k = 0; k < 4; k++) {
    const isAddress = k < 2;
    if (sp < 0) {
      if (final) return fail('v1-malformed', c.length, `expected 4 fields after ${word}, found ${k}`);
      return { kind: 'incomplete', min: rest(word, k) };
    }
    start = sp + 1;
    sp = c.indexOf(' ', start);
    token = c.slice(start, sp < 0 ? c.length : sp);
    const check = isAddress ? address : portCompletion;
    const code: ProxyProtocolErrorCode = isAddress ? 'v1-bad-address' : 'v1-bad-port';
    const what = isAddress ? `${k === 0 ? 'source' : 'destination'} address is not ${word === 'TCP4' ? 'IPv4' : 'IPv6'}` : `${k === 2 ? 'source' : 'destination'} port is not 0-65535`;
    const r = check(token);
    if (sp < 0 && !final) {
      if (r < 0) return fail(code, start + firstBad(token, check), `the ${what}`);
      return { kind: 'incomplete', min: r + rest(word, k + 1) };
    }
    if (r !== 0) return fail(code, start + firstBad(token, check), `the ${what}`);
    fields.push(token);
  }
  if (sp >= 0) return fail('v1-malformed', sp, 'text after the destination port');
  return complete(word, endpoint(fields[0]!, fields[2]!), endpoint(fields[1]!, fields[3]!), length);
}

/** Shortest text for fields k.. of a TCP line, with separators and CRLF. */
function rest(word: Word, k: number): number {
  let n = 2;
  for (let j = k; j < 4; j++) n += 1 + (j < 2 ? minAddress(word) : 1);
  return n;
}

function endpoint(address: string, port: string): ProxyInetEndpoint {
  return { ip: tryParseIP(address) as IPAddress, port: Number(port) };
}

function complete(word: Word, source: ProxyInetEndpoint | null, destination: ProxyInetEndpoint | null, length: number): LineScan {
  const family: ProxyFamily = word;
  const header: ProxyHeader = {
    version: 1,
    command: word === 'UNKNOWN' ? 'LOCAL' : 'PROXY',
    family,
    source: word === 'TCP6' ? mapped(source) : source,
    destination: word === 'TCP6' ? mapped(destination) : destination,
    tlvs: NO_TLVS,
    length,
  };
  return { kind: 'complete', header };
}

/** An IPv4 literal in a TCP6 line (compat mode) is kept IPv6, as IPv4-mapped. */
function mapped(e: ProxyInetEndpoint | null): ProxyInetEndpoint | null {
  if (e === null || e.ip.family === 6) return e;
  return { ip: ipv6(0xffff00000000n | BigInt(e.ip.value)), port: e.port };
}
