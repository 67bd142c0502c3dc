/**
 * kubepath/net route: policy rules, longest prefix match and metrics, as `ip route get`.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DEFAULT_POLICY_RULES,
  formatNetwork,
  LOCAL_TABLE,
  lookupRoute,
  MAIN_TABLE,
  parseIP,
  parseNetwork,
  type PolicyRule,
  type Route,
  routeFamily,
  type RouteType,
} from '../../src/net/index.js';

function route(dst: string, device: string | undefined, extra: Partial<Omit<Route, 'destination'>> & { type?: RouteType } = {}): Route {
  return {
    destination: parseNetwork(dst),
    type: extra.type ?? 'unicast',
    device,
    gateway: extra.gateway,
    source: extra.source,
    table: extra.table ?? MAIN_TABLE,
    metric: extra.metric ?? 0,
  };
}

const routes: Route[] = [
  route('0.0.0.0/0', 'eth0', { gateway: parseIP('192.168.0.1'), metric: 100 }),
  route('0.0.0.0/0', 'wlan0', { gateway: parseIP('192.168.1.1'), metric: 600 }),
  route('192.168.0.0/24', 'eth0'),
  route('10.0.0.0/8', 'tun0', { metric: 50 }),
  route('10.244.0.0/16', 'flannel.1', { metric: 10 }),
  route('10.244.1.0/24', 'cni0', { metric: 20 }),
  route('10.244.1.0/24', 'cni1', { metric: 5 }),
  route('10.244.1.0/24', 'cni2', { metric: 7 }),
  route('192.168.0.2/32', 'eth0', { type: 'local', table: LOCAL_TABLE }),
  route('127.0.0.0/8', 'lo', { type: 'local', table: LOCAL_TABLE }),
  route('0.0.0.0/0', 'eth1', { table: 100, gateway: parseIP('172.16.0.1') }),
  route('10.244.0.0/16', 'wg0', { table: 200 }),
  route('::/0', 'eth0', { gateway: parseIP('fe80::1'), metric: 1024 }),
  route('2001:db8::/64', 'eth0', { metric: 256 }),
];

const dev = (dst: string, mark = 0, rules: readonly PolicyRule[] = DEFAULT_POLICY_RULES) =>
  lookupRoute(routes, rules, parseIP(dst), mark)?.route.device;

describe('lookupRoute with the default rules', () => {
  test('default rules: local (0) then main (32766)', () => {
    assert.deepEqual(
      DEFAULT_POLICY_RULES.map((r) => [r.priority, r.table, r.fwmark]),
      [
        [0, LOCAL_TABLE, undefined],
        [32766, MAIN_TABLE, undefined],
      ],
    );
  });

  test('the longest prefix wins over a lower metric', () => {
    assert.equal(dev('10.244.1.7'), 'cni1'); // /24 beats /16 (metric 10) and /8 (metric 50)
    assert.equal(dev('10.244.2.7'), 'flannel.1'); // /16 beats /8
    assert.equal(dev('10.1.2.3'), 'tun0'); // /8 beats /0
    assert.equal(dev('192.168.0.77'), 'eth0');
  });

  test('among equal prefixes the lowest metric wins, regardless of order', () => {
    assert.equal(dev('10.244.1.7'), 'cni1');
    const reversed = [...routes].reverse();
    assert.equal(lookupRoute(reversed, DEFAULT_POLICY_RULES, parseIP('10.244.1.7'))?.route.device, 'cni1');
    const m = lookupRoute(routes, DEFAULT_POLICY_RULES, parseIP('8.8.8.8'));
    assert.equal(m?.route.device, 'eth0'); // default metric 100 beats 600
    assert.equal(m?.route.metric, 100);
  });

  test('the local table is consulted first', () => {
    const m = lookupRoute(routes, DEFAULT_POLICY_RULES, parseIP('192.168.0.2'));
    assert.equal(m?.route.type, 'local');
    assert.equal(m?.table, LOCAL_TABLE);
    assert.equal(m?.rule.priority, 0);
    const other = lookupRoute(routes, DEFAULT_POLICY_RULES, parseIP('192.168.0.3'));
    assert.equal(other?.route.type, 'unicast');
    assert.equal(other?.table, MAIN_TABLE);
    assert.equal(other?.rule.priority, 32766);
    assert.equal(lookupRoute(routes, DEFAULT_POLICY_RULES, parseIP('127.1.2.3'))?.route.device, 'lo');
  });

  test('tables other than those of the rules are not used', () => {
    // table 100 and 200 exist but no rule selects them
    assert.notEqual(dev('8.8.8.8'), 'eth1');
    assert.notEqual(dev('10.244.3.3'), 'wg0');
  });

  test('IPv6 destinations use IPv6 routes only', () => {
    const m = lookupRoute(routes, DEFAULT_POLICY_RULES, parseIP('2001:db8::5'));
    assert.equal(m?.route.device, 'eth0');
    assert.equal(formatNetwork(m!.route.destination), '2001:db8::/64');
    assert.equal(routeFamily(m!.route), 6);
    const d = lookupRoute(routes, DEFAULT_POLICY_RULES, parseIP('2600::1'));
    assert.equal(formatNetwork(d!.route.destination), '::/0');
    assert.equal(routeFamily(routes[0]!), 4);
  });

  test('no route: undefined', () => {
    const only = [route('10.0.0.0/8', 'eth0')];
    assert.equal(lookupRoute(only, DEFAULT_POLICY_RULES, parseIP('11.0.0.1')), undefined);
    assert.equal(lookupRoute(only, DEFAULT_POLICY_RULES, parseIP('::1')), undefined);
    assert.equal(lookupRoute([], DEFAULT_POLICY_RULES, parseIP('10.0.0.1')), undefined);
    assert.equal(lookupRoute(only, [], parseIP('10.0.0.1')), undefined);
  });
});

describe('lookupRoute with policy rules', () => {
  const rules: PolicyRule[] = [
    ...DEFAULT_POLICY_RULES,
    { priority: 100, fwmark: 0x1, fwmask: 0x1, table: 100 },
    { priority: 200, fwmark: 0x4000, fwmask: 0xffffffff, table: 200 },
    { priority: 300, fwmark: 0x80000000, fwmask: 0x80000000, table: 100 },
  ];

  test('a fwmark/mask rule selects its table when (mark & mask) == fwmark', () => {
    const m = lookupRoute(routes, rules, parseIP('8.8.8.8'), 0x1);
    assert.equal(m?.route.device, 'eth1');
    assert.equal(m?.table, 100);
    assert.equal(m?.rule.priority, 100);
    // other bits in the mark do not matter under mask 0x1
    assert.equal(lookupRoute(routes, rules, parseIP('8.8.8.8'), 0xff01)?.route.device, 'eth1');
  });

  test('without the mark the main table is used', () => {
    const m = lookupRoute(routes, rules, parseIP('8.8.8.8'), 0);
    assert.equal(m?.route.device, 'eth0');
    assert.equal(m?.table, MAIN_TABLE);
    assert.equal(lookupRoute(routes, rules, parseIP('8.8.8.8'), 0x2)?.route.device, 'eth0');
  });

  test('a full-mask fwmark needs the exact mark', () => {
    assert.equal(lookupRoute(routes, rules, parseIP('10.244.3.3'), 0x4000)?.route.device, 'wg0');
    assert.equal(lookupRoute(routes, rules, parseIP('10.244.3.3'), 0x4004)?.route.device, 'flannel.1');
  });

  test('a mark with the high bit set', () => {
    const m = lookupRoute(routes, rules, parseIP('8.8.8.8'), 0x80000000);
    assert.equal(m?.route.device, 'eth1');
    assert.equal(m?.rule.priority, 300);
  });

  test('a selected table without a matching route falls through to later rules', () => {
    // table 200 only has 10.244.0.0/16, so 8.8.8.8 with mark 0x4000 goes on to main
    const m = lookupRoute(routes, rules, parseIP('8.8.8.8'), 0x4000);
    assert.equal(m?.route.device, 'eth0');
    assert.equal(m?.table, MAIN_TABLE);
  });

  test('rules are walked by priority, not by array order', () => {
    const shuffled: PolicyRule[] = [
      { priority: 32766, fwmark: undefined, fwmask: 0xffffffff, table: MAIN_TABLE },
      { priority: 50, fwmark: undefined, fwmask: 0xffffffff, table: 100 },
    ];
    assert.equal(lookupRoute(routes, shuffled, parseIP('10.244.1.1'))?.route.device, 'eth1');
    const later: PolicyRule[] = [
      { priority: 32766, fwmark: undefined, fwmask: 0xffffffff, table: MAIN_TABLE },
      { priority: 40000, fwmark: undefined, fwmask: 0xffffffff, table: 100 },
    ];
    assert.equal(lookupRoute(routes, later, parseIP('10.244.1.1'))?.route.device, 'cni1');
  });

  test('the local table still wins for local addresses with a mark', () => {
    const m = lookupRoute(routes, rules, parseIP('192.168.0.2'), 0x1);
    assert.equal(m?.route.type, 'local');
  });
});
