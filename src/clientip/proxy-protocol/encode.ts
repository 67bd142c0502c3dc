/**
 * Writing headers: v1 lines and v2 blocks with TLVs and an optional CRC32C. What the encoder
 * writes always parses back (it checks its output with the strict parser), so a sender built on
 * it never emits a header a strict receiver would refuse.
 *
 * @module
 */
import { formatIP, type IPAddress, ipv6, tryParseIP } from '../../net/index.js';
import {
  PP2_ADDR_LEN_INET,
  PP2_ADDR_LEN_INET6,
  PP2_ADDR_LEN_UNIX,
  PP2_FIXED_LENGTH,
  PP2_SIGNATURE,
  PP2_TYPE_CRC32C,
  PP2_UNIX_PATH_LEN,
} from './constants.js';
import { headerCrc32c } from './crc32c.js';
import { ProxyProtocolError } from './errors.js';
import type { ProxyCommand, ProxyFamily, ProxyTlv } from './header.js';
import { scanV1 } from './v1.js';
import { scanV2 } from './v2.js';

/** An endpoint to write: an address (IPAddress or text) and port, or a UNIX path. */
export type ProxyEndpointInit = { readonly ip: IPAddress | string; readonly port: number } | { readonly path: string };

/** What to write. A parsed ProxyHeader is one (and re-encodes to the same bytes when canonical). */
export interface ProxyHeaderInit {
  /** Default 2. */
  readonly version?: 1 | 2;
  /** Default `PROXY`. */
  readonly command?: ProxyCommand;
  /** Default: from the endpoints (TCP4 when both are IPv4, TCP6 when one is IPv6, UNIX_STREAM for paths, else UNSPEC). */
  readonly family?: ProxyFamily;
  readonly source?: ProxyEndpointInit | null;
  readonly destination?: ProxyEndpointInit | null;
  /** v2 only: written in order. */
  readonly tlvs?: readonly ProxyTlv[];
  /** v2 only: append a PP2_TYPE_CRC32C TLV holding the header's checksum. */
  readonly crc32c?: boolean;
}

const FAMILY_BYTES: Readonly<Record<ProxyFamily, number>> = {
  UNSPEC: 0x00,
  UNKNOWN: -1,
  TCP4: 0x11,
  UDP4: 0x12,
  TCP6: 0x21,
  UDP6: 0x22,
  UNIX_STREAM: 0x31,
  UNIX_DGRAM: 0x32,
};

const STRICTEST_RECEIVER = { maxV2Length: 0xffff, allowProxyUnspec: true, v1AcceptIPv4InTCP6: false, acceptLittleEndianCrc32c: false };

function invalid(message: string, cause?: unknown): ProxyProtocolError {
  return new ProxyProtocolError('invalid-argument', `encodeProxyHeader: ${message}`, { cause });
}

/** Write a header; throws ProxyProtocolError `invalid-argument` for input that makes no valid header. */
export function encodeProxyHeader(init: ProxyHeaderInit): Buffer {
  const out = (init.version ?? 2) === 1 ? encodeV1(init) : encodeV2(init);
  try {
    const r = out[0] === 0x50 ? scanV1(out, out.length, STRICTEST_RECEIVER) : scanV2(out, out.length, STRICTEST_RECEIVER);
    if (r === null || typeof r === 'number') throw invalid('incomplete output');
  } catch (e) {
    throw e instanceof ProxyProtocolError && e.code === 'invalid-argument' ? e : invalid((e as Error).message, e);
  }
  return out;
}

interface Inet {
  ip: IPAddress;
  port: number;
}

function inet(e: ProxyEndpointInit | null | undefined, which: string): Inet | undefined {
  if (e === null || e === undefined) return undefined;
  if (!('ip' in e)) throw invalid(`the ${which} is a UNIX path where an address is needed`);
  const ip = typeof e.ip === 'string' ? tryParseIP(e.ip) : e.ip;
  if (ip === undefined) throw invalid(`the ${which} address ${JSON.stringify(e.ip)} is not an IP address`);
  if (!Number.isInteger(e.port) || e.port < 0 || e.port > 0xffff) throw invalid(`the ${which} port ${e.port} is not 0-65535`);
  return { ip, port: e.port };
}

function toV6(ip: IPAddress): bigint {
  return ip.family === 6 ? ip.value : 0xffff00000000n | BigInt(ip.value);
}

function inferFamily(init: ProxyHeaderInit): ProxyFamily {
  if (init.family !== undefined) return init.family;
  const s = init.source;
  const d = init.destination;
  if (!s || !d) return 'UNSPEC';
  if ('path' in s || 'path' in d) return 'UNIX_STREAM';
  const is4 = (e: { ip: IPAddress | string }): boolean => (typeof e.ip === 'string' ? tryParseIP(e.ip)?.family : e.ip.family) === 4;
  return is4(s) && is4(d) ? 'TCP4' : 'TCP6';
}

function encodeV1(init: ProxyHeaderInit): Buffer {
  if ((init.tlvs?.length ?? 0) > 0 || init.crc32c) throw invalid('v1 has no TLVs');
  const family = init.command === 'LOCAL' ? 'UNKNOWN' : inferFamily(init);
  if (family === 'UNKNOWN' || family === 'UNSPEC') return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  if (family !== 'TCP4' && family !== 'TCP6') throw invalid(`v1 carries TCP4, TCP6 or UNKNOWN, not ${family}`);
  const s = inet(init.source, 'source');
  const d = inet(init.destination, 'destination');
  if (!s || !d) throw invalid(`${family} needs a source and a destination`);
  const text = (ip: IPAddress): string => {
    if (family === 'TCP4') {
      if (ip.family !== 4) throw invalid(`TCP4 with the IPv6 address ${formatIP(ip)}`);
      return formatIP(ip);
    }
    return formatIP(ipv6(toV6(ip)));
  };
  return Buffer.from(`PROXY ${family} ${text(s.ip)} ${text(d.ip)} ${s.port} ${d.port}\r\n`, 'latin1');
}

function encodeV2(init: ProxyHeaderInit): Buffer {
  const command = init.command ?? 'PROXY';
  const family = inferFamily(init);
  const famByte = FAMILY_BYTES[family];
  if (famByte < 0) throw invalid(`v2 has no family ${family}`);
  const addrLen = famByte === 0 ? 0 : famByte >> 4 === 1 ? PP2_ADDR_LEN_INET : famByte >> 4 === 2 ? PP2_ADDR_LEN_INET6 : PP2_ADDR_LEN_UNIX;
  const tlvs = init.tlvs ?? [];
  let length = addrLen + (init.crc32c ? 7 : 0);
  for (const t of tlvs) {
    if (!Number.isInteger(t.type) || t.type < 0 || t.type > 0xff) throw invalid(`TLV type ${t.type} is not a byte`);
    if (t.value.length > 0xffff) throw invalid(`TLV 0x${t.type.toString(16)} value of ${t.value.length} bytes`);
    length += 3 + t.value.length;
  }
  if (length > 0xffff) throw invalid(`header of ${PP2_FIXED_LENGTH + length} bytes is above the v2 maximum`);
  const out = Buffer.alloc(PP2_FIXED_LENGTH + length);
  out.set(PP2_SIGNATURE, 0);
  out[12] = 0x20 | (command === 'PROXY' ? 1 : 0);
  out[13] = famByte;
  out.writeUInt16BE(length, 14);
  writeAddresses(out, init, family, addrLen, command);
  let at = PP2_FIXED_LENGTH + addrLen;
  for (const t of tlvs) {
    out[at] = t.type;
    out.writeUInt16BE(t.value.length, at + 1);
    out.set(t.value, at + 3);
    at += 3 + t.value.length;
  }
  if (init.crc32c) {
    out[at] = PP2_TYPE_CRC32C;
    out.writeUInt16BE(4, at + 1);
    out.writeUInt32BE(headerCrc32c(out, at + 3, out.length), at + 3);
  }
  return out;
}

function writeAddresses(out: Buffer, init: ProxyHeaderInit, family: ProxyFamily, addrLen: number, command: ProxyCommand): void {
  if (addrLen === 0) return;
  const at = PP2_FIXED_LENGTH;
  if (addrLen === PP2_ADDR_LEN_UNIX) {
    const path = (e: ProxyEndpointInit | null | undefined, which: string, offset: number): void => {
      if (e === null || e === undefined) {
        if (command === 'PROXY') throw invalid(`${family} needs a ${which} path`);
        return;
      }
      if (!('path' in e)) throw invalid(`the ${which} of ${family} must be a path`);
      const bytes = Buffer.from(e.path, 'utf8');
      if (bytes.length > PP2_UNIX_PATH_LEN || bytes.includes(0)) throw invalid(`the ${which} path must be at most ${PP2_UNIX_PATH_LEN} bytes without NUL`);
      out.set(bytes, offset);
    };
    path(init.source, 'source', at);
    path(init.destination, 'destination', at + PP2_UNIX_PATH_LEN);
    return;
  }
  const s = inet(init.source, 'source');
  const d = inet(init.destination, 'destination');
  if (!s || !d) {
    // LOCAL may leave the block zero: the receiver ignores it.
    if (command === 'PROXY' || s || d) throw invalid(`${family} needs a source and a destination`);
    return;
  }
  if (addrLen === PP2_ADDR_LEN_INET) {
    if (s.ip.family !== 4 || d.ip.family !== 4) throw invalid(`${family} needs IPv4 addresses`);
    out.writeUInt32BE(s.ip.value, at);
    out.writeUInt32BE(d.ip.value, at + 4);
    out.writeUInt16BE(s.port, at + 8);
    out.writeUInt16BE(d.port, at + 10);
    return;
  }
  out.writeBigUInt64BE(toV6(s.ip) >> 64n, at);
  out.writeBigUInt64BE(toV6(s.ip) & 0xffffffffffffffffn, at + 8);
  out.writeBigUInt64BE(toV6(d.ip) >> 64n, at + 16);
  out.writeBigUInt64BE(toV6(d.ip) & 0xffffffffffffffffn, at + 24);
  out.writeUInt16BE(s.port, at + 32);
  out.writeUInt16BE(d.port, at + 34);
}
