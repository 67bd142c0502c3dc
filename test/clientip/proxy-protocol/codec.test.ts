/**
 * kubepath/clientip PROXY protocol codec: v1 lines, v2 blocks, TLVs, the encoder, and the token
 * checks the incremental decoder relies on.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatIP, parseIP, tryParseIP } from '../../../src/net/index.js';
import { ipv4Completion, ipv6Completion, portCompletion } from '../../../src/clientip/proxy-protocol/v1-tokens.js';
import {
  PP2_TYPE_AWS,
  PP2_TYPE_CRC32C,
  PP2_TYPE_SSL,
  type ProxyHeader,
  ProxyProtocolError,
  alpnOf,
  alpnTlv,
  authorityOf,
  authorityTlv,
  awsVpcEndpointIdOf,
  awsVpcEndpointIdTlv,
  azurePrivateEndpointLinkIdOf,
  azurePrivateEndpointLinkIdTlv,
  clientEndpointOf,
  crc32c,
  crc32cOf,
  decodeSsl,
  describeProxyHeader,
  encodeProxyHeader,
  gcpPscConnectionIdOf,
  gcpPscConnectionIdTlv,
  netnsOf,
  netnsTlv,
  noopTlv,
  parseProxyHeader,
  sslOf,
  sslTlv,
  uniqueIdOf,
  uniqueIdTlv,
} from '../../../src/clientip/proxy-protocol/index.js';
import { classify, int, prng, randomHeader } from './support.js';

const v1 = (line: string): Buffer => Buffer.from(line, 'latin1');

function rejects(input: Uint8Array, code: string, offset?: number): void {
  assert.throws(
    () => parseProxyHeader(input),
    (e: unknown) => e instanceof ProxyProtocolError && e.code === code && (offset === undefined || e.offset === offset),
    `${JSON.stringify(Buffer.from(input).toString('latin1'))} should be ${code}${offset === undefined ? '' : ` at ${offset}`}`,
  );
}

describe('v1', () => {
  test('TCP4, TCP6 and UNKNOWN lines; the payload starts at header.length', () => {
    const line = v1('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n');
    const h = parseProxyHeader(line);
    assert.equal(h.version, 1);
    assert.equal(h.command, 'PROXY');
    assert.equal(h.family, 'TCP4');
    assert.deepEqual(describeProxyHeader(h).source, { address: '192.168.0.1', port: 56324 });
    assert.deepEqual(describeProxyHeader(h).destination, { address: '192.168.0.11', port: 443 });
    assert.equal(line.subarray(h.length).toString(), 'GET / HTTP/1.1\r\n');
    const six = parseProxyHeader(v1('PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 0 65535\r\n'));
    assert.deepEqual(describeProxyHeader(six).destination, { address: '::ffff:10.0.0.1', port: 65535 });
    const unknown = parseProxyHeader(v1('PROXY UNKNOWN whatever 1.2.3.4 99999\r\n'));
    assert.equal(unknown.command, 'LOCAL');
    assert.equal(unknown.source, null);
    assert.equal(clientEndpointOf(unknown), null);
  });

  test('the longest line is 107 bytes; 108 is too long', () => {
    const full = `PROXY UNKNOWN ${'x'.repeat(107 - 16)}\r\n`;
    assert.equal(full.length, 107);
    assert.equal(parseProxyHeader(v1(full)).length, 107);
    rejects(v1(`PROXY UNKNOWN ${'x'.repeat(107 - 15)}\r\n`), 'v1-too-long');
  });

  const bad: [string, string, number][] = [
    ['PROXY TCP4 1.2.3.4 5.6.7.8 80 443\n', 'v1-bad-line-ending', 33],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 80 443\rX', 'v1-bad-line-ending', 34],
    ['PROXY TCP4 1.2.3.4 5\r6.7.8 80 443\r\n', 'v1-bad-address', 20],
    ['PROXY TCP4 1.2.3.4\r\n', 'v1-malformed', 18],
    ['PROXY TCP4 01.2.3.4 5.6.7.8 80 443\r\n', 'v1-bad-address', 12],
    ['PROXY TCP4 1.2.3.256 5.6.7.8 80 443\r\n', 'v1-bad-address', 19],
    ['PROXY TCP4 1.2.3 5.6.7.8 80 443\r\n', 'v1-bad-address', 16],
    ['PROXY TCP4 ::1 5.6.7.8 80 443\r\n', 'v1-bad-address', 11],
    ['PROXY TCP6 1.2.3.4 ::1 80 443\r\n', 'v1-bad-address', 12],
    ['PROXY TCP6 fe80::1%eth0 ::1 80 443\r\n', 'v1-bad-address', 18],
    ['PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 80 443\r\n', 'v1-bad-address', 26],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 080 443\r\n', 'v1-bad-port', 28],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 65536 443\r\n', 'v1-bad-port', 31],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 -1 443\r\n', 'v1-bad-port', 27],
    ['PROXY TCP4 1.2.3.4 5.6.7.8  443\r\n', 'v1-bad-port', 27],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 80\r\n', 'v1-malformed', 29],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 80 443 \r\n', 'v1-malformed', 33],
    ['PROXY TCP5 1.2.3.4 5.6.7.8 80 443\r\n', 'v1-malformed', 9],
    ['PROXY  TCP4 1.2.3.4 5.6.7.8 80 443\r\n', 'v1-malformed', 6],
    ['PROXY UNKNOWN\x01\r\n', 'v1-malformed', 13],
    ['PROXY UNKNOWN \x7f\r\n', 'v1-malformed', 14],
    ['PROXYTCP4 1.2.3.4 5.6.7.8 80 443\r\n', 'v1-malformed', 5],
    ['PRXY TCP4\r\n', 'not-proxy-protocol', 2],
  ];
  for (const [line, code, offset] of bad) {
    test(`rejects ${JSON.stringify(line)} as ${code} at byte ${offset}`, () => rejects(v1(line), code, offset));
  }

  test('a TCP6 line that cannot end within 107 bytes is too long as soon as that is certain', () => {
    // Two 45-character addresses leave no room for the ports: the line is refused before its end.
    const a = 'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255';
    const prefix = v1(`PROXY TCP6 ${a} ${a} 6553`);
    assert.equal(prefix.length, 107);
    assert.equal(classify(prefix.subarray(0, 101)), 'incomplete'); // "…255.25" + " 0 0\r\n" fits in 107
    assert.equal(classify(prefix.subarray(0, 102)), 'v1-too-long');
    assert.equal(classify(prefix), 'v1-too-long');
  });

  test('with v1AcceptIPv4InTCP6 (nginx), a TCP6 line may carry IPv4 literals, kept as IPv4-mapped', () => {
    const line = v1('PROXY TCP6 192.0.2.1 2001:db8::1 51512 22\r\n');
    rejects(line, 'v1-bad-address');
    const h = parseProxyHeader(line, { v1AcceptIPv4InTCP6: true });
    assert.equal(formatIP(clientEndpointOf(h)!.ip), '::ffff:192.0.2.1');
  });
});

describe('v1 tokens: prefix checks agree with net/ and give exact shortest completions', () => {
  const alphabet = '0123456789abcdefABCDEF:.%x ';
  const rand = prng(7);
  const samples: string[] = ['', '::', '1::', '::1.2.3.4', '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:7::', '0.0.0.0', '255.255.255.255'];
  for (let i = 0; i < 3000; i++) {
    let s = '';
    const n = int(rand, 18);
    for (let k = 0; k < n; k++) s += alphabet[int(rand, rand() < 0.6 ? 13 : alphabet.length)];
    samples.push(s);
  }
  test('complete (0) exactly when net/ parses the token', () => {
    for (const s of samples) {
      const ip = tryParseIP(s);
      assert.equal(ipv4Completion(s) === 0, ip?.family === 4, `IPv4 ${JSON.stringify(s)}`);
      assert.equal(ipv6Completion(s) === 0, ip?.family === 6, `IPv6 ${JSON.stringify(s)}`);
      assert.equal(portCompletion(s) === 0, /^(0|[1-9][0-9]{0,4})$/.test(s) && Number(s) <= 65535, `port ${JSON.stringify(s)}`);
    }
  });
  test('a viable prefix with shortest completion k has a next character leading to k-1, and none to less', () => {
    for (const f of [ipv4Completion, ipv6Completion, portCompletion]) {
      for (const s of samples) {
        const k = f(s);
        if (k < 0) {
          for (const c of alphabet) assert.equal(f(s + c), -1, `${f.name}(${JSON.stringify(s + c)}) after a dead prefix`);
          continue;
        }
        let best = Infinity;
        for (const c of alphabet) {
          const next = f(s + c);
          if (next >= 0) best = Math.min(best, next);
        }
        if (k > 0) assert.equal(best, k - 1, `${f.name}(${JSON.stringify(s)}) = ${k}`);
        else assert.ok(best === Infinity || best >= 0, `${f.name}(${JSON.stringify(s)})`);
      }
    }
  });
});

describe('v2', () => {
  const sig = '0d0a0d0a000d0a515549540a';
  test('PROXY TCP4 with TLVs; the payload starts at header.length', () => {
    const hdr = encodeProxyHeader({ source: { ip: '203.0.113.7', port: 51234 }, destination: { ip: '10.0.0.5', port: 443 }, tlvs: [alpnTlv('h2'), authorityTlv('api.example.com')] });
    const h = parseProxyHeader(Buffer.concat([hdr, Buffer.from('payload')]));
    assert.equal(h.length, hdr.length);
    assert.equal(h.command, 'PROXY');
    assert.equal(h.family, 'TCP4');
    assert.equal(formatIP(clientEndpointOf(h)!.ip), '203.0.113.7');
    assert.equal(alpnOf(h.tlvs), 'h2');
    assert.equal(authorityOf(h.tlvs), 'api.example.com');
  });

  test('version, command and family bytes', () => {
    rejects(Buffer.from(`${sig}1111000c`, 'hex'), 'v2-bad-version-or-command', 12);
    rejects(Buffer.from(`${sig}2211000c`, 'hex'), 'v2-bad-version-or-command', 12);
    rejects(Buffer.from(`${sig}2113000c`, 'hex'), 'v2-bad-family', 13);
    rejects(Buffer.from(`${sig}2040000c`, 'hex'), 'v2-bad-family', 13);
    rejects(Buffer.from(`${sig}21000000`, 'hex'), 'v2-bad-family', 13);
    assert.equal(parseProxyHeader(Buffer.from(`${sig}21000000`, 'hex'), { allowProxyUnspec: true }).family, 'UNSPEC');
  });

  test('the declared length: a PROXY block must fit, a LOCAL one too short is discarded, the cap is enforced', () => {
    rejects(Buffer.from(`${sig}2111000b${'00'.repeat(11)}`, 'hex'), 'v2-bad-length', 15);
    const local = parseProxyHeader(Buffer.from(`${sig}2021000401000100`, 'hex'));
    assert.equal(local.family, 'UNSPEC');
    assert.deepEqual(local.tlvs, []);
    rejects(Buffer.from(`${sig}21111001`, 'hex'), 'header-too-large', 15);
    rejects(Buffer.from(`${sig}211111`, 'hex'), 'header-too-large', 14); // the high byte alone says 4352 or more
    assert.equal(classify(Buffer.from(`${sig}21111001`, 'hex'), { maxV2Length: 0xffff }), 'incomplete');
  });

  test('TLVs must end exactly at the declared length', () => {
    const base = `${sig}2111`;
    const addr = '7f0000017f000001002a0539';
    rejects(Buffer.from(`${base}0013${addr}0200053132333435`, 'hex'), 'tlv-malformed', 30); // overruns by 1
    rejects(Buffer.from(`${base}0013${addr}020100`, 'hex'), 'tlv-malformed', 29); // the high length byte alone overruns
    rejects(Buffer.from(`${base}0014${addr}02000431323334`, 'hex'), 'tlv-malformed', 30); // leaves 1 byte: known with the length
    assert.equal(parseProxyHeader(Buffer.from(`${base}0014${addr}0200053132333435ff`, 'hex')).length, 36); // the rest is payload
    rejects(Buffer.from(`${base}000e${addr}0000`, 'hex'), 'tlv-malformed', 15); // 2 bytes: no TLV fits, known with the length
    rejects(Buffer.from(`${base}${(12 + 3 + 129).toString(16).padStart(4, '0')}${addr}050081${'00'.repeat(129)}`, 'hex'), 'tlv-malformed', 30);
  });

  test('CRC32C: written and verified in network byte order; a flipped bit is a mismatch', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    const hdr = encodeProxyHeader({ source: { ip: '172.31.7.113', port: 51442 }, destination: { ip: '172.31.10.31', port: 80 }, tlvs: [awsVpcEndpointIdTlv('vpce-08d2bf15fac5001c9')], crc32c: true });
    const h = parseProxyHeader(hdr);
    assert.equal(h.tlvs.at(-1)!.type, PP2_TYPE_CRC32C);
    assert.equal(crc32cOf(h.tlvs), hdr.readUInt32BE(hdr.length - 4));
    assert.equal(awsVpcEndpointIdOf(h.tlvs), 'vpce-08d2bf15fac5001c9');
    const flipped = Buffer.from(hdr);
    flipped[17] ^= 1;
    rejects(flipped, 'crc32c-mismatch');
    const le = Buffer.from(hdr);
    le.writeUInt32LE(hdr.readUInt32BE(hdr.length - 4), hdr.length - 4);
    rejects(le, 'crc32c-mismatch');
    assert.equal(parseProxyHeader(le, { acceptLittleEndianCrc32c: true }).length, hdr.length);
  });

  test('SSL: sub-TLVs decoded; malformed values rejected at parse time', () => {
    const ssl = sslTlv({ version: 'TLSv1.3', cn: 'Zoë', cipher: 'TLS_AES_256_GCM_SHA384', sigAlg: 'SHA256', keyAlg: 'RSA2048', group: 'X25519', sigScheme: 'rsa_pss_rsae_sha256', clientCert: Buffer.from([0x30, 0x82]) });
    const h = parseProxyHeader(encodeProxyHeader({ source: { ip: '::1', port: 1 }, destination: { ip: '::2', port: 2 }, tlvs: [ssl] }));
    const got = sslOf(h.tlvs)!;
    assert.equal(got.clientSsl, true);
    assert.equal(got.verified, true);
    assert.deepEqual([got.version, got.cn, got.cipher, got.sigAlg, got.keyAlg, got.group, got.sigScheme], ['TLSv1.3', 'Zoë', 'TLS_AES_256_GCM_SHA384', 'SHA256', 'RSA2048', 'X25519', 'rsa_pss_rsae_sha256']);
    assert.deepEqual([...got.clientCert!], [0x30, 0x82]);
    const bad = (value: string): void => {
      const v = Buffer.from(value, 'hex');
      const raw = encodeRaw([{ type: PP2_TYPE_SSL, value: v }]);
      rejects(raw, 'tlv-malformed');
      assert.throws(() => decodeSsl(v), (e: unknown) => e instanceof ProxyProtocolError && e.code === 'tlv-malformed');
    };
    bad('0100000000'); // PP2_CLIENT_SSL without a version
    bad('0000000021000254'); // sub-TLV overruns
    bad('00000000002100'); // 2 bytes left
    bad('000000000022000180'); // CN not UTF-8 (lone continuation byte)
    bad('000000000022000000'); // empty CN... length 0
    bad('00000000002300010a'); // cipher not printable
    assert.equal(decodeSsl(Buffer.from('0000000000', 'hex')).clientSsl, false);
  });

  test('cloud TLVs: AWS VPC endpoint, Azure LinkID (LE), GCP PSC id (BE); malformed ones are skipped', () => {
    const tlvs = [
      { type: PP2_TYPE_AWS, value: Buffer.from('02ff', 'hex') },
      awsVpcEndpointIdTlv('vpce-abc123'),
      azurePrivateEndpointLinkIdTlv(553665985),
      gcpPscConnectionIdTlv(18446744072646845442n),
    ];
    assert.deepEqual(azurePrivateEndpointLinkIdTlv(553665985).value, Buffer.from('01c1450021', 'hex'));
    assert.deepEqual(gcpPscConnectionIdTlv(18446744072646845442n).value, Buffer.from('ffffffffc0a86402', 'hex'));
    const h = parseProxyHeader(encodeProxyHeader({ source: { ip: '1.2.3.4', port: 1 }, destination: { ip: '5.6.7.8', port: 2 }, tlvs }));
    assert.equal(awsVpcEndpointIdOf(h.tlvs), 'vpce-abc123');
    assert.equal(azurePrivateEndpointLinkIdOf(h.tlvs), 553665985);
    assert.equal(gcpPscConnectionIdOf(h.tlvs), 18446744072646845442n);
    const d = describeProxyHeader(h);
    assert.equal(d.gcp_psc_connection_id, '18446744072646845442');
    assert.deepEqual(d.tlvs.map((t) => t.name), ['PP2_TYPE_AWS', 'PP2_TYPE_AWS', 'PP2_TYPE_AZURE', 'PP2_TYPE_GCP']);
  });

  test('UNIX paths, NETNS, UNIQUE_ID and NOOP', () => {
    const h = parseProxyHeader(
      encodeProxyHeader({ source: { path: '/run/a.sock' }, destination: { path: '/run/b.sock' }, tlvs: [netnsTlv('blue'), uniqueIdTlv(Buffer.from('id-1')), noopTlv(5)] }),
    );
    assert.equal(h.family, 'UNIX_STREAM');
    assert.deepEqual(h.source, { path: '/run/a.sock' });
    assert.equal(clientEndpointOf(h), null);
    assert.equal(netnsOf(h.tlvs), 'blue');
    assert.equal(Buffer.from(uniqueIdOf(h.tlvs)!).toString(), 'id-1');
  });
});

/** A PROXY TCP4 header with raw TLV bytes, for inputs the encoder refuses to write. */
function encodeRaw(tlvs: { type: number; value: Buffer }[]): Buffer {
  const body = Buffer.concat(tlvs.map((t) => Buffer.concat([Buffer.from([t.type, t.value.length >> 8, t.value.length & 255]), t.value])));
  const head = Buffer.from('0d0a0d0a000d0a515549540a2111', 'hex');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(12 + body.length);
  return Buffer.concat([head, len, Buffer.from('7f0000017f000001002a0539', 'hex'), body]);
}

describe('encoder', () => {
  test('random headers round-trip: parse(encode(h)) = h, and re-encoding gives the same bytes', () => {
    const rand = prng(42);
    for (let i = 0; i < 1500; i++) {
      const init = randomHeader(rand);
      const bytes = encodeProxyHeader(init);
      const h: ProxyHeader = parseProxyHeader(bytes);
      assert.equal(h.length, bytes.length);
      assert.equal(h.version, init.version ?? 2);
      assert.deepEqual(encodeProxyHeader(h), bytes, `round ${i}`);
    }
  });

  test('what cannot make a valid header is refused with invalid-argument', () => {
    const invalid = (init: Parameters<typeof encodeProxyHeader>[0]): void =>
      assert.throws(() => encodeProxyHeader(init), (e: unknown) => e instanceof ProxyProtocolError && e.code === 'invalid-argument', JSON.stringify(init, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
    invalid({ family: 'TCP4', source: { ip: '::1', port: 1 }, destination: { ip: '1.2.3.4', port: 2 } });
    invalid({ source: { ip: '1.2.3.4', port: 70000 }, destination: { ip: '1.2.3.4', port: 2 } });
    invalid({ source: { ip: '012.0.0.1', port: 1 }, destination: { ip: '1.2.3.4', port: 2 } });
    invalid({ family: 'TCP4' });
    invalid({ version: 1, source: { ip: '1.2.3.4', port: 1 }, destination: { ip: '1.2.3.4', port: 2 }, tlvs: [alpnTlv('h2')] });
    invalid({ version: 1, family: 'UDP4', source: { ip: '1.2.3.4', port: 1 }, destination: { ip: '1.2.3.4', port: 2 } });
    invalid({ family: 'UNKNOWN' });
    invalid({ source: { path: 'x'.repeat(109) }, destination: { path: '/b' } });
    invalid({ source: { ip: '1.2.3.4', port: 1 }, destination: { ip: '1.2.3.4', port: 2 }, tlvs: [{ type: PP2_TYPE_CRC32C, value: Buffer.alloc(4) }] });
    invalid({ source: { ip: '1.2.3.4', port: 1 }, destination: { ip: '1.2.3.4', port: 2 }, tlvs: [{ type: PP2_TYPE_SSL, value: Buffer.from('01000000', 'hex') }] });
    assert.throws(() => uniqueIdTlv(Buffer.alloc(129)), ProxyProtocolError);
    assert.throws(() => sslTlv({ cn: '' }), ProxyProtocolError);
  });

  test('v1 lines and mixed families', () => {
    assert.equal(encodeProxyHeader({ version: 1, source: { ip: '1.2.3.4', port: 1 }, destination: { ip: parseIP('5.6.7.8'), port: 2 } }).toString(), 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n');
    assert.equal(encodeProxyHeader({ version: 1, source: { ip: '1.2.3.4', port: 1 }, destination: { ip: '::1', port: 2 } }).toString(), 'PROXY TCP6 ::ffff:1.2.3.4 ::1 1 2\r\n');
    assert.equal(encodeProxyHeader({ version: 1, command: 'LOCAL' }).toString(), 'PROXY UNKNOWN\r\n');
    assert.equal(encodeProxyHeader({ command: 'LOCAL' }).toString('hex'), '0d0a0d0a000d0a515549540a20000000');
  });
});
