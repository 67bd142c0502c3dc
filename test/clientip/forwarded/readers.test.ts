/**
 * kubepath/clientip forwarded: the header readers (X-Forwarded-For, RFC 7239 Forwarded,
 * single-address headers) and one node's syntax.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  formatNodeAddress,
  forwardedForNodes,
  IPRanges,
  parseNodeAddress,
  parseSingleAddress,
  readForwarded,
  readSingleAddressHeader,
  readXForwardedFor,
} from '../../../src/clientip/forwarded/index.js';
import { formatIP } from '../../../src/net/index.js';

const node = (text: string): string | undefined => {
  const a = parseNodeAddress(text);
  return a ? formatNodeAddress(a) : undefined;
};

describe('one node', () => {
  test('address forms: port, brackets, zone; canonical output', () => {
    assert.equal(node('1.2.3.4'), '1.2.3.4');
    assert.equal(node('1.2.3.4:8080'), '1.2.3.4');
    assert.equal(parseNodeAddress('1.2.3.4:8080')!.port, 8080);
    assert.equal(node('[2001:DB8:0:0::1]:443'), '2001:db8::1');
    assert.equal(node('[2001:db8::1]'), '2001:db8::1');
    assert.equal(node('2001:0db8:0000:0000:0000:0000:0000:0001'), '2001:db8::1');
    assert.equal(node('fe80::1%eth0'), 'fe80::1%eth0');
    assert.equal(node('[fe80::1%eth0]:80'), 'fe80::1%eth0');
    assert.equal(parseNodeAddress('[fe80::1%eth0]:80')!.zone, 'eth0');
    assert.equal(node('[1.2.3.4]:80'), '1.2.3.4'); // IPv4 in brackets: accepted, as realclientip does
  });

  test('IPv4-mapped IPv6 is unmapped (dotted and hex); NAT64 is not', () => {
    assert.equal(node('::ffff:10.0.0.1'), '10.0.0.1');
    assert.equal(node('[::ffff:a00:1]:9'), '10.0.0.1');
    assert.equal(node('0:0:0:0:0:ffff:bc15:0006'), '188.21.0.6');
    assert.equal(node('64:ff9b::192.0.2.128'), '64:ff9b::c000:280');
  });

  test('legacy and malformed forms are not addresses', () => {
    for (const text of [
      '012.0.0.5', // inet_aton reads octal: 10.0.0.5
      '0xa.0.0.5',
      '167772165',
      '10.0.0',
      '1.2.3.4:', // empty port
      '1.2.3.4:65536',
      '1.2.3.4:8x',
      '[fe80::1%eth0]:xyz', // neither decimal nor obfuscated
      '[2001:db8::1', // unclosed bracket
      '[2001:db8::1]x',
      'fe80::1%eth/0', // zone with "/"
      '10.0.0.1%eth0', // a zone on IPv4
      '::ffff:10.0.0.1%eth0',
      ' 1.2.3.4', // the caller trims
      '0.0.0.0',
      '::',
      'unknown',
      '_hidden',
      '',
    ]) {
      assert.equal(parseNodeAddress(text), undefined, text);
    }
    assert.equal(formatIP(parseNodeAddress('0.0.0.0', { allowUnspecified: true })!.ip), '0.0.0.0');
  });

  test('obfuscated ports (RFC 7239 §6.3) are accepted without a port number', () => {
    const a = parseNodeAddress('[2001:db8::1]:_p1')!;
    assert.equal(formatNodeAddress(a), '2001:db8::1');
    assert.equal(a.port, undefined);
    assert.equal(parseNodeAddress('1.2.3.4:_'), undefined);
  });
});

describe('X-Forwarded-For', () => {
  test('every instance in order; a joined string is the same list', () => {
    const lines = ['203.0.113.7, 10.0.0.1', '10.0.0.2'];
    const nodes = readXForwardedFor(lines).map((n) => n.text);
    assert.deepEqual(nodes, ['203.0.113.7', '10.0.0.1', '10.0.0.2']);
    assert.deepEqual(readXForwardedFor(lines.join(', ')).map((n) => n.text), nodes);
  });

  test('kinds: ip, unknown, obfuscated, invalid; empty items are items', () => {
    const nodes = readXForwardedFor('unknown, _gazonk,,  012.0.0.5 , [2001:db8::1]:80,1.2.3.4');
    assert.deepEqual(nodes.map((n) => n.kind), ['unknown', 'obfuscated', 'invalid', 'invalid', 'ip', 'ip']);
    assert.deepEqual(nodes.map((n) => n.text), ['unknown', '_gazonk', '', '012.0.0.5', '[2001:db8::1]:80', '1.2.3.4']);
    assert.equal(formatNodeAddress(nodes[4]!.address!), '2001:db8::1');
  });
});

describe('Forwarded (RFC 7239)', () => {
  test('RFC examples, quoting, escapes, case, white space, empty elements', () => {
    // text -> each element's for node (canonical address, or its kind), and the first element's other parameters
    const cases: [string, string[], Record<string, string>][] = [
      ['for="_gazonk"', ['obfuscated'], {}],
      ['For="[2001:db8:cafe::17]:4711"', ['2001:db8:cafe::17'], {}],
      ['for=192.0.2.60;proto=http;by=203.0.113.43', ['192.0.2.60'], { proto: 'http', by: '203.0.113.43' }],
      ['for=192.0.2.43, for=198.51.100.17', ['192.0.2.43', '198.51.100.17'], {}],
      ['for=unknown', ['unknown'], {}],
      ['for=1.2.3.4;host="a,b;c=\\"d\\"", for=5.6.7.8', ['1.2.3.4', '5.6.7.8'], { host: 'a,b;c="d"' }],
      ['for="3.3.3.\\3"', ['3.3.3.3'], {}],
      [' FOR=1.2.3.4 ; Proto=https ,, ,for="[::1]"', ['1.2.3.4', '::1'], { proto: 'https' }],
    ];
    for (const [text, fors, params] of cases) {
      const elements = readForwarded(text);
      assert.deepEqual(forwardedForNodes(elements).map((n) => (n.address ? formatNodeAddress(n.address) : n.kind)), fors, text);
      const first = Object.fromEntries(elements[0]!.params);
      delete first['for'];
      assert.deepEqual(first, params, text);
    }
    assert.equal(forwardedForNodes(readForwarded('For="[2001:db8:cafe::17]:4711"'))[0]!.address!.port, 4711);
  });

  test('zones in brackets, ports', () => {
    const n = forwardedForNodes(readForwarded('for="[fe80::1%eth%0]", for="[fe80::2%eth1]:8080"'));
    assert.equal(n[0]!.kind, 'invalid'); // a zone holds unreserved characters only
    assert.equal(formatNodeAddress(n[1]!.address!), 'fe80::2%eth1');
  });

  test('a broken element is invalid and parsing resumes after it', () => {
    const cases: [string, string, (string | undefined)[]][] = [
      ['for=1.1.1.1;for=2.2.2.2, for=3.3.3.3', 'appears twice', [undefined, '3.3.3.3']],
      ['for =1.1.1.1, for=3.3.3.3', 'no "="', [undefined, '3.3.3.3']],
      ['for= 1.1.1.1, for=3.3.3.3', 'white space after "="', [undefined, '3.3.3.3']],
      ['for="1.1.1.1"x, for=3.3.3.3', 'unexpected character', [undefined, '3.3.3.3']],
      ['@=1, for=3.3.3.3', 'parameter name', [undefined, '3.3.3.3']],
      ['for=, for=3.3.3.3', 'empty value', [undefined, '3.3.3.3']],
      ['for="a\u0001b", for=3.3.3.3', 'control character', [undefined, '3.3.3.3']],
      ['for="1.1.1.1, for=3.3.3.3', 'not terminated', [undefined]],
      ['proto=https, for=3.3.3.3', '', [undefined, '3.3.3.3']], // valid, but no "for"
    ];
    for (const [text, error, want] of cases) {
      const e = readForwarded(text);
      if (error) assert.match(e[0]!.error!, new RegExp(error.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), text);
      assert.deepEqual(forwardedForNodes(e).map((n) => n.address && formatNodeAddress(n.address)), want, text);
    }
  });

  test('each line is parsed on its own: an open quote cannot swallow the next line', () => {
    const lines = ['for="1.2.3.4', 'for=5.6.7.8'];
    assert.deepEqual(forwardedForNodes(readForwarded(lines)).map((n) => n.kind), ['invalid', 'ip']);
    // Joined, as Node's req.headers has it, the open quote runs to the end: no address at all.
    assert.deepEqual(forwardedForNodes(readForwarded(lines.join(', '))).map((n) => n.kind), ['invalid']);
  });

  test('a parameter named __proto__ is just a parameter', () => {
    const e = readForwarded('__proto__=x;for=1.2.3.4');
    assert.equal(e[0]!.params.get('__proto__'), 'x');
    assert.equal(forwardedForNodes(e)[0]!.text, '1.2.3.4');
  });
});

describe('single-address headers', () => {
  test('the last instance counts, from rawHeaders or headersDistinct', () => {
    const rawHeaders = ['X-Real-IP', '6.6.6.6', 'Host', 'x', 'x-real-ip', ' 2.2.2.2 '];
    assert.equal(readSingleAddressHeader({ remoteAddress: undefined, rawHeaders }, 'X-Real-IP')!.text, '2.2.2.2');
    const headersDistinct = { 'x-real-ip': ['6.6.6.6', '2.2.2.2'] };
    assert.equal(readSingleAddressHeader({ remoteAddress: undefined, headersDistinct }, 'x-real-ip')!.text, '2.2.2.2');
    assert.equal(readSingleAddressHeader({ remoteAddress: undefined, rawHeaders }, 'cf-connecting-ip'), undefined);
  });

  test('a joined value of two instances is not an address (no guess)', () => {
    const n = readSingleAddressHeader({ remoteAddress: undefined, headers: { 'x-real-ip': '6.6.6.6, 2.2.2.2' } }, 'x-real-ip')!;
    assert.equal(n.kind, 'invalid');
    assert.equal(n.address, undefined);
  });

  test('CloudFront-Viewer-Address: IPv6:PORT without brackets', () => {
    const v6 = parseSingleAddress('cloudfront-viewer-address', '2001:db8::1:4653').address!;
    assert.equal(formatNodeAddress(v6), '2001:db8::1');
    assert.equal(v6.port, 4653);
    assert.equal(formatNodeAddress(parseSingleAddress('cloudfront-viewer-address', '192.0.2.7:443').address!), '192.0.2.7');
    // Elsewhere the same text is one IPv6 address.
    assert.equal(formatNodeAddress(parseSingleAddress('x-real-ip', '2001:db8::1:4653').address!), '2001:db8::1:4653');
  });
});

describe('IPRanges', () => {
  test('merged IPv4 ranges, edges, IPv6, mapped ranges as IPv4', () => {
    const r = IPRanges.from(['10.0.0.0/24', '10.0.1.0/24', '192.168.0.5', '2001:db8::/32', '::ffff:172.16.0.0/108']);
    const has = (t: string): boolean => r.contains(parseNodeAddress(t)!.ip);
    assert.ok(has('10.0.0.0') && has('10.0.1.255') && has('192.168.0.5') && has('172.31.255.255') && has('2001:db8::1'));
    assert.ok(!has('9.255.255.255') && !has('10.0.2.0') && !has('192.168.0.4') && !has('172.32.0.0') && !has('2001:db9::1'));
    assert.ok(has('::ffff:10.0.0.7'));
    assert.deepEqual(r.toStrings(), ['10.0.0.0/24', '10.0.1.0/24', '192.168.0.5/32', '2001:db8::/32', '172.16.0.0/12']);
    assert.ok(IPRanges.from(['0.0.0.0/0']).contains(parseNodeAddress('255.255.255.255')!.ip));
    assert.ok(!IPRanges.from([]).contains(parseNodeAddress('1.1.1.1')!.ip));
  });

  test('bad ranges are AddressErrors naming the text', () => {
    assert.throws(() => IPRanges.from(['10.0.0.0/33']), { name: 'AddressError', message: /10\.0\.0\.0\/33/ });
    assert.throws(() => IPRanges.from(['012.0.0.0/8']), { name: 'AddressError' });
    assert.throws(() => IPRanges.from(['fe80::%eth0/64']), { name: 'AddressError', message: /zone/ });
  });
});
