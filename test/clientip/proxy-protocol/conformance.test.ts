/**
 * Ground truth: the shared PROXY protocol vectors (go-proxyproto, libproxyprotocol, HAProxy
 * reg-tests, derived), the exhaustive family-byte matrix and the TLV-level cases. Every vector
 * must agree with its source's outcome, or be a deliberate divergence listed below (and in
 * docs/proxy-protocol.md), whose own outcome is asserted. Pass counts are printed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type ProxyHeader,
  type ProxyParseOptions,
  type ProxyTlv,
  ProxyHeaderDecoder,
  ProxyProtocolError,
  azurePrivateEndpointLinkIdOf,
  awsVpcEndpointIdOf,
  clientEndpointOf,
  describeProxyHeader,
  findTlv,
  gcpPscConnectionIdOf,
  sslOf,
} from '../../../src/clientip/proxy-protocol/index.js';
import { readConformance } from '../../support/shared.js';

interface Endpoint {
  address?: string;
  port?: number;
  path?: string;
}

interface Expect {
  ok: boolean | 'policy';
  version?: number;
  command?: string;
  family?: string;
  source?: Endpoint | null;
  destination?: Endpoint | null;
  headerLength?: number;
  tlvsRawHex?: string;
  tlvs?: { type: number; valueHex: string }[];
  decoded?: Record<string, unknown>;
  error?: string;
}

interface Vector {
  name: string;
  hex: string;
  atEof: boolean;
  config?: { v1AcceptIPv4InTCP6?: boolean; maxV2HeaderSize?: number | string };
  expect: Expect;
  referenceClassifier: { ok: boolean; error?: string };
}

interface MatrixCase {
  verCmd: number;
  fam: number;
  ok: boolean;
  error: string | null;
  resultFamily: string | null;
}

interface TlvLevelCase {
  name: string;
  input: {
    tlvs?: { Type: number; Value: string }[] | null;
    tlv?: { Type: number; Value: string };
    wantFound?: boolean;
    wantLinkID?: number;
    wantPSCConnectionID?: number | string;
    want?: { error: string };
  };
}

interface Vectors {
  knownDivergences: string[];
  vectors: Vector[];
  familyByteMatrix: { payloadLength: number; cases: MatrixCase[] };
  tlvLevelCases: TlvLevelCase[];
}

const data = readConformance<Vectors>('proxy-protocol/vectors.json');

type Outcome = { ok: true; header: ProxyHeader } | { ok: false; code: string } | { ok: 'incomplete' };

/** Feed the vector as a stream: whole, then EOF when the source saw one. */
function run(v: Vector, extra: ProxyParseOptions = {}): Outcome {
  const options: ProxyParseOptions = {
    ...(v.config?.v1AcceptIPv4InTCP6 ? { v1AcceptIPv4InTCP6: true } : {}),
    ...(typeof v.config?.maxV2HeaderSize === 'string' ? { maxV2Length: 0xffff } : {}),
    ...extra,
  };
  const decoder = new ProxyHeaderDecoder(options);
  try {
    const step = decoder.feed(Buffer.from(v.hex, 'hex'));
    if (step.status === 'complete') return { ok: true, header: step.header };
    if (step.status === 'absent') return { ok: false, code: 'absent' };
    if (!v.atEof) return { ok: 'incomplete' };
    decoder.end();
    return { ok: false, code: 'no error at EOF' };
  } catch (e) {
    assert.ok(e instanceof ProxyProtocolError, `${v.name}: ${String(e)} is not a ProxyProtocolError`);
    return { ok: false, code: e.code };
  }
}

function show(o: Outcome): string {
  return o.ok === true ? JSON.stringify(describeProxyHeader(o.header)) : o.ok === false ? `error ${o.code}` : 'need more bytes';
}

/** go reports IPv4-mapped IPv6 in dotted form (the vectors' `addresses` note): compare that way. */
function unmapped(e: Endpoint | null | undefined): Endpoint | null | undefined {
  if (e?.address === undefined) return e;
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(e.address);
  return m ? { address: m[1]!, port: e.port! } : e;
}

function hex(b: Uint8Array | undefined): string | undefined {
  return b === undefined ? undefined : Buffer.from(b).toString('hex');
}

function tlvHex(tlvs: readonly ProxyTlv[], type: number): string | undefined {
  return hex(findTlv(tlvs, type)?.value);
}

/** libproxyprotocol records text values as C strings: the wire value plus a NUL. */
function cString(value: string | undefined): string | undefined {
  return value === undefined ? undefined : Buffer.from(value, 'latin1').toString('hex') + '00';
}

/** Compare a parsed header with the source's fields (those it recorded). */
function checkHeader(v: Vector, h: ProxyHeader): void {
  const e = v.expect;
  const d = describeProxyHeader(h);
  const at = v.name;
  if (e.headerLength !== undefined) assert.equal(h.length, e.headerLength, `${at}: length`);
  if (e.version !== undefined) assert.equal(h.version, e.version, `${at}: version`);
  if (e.command !== undefined) assert.equal(h.command, e.command, `${at}: command`);
  if (e.family !== undefined) assert.equal(h.family, e.family, `${at}: family`);
  if (e.source !== undefined) assert.deepEqual(unmapped(d.source), unmapped(e.source), `${at}: source`);
  if (e.destination !== undefined) assert.deepEqual(unmapped(d.destination), unmapped(e.destination), `${at}: destination`);
  if (e.tlvs !== undefined) {
    // PP2_TYPE_NOOP is padding: go's tlvparse recording drops its bytes, we keep them as sent.
    const noPadding = (tlvs: { type: number; valueHex: string | undefined }[]) => tlvs.map((t) => (t.type === 0x04 ? { type: 4, valueHex: '' } : t));
    assert.deepEqual(noPadding(h.tlvs.map((t) => ({ type: t.type, valueHex: hex(t.value) }))), noPadding(e.tlvs), `${at}: tlvs`);
  }
  if (e.tlvsRawHex !== undefined) {
    const raw = h.tlvs.map((t) => Buffer.concat([Buffer.from([t.type, t.value.length >> 8, t.value.length & 255]), t.value]).toString('hex')).join('');
    assert.equal(raw, e.tlvsRawHex, `${at}: raw TLVs`);
  }
  const dec = e.decoded ?? {};
  const ssl = sslOf(h.tlvs);
  const checks: Record<string, () => unknown> = {
    authorityHex: () => tlvHex(h.tlvs, 0x02),
    uniqueIdHex: () => tlvHex(h.tlvs, 0x05),
    tlvE1Hex: () => tlvHex(h.tlvs, 0xe1),
    sslTlvHex: () => tlvHex(h.tlvs, 0x20),
    alpnHex: () => tlvHex(h.tlvs, 0x01),
    netnsHex: () => cString(Buffer.from(findTlv(h.tlvs, 0x30)!.value).toString('latin1')),
    crc32cValueHex: () => tlvHex(h.tlvs, 0x03),
    awsVpceId: () => awsVpcEndpointIdOf(h.tlvs),
    awsVpceIdHex: () => cString(awsVpcEndpointIdOf(h.tlvs)),
    azureLinkIdHex: () => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(azurePrivateEndpointLinkIdOf(h.tlvs)!);
      return b.toString('hex');
    },
    sslVersionHex: () => cString(ssl?.version),
    sslCnHex: () => hex(ssl?.cn === undefined ? undefined : Buffer.from(ssl.cn, 'utf8')),
    sslCipherHex: () => cString(ssl?.cipher),
    sslSigAlgHex: () => cString(ssl?.sigAlg),
    sslKeyAlgHex: () => cString(ssl?.keyAlg),
    sslGroupHex: () => cString(ssl?.group),
    sslSigSchemeHex: () => cString(ssl?.sigScheme),
    sslFlags: () => ({ ssl: +ssl!.clientSsl, certConn: +ssl!.clientCertConn, certSess: +ssl!.clientCertSess, verified: +ssl!.verified }),
    // Recorded by the source; the value itself is checked through crc32cValueHex and the parse.
    crc32cVerifiedBySource: () => true,
    note: () => dec['note'],
  };
  for (const [key, want] of Object.entries(dec)) {
    const got = checks[key];
    assert.ok(got, `${at}: no check for decoded.${key}`);
    assert.deepEqual(got(), want, `${at}: decoded.${key}`);
  }
  // LOCAL headers never vouch for a client (derived vector: "addresses must be ignored").
  if (h.command === 'LOCAL') assert.equal(clientEndpointOf(h), null, `${at}: LOCAL gives no client`);
}

/** The source's category for an error, when it used one of the normalised names. */
const CATEGORIES = new Set([
  'crc32c-mismatch',
  'not-proxy-protocol',
  'v1-bad-address',
  'v1-bad-line-ending',
  'v1-bad-port',
  'v1-malformed',
  'v1-too-long',
  'v2-bad-family',
  'v2-bad-length',
  'v2-bad-version-or-command',
]);

/** Free-text errors (libproxyprotocol messages, HAProxy's closed connection) → our code. */
const FREE_TEXT_ERRORS: ReadonlyArray<readonly [RegExp, readonly string[]]> = [
  [/invalid TLV vector's length/, ['tlv-malformed']],
  [/invalid PP2_TYPE_SSL/, ['tlv-malformed']],
  [/wrong transport protocol or address family/, ['v1-malformed']],
  // 108 bytes without CRLF, but the space after the destination port is already wrong: we name
  // the earliest byte that cannot start a valid line (docs: "the first bad byte").
  [/"\\r\\n" is missing/, ['v1-too-long', 'v1-malformed']],
  [/invalid (src|dst) port/, ['v1-bad-port']],
  [/^tlv-malformed/, ['tlv-malformed']],
];

/** Does our error agree with the source's? */
function sameError(v: Vector, code: string): boolean {
  const want = v.expect.error ?? '';
  if (code === want) return true;
  // Input cut short at EOF: every source names that differently; the reference classifier says incomplete.
  if (code === 'truncated') return v.atEof && v.referenceClassifier.error === 'incomplete';
  // go-proxyproto reports its MaxV2HeaderSize cap as ErrInvalidLength.
  if (code === 'header-too-large') return want === 'v2-bad-length';
  if (CATEGORIES.has(want)) return false;
  const mapped = FREE_TEXT_ERRORS.find(([re]) => re.test(want));
  return mapped !== undefined && mapped[1].includes(code);
}

/**
 * Deliberate divergences from the vector's source (docs/proxy-protocol.md, "Divergences"): the
 * outcome we produce instead, asserted as such.
 */
interface Divergence {
  readonly id: string;
  readonly names: readonly string[];
  readonly check: (v: Vector, o: Outcome) => void;
}

function rejects(code: string): (v: Vector, o: Outcome) => void {
  return (v, o) => assert.deepEqual(o, { ok: false, code }, `${v.name}: ours rejects with ${code}`);
}

const GO_UNVALIDATED_TLVS = [
  'go-proxyproto/TestInvalidV2TLV/One_byte_TLV',
  'go-proxyproto/TestInvalidV2TLV/Two_byte_TLV',
  'go-proxyproto/TestInvalidV2TLV/Empty_Len_TLV',
  'go-proxyproto/TestInvalidV2TLV/Partial_Len_TLV',
  'go-proxyproto/TestParseV2MaxHeaderSizeBoundary#0',
  'go-proxyproto/TestParseV2MaxHeaderSizeBoundary#2',
  'go-proxyproto/TestParseV2Valid/proxy_TCPv4_with_TLV',
  'go-proxyproto/TestParseV2Valid/proxy_TCPv6_with_TLV',
  'go-proxyproto/TestParseV2Valid/local_unspec_with_TLV',
  'go-proxyproto/TestParseV2Valid/proxy_unix_stream_with_TLV',
  'go-proxyproto/TestParseV2Valid/local_unix_stream_with_TLV',
  'go-proxyproto/TestParseV2Valid/proxy_TCPv4_with_medium_TLV',
  'go-proxyproto/TestParseV2Padded/proxy_unix_stream',
  'go-proxyproto/TestV2EqualsToTLV',
];

const DIVERGENCES: readonly Divergence[] = [
  {
    id: 'D1 TLV area validated at parse time',
    names: GO_UNVALIDATED_TLVS,
    check: rejects('tlv-malformed'),
  },
  {
    id: 'D2 CRC32C in network byte order',
    names: [
      'libproxyprotocol/v2 PROXY protocol header: PROXY, TCP over IPv4. TLVs: PP2_TYPE_CRC32C, PP2_TYPE_AWS(PP2_SUBTYPE_AWS_VPCE_ID)',
      'libproxyprotocol/v2 PROXY protocol header: create and parse - PROXY, TCP over IPv4. Aligned, padded. TLVs: PP2_TYPE_SSL, PP2_SUBTYPE_SSL_VERSION, PP2_SUBTYPE_SSL_CN, PP2_SUBTYPE_SSL_CIPHER,PP2_SUBTYPE_SSL_SIG_ALG, PP2_SUBTYPE_SSL_KEY_ALG, PP2_TYPE_AWS(PP2_SUBTYPE_AWS_VPCE_ID), PP2_TYPE_CRC32C',
      'libproxyprotocol/v2 PROXY protocol header: create and parse - PROXY, TCP over IPv4. TLVs: PP2_TYPE_SSL, PP2_SUBTYPE_SSL_VERSION, PP2_SUBTYPE_SSL_CN, PP2_SUBTYPE_SSL_CIPHER, PP2_SUBTYPE_SSL_SIG_ALG, PP2_SUBTYPE_SSL_KEY_ALG, PP2_SUBTYPE_SSL_GROUP, PP2_SUBTYPE_SSL_SIG_SCHEME, PP2_SUBTYPE_SSL_CLIENT_CERT',
      'libproxyprotocol/v2 PROXY protocol header: create and parse - PROXY, TCP over IPv4. TLVs: PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY, PP2_TYPE_UNIQUE_ID, PP2_TYPE_NETNS, PP2_TYPE_AZURE',
    ],
    check: (v, o) => {
      rejects('crc32c-mismatch')(v, o);
      // With the compatibility switch, the source's little-endian checksum passes and every field agrees.
      const compat = run(v, { acceptLittleEndianCrc32c: true });
      assert.equal(compat.ok, true, `${v.name}: accepted with acceptLittleEndianCrc32c`);
      if (compat.ok === true) checkHeader(v, compat.header);
    },
  },
  {
    id: 'D3 v1 UNKNOWN is command LOCAL',
    names: [
      'libproxyprotocol/v1 PROXY protocol header: UNKNOWN - short',
      'libproxyprotocol/v1 PROXY protocol header: UNKNOWN - full',
      'libproxyprotocol/v1 PROXY protocol header: create and parse - AF_UNSPEC',
    ],
    check: (v, o) => {
      assert.equal(o.ok, true, v.name);
      if (o.ok !== true) return;
      assert.equal(o.header.command, 'LOCAL');
      assert.equal(o.header.family, 'UNKNOWN');
      checkHeader({ ...v, expect: { ...v.expect, command: 'LOCAL' } }, o.header);
    },
  },
  {
    id: 'D4 LOCAL block too short for its family is discarded, whatever the family',
    names: ['go-proxyproto/TestParseV2MaxHeaderSizeBoundary#3'],
    check: (v, o) => {
      assert.equal(o.ok, true, v.name);
      if (o.ok !== true) return;
      assert.equal(o.header.command, 'LOCAL');
      assert.equal(o.header.family, 'UNSPEC');
      assert.equal(o.header.source, null);
      assert.equal(o.header.length, 116);
    },
  },
  {
    id: 'D5 the length cap applies as soon as the length high byte arrives',
    names: ['go-proxyproto/TestParseV2Invalid/TCPv4_but_invalid_length'],
    check: (v, o) => {
      // Length 0x99.. is above the 4096 cap whatever the next byte: refused now, not "need more".
      rejects('header-too-large')(v, o);
      assert.deepEqual(run(v, { maxV2Length: 0xffff }), { ok: false, code: 'truncated' }, `${v.name}: without the cap it is only cut short`);
    },
  },
];

/**
 * `ok: "policy"`: the spec lets the receiver choose. Ours: PROXY + AF_UNSPEC is refused (as
 * go-proxyproto, and the family matrix, do) unless `allowProxyUnspec`, which uses the real endpoints.
 */
function checkPolicy(v: Vector, o: Outcome): void {
  rejects('v2-bad-family')(v, o);
  const allowed = run(v, { allowProxyUnspec: true });
  assert.equal(allowed.ok, true, `${v.name}: accepted with allowProxyUnspec`);
  if (allowed.ok === true) {
    assert.equal(allowed.header.family, 'UNSPEC');
    assert.equal(clientEndpointOf(allowed.header), null, 'uses the real endpoints');
  }
}

/** Vector names with a #n suffix where a name repeats (TestParseV2MaxHeaderSizeBoundary has four). */
function uniqueNames(vectors: readonly Vector[]): string[] {
  const seen = new Map<string, number>();
  const count = new Map<string, number>();
  for (const v of vectors) count.set(v.name, (count.get(v.name) ?? 0) + 1);
  return vectors.map((v) => {
    if (count.get(v.name) === 1) return v.name;
    const n = seen.get(v.name) ?? 0;
    seen.set(v.name, n + 1);
    return `${v.name}#${n}`;
  });
}

test('vectors: every vector agrees with its source or is a listed divergence', () => {
  const names = uniqueNames(data.vectors);
  const byName = new Map<string, Divergence>();
  for (const d of DIVERGENCES) for (const n of d.names) byName.set(n, d);
  for (const n of byName.keys()) assert.ok(names.includes(n), `divergence names a vector that does not exist: ${n}`);
  let agree = 0;
  const diverged = new Map<string, number>();
  const bySource = new Map<string, [number, number]>();
  data.vectors.forEach((v, i) => {
    const name = names[i]!;
    const o = run(v);
    const d = byName.get(name);
    const source = name.split('/')[0]!;
    const tally = bySource.get(source) ?? [0, 0];
    tally[1]++;
    bySource.set(source, tally);
    if (d) {
      d.check(v, o);
      diverged.set(d.id, (diverged.get(d.id) ?? 0) + 1);
      return;
    }
    if (v.expect.ok === 'policy') {
      checkPolicy(v, o);
    } else if (v.expect.ok === true) {
      assert.equal(o.ok, true, `${name}: expected a header, got ${show(o)}`);
      if (o.ok === true) checkHeader(v, o.header);
    } else {
      assert.equal(o.ok, false, `${name}: expected ${v.expect.error}, got ${o.ok === true ? 'a header' : 'need more bytes'}`);
      if (o.ok === false) assert.ok(sameError(v, o.code), `${name}: expected ${v.expect.error}, got ${o.code}`);
    }
    agree++;
    tally[0]++;
  });
  const div = [...diverged].sort().map(([id, n]) => `${id}: ${n}`).join('; ');
  console.log(`PROXY protocol vectors: ${agree}/${data.vectors.length} agree with their source, ${data.vectors.length - agree} deliberate divergences (${div})`);
  console.log(`  by source: ${[...bySource].map(([s, [a, t]]) => `${s} ${a}/${t}`).join(', ')}`);
  assert.equal(agree + [...diverged.values()].reduce((a, b) => a + b, 0), data.vectors.length);
});

test('vectors: a stream fed one byte at a time gives the same outcome', () => {
  for (const v of data.vectors) {
    const whole = run(v);
    const bytes = Buffer.from(v.hex, 'hex');
    const decoder = new ProxyHeaderDecoder({
      ...(v.config?.v1AcceptIPv4InTCP6 ? { v1AcceptIPv4InTCP6: true } : {}),
      ...(typeof v.config?.maxV2HeaderSize === 'string' ? { maxV2Length: 0xffff } : {}),
    });
    let outcome: Outcome = { ok: 'incomplete' };
    try {
      for (let i = 0; i < bytes.length && outcome.ok === 'incomplete'; i++) {
        const step = decoder.feed(bytes.subarray(i, i + 1));
        if (step.status === 'complete') {
          outcome = { ok: true, header: step.header };
          // The bytes after the header are handed back, untouched.
          assert.deepEqual(Buffer.concat([step.rest, bytes.subarray(i + 1)]), bytes.subarray(step.header.length), v.name);
        }
      }
      if (outcome.ok === 'incomplete' && v.atEof) decoder.end();
    } catch (e) {
      assert.ok(e instanceof ProxyProtocolError);
      outcome = { ok: false, code: e.code };
    }
    if (whole.ok === true && outcome.ok === true) {
      assert.deepEqual(describeProxyHeader(outcome.header), describeProxyHeader(whole.header), v.name);
    } else {
      assert.deepEqual(outcome, whole, v.name);
    }
  }
});

test('familyByteMatrix: every family/transport byte under LOCAL and PROXY', () => {
  const m = data.familyByteMatrix;
  let agree = 0;
  for (const c of m.cases) {
    const bytes = Buffer.concat([
      Buffer.from('0d0a0d0a000d0a515549540a', 'hex'),
      Buffer.from([c.verCmd, c.fam, m.payloadLength >> 8, m.payloadLength & 255]),
      Buffer.alloc(m.payloadLength),
    ]);
    const o = run({ name: `fam 0x${c.fam.toString(16)}`, hex: bytes.toString('hex'), atEof: true, expect: { ok: c.ok }, referenceClassifier: { ok: c.ok } });
    if (c.ok) {
      assert.equal(o.ok, true, `verCmd 0x${c.verCmd.toString(16)} fam 0x${c.fam.toString(16)}`);
      if (o.ok === true) assert.equal(o.header.family, c.resultFamily);
    } else {
      assert.deepEqual(o, { ok: false, code: c.error }, `verCmd 0x${c.verCmd.toString(16)} fam 0x${c.fam.toString(16)}`);
    }
    agree++;
  }
  console.log(`PROXY protocol familyByteMatrix: ${agree}/${m.cases.length} agree`);
});

test('tlvLevelCases: Azure LinkID, GCP PSC connection id, SSL rejections', () => {
  let agree = 0;
  for (const c of data.tlvLevelCases) {
    const tlvs: ProxyTlv[] = (c.input.tlvs ?? []).map((t) => ({ type: t.Type, value: Buffer.from(t.Value, 'hex') }));
    if (c.name.startsWith('TestFindAzurePrivateEndpointLinkID')) {
      const got = azurePrivateEndpointLinkIdOf(tlvs);
      assert.equal(got !== undefined, c.input.wantFound, c.name);
      assert.equal(got ?? 0, c.input.wantLinkID, c.name);
    } else if (c.name.startsWith('TestExtractPSCConnectionID')) {
      const got = gcpPscConnectionIdOf(tlvs);
      assert.equal(got !== undefined, c.input.wantFound, c.name);
      // JSON numbers lose a uint64's low bits: compare as the source's test did (a float), and exactly against the TLV.
      assert.equal(Number(got ?? 0n), Number(c.input.wantPSCConnectionID), c.name);
      if (got !== undefined) assert.equal(got, BigInt(`0x${c.input.tlvs!.find((t) => t.Type === 0xe0 && t.Value.length === 16)!.Value}`), c.name);
    } else {
      const tlv = c.input.tlv!;
      const one: ProxyTlv[] = [{ type: tlv.Type, value: Buffer.from(tlv.Value, 'hex') }];
      if (tlv.Type !== 0x20) {
        // go's ErrIncompatibleTLV: not an SSL TLV at all.
        assert.equal(sslOf(one), undefined, c.name);
      } else {
        assert.throws(() => sslOf(one), (e: unknown) => e instanceof ProxyProtocolError && e.code === 'tlv-malformed', c.name);
      }
    }
    agree++;
  }
  console.log(`PROXY protocol tlvLevelCases: ${agree}/${data.tlvLevelCases.length} agree`);
});
