/**
 * nginx's realip module: the trusted peer, the recursive right-to-left walk, invalid entries,
 * several header lines, and how nginx itself parses the addresses it reads.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatIP, parseNetwork } from '../../src/net/index.js';
import { nginxParseAddrPort, nginxRealIp } from '../../src/edge/ingress-nginx.js';

const TEN = [parseNetwork('10.0.0.0/8')];
const ALL = [parseNetwork('0.0.0.0/0')];
const xff = (peer: string, trusted: typeof TEN, values: string[], recursive = true) => nginxRealIp({ peer, trusted, values, sourceName: 'X-Forwarded-For', recursive });

test('an untrusted peer: the header is not read', () => {
  const r = xff('203.0.113.9', TEN, ['1.2.3.4']);
  assert.equal(r.address, '203.0.113.9');
  assert.equal(r.changed, false);
  assert.match(r.why, /not in set_real_ip_from/);
});

test('a trusted peer: walk from the right past trusted addresses to the first untrusted one', () => {
  assert.equal(xff('10.0.0.5', TEN, ['198.51.100.7, 10.1.1.1, 10.2.2.2']).address, '198.51.100.7');
  // What a client wrote to the left of the first untrusted address is never reached.
  const r = xff('10.0.0.5', TEN, ['6.6.6.6, 198.51.100.7, 10.1.1.1']);
  assert.equal(r.address, '198.51.100.7');
  assert.equal(r.original, '10.0.0.5');
  assert.deepEqual(r.walk, [
    { entry: '10.1.1.1', verdict: 'trusted' },
    { entry: '198.51.100.7', verdict: 'client' },
  ]);
});

test('every entry trusted: nginx takes the leftmost — with the default 0.0.0.0/0 a client chooses its address', () => {
  assert.equal(xff('10.0.0.5', TEN, ['10.9.9.9, 10.1.1.1']).address, '10.9.9.9');
  const spoofed = xff('203.0.113.9', ALL, ['6.6.6.6, 198.51.100.7']);
  assert.equal(spoofed.address, '6.6.6.6');
  assert.match(spoofed.why, /every entry of X-Forwarded-For is trusted: nginx takes the leftmost, 6\.6\.6\.6/);
});

test('real_ip_recursive off: the rightmost entry, trusted or not', () => {
  assert.equal(xff('10.0.0.5', TEN, ['198.51.100.7, 10.1.1.1'], false).address, '10.1.1.1');
});

test('an entry that is not an address stops the walk: the peer when it is the first, else the last address read', () => {
  assert.equal(xff('10.0.0.5', TEN, ['1.2.3.4, unknown']).address, '10.0.0.5');
  assert.equal(xff('10.0.0.5', TEN, ['unknown, 10.1.1.1']).address, '10.1.1.1');
  assert.equal(xff('10.0.0.5', TEN, ['198.51.100.7, unknown, 10.1.1.1']).address, '10.1.1.1');
});

test('several X-Forwarded-For lines are walked as one list, the last line first', () => {
  assert.equal(xff('10.0.0.5', TEN, ['6.6.6.6', '198.51.100.7, 10.1.1.1']).address, '198.51.100.7');
  assert.equal(xff('10.0.0.5', TEN, ['198.51.100.7', '10.1.1.1']).address, '198.51.100.7');
  assert.equal(xff('203.0.113.9', ALL, ['6.6.6.6', '198.51.100.7']).address, '6.6.6.6');
  // Commas and spaces both separate; empty entries are skipped.
  assert.equal(xff('10.0.0.5', TEN, ['198.51.100.7 ,, 10.1.1.1 ']).address, '198.51.100.7');
});

test('a trusted range is of one family: 0.0.0.0/0 does not trust an IPv6 peer', () => {
  assert.equal(xff('2001:db8::5', ALL, ['6.6.6.6']).address, '2001:db8::5');
  assert.equal(xff('2001:db8::5', [parseNetwork('::/0')], ['6.6.6.6']).address, '6.6.6.6');
});

test('the header absent: $remote_addr stays the peer', () => {
  assert.equal(xff('10.0.0.5', TEN, []).address, '10.0.0.5');
});

test("addresses as nginx parses them (ngx_parse_addr_port)", () => {
  const p = (t: string) => {
    const ip = nginxParseAddrPort(t);
    return ip ? formatIP(ip) : undefined;
  };
  assert.equal(p('010.000.000.001'), '10.0.0.1', 'leading zeros are decimal');
  assert.equal(p('1..2.3'), '1.0.2.3', 'an empty octet is 0');
  assert.equal(p('1.2.3.4:8080'), '1.2.3.4');
  assert.equal(p('[2001:db8::1]:443'), '2001:db8::1');
  assert.equal(p('2001:db8::1'), '2001:db8::1');
  assert.equal(p('[2001:db8::1]'), undefined, 'brackets need a port');
  assert.equal(p('255.255.255.255'), undefined, 'INADDR_NONE is the error value');
  assert.equal(p('1.2.3.4:0'), undefined);
  assert.equal(p('1.2.3'), undefined);
  assert.equal(p('256.1.1.1'), undefined);
  assert.equal(p('unknown'), undefined);
});
