/**
 * kubepath/net ip: strict IPv4/IPv6 parsing, RFC 5952 formatting, ordering, endpoints.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AddressError,
  compareIP,
  formatEndpoint,
  formatIP,
  ipEquals,
  ipv4,
  ipv6,
  isLoopback,
  parseIP,
  parseIPOfFamily,
  tryParseIP,
  unspecified,
} from '../../src/net/index.js';

describe('IPv4 parsing', () => {
  test('accepts dotted-quad text and yields the 32-bit value', () => {
    assert.deepEqual(parseIP('10.0.0.5'), { family: 4, value: 0x0a000005 });
    assert.deepEqual(parseIP('0.0.0.0'), { family: 4, value: 0 });
    assert.deepEqual(parseIP('255.255.255.255'), { family: 4, value: 0xffffffff });
    assert.deepEqual(parseIP('192.168.1.254'), { family: 4, value: 0xc0a801fe });
  });

  const rejected = [
    '012.0.0.5', // octal-looking octet (inet_aton would read 10)
    '0xa.0.0.5', // hex octet
    '167772165', // a single 32-bit number
    '10.0.0', // three parts
    '10.0.0.5.1', // five parts
    '256.0.0.1', // octet > 255
    ' 10.0.0.5', // leading space
    '10.0.0.5 ', // trailing space
    '+1.0.0.1', // sign
    '1..2.3', // empty octet
    '',
    '1.2.3.-4',
    '1.2.3.4/32',
  ];
  for (const text of rejected) {
    test(`rejects ${JSON.stringify(text)}`, () => {
      assert.equal(tryParseIP(text), undefined);
      assert.throws(
        () => parseIP(text),
        (e: unknown) => e instanceof AddressError && e.message.includes(`"${text}"`) && /not an IP address/.test(e.message),
      );
    });
  }
});

describe('IPv6 parsing (RFC 4291)', () => {
  test('unspecified, loopback and compressed forms', () => {
    assert.deepEqual(parseIP('::'), { family: 6, value: 0n });
    assert.deepEqual(parseIP('::1'), { family: 6, value: 1n });
    assert.deepEqual(parseIP('2001:db8::1'), { family: 6, value: 0x20010db8000000000000000000000001n });
    assert.deepEqual(parseIP('1::'), { family: 6, value: 1n << 112n });
    assert.deepEqual(parseIP('fe80::'), { family: 6, value: 0xfe80n << 112n });
  });

  test('full eight groups, leading zeros and upper case', () => {
    assert.deepEqual(parseIP('2001:0db8:0000:0000:0000:0000:0000:0001'), parseIP('2001:db8::1'));
    assert.deepEqual(parseIP('1:2:3:4:5:6:7:8'), { family: 6, value: 0x00010002000300040005000600070008n });
    assert.deepEqual(parseIP('2001:DB8::ABCD'), parseIP('2001:db8::abcd'));
  });

  test('"::" stands for one or more zero groups', () => {
    assert.deepEqual(parseIP('1:2:3:4:5:6:7::'), { family: 6, value: 0x00010002000300040005000600070000n });
    assert.deepEqual(parseIP('::2:3:4:5:6:7:8'), { family: 6, value: 0x00000002000300040005000600070008n });
  });

  test('embedded IPv4 in the last 32 bits', () => {
    assert.deepEqual(parseIP('::ffff:10.0.0.5'), { family: 6, value: 0xffff0a000005n });
    assert.deepEqual(parseIP('64:ff9b::192.0.2.33'), { family: 6, value: 0x0064ff9b0000000000000000c0000221n });
    assert.deepEqual(parseIP('64:ff9b::192.0.2.33'), parseIP('64:ff9b::c000:221'));
    assert.deepEqual(parseIP('1:2:3:4:5:6:1.2.3.4'), parseIP('1:2:3:4:5:6:102:304'));
  });

  const rejected = [
    ':::',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9', // nine groups
    '1:2:3:4:5:6:7', // seven groups without "::"
    '1:2:3:4:5:6:7:8::', // "::" must stand for at least one group
    '::1:2:3:4:5:6:7:8',
    '2001:db8::g',
    '2001:db8::12345', // group of five hex digits
    '02001:db8::1',
    'fe80::1%eth0', // zone id
    '::ffff:012.0.0.5', // embedded IPv4 is strict too
    '::ffff:256.0.0.1',
    '::1.2.3.4:5', // IPv4 only at the end
    '1.2.3.4::',
    ':1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:',
    '[::1]',
    ' ::1',
  ];
  for (const text of rejected) {
    test(`rejects ${JSON.stringify(text)}`, () => {
      assert.equal(tryParseIP(text), undefined);
      assert.throws(() => parseIP(text), AddressError);
    });
  }
});

describe('parseIPOfFamily', () => {
  test('returns the address of the asked family', () => {
    assert.deepEqual(parseIPOfFamily('10.1.2.3', 4), ipv4(0x0a010203));
    assert.deepEqual(parseIPOfFamily('::1', 6), ipv6(1n));
  });
  test('throws naming the family when it is the other one', () => {
    assert.throws(() => parseIPOfFamily('10.1.2.3', 6), { name: 'AddressError', message: '"10.1.2.3" is not an IPv6 address' });
    assert.throws(() => parseIPOfFamily('::1', 4), { name: 'AddressError', message: '"::1" is not an IPv4 address' });
  });
});

describe('formatIP (RFC 5952)', () => {
  const cases: [string, string][] = [
    ['10.0.0.5', '10.0.0.5'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:DB8::ABCD', '2001:db8::abcd'], // lowercase
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'], // leading zeros dropped, run compressed
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // tie: the first run
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], // the longest run, even if later
    ['2001:db8:0:0:0:1:0:0', '2001:db8::1:0:0'],
    ['0:0:1:0:0:0:0:2', '0:0:1::2'],
    ['fe80:0:0:0:0:0:0:0', 'fe80::'],
    ['0:0:0:0:0:0:0:8', '::8'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['00ab:0c:000d::', 'ab:c:d::'],
    ['::ffff:10.0.0.5', '::ffff:10.0.0.5'], // IPv4-mapped printed dotted
    ['::ffff:a00:5', '::ffff:10.0.0.5'],
    ['0:0:0:0:0:ffff:c000:221', '::ffff:192.0.2.33'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'], // only IPv4-mapped is dotted
  ];
  for (const [input, expected] of cases) {
    test(`${input} -> ${expected}`, () => {
      assert.equal(formatIP(parseIP(input)), expected);
    });
  }

  test('canonical text parses back to the same address', () => {
    const samples = [
      '10.0.0.5',
      '172.30.0.41',
      '::',
      '::1',
      '2001:db8::1',
      '2001:db8:0:1:1:1:1:1',
      '1:0:0:2:0:0:0:3',
      '::ffff:10.0.0.5',
      'fd00:10:96::a',
      'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    ];
    for (const s of samples) {
      const ip = parseIP(s);
      const text = formatIP(ip);
      assert.ok(ipEquals(parseIP(text), ip), `${s} -> ${text} does not round-trip`);
      assert.equal(formatIP(parseIP(text)), text, `${text} is not a fixed point`);
    }
  });

  test('ipv4()/ipv6() normalise out-of-range values', () => {
    assert.equal(formatIP(ipv4(-1)), '255.255.255.255');
    assert.equal(formatIP(ipv6((1n << 128n) + 5n)), '::5');
  });
});

describe('compareIP / ipEquals', () => {
  test('orders IPv4 before IPv6, then numerically', () => {
    const texts = ['::1', '10.0.0.10', '2001:db8::1', '10.0.0.9', '0.0.0.0', '255.255.255.255', '::', '9.255.255.255'];
    const sorted = texts.map(parseIP).sort(compareIP).map(formatIP);
    assert.deepEqual(sorted, ['0.0.0.0', '9.255.255.255', '10.0.0.9', '10.0.0.10', '255.255.255.255', '::', '::1', '2001:db8::1']);
  });
  test('numeric, not textual, order of IPv4', () => {
    assert.ok(compareIP(parseIP('10.0.0.9'), parseIP('10.0.0.10')) < 0);
    assert.ok(compareIP(parseIP('128.0.0.0'), parseIP('127.255.255.255')) > 0);
    assert.equal(compareIP(parseIP('10.0.0.1'), parseIP('10.0.0.1')), 0);
  });
  test('ipEquals needs the same family', () => {
    assert.ok(ipEquals(parseIP('::1'), parseIP('0:0:0:0:0:0:0:1')));
    // 0.0.0.1 and ::1 have the "same" numeric value but are different addresses
    assert.equal(ipEquals(parseIP('0.0.0.1'), parseIP('::1')), false);
    assert.notEqual(compareIP(parseIP('0.0.0.1'), parseIP('::1')), 0);
  });
});

describe('helpers', () => {
  test('isLoopback', () => {
    assert.equal(isLoopback(parseIP('127.0.0.1')), true);
    assert.equal(isLoopback(parseIP('127.255.0.9')), true);
    assert.equal(isLoopback(parseIP('128.0.0.1')), false);
    assert.equal(isLoopback(parseIP('::1')), true);
    assert.equal(isLoopback(parseIP('::2')), false);
    assert.equal(isLoopback(parseIP('::ffff:127.0.0.1')), false);
  });
  test('unspecified', () => {
    assert.equal(formatIP(unspecified(4)), '0.0.0.0');
    assert.equal(formatIP(unspecified(6)), '::');
  });
});

describe('formatEndpoint', () => {
  test('IPv4 with and without a port', () => {
    assert.equal(formatEndpoint(parseIP('10.0.0.5'), 80), '10.0.0.5:80');
    assert.equal(formatEndpoint(parseIP('10.0.0.5'), 0), '10.0.0.5:0');
    assert.equal(formatEndpoint(parseIP('10.0.0.5'), undefined), '10.0.0.5');
  });
  test('IPv6 in brackets when a port follows, canonical inside', () => {
    assert.equal(formatEndpoint(parseIP('2001:DB8:0::1'), 443), '[2001:db8::1]:443');
    assert.equal(formatEndpoint(parseIP('::ffff:10.0.0.5'), 53), '[::ffff:10.0.0.5]:53');
    assert.equal(formatEndpoint(parseIP('::1'), undefined), '::1');
  });
});
