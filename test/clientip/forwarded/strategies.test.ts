/**
 * kubepath/clientip forwarded: strategies beyond realclientip's tables (the peer checked first,
 * provenance and notes, configuration errors) and the presets.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  behindAwsAlb,
  behindCloudflare,
  behindIngressNginx,
  behindProxyProtocol,
  Chain,
  CLOUDFLARE_RANGES,
  CLOUDFLARE_RANGES_DATE,
  type ClientIpInput,
  LeftmostNonPrivate,
  ProxyProtocolSource,
  RemoteAddr,
  RightmostNonPrivate,
  RightmostTrustedCount,
  RightmostTrustedRange,
  SingleIPHeader,
  StrategyError,
} from '../../../src/clientip/forwarded/index.js';

const xff = (remoteAddress: string | undefined, value?: string, more: Record<string, string> = {}): ClientIpInput => ({
  remoteAddress,
  headers: value === undefined ? more : { 'x-forwarded-for': value, ...more },
});

describe('RightmostTrustedRange', () => {
  const s = new RightmostTrustedRange('X-Forwarded-For', ['10.0.0.0/8', 'fd00::/8']);

  test('a peer outside the ranges is the client; its headers are ignored', () => {
    const r = s.resolve(xff('198.51.100.9', '1.2.3.4, 10.0.0.1'));
    assert.ok(r.ok);
    assert.deepEqual([r.client.ip, r.client.source, r.client.hop, r.client.header], ['198.51.100.9', 'remote-address', 0, undefined]);
    assert.equal(r.notes[0]!.reason, 'peer-untrusted');
  });

  test('from a trusted peer: the rightmost untrusted node, with the hops passed over', () => {
    const r = s.resolve(xff('10.1.2.3', '6.6.6.6, 203.0.113.7, 10.0.0.2, fd00::1'));
    assert.ok(r.ok);
    assert.deepEqual([r.client.ip, r.client.source, r.client.header, r.client.hop], ['203.0.113.7', 'header', 'x-forwarded-for', 3]);
    assert.deepEqual(r.notes.map((n) => [n.reason, n.hop, n.text]), [
      ['trusted-proxy', 1, 'fd00::1'],
      ['trusted-proxy', 2, '10.0.0.2'],
    ]);
    assert.equal(r.client.strategy, 'RightmostTrustedRange(x-forwarded-for)');
  });

  test('Node dual-stack peers (::ffff:10.x) count as IPv4', () => {
    assert.equal(s.clientIP(xff('::ffff:10.1.2.3', '203.0.113.7')), '203.0.113.7');
    assert.equal(s.clientIP(xff('::ffff:198.51.100.9', '203.0.113.7')), '198.51.100.9');
  });

  test('a node that is not an address ends the walk with no answer', () => {
    for (const value of ['1.2.3.4, unknown, 10.0.0.1', '1.2.3.4, 012.0.0.5', '1.2.3.4,,10.0.0.1', '10.0.0.3, 10.0.0.1']) {
      const r = s.resolve(xff('10.1.2.3', value));
      assert.equal(r.ok, false, value);
    }
    const r = s.resolve(xff('10.1.2.3', '1.2.3.4, _hidden'));
    assert.ok(!r.ok);
    assert.match(r.reason, /hop 1 "_hidden" is not a usable IP address/);
  });

  test('an unknown peer: no answer by default; headers read with unknownPeer: trusted', () => {
    for (const peer of [undefined, '', '0.0.0.0', '::', '/run/app.sock']) {
      assert.equal(s.clientIP(xff(peer, '203.0.113.7')), undefined);
    }
    const unix = new RightmostTrustedRange('x-forwarded-for', ['10.0.0.0/8'], { unknownPeer: 'trusted' });
    assert.equal(unix.clientIP(xff(undefined, '203.0.113.7, 10.0.0.1')), '203.0.113.7');
  });

  test('the answer keeps the zone and drops the port', () => {
    assert.equal(s.clientIP(xff('10.1.2.3', '[fe80::1%eth0]:4711')), 'fe80::1%eth0');
    const r = s.resolve(xff('10.1.2.3', '203.0.113.7:5555'));
    assert.ok(r.ok);
    assert.equal(r.client.address.port, 5555);
    assert.equal(r.client.ip, '203.0.113.7');
  });

  test('Forwarded, with quoting, as the configured header', () => {
    const f = new RightmostTrustedRange('forwarded', ['10.0.0.0/8']);
    const input = { remoteAddress: '10.0.0.9', rawHeaders: ['Forwarded', 'for="203.0.113.7:1234";proto=https', 'Forwarded', 'for=10.0.0.4;host="a,b"'] };
    const r = f.resolve(input);
    assert.ok(r.ok);
    assert.deepEqual([r.client.ip, r.client.header, r.client.hop], ['203.0.113.7', 'forwarded', 2]);
    // X-Forwarded-For is not read by a Forwarded strategy.
    assert.equal(f.clientIP({ remoteAddress: '10.0.0.9', headers: { 'x-forwarded-for': '1.1.1.1' } }), undefined);
  });
});

describe('RightmostTrustedCount', () => {
  test('checks the peer first, then takes the n-th node from the right, no fallback', () => {
    const s = new RightmostTrustedCount('x-forwarded-for', 2, { trustedPeers: ['10.0.0.0/8'] });
    assert.equal(s.clientIP(xff('10.0.0.1', '6.6.6.6, 203.0.113.7, 198.51.100.2')), '203.0.113.7');
    assert.equal(s.clientIP(xff('192.0.2.1', '6.6.6.6, 203.0.113.7, 198.51.100.2')), '192.0.2.1');
    assert.equal(s.clientIP(xff('10.0.0.1', '198.51.100.2')), undefined);
    assert.equal(s.clientIP(xff('10.0.0.1', 'unknown, 198.51.100.2')), undefined);
    const r = s.resolve(xff('10.0.0.1', '198.51.100.2'));
    assert.ok(!r.ok);
    assert.equal(r.notes[r.notes.length - 1]!.reason, 'too-few-hops');
  });

  test('configuration: a count of at least 1 and the peers are required', () => {
    assert.throws(() => new RightmostTrustedCount('x-forwarded-for', 0, { trustedPeers: 'any' }), StrategyError);
    assert.throws(() => new RightmostTrustedCount('x-forwarded-for', 1.5, { trustedPeers: 'any' }), StrategyError);
    assert.throws(() => new RightmostTrustedCount('x-forwarded-for', 1, undefined as never), /trustedPeers is required/);
    assert.throws(() => new RightmostTrustedCount('x-forwarded-for', 1, { trustedPeers: ['nope'] }), StrategyError);
    assert.throws(() => new RightmostTrustedCount('x-real-ip', 1, { trustedPeers: 'any' }), /not a list header/);
  });
});

describe('NonPrivate strategies', () => {
  test('rightmost and leftmost public address, with hops', () => {
    const input = xff('10.0.0.1', '6.6.6.6, 192.168.0.2, 9.9.9.9, 203.0.113.7, 10.0.0.9');
    const right = new RightmostNonPrivate('x-forwarded-for').resolve(input);
    assert.ok(right.ok);
    assert.deepEqual([right.client.ip, right.client.hop], ['9.9.9.9', 3]);
    // 203.0.113.7 is TEST-NET-3: reserved in realclientip's list, so skipped like 10.0.0.9.
    assert.deepEqual(right.notes.map((n) => n.reason), ['private-address', 'private-address']);
    const left = new LeftmostNonPrivate('x-forwarded-for').resolve(input);
    assert.ok(left.ok);
    assert.deepEqual([left.client.ip, left.client.hop], ['6.6.6.6', 5]);
  });
});

describe('SingleIPHeader', () => {
  test('reads the last instance; refuses list headers', () => {
    const s = new SingleIPHeader('X-Real-IP');
    assert.equal(s.clientIP({ remoteAddress: '10.0.0.1', rawHeaders: ['X-Real-IP', '6.6.6.6', 'X-Real-IP', '203.0.113.7'] }), '203.0.113.7');
    assert.throws(() => new SingleIPHeader('Forwarded'), StrategyError);
    assert.throws(() => new SingleIPHeader(''), StrategyError);
  });

  test('with trustedPeers: the header only from its writers', () => {
    const s = new SingleIPHeader('cf-connecting-ip', { trustedPeers: ['173.245.48.0/20'] });
    const h = { 'cf-connecting-ip': '203.0.113.7' };
    assert.equal(s.clientIP({ remoteAddress: '173.245.48.5', headers: h }), '203.0.113.7');
    assert.equal(s.clientIP({ remoteAddress: '198.51.100.9', headers: h }), '198.51.100.9');
  });

  test('with innerProxies: the writer is found through X-Forwarded-For', () => {
    const s = new SingleIPHeader('cf-connecting-ip', { trustedPeers: ['173.245.48.0/20'], innerProxies: ['10.244.0.0/16'] });
    const via = (chain: string): ClientIpInput => xff('10.244.1.7', chain, { 'cf-connecting-ip': '203.0.113.7' });
    assert.equal(s.clientIP(via('173.245.48.5')), '203.0.113.7');
    assert.equal(s.clientIP(via('6.6.6.6, 173.245.48.5, 10.244.3.3')), '203.0.113.7');
    const bypass = s.resolve(via('173.245.48.5, 198.51.100.9'));
    assert.ok(bypass.ok);
    assert.deepEqual([bypass.client.ip, bypass.client.header, bypass.client.hop], ['198.51.100.9', 'x-forwarded-for', 1]);
    assert.equal(s.clientIP(via('unknown')), undefined);
    assert.equal(s.clientIP(xff('10.244.1.7', undefined, { 'cf-connecting-ip': '203.0.113.7' })), undefined);
  });
});

describe('ProxyProtocolSource and Chain', () => {
  test('the PROXY header source from the load balancers', () => {
    const s = new ProxyProtocolSource(['192.168.0.0/16']);
    const r = s.resolve({ remoteAddress: '192.168.3.4', proxySource: '203.0.113.7' });
    assert.ok(r.ok);
    assert.deepEqual([r.client.ip, r.client.source, r.client.hop], ['203.0.113.7', 'proxy-protocol', 0]);
    assert.equal(s.clientIP({ remoteAddress: '198.51.100.9', proxySource: '203.0.113.7' }), '198.51.100.9');
    const none = s.resolve({ remoteAddress: '192.168.3.4' });
    assert.ok(!none.ok);
    assert.equal(none.notes[0]!.reason, 'missing-proxy-header');
  });

  test('Chain: the first answer, with what was tried before it', () => {
    const c = new Chain(new SingleIPHeader('x-real-ip'), new RemoteAddr());
    const r = c.resolve({ remoteAddress: '10.0.0.1', headers: {} });
    assert.ok(r.ok);
    assert.equal(r.client.strategy, 'RemoteAddr');
    assert.deepEqual(r.notes.map((n) => n.reason), ['missing-header', 'no-answer']);
    assert.equal(c.name, 'Chain(SingleIPHeader(x-real-ip), RemoteAddr)');
    const empty = new Chain().resolve({ remoteAddress: '10.0.0.1' });
    assert.ok(!empty.ok);
  });
});

describe('presets', () => {
  test('behind ingress-nginx: pod network trusted; a pod calling directly gets its own address', () => {
    const s = behindIngressNginx({ trusted: ['10.244.0.0/16'] });
    assert.equal(s.clientIP(xff('10.244.1.5', '6.6.6.6, 203.0.113.7')), '203.0.113.7');
    // externalTrafficPolicy: Cluster: nginx saw a node IP (masqueraded); that is what it appended.
    assert.equal(s.clientIP(xff('10.244.1.5', '192.168.10.3')), '192.168.10.3');
    // A client outside the trusted ranges is never fooled. (Any pod inside them could be: trust
    // the ingress pods' own range where the CNI gives one; docs/clientip.md says so.)
    assert.equal(s.clientIP(xff('198.51.100.9', '1.1.1.1')), '198.51.100.9');
  });

  test('behind an AWS ALB: count 1 over the VPC CIDR', () => {
    const s = behindAwsAlb({ vpcCIDRs: ['172.31.0.0/16'] });
    assert.equal(s.clientIP(xff('172.31.5.6', '6.6.6.6, 172.31.9.9')), '172.31.9.9'); // a client in the VPC is the client
    assert.equal(s.clientIP(xff('172.31.5.6', '6.6.6.6, 203.0.113.7')), '203.0.113.7');
    assert.equal(s.clientIP(xff('198.51.100.9', '6.6.6.6')), '198.51.100.9');
  });

  test('behind Cloudflare: ranges with a date', () => {
    assert.match(CLOUDFLARE_RANGES_DATE, /^\d{4}-\d{2}-\d{2}$/);
    assert.equal(CLOUDFLARE_RANGES.length, 22);
    const s = behindCloudflare();
    const h = { 'cf-connecting-ip': '203.0.113.7' };
    assert.equal(s.clientIP({ remoteAddress: '104.16.0.1', headers: h }), '203.0.113.7');
    assert.equal(s.clientIP({ remoteAddress: '2606:4700::1', headers: h }), '203.0.113.7');
    assert.equal(s.clientIP({ remoteAddress: '198.51.100.9', headers: h }), '198.51.100.9');
    const inner = behindCloudflare({ innerProxies: ['10.244.0.0/16'] });
    assert.equal(inner.clientIP(xff('10.244.0.7', '162.158.1.1', h)), '203.0.113.7');
  });

  test('behind a PROXY protocol load balancer', () => {
    const s = behindProxyProtocol({ loadBalancers: ['10.0.0.0/16'] });
    assert.equal(s.clientIP({ remoteAddress: '10.0.3.3', proxySource: '[2001:db8::7]:5555' }), '2001:db8::7');
    assert.equal(s.clientIP({ remoteAddress: '10.1.3.3', proxySource: '203.0.113.7' }), '10.1.3.3');
  });
});
