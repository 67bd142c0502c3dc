/**
 * netfilter/host: the host model (interfaces, the routes the kernel adds, `ip route`/`ip rule`
 * text) and the kernel's choice of a source address.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatIP, formatNetwork, LOCAL_TABLE, MAIN_TABLE, parseIP, type Route } from '../../src/net/index.js';
import {
  buildHost,
  findInterface,
  HostSpecError,
  isLocalAddress,
  parsePolicyRule,
  parseRoute,
  routeFor,
  selectSourceAddress,
} from '../../src/netfilter/index.js';

function describeRoute(r: Route): string {
  return [
    r.type,
    formatNetwork(r.destination),
    r.device ?? '-',
    r.gateway ? formatIP(r.gateway) : '-',
    r.source ? formatIP(r.source) : '-',
    r.table,
    r.metric,
  ].join(' ');
}

describe('buildHost', () => {
  const host = buildHost({
    interfaces: [{ name: 'eth0', addresses: ['192.168.0.2/24', '2001:db8::2/64'] }],
    routes: ['default via 192.168.0.1 dev eth0', '10.96.0.0/12 dev eth0 metric 50'],
  });

  test('adds lo with 127.0.0.1/8 and ::1/128, first', () => {
    assert.deepEqual(host.interfaces.map((i) => i.name), ['lo', 'eth0']);
    const lo = findInterface(host, 'lo')!;
    assert.deepEqual(lo.addresses.map((a) => `${formatIP(a.ip)}/${a.prefixLength}`), ['127.0.0.1/8', '::1/128']);
    assert.deepEqual(findInterface(host, 'eth0')!.addresses.map((a) => `${formatIP(a.ip)}/${a.prefixLength}`), ['192.168.0.2/24', '2001:db8::2/64']);
    assert.equal(findInterface(host, 'eth9'), undefined);
  });

  test('adds local and connected routes for every address, then the given routes', () => {
    assert.deepEqual(host.routes.map(describeRoute), [
      `local 127.0.0.1/32 lo - 127.0.0.1 ${LOCAL_TABLE} 0`,
      `local 127.0.0.0/8 lo - 127.0.0.1 ${LOCAL_TABLE} 0`,
      `local ::1/128 lo - ::1 ${LOCAL_TABLE} 0`,
      `local 192.168.0.2/32 eth0 - 192.168.0.2 ${LOCAL_TABLE} 0`,
      `unicast 192.168.0.0/24 eth0 - 192.168.0.2 ${MAIN_TABLE} 0`,
      `local 2001:db8::2/128 eth0 - 2001:db8::2 ${LOCAL_TABLE} 0`,
      // A forwarding IPv6 host owns the subnet-router anycast address of the prefix.
      `anycast 2001:db8::/128 eth0 - 2001:db8::2 ${LOCAL_TABLE} 0`,
      `unicast 2001:db8::/64 eth0 - 2001:db8::2 ${MAIN_TABLE} 256`,
      `unicast 0.0.0.0/0 eth0 192.168.0.1 - ${MAIN_TABLE} 0`,
      `unicast 10.96.0.0/12 eth0 - - ${MAIN_TABLE} 50`,
    ]);
  });

  test('defaults: the kernel policy rules, forwarding on, route_localnet off', () => {
    assert.deepEqual(host.policyRules.map((r) => [r.priority, r.table]), [
      [0, LOCAL_TABLE],
      [32766, MAIN_TABLE],
    ]);
    assert.equal(host.ipForward, true);
    assert.equal(host.routeLocalnet, false);
    const h = buildHost({ ipForward: false, routeLocalnet: true, policyRules: ['fwmark 0x1/0x1 lookup 100 priority 100'] });
    assert.equal(h.ipForward, false);
    assert.equal(h.routeLocalnet, true);
    assert.deepEqual(h.policyRules.map((r) => [r.priority, r.table]), [
      [0, LOCAL_TABLE],
      [32766, MAIN_TABLE],
      [100, 100],
    ]);
  });

  test('local addresses and route lookups', () => {
    assert.equal(isLocalAddress(host, parseIP('192.168.0.2')), true);
    assert.equal(isLocalAddress(host, parseIP('192.168.0.3')), false);
    assert.equal(isLocalAddress(host, parseIP('127.8.9.10')), true);
    assert.equal(isLocalAddress(host, parseIP('::1')), true);
    assert.equal(isLocalAddress(host, parseIP('2001:db8::2')), true);
    assert.equal(isLocalAddress(host, parseIP('2001:db8::3')), false);
    const out = routeFor(host, parseIP('8.8.8.8'), 0)!;
    assert.equal(formatIP(out.route.gateway!), '192.168.0.1');
    assert.equal(routeFor(host, parseIP('10.100.0.1'), 0)!.route.metric, 50);
    assert.equal(routeFor(host, parseIP('192.168.0.77'), 0)!.route.gateway, undefined);
    assert.equal(routeFor(host, parseIP('2600::1'), 0), undefined); // no IPv6 default route
  });

  test('policy rules from the spec steer marked packets', () => {
    const h = buildHost({
      interfaces: [
        { name: 'eth0', addresses: ['192.168.0.2/24'] },
        { name: 'wg0', addresses: ['10.10.0.1/24'] },
      ],
      routes: ['default via 192.168.0.1 dev eth0', 'default dev wg0 table 51820'],
      policyRules: ['fwmark 0xca6c/0xffff lookup 51820 priority 5208'],
    });
    assert.equal(routeFor(h, parseIP('1.1.1.1'), 0)!.route.device, 'eth0');
    assert.equal(routeFor(h, parseIP('1.1.1.1'), 0xca6c)!.route.device, 'wg0');
    assert.equal(routeFor(h, parseIP('1.1.1.1'), 0x1ca6c)!.route.device, 'wg0'); // outside the mask
    assert.equal(routeFor(h, parseIP('1.1.1.1'), 0xca6d)!.route.device, 'eth0');
  });

  test('a given lo replaces the default one', () => {
    const h = buildHost({ interfaces: [{ name: 'lo', addresses: ['127.0.0.1/8'] }] });
    assert.deepEqual(h.interfaces.map((i) => i.name), ['lo']);
    assert.deepEqual(h.interfaces[0]!.addresses.map((a) => formatIP(a.ip)), ['127.0.0.1']);
  });

  test('a host address without a prefix is a /32 (/128) with no connected route', () => {
    const h = buildHost({ interfaces: [{ name: 'eth0', addresses: ['10.0.0.5', 'fd00::5'] }] });
    const eth0 = h.routes.filter((r) => r.device === 'eth0').map(describeRoute);
    assert.deepEqual(eth0, [`local 10.0.0.5/32 eth0 - 10.0.0.5 ${LOCAL_TABLE} 0`, `local fd00::5/128 eth0 - fd00::5 ${LOCAL_TABLE} 0`]);
  });

  test('errors name the interface or the route', () => {
    assert.throws(() => buildHost({ interfaces: [{ name: 'this-name-is-too-long', addresses: [] }] }), {
      name: 'HostSpecError',
      message: 'interface "this-name-is-too-long": not a valid interface name (1-15 characters)',
    });
    assert.throws(() => buildHost({ interfaces: [{ name: 'eth 0', addresses: [] }] }), /interface "eth 0": not a valid interface name/);
    assert.throws(
      () => buildHost({ interfaces: [{ name: 'eth0', addresses: [] }, { name: 'eth0', addresses: [] }] }),
      { name: 'HostSpecError', message: 'interface "eth0" is given twice' },
    );
    assert.throws(() => buildHost({ interfaces: [{ name: 'eth0', addresses: ['10.0.0.300/24'] }] }), /^HostSpecError: interface "eth0": "10.0.0.300" is not an IP address/);
    assert.throws(() => buildHost({ interfaces: [{ name: 'eth0', addresses: ['10.0.0.3/33'] }] }), {
      message: 'interface "eth0": "10.0.0.3/33": prefix length longer than 32',
    });
    assert.throws(() => buildHost({ interfaces: [{ name: 'eth0', addresses: ['10.0.0.3/x'] }] }), {
      message: 'interface "eth0": "10.0.0.3/x": bad prefix length',
    });
    assert.throws(() => buildHost({ interfaces: [{ name: 'eth0', addresses: ['10.0.0.2/24'] }], routes: ['10.1.0.0/16 dev eth9'] }), {
      name: 'HostSpecError',
      message: 'route "10.1.0.0/16 dev eth9": no interface "eth9" (give it with its addresses first)',
    });
    assert.throws(() => buildHost({ policyRules: ['fwmark 0x1'] }), { name: 'HostSpecError', message: 'rule "fwmark 0x1": needs "lookup TABLE"' });
  });
});

describe('parseRoute', () => {
  test('a full ip route line', () => {
    const r = parseRoute('10.244.1.0/24 via 192.168.0.3 dev eth0 proto kernel scope link src 192.168.0.2 metric 100 table 100');
    assert.equal(describeRoute(r), 'unicast 10.244.1.0/24 eth0 192.168.0.3 192.168.0.2 100 100');
  });

  test('defaults: unicast in main, metric 0; local routes in the local table', () => {
    assert.equal(describeRoute(parseRoute('10.0.0.0/8 dev eth0')), `unicast 10.0.0.0/8 eth0 - - ${MAIN_TABLE} 0`);
    assert.equal(describeRoute(parseRoute('local 10.0.0.5 dev eth0')), `local 10.0.0.5/32 eth0 - - ${LOCAL_TABLE} 0`);
    assert.equal(describeRoute(parseRoute('local 10.0.0.0/8 dev lo table main')), `local 10.0.0.0/8 lo - - ${MAIN_TABLE} 0`);
    assert.equal(parseRoute('10.0.0.0/8 dev eth0 table default').table, 253);
    assert.equal(parseRoute('10.0.0.0/8 dev eth0 table local').table, LOCAL_TABLE);
    assert.equal(parseRoute('10.0.0.0/8 dev eth0 preference 7').metric, 7);
  });

  test('blackhole, unreachable and prohibit need no device', () => {
    for (const type of ['blackhole', 'unreachable', 'prohibit'] as const) {
      const r = parseRoute(`${type} 10.0.0.0/8`);
      assert.equal(r.type, type);
      assert.equal(r.device, undefined);
      assert.equal(formatNetwork(r.destination), '10.0.0.0/8');
    }
  });

  test('default: IPv4 unless the gateway or the family says IPv6', () => {
    assert.equal(formatNetwork(parseRoute('default via 192.168.0.1 dev eth0').destination), '0.0.0.0/0');
    assert.equal(formatNetwork(parseRoute('default dev eth0').destination), '0.0.0.0/0');
    assert.equal(formatNetwork(parseRoute('default via fe80::1 dev eth0').destination), '::/0');
    assert.equal(formatNetwork(parseRoute('default dev eth0', 6).destination), '::/0');
    assert.equal(formatNetwork(parseRoute('2001:db8::/32 via fe80::1 dev eth0 metric 1024').destination), '2001:db8::/32');
  });

  test('errors name the route', () => {
    const cases: [string, string][] = [
      ['10.1.2.3/8 dev eth0', 'route "10.1.2.3/8 dev eth0": "10.1.2.3/8" has host bits set; the network is 10.0.0.0/8'],
      ['10.0.0.0/8 via 10.0.0.1', 'route "10.0.0.0/8 via 10.0.0.1": needs "dev IFACE"'],
      ['local 10.0.0.1', 'route "local 10.0.0.1": needs "dev IFACE"'],
      ['10.0.0.0/8 dev', 'route "10.0.0.0/8 dev": "dev" needs a value'],
      ['10.0.0.0/8 dev eth0 onlink yes', 'route "10.0.0.0/8 dev eth0 onlink yes": unknown keyword "onlink"'],
      ['10.0.0.0/8 dev eth0 metric high', 'route "10.0.0.0/8 dev eth0 metric high": metric "high" is not a number'],
      ['10.0.0.0/8 dev eth0 table foo', 'route "10.0.0.0/8 dev eth0 table foo": table "foo" is not a number or main/local/default'],
      ['10.0.0.0/8 via fe80::1 dev eth0', 'route "10.0.0.0/8 via fe80::1 dev eth0": gateway fe80::1 is not of the destination\'s family'],
      ['10.0.0.0/33 dev eth0', 'route "10.0.0.0/33 dev eth0": "10.0.0.0/33": prefix length 33 is longer than 32'],
      ['', 'route "": missing destination'],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => parseRoute(text), (e: unknown) => e instanceof HostSpecError && e.message === message, `${text} -> ${message}`);
    }
    assert.throws(() => parseRoute('10.0.0.0/8 via 10.0.0.300 dev eth0'), /^HostSpecError: route "10.0.0.0\/8 via 10.0.0.300 dev eth0": "10.0.0.300" is not an IP address/);
    assert.throws(() => parseRoute('10.0.0.0/8 dev eth0 src 10.0.0'), /^HostSpecError: route "10.0.0.0\/8 dev eth0 src 10.0.0": "10.0.0" is not an IP address/);
  });
});

describe('parsePolicyRule', () => {
  test('fwmark with a mask, lookup and priority', () => {
    assert.deepEqual(parsePolicyRule('fwmark 0x1/0x1 lookup 100 priority 100'), { priority: 100, fwmark: 1, fwmask: 1, table: 100 });
  });
  test('defaults: full mask, priority 32765', () => {
    assert.deepEqual(parsePolicyRule('fwmark 0x4000 table main'), { priority: 32765, fwmark: 0x4000, fwmask: 0xffffffff, table: MAIN_TABLE });
    assert.deepEqual(parsePolicyRule('lookup 200 pref 10'), { priority: 10, fwmark: undefined, fwmask: 0xffffffff, table: 200 });
    assert.equal(parsePolicyRule('lookup local prio 0').table, LOCAL_TABLE);
  });
  test('decimal marks, high bits, and mark bits outside the mask dropped', () => {
    assert.deepEqual(parsePolicyRule('fwmark 16384/16384 lookup 7'), { priority: 32765, fwmark: 0x4000, fwmask: 0x4000, table: 7 });
    assert.equal(parsePolicyRule('fwmark 0x80000000 lookup 7').fwmark, 0x80000000);
    assert.equal(parsePolicyRule('fwmark 0x5/0x1 lookup 7').fwmark, 1);
  });
  test('errors name the rule', () => {
    const cases: [string, string][] = [
      ['fwmark 0x1', 'rule "fwmark 0x1": needs "lookup TABLE"'],
      ['fwmark 0x1 lookup', 'rule "fwmark 0x1 lookup": "lookup" needs a value'],
      ['fwmark 0x100000000 lookup 1', 'rule "fwmark 0x100000000 lookup 1": "0x100000000" is not a 32-bit mark'],
      ['fwmark zz lookup 1', 'rule "fwmark zz lookup 1": "zz" is not a 32-bit mark'],
      ['from 10.0.0.0/8 lookup 1', 'rule "from 10.0.0.0/8 lookup 1": unknown keyword "from" (supported: fwmark, lookup, priority)'],
      ['lookup 1 priority high', 'rule "lookup 1 priority high": priority "high" is not a number'],
      ['lookup x', 'rule "lookup x": table "x" is not a number or main/local/default'],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => parsePolicyRule(text), (e: unknown) => e instanceof HostSpecError && e.message === message, `${text} -> ${message}`);
    }
  });
});

describe('selectSourceAddress', () => {
  const host = buildHost({
    interfaces: [
      { name: 'eth0', addresses: ['10.0.0.2/24', '192.168.5.2/24'] },
      { name: 'eth1', addresses: [] },
      { name: 'eth2', addresses: ['172.16.0.2/16', 'fd00::2/64'] },
    ],
  });
  const pick = (dev: string | undefined, family: 4 | 6, hop?: string) => {
    const ip = selectSourceAddress(host, dev, family, hop === undefined ? undefined : parseIP(hop));
    return ip && formatIP(ip);
  };

  test('prefers the address in the next hop\'s subnet', () => {
    assert.equal(pick('eth0', 4, '192.168.5.1'), '192.168.5.2');
    assert.equal(pick('eth0', 4, '10.0.0.254'), '10.0.0.2');
  });

  test('else the interface\'s first address of the family', () => {
    assert.equal(pick('eth0', 4, '8.8.8.8'), '10.0.0.2');
    assert.equal(pick('eth0', 4), '10.0.0.2');
    assert.equal(pick('eth2', 6, '2001:db8::1'), 'fd00::2');
    assert.equal(pick('eth2', 4, '10.0.0.1'), '172.16.0.2');
  });

  test('else another interface\'s address (never a loopback one)', () => {
    assert.equal(pick('eth1', 4, '10.0.0.1'), '10.0.0.2');
    assert.equal(pick('eth0', 6), 'fd00::2');
    assert.equal(pick(undefined, 4), '10.0.0.2');
    assert.equal(pick(undefined, 6), 'fd00::2'); // not lo's ::1
    assert.equal(pick('eth9', 4), '10.0.0.2'); // an unknown device has no addresses of its own
  });

  test('none: undefined', () => {
    const bare = buildHost({ interfaces: [{ name: 'eth0', addresses: ['10.0.0.2/24'] }] });
    assert.equal(selectSourceAddress(bare, 'eth0', 6, undefined), undefined);
  });

  test('on lo itself, its own address', () => {
    assert.equal(pick('lo', 4, '127.0.0.1'), '127.0.0.1');
    assert.equal(pick('lo', 6), '::1');
  });
});
