/**
 * Ground truth: jshttp/proxy-addr's test calls (../shared/conformance/clientip/proxy-addr-vectors.json)
 * through proxyAddrCompatible / proxyAddrAll / compileProxyAddrTrust. Where proxy-addr answers
 * with text that is not an address, kubepath answers undefined: those calls are in DIFFERENCES,
 * asserted, and listed in docs/clientip.md. Then a differential run against the proxy-addr
 * package itself on generated chains.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import proxyaddr from 'proxy-addr';
import {
  compileProxyAddrTrust,
  proxyAddrAll,
  proxyAddrCompatible,
  type ProxyAddrRequest,
  type ProxyAddrTrust,
  StrategyError,
} from '../../../src/clientip/forwarded/index.js';
import { projectRoot, readConformance } from '../../support/shared.js';
import { mulberry32 } from '../../support/prng.js';

interface Call {
  test: string;
  call: 'proxyaddr' | 'all' | 'compile';
  remoteAddress?: string | null;
  headers?: Record<string, string>;
  trust: string | string[] | number | { fn: string } | null;
  trustOmitted?: boolean;
  result?: string | string[] | null;
  resultUndefined?: boolean;
  throws?: string;
}

const data = readConformance<{ cases: Call[] }>('clientip/proxy-addr-vectors.json');
const docs = readFileSync(resolve(projectRoot, 'docs', 'clientip.md'), 'utf8');

/** proxy-addr answers text that is not an address; kubepath answers undefined. */
const DIFFERENCES: Record<string, undefined> = {
  'proxyaddr(req, trust) > when given array > should not trust non-IP addresses': undefined,
  'proxyaddr(req, trust) > when header contains non-ip addresses > should stop at first non-ip after trusted': undefined,
  'proxyaddr(req, trust) > when header contains non-ip addresses > should stop at first malformed ip after trusted': undefined,
  'proxyaddr(req, trust) > when header contains non-ip addresses > should provide all values to function': undefined,
};

function requestOf(c: Call): ProxyAddrRequest {
  return { headers: c.headers ?? {}, socket: { remoteAddress: c.remoteAddress ?? undefined } };
}

function trustOf(c: Call, log: [string, number][]): ProxyAddrTrust {
  const t = c.trust;
  if (t !== null && typeof t === 'object' && !Array.isArray(t)) {
    switch (t.fn) {
      case 'all':
        return () => true;
      case 'none':
        return () => false;
      case 'trust10x':
        return (a) => a.startsWith('10.');
      default:
        // proxy-addr's tests log the calls and return log.push(...), which is truthy.
        return (a, i) => log.push([a, i]) > 0;
    }
  }
  return t as unknown as ProxyAddrTrust;
}

describe('proxy-addr vectors', () => {
  test('every call: the same answer, the same error, or a listed difference', () => {
    let same = 0;
    let differ = 0;
    for (const c of data.cases) {
      const log: [string, number][] = [];
      const req = c.remoteAddress === undefined && c.headers === undefined ? undefined : requestOf(c);
      const trust = c.trustOmitted ? undefined : trustOf(c, log);
      const run = (): unknown => {
        if (c.call === 'compile') return (compileProxyAddrTrust(trust as string), '<function>');
        if (c.call === 'all') return proxyAddrAll(req as ProxyAddrRequest, trust);
        return proxyAddrCompatible(req as ProxyAddrRequest, trust as ProxyAddrTrust);
      };
      if (c.throws !== undefined) {
        assert.throws(run, (e: unknown) => e instanceof StrategyError && e.message === c.throws, c.test);
        same++;
        continue;
      }
      const got = run();
      if (c.test in DIFFERENCES) {
        assert.notEqual(c.result, undefined, c.test);
        assert.equal(got, DIFFERENCES[c.test], c.test);
        assert.ok(docs.includes(c.test.split(' > ').pop()!), `docs/clientip.md must list "${c.test}"`);
        differ++;
        continue;
      }
      assert.deepEqual(got, c.resultUndefined ? undefined : c.result, c.test);
      if (c.test.endsWith('should be invoked as trust(addr, i)')) {
        assert.deepEqual(log, [['127.0.0.1', 0], ['10.0.0.1', 1]]);
      }
      same++;
    }
    assert.equal(same + differ, 85);
    console.log(`proxy-addr vectors: ${same} as proxy-addr, ${differ} listed differences`);
  });
});

describe('proxy-addr differential', () => {
  const rand = mulberry32(7239);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const v4 = (): string => pick(['10', '127', '192', '172', '203', '8']) + `.${Math.floor(rand() * 3)}.${Math.floor(rand() * 3)}.${Math.floor(rand() * 256)}`;
  const v6 = (): string => pick(['fe80::', '2001:db8::', 'fc00::', '::ffff:10.0.0.']) + (1 + Math.floor(rand() * 8)).toString();
  const addr = (): string => (rand() < 0.75 ? v4() : v6());
  const trusts: readonly (string | string[])[] = [
    '10.0.0.0/8',
    ['10.0.0.0/16', '127.0.0.1/8', '192.0.0.0/24'],
    'loopback',
    ['uniquelocal', 'linklocal'],
    ['::ffff:10.0.0.0/104', 'fe80::/64', '172.0.0.0/255.255.0.0'],
    [],
  ];

  test('generated chains of canonical addresses: the same answer as the proxy-addr package', () => {
    let n = 0;
    for (let i = 0; i < 3000; i++) {
      const hops = Array.from({ length: Math.floor(rand() * 5) }, addr);
      const req = { headers: hops.length ? { 'x-forwarded-for': hops.join(', ') } : {}, socket: { remoteAddress: addr() } };
      const trust = pick(trusts);
      const theirs = proxyaddr(req as never, trust as string[]);
      const ours = proxyAddrCompatible(req, trust);
      // proxy-addr returns mapped addresses as written; kubepath unmaps them.
      assert.equal(ours, theirs.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1'), JSON.stringify({ req, trust }));
      n++;
    }
    assert.equal(n, 3000);
  });
});
