/**
 * kubepath/net cidr: networks (prefixes and iptables' dotted masks), ports and endpoints.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AddressError,
  formatIP,
  formatNetwork,
  hostNetwork,
  isHostNetwork,
  networkContains,
  networkOf,
  parseEndpoint,
  parseIP,
  parseNetwork,
  parsePort,
  prefixMask,
} from '../../src/net/index.js';

const ip = parseIP;

describe('parseNetwork', () => {
  test('ADDR/LEN gives network, mask and prefix length', () => {
    const n = parseNetwork('10.96.0.0/12');
    assert.equal(n.family, 4);
    assert.equal(formatIP(n.network), '10.96.0.0');
    assert.equal(n.mask, 0xfff00000);
    assert.equal(n.prefixLength, 12);
    assert.equal(formatNetwork(n), '10.96.0.0/12');
  });

  test('a bare address is a host network', () => {
    const n = parseNetwork('10.0.0.5');
    assert.equal(n.prefixLength, 32);
    assert.equal(n.mask, 0xffffffff);
    assert.equal(isHostNetwork(n), true);
    assert.equal(formatNetwork(n), '10.0.0.5/32');
    const v6 = parseNetwork('2001:db8::1');
    assert.equal(v6.prefixLength, 128);
    assert.equal(formatNetwork(v6), '2001:db8::1/128');
    assert.equal(isHostNetwork(parseNetwork('10.0.0.0/31')), false);
  });

  test('/0 and /32 edges', () => {
    const all = parseNetwork('0.0.0.0/0');
    assert.equal(all.mask, 0);
    assert.equal(all.prefixLength, 0);
    assert.equal(parseNetwork('1.2.3.4/32').mask, 0xffffffff);
    assert.equal(parseNetwork('::/0').mask, 0n);
    assert.equal(parseNetwork('::1/128').mask, (1n << 128n) - 1n);
  });

  test('host bits beyond the prefix are cleared (as iptables does)', () => {
    assert.equal(formatNetwork(parseNetwork('10.1.2.3/8')), '10.0.0.0/8');
    assert.equal(formatNetwork(parseNetwork('192.168.1.129/25')), '192.168.1.128/25');
    assert.equal(formatNetwork(parseNetwork('2001:db8::1:2/64')), '2001:db8::/64');
    assert.equal(formatNetwork(parseNetwork('2001:db8:abcd:1234::1/36')), '2001:db8:a000::/36');
  });

  test('strictHostBits rejects host bits and names the network', () => {
    assert.throws(() => parseNetwork('10.1.2.3/8', { strictHostBits: true }), {
      name: 'AddressError',
      message: '"10.1.2.3/8" has host bits set; the network is 10.0.0.0/8',
    });
    assert.equal(formatNetwork(parseNetwork('10.0.0.0/8', { strictHostBits: true })), '10.0.0.0/8');
    assert.throws(() => parseNetwork('2001:db8::1/64', { strictHostBits: true }), /host bits set; the network is 2001:db8::\/64/);
  });

  test('prefix longer than the family is rejected', () => {
    assert.throws(() => parseNetwork('10.0.0.0/33'), {
      name: 'AddressError',
      message: '"10.0.0.0/33": prefix length 33 is longer than 32',
    });
    assert.throws(() => parseNetwork('2001:db8::/129'), /prefix length 129 is longer than 128/);
    assert.equal(parseNetwork('2001:db8::/128').prefixLength, 128);
  });

  test('malformed suffixes are rejected', () => {
    for (const text of ['10.0.0.0/', '10.0.0.0/-1', '10.0.0.0/8/8', '10.0.0.0/+8', '10.0.0.0/08', '10.0.0.0/ 8', '10.0.0.0/x']) {
      assert.throws(() => parseNetwork(text), AddressError, text);
    }
    assert.throws(() => parseNetwork('10.0.0/8'), /not an IP address/);
  });

  test('a dotted mask only with allowMask', () => {
    assert.throws(() => parseNetwork('10.0.0.0/255.0.0.0'), {
      name: 'AddressError',
      message: '"10.0.0.0/255.0.0.0" is not a network: expected ADDRESS/PREFIX-LENGTH',
    });
    const n = parseNetwork('10.1.2.3/255.255.0.0', { allowMask: true });
    assert.equal(n.prefixLength, 16);
    assert.equal(formatNetwork(n), '10.1.0.0/16');
    assert.equal(parseNetwork('0.0.0.0/0.0.0.0', { allowMask: true }).prefixLength, 0);
    assert.equal(parseNetwork('1.2.3.4/255.255.255.255', { allowMask: true }).prefixLength, 32);
  });

  test('a mask of the other family is rejected', () => {
    assert.throws(() => parseNetwork('10.0.0.0/ffff::', { allowMask: true }), /not a network/);
    assert.throws(() => parseNetwork('2001:db8::/255.255.0.0', { allowMask: true }), /not a network/);
  });

  test('IPv6 masks with allowMask', () => {
    const n = parseNetwork('2001:db8::5/ffff:ffff::', { allowMask: true });
    assert.equal(n.prefixLength, 32);
    assert.equal(formatNetwork(n), '2001:db8::/32');
  });

  test('a non-contiguous mask has no prefix length and prints as ADDR/MASK', () => {
    const n = parseNetwork('10.1.2.3/255.0.255.0', { allowMask: true });
    assert.equal(n.prefixLength, undefined);
    assert.equal(n.mask, 0xff00ff00);
    assert.equal(formatIP(n.network), '10.0.2.0');
    assert.equal(formatNetwork(n), '10.0.2.0/255.0.255.0');
    assert.equal(isHostNetwork(n), false);
    assert.equal(networkContains(n, ip('10.200.2.77')), true);
    assert.equal(networkContains(n, ip('10.200.3.77')), false);
    assert.equal(networkContains(n, ip('11.200.2.77')), false);
  });
});

describe('networkContains', () => {
  test('inside and outside of a prefix', () => {
    const n = parseNetwork('10.96.0.0/12');
    assert.equal(networkContains(n, ip('10.96.0.0')), true);
    assert.equal(networkContains(n, ip('10.111.255.255')), true);
    assert.equal(networkContains(n, ip('10.112.0.0')), false);
    assert.equal(networkContains(n, ip('10.95.255.255')), false);
  });

  test('networks with the high bit set', () => {
    const n = parseNetwork('192.168.0.0/16');
    assert.equal(networkContains(n, ip('192.168.200.1')), true);
    assert.equal(networkContains(n, ip('192.169.0.1')), false);
    assert.equal(networkContains(parseNetwork('255.255.255.255/32'), ip('255.255.255.255')), true);
  });

  test('never across families', () => {
    assert.equal(networkContains(parseNetwork('0.0.0.0/0'), ip('::1')), false);
    assert.equal(networkContains(parseNetwork('::/0'), ip('10.0.0.1')), false);
    assert.equal(networkContains(parseNetwork('::ffff:0:0/96'), ip('10.0.0.1')), false);
    assert.equal(networkContains(parseNetwork('0.0.0.1/32'), ip('::1')), false);
  });

  test('/0 contains every address of its family', () => {
    const v4 = parseNetwork('0.0.0.0/0');
    for (const a of ['0.0.0.0', '10.0.0.1', '128.0.0.0', '255.255.255.255']) assert.equal(networkContains(v4, ip(a)), true, a);
    const v6 = parseNetwork('::/0');
    for (const a of ['::', '::1', '2001:db8::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']) assert.equal(networkContains(v6, ip(a)), true, a);
  });

  test('IPv6 prefix', () => {
    const n = parseNetwork('fd00:10:96::/108');
    assert.equal(networkContains(n, ip('fd00:10:96::a')), true);
    assert.equal(networkContains(n, ip('fd00:10:96::f:ffff')), true);
    assert.equal(networkContains(n, ip('fd00:10:96::10:0')), false);
  });
});

describe('networkOf / hostNetwork / prefixMask', () => {
  test('networkOf clears host bits', () => {
    assert.equal(formatNetwork(networkOf(ip('172.16.5.4'), 20)), '172.16.0.0/20');
    assert.equal(formatNetwork(networkOf(ip('172.16.5.4'), 0)), '0.0.0.0/0');
    assert.equal(formatNetwork(networkOf(ip('2001:db8::ffff'), 120)), '2001:db8::ff00/120');
  });
  test('hostNetwork', () => {
    assert.equal(formatNetwork(hostNetwork(ip('10.0.0.1'))), '10.0.0.1/32');
    assert.equal(formatNetwork(hostNetwork(ip('::1'))), '::1/128');
  });
  test('prefixMask values', () => {
    assert.equal(prefixMask(4, 0), 0);
    assert.equal(prefixMask(4, 1), 0x80000000);
    assert.equal(prefixMask(4, 24), 0xffffff00);
    assert.equal(prefixMask(4, 32), 0xffffffff);
    assert.equal(prefixMask(6, 0), 0n);
    assert.equal(prefixMask(6, 64), 0xffffffffffffffff0000000000000000n);
    assert.equal(prefixMask(6, 128), (1n << 128n) - 1n);
  });
});

describe('parsePort', () => {
  test('accepts 0 through 65535 in plain decimal', () => {
    assert.equal(parsePort('0'), 0);
    assert.equal(parsePort('80'), 80);
    assert.equal(parsePort('65535'), 65535);
  });
  for (const text of ['65536', '080', '-1', 'http', '', ' 80', '80 ', '1e3', '0x50', '100000', '8.0']) {
    test(`rejects ${JSON.stringify(text)}`, () => {
      assert.throws(() => parsePort(text), { name: 'AddressError', message: `"${text}" is not a port number (0-65535)` });
    });
  }
});

describe('parseEndpoint', () => {
  test('IPv4:port', () => {
    const e = parseEndpoint('10.0.0.5:8080');
    assert.equal(formatIP(e.ip), '10.0.0.5');
    assert.equal(e.port, 8080);
  });
  test('bare IPv4', () => {
    const e = parseEndpoint('10.0.0.5');
    assert.equal(formatIP(e.ip), '10.0.0.5');
    assert.equal(e.port, undefined);
  });
  test('[IPv6]:port and [IPv6]', () => {
    const e = parseEndpoint('[2001:db8::1]:443');
    assert.equal(e.ip.family, 6);
    assert.equal(formatIP(e.ip), '2001:db8::1');
    assert.equal(e.port, 443);
    const b = parseEndpoint('[::1]');
    assert.equal(formatIP(b.ip), '::1');
    assert.equal(b.port, undefined);
  });
  test('a bare IPv6 address is taken whole: its colons are not a port', () => {
    const e = parseEndpoint('2001:db8::80');
    assert.equal(formatIP(e.ip), '2001:db8::80');
    assert.equal(e.port, undefined);
    assert.equal(formatIP(parseEndpoint('::1').ip), '::1');
    assert.equal(parseEndpoint('::1').port, undefined);
  });
  test('errors', () => {
    assert.throws(() => parseEndpoint('[2001:db8::1:443'), { message: '"[2001:db8::1:443": missing "]" after the IPv6 address' });
    assert.throws(() => parseEndpoint('[10.0.0.5]:80'), { message: '"[10.0.0.5]:80": brackets are for IPv6 addresses' });
    assert.throws(() => parseEndpoint('[::1]80'), { message: '"[::1]80": expected ":PORT" after "]"' });
    assert.throws(() => parseEndpoint('[::1]:65536'), /"65536" is not a port number/);
    assert.throws(() => parseEndpoint('10.0.0.5:'), /"" is not a port number/);
    assert.throws(() => parseEndpoint('10.0.0.5:http'), /"http" is not a port number/);
    assert.throws(() => parseEndpoint('10.0.0:80'), /"10.0.0" is not an IP address/);
    assert.throws(() => parseEndpoint('[fe80::1%eth0]:80'), AddressError);
    assert.throws(() => parseEndpoint('2001:db8::1]:80'), AddressError);
  });
});
