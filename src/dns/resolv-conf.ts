/**
 * resolv.conf: the file kubelet writes into a pod, and the way each resolver reads it. glibc
 * (resolv/res_init.c, resolv.conf(5)) and musl (src/network/resolvconf.c) read the same text
 * differently: glibc takes every `options` line and many options, musl only `ndots`, `attempts`
 * and `timeout`, and ignores a `search` line longer than its 256-byte buffer.
 *
 * @module
 */

/** One `options` entry: `ndots:5` is `{ name: 'ndots', value: '5' }`, `rotate` has no value. */
export interface ResolvOption {
  name: string;
  value?: string;
}

/** A resolv.conf as lists, the way kubelet builds it (runtimeapi.DNSConfig). */
export interface ResolvConf {
  nameservers: string[];
  searches: string[];
  options: ResolvOption[];
}

/** `name` or `name:value`. */
export function formatOption(o: ResolvOption): string {
  return o.value === undefined || o.value === '' ? o.name : `${o.name}:${o.value}`;
}

export function parseOption(text: string): ResolvOption {
  const i = text.indexOf(':');
  return i < 0 ? { name: text } : { name: text.slice(0, i), value: text.slice(i + 1) };
}

/** The file's text, as kubelet (the container runtime) writes it. */
export function formatResolvConf(conf: ResolvConf): string {
  const lines = conf.nameservers.map((n) => `nameserver ${n}`);
  if (conf.searches.length > 0) lines.push(`search ${conf.searches.join(' ')}`);
  if (conf.options.length > 0) lines.push(`options ${conf.options.map(formatOption).join(' ')}`);
  return lines.map((l) => `${l}\n`).join('');
}

/** The words of each line, comments (`#`, `;`) and blank lines left out. */
function lines(text: string): string[][] {
  return text
    .split('\n')
    .map((l) => l.replace(/[#;].*$/, '').trim())
    .filter((l) => l.length > 0)
    .map((l) => l.split(/\s+/));
}

/**
 * The node's file as kubelet reads `--resolv-conf` (pkg/kubelet/network/dns parseResolvConf):
 * nameserver lines add up, the last `search` line wins (trailing dots dropped, `.` left out), the
 * last `options` line wins.
 */
export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], searches: [], options: [] };
  for (const [key, ...rest] of lines(text)) {
    if (key === 'nameserver' && rest[0] !== undefined) conf.nameservers.push(rest[0]);
    else if (key === 'search') conf.searches = rest.filter((s) => s !== '.').map((s) => s.replace(/\.$/, ''));
    else if (key === 'options') conf.options = rest.map(parseOption);
  }
  return conf;
}

/** glibc's resolver state after reading the file (res_init.c), with its caps. */
export interface GlibcConfig {
  nameservers: string[];
  search: string[];
  ndots: number;
  /** Seconds (`RES_TIMEOUT` 5, at most 30). */
  timeout: number;
  /** Tries over all nameservers (`RES_DFLRETRY` 2, at most 5). */
  attempts: number;
  rotate: boolean;
  singleRequest: boolean;
  singleRequestReopen: boolean;
  noAaaa: boolean;
  useVc: boolean;
  edns0: boolean;
  noTldQuery: boolean;
}

/** glibc reads at most three nameservers; extra ones are ignored. */
export const MAXNS = 3;

const intOption = (value: string | undefined, cap: number): number | undefined => {
  if (value === undefined || !/^[0-9]+$/.test(value)) return undefined;
  return Math.min(Number(value), cap);
};

/** The file as glibc 2.26+ reads it: options lines accumulate, later words override earlier ones. */
export function glibcConfig(text: string): GlibcConfig {
  const c: GlibcConfig = {
    nameservers: [], search: [], ndots: 1, timeout: 5, attempts: 2,
    rotate: false, singleRequest: false, singleRequestReopen: false, noAaaa: false, useVc: false, edns0: false, noTldQuery: false,
  };
  for (const [key, ...rest] of lines(text)) {
    if (key === 'nameserver' && rest[0] !== undefined && c.nameservers.length < MAXNS) c.nameservers.push(rest[0]);
    else if (key === 'search') c.search = rest;
    else if (key === 'domain' && rest[0] !== undefined) c.search = [rest[0]];
    else if (key === 'options') for (const o of rest.map(parseOption)) applyGlibcOption(c, o);
  }
  if (c.nameservers.length === 0) c.nameservers.push('127.0.0.1');
  return c;
}

function applyGlibcOption(c: GlibcConfig, o: ResolvOption): void {
  switch (o.name) {
    case 'ndots': c.ndots = intOption(o.value, 15) ?? c.ndots; break;
    case 'timeout': c.timeout = Math.max(1, intOption(o.value, 30) ?? c.timeout); break;
    case 'attempts': c.attempts = Math.max(1, intOption(o.value, 5) ?? c.attempts); break;
    case 'rotate': c.rotate = true; break;
    case 'single-request': c.singleRequest = true; break;
    case 'single-request-reopen': c.singleRequestReopen = true; break;
    case 'no-aaaa': c.noAaaa = true; break;
    case 'use-vc': c.useVc = true; break;
    case 'edns0': c.edns0 = true; break;
    case 'no-tld-query': c.noTldQuery = true; break;
    default: // trust-ad, no-reload, debug, inet6 (gone): no effect on what is sent
  }
}

/** musl's resolver configuration (resolvconf.c). */
export interface MuslConfig {
  nameservers: string[];
  search: string[];
  ndots: number;
  /** Seconds for the whole exchange (default 5, at most 60). */
  timeout: number;
  /** Sends per name within the timeout (default 2, at most 10). */
  attempts: number;
  /** Options musl does not read (single-request, rotate, use-vc, …), as written. */
  ignored: string[];
}

/** The file as musl reads it: only ndots, attempts and timeout; the last search/domain line that fits 256 bytes. */
export function muslConfig(text: string): MuslConfig {
  const c: MuslConfig = { nameservers: [], search: [], ndots: 1, timeout: 5, attempts: 2, ignored: [] };
  for (const raw of text.split('\n')) {
    // musl reads lines with fgets into a 256-byte buffer and skips a line that does not fit.
    if (raw.length + 1 > 256) continue;
    const [key, ...rest] = raw.trim().split(/\s+/);
    if (key === 'nameserver' && rest[0] !== undefined && c.nameservers.length < MAXNS) c.nameservers.push(rest[0]);
    else if (key === 'search' || key === 'domain') c.search = rest.filter((s) => s.length > 0);
    else if (key === 'options') {
      for (const o of rest.map(parseOption)) {
        if (o.name === 'ndots') c.ndots = intOption(o.value, 15) ?? c.ndots;
        else if (o.name === 'attempts') c.attempts = Math.max(1, intOption(o.value, 10) ?? c.attempts);
        else if (o.name === 'timeout') c.timeout = Math.max(1, intOption(o.value, 60) ?? c.timeout);
        else c.ignored.push(formatOption(o));
      }
    }
  }
  if (c.nameservers.length === 0) c.nameservers.push('127.0.0.1');
  return c;
}
