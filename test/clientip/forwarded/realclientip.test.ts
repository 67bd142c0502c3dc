/**
 * Ground truth: realclientip-go's test tables (../shared/conformance/clientip/realclientip-vectors.json).
 * Every strategy case runs through kubepath's strategy in three input shapes (raw header lines,
 * headersDistinct, Node's ", "-joined headers); every helper case through its counterpart. Where
 * kubepath answers otherwise on purpose, the case is in DIVERGENCES with kubepath's answer, which
 * is asserted, and docs/clientip.md names it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import {
  formatNodeAddress,
  forwardedForNodes,
  isPrivateOrLocal,
  parseNodeAddress,
  parseTrustedRanges,
  PRIVATE_AND_LOCAL_RANGES,
  readForwarded,
  StrategyError,
} from '../../../src/clientip/forwarded/index.js';
import { formatNetwork } from '../../../src/net/index.js';
import { projectRoot } from '../../support/shared.js';
import { inputsOf, strategyOf, vectors } from './vectors.js';

/** Cases where kubepath's answer differs on purpose: group/name -> kubepath's answer. */
const DIVERGENCES: Record<string, unknown> = {
  // A port that is neither decimal nor RFC 7239 obfuscated makes the node malformed: not repaired.
  'parseIPAddr/Bad port (is discarded)': null,
  'goodIPAddr/Bad port (is discarded)': null,
  // RFC 7239 allows no white space after "=".
  'forwardedListItem/RFC deviation: Incorrect whitespace': null,
  // realclientip's own "RFC deviations" table: kubepath follows RFC 7239 there.
  'forwardedRFCDeviation/Comma in quotes': [null, '4.4.4.4'],
  'forwardedRFCDeviation/Unmatched quote': [null],
  'forwardedRFCDeviation/Invalid characters': [null, '2.2.2.2'],
  'forwardedRFCDeviation/Duplicate token': [null, '3.3.3.3'],
  'forwardedRFCDeviation/Escaped character': ['3.3.3.3'],
  'forwardedRFCDeviation/Equal sign spaces': [null, null],
};

const docs = readFileSync(resolve(projectRoot, 'docs', 'clientip.md'), 'utf8');

/** Compare, counting agreements and asserting divergences; returns [agree, diverge]. */
function check(group: string, name: string, got: unknown, want: unknown, counts: [number, number]): void {
  const key = `${group}/${name}`;
  if (key in DIVERGENCES) {
    assert.notDeepEqual(want, DIVERGENCES[key], `${key}: listed as a divergence but realclientip agrees`);
    assert.deepEqual(got, DIVERGENCES[key], key);
    assert.ok(docs.includes(name), `docs/clientip.md must list the divergence "${name}"`);
    counts[1]++;
  } else {
    assert.deepEqual(got, want, key);
    counts[0]++;
  }
}

function report(group: string, counts: [number, number]): void {
  console.log(`realclientip ${group}: ${counts[0]} as realclientip, ${counts[1]} listed divergences`);
}

const address = (text: string, allowUnspecified: boolean): string | null => {
  const a = parseNodeAddress(text, { allowUnspecified });
  return a ? formatNodeAddress(a) : null;
};

describe('realclientip strategy cases', () => {
  const groups = new Map<string, typeof vectors.strategyCases>();
  for (const c of vectors.strategyCases) {
    const group = c.test.split('/')[0]!.replace(/^Test|Strategy$/g, '');
    groups.set(group, [...(groups.get(group) ?? []), c]);
  }
  for (const [group, cases] of groups) {
    test(group, () => {
      const counts: [number, number] = [0, 0];
      for (const c of cases) {
        if (c.constructorError) {
          assert.throws(() => strategyOf(c.strategy), StrategyError, c.test);
          counts[0]++;
          continue;
        }
        const strategy = strategyOf(c.strategy);
        for (const { shape, input } of inputsOf(c.headers, c.remoteAddr)) {
          const got = strategy.clientIP(input) ?? '';
          assert.equal(got, c.want, `${c.test} (${shape})`);
          const result = strategy.resolve(input);
          assert.equal(result.ok ? result.client.ip : '', c.want, `${c.test} resolve (${shape})`);
        }
        counts[0]++;
      }
      report(group, counts);
    });
  }

  test('all 103 cases are there', () => {
    assert.equal(vectors.strategyCases.length, 103);
  });

  test('default: a peer without a usable address is not trusted (realclientip reads the headers)', () => {
    // Node reports no remoteAddress for a socket that closed early; realclientip's "local" reading
    // would let such a client choose its address. kubepath needs unknownPeer: 'trusted' for that.
    let n = 0;
    for (const c of vectors.strategyCases) {
      if (c.strategy.type !== 'RightmostTrustedRange' || c.constructorError) continue;
      if (parseNodeAddress(c.remoteAddr) !== undefined) continue;
      const strict = strategyOf(c.strategy, false);
      for (const { input } of inputsOf(c.headers, c.remoteAddr)) {
        assert.equal(strict.clientIP(input), undefined, c.test);
        const r = strict.resolve(input);
        assert.equal(r.ok, false);
        assert.equal(r.notes[0]!.reason, 'peer-unknown');
      }
      n++;
    }
    assert.equal(n, 13);
    console.log(`realclientip RightmostTrustedRange with kubepath's default unknownPeer: ${n} cases answer none (realclientip walks the header)`);
  });
});

describe('realclientip helper cases', () => {
  test('ParseIPAddr (any address, unspecified included)', () => {
    const counts: [number, number] = [0, 0];
    for (const c of vectors.parseIPAddrCases) check('parseIPAddr', c.name, address(c.input, true), c.wantError ? null : c.want, counts);
    report('ParseIPAddr', counts);
  });

  test('goodIPAddr (usable client addresses)', () => {
    const counts: [number, number] = [0, 0];
    for (const c of vectors.goodIPAddrCases) check('goodIPAddr', c.name, address(c.input, false), c.want, counts);
    report('goodIPAddr', counts);
  });

  test('isPrivateOrLocal, and the same 27 ranges', () => {
    assert.deepEqual(PRIVATE_AND_LOCAL_RANGES, vectors.semantics.privateAndLocalRanges);
    const counts: [number, number] = [0, 0];
    for (const c of vectors.isPrivateOrLocalCases) {
      const a = parseNodeAddress(c.ip, { allowUnspecified: true });
      check('isPrivateOrLocal', c.name, a !== undefined && isPrivateOrLocal(a.ip), c.want, counts);
    }
    report('isPrivateOrLocal', counts);
  });

  test('AddressesAndRangesToIPNets', () => {
    const counts: [number, number] = [0, 0];
    for (const c of vectors.addressesAndRangesCases) {
      let got: string[] | null | 'error';
      try {
        const nets = parseTrustedRanges(c.input ?? []).map(formatNetwork);
        got = nets.length === 0 ? null : nets;
      } catch (e) {
        assert.equal((e as Error).name, 'AddressError');
        got = 'error';
      }
      check('addressesAndRanges', c.name, got, c.wantError ? 'error' : c.want, counts);
    }
    report('AddressesAndRangesToIPNets', counts);
  });

  test('parseForwardedListItem (one element)', () => {
    const counts: [number, number] = [0, 0];
    for (const c of vectors.forwardedListItemCases) {
      const nodes = forwardedForNodes(readForwarded(c.input));
      assert.equal(nodes.length, 1, c.name);
      const a = nodes[0]!.address;
      check('forwardedListItem', c.name, a ? formatNodeAddress(a) : null, c.want, counts);
    }
    report('parseForwardedListItem', counts);
  });

  test('Forwarded RFC deviation table', () => {
    const counts: [number, number] = [0, 0];
    for (const c of vectors.forwardedHeaderRFCDeviationCases) {
      const nodes = forwardedForNodes(readForwarded(c.headers['Forwarded']!));
      check('forwardedRFCDeviation', c.name, nodes.map((n) => (n.address ? formatNodeAddress(n.address) : null)), c.wantList, counts);
    }
    report('Forwarded RFC deviations', counts);
  });
});
