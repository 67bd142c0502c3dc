/**
 * Reading a header from a stream: bytes arrive in any split (one segment with the payload, or
 * one byte at a time) and the decoder answers "need more", the header with the bytes after it,
 * or a ProxyProtocolError as soon as the bytes so far cannot start a header. It buffers at most
 * one header (107 bytes for v1, 16 + maxV2Length for v2); the first complete chunk is parsed in
 * place without copying.
 *
 * @module
 */
import { PP1_MAX_LENGTH, PP1_SIGNATURE, PP2_FIXED_LENGTH, PP2_SIGNATURE } from './constants.js';
import { ProxyProtocolError } from './errors.js';
import type { ProxyHeader } from './header.js';
import { type ProxyParseOptions, type ResolvedParseOptions, resolveParseOptions } from './options.js';
import { newTlvProgress, type TlvProgress } from './tlv.js';
import { scanV1 } from './v1.js';
import { holdsInput, scanV2 } from './v2.js';

/** What the decoder has after a chunk. `rest`: the stream's bytes after the header, untouched. */
export type ProxyDecodeStep =
  | { readonly status: 'incomplete' }
  | { readonly status: 'complete'; readonly header: ProxyHeader; readonly rest: Buffer }
  /** Only with `optional`: the stream does not start with a signature; `rest` is all of it. */
  | { readonly status: 'absent'; readonly rest: Buffer };

export interface ProxyDecoderOptions extends ProxyParseOptions {
  /**
   * Decide by the signature alone whether a header is there: a stream that does not start with
   * one is handed back as `absent`. Default false: it is an error (`not-proxy-protocol`). Use it
   * only for peers allowed to send a header: the signature is the only evidence.
   */
  readonly optional?: boolean;
}

/** Which signature bytes[0, n) start with: `incomplete` while they are a prefix of one. */
export function detectProxySignature(bytes: Uint8Array, n = bytes.length): 'v1' | 'v2' | 'none' | 'incomplete' {
  if (n === 0) return 'incomplete';
  const sig = bytes[0] === PP1_SIGNATURE[0] ? PP1_SIGNATURE : bytes[0] === PP2_SIGNATURE[0] ? PP2_SIGNATURE : undefined;
  if (sig === undefined) return 'none';
  const m = Math.min(n, sig.length);
  for (let i = 1; i < m; i++) if (bytes[i] !== sig[i]) return 'none';
  if (n < sig.length) return 'incomplete';
  return sig === PP1_SIGNATURE ? 'v1' : 'v2';
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

const INCOMPLETE: ProxyDecodeStep = { status: 'incomplete' };
const EMPTY = Buffer.alloc(0);

function truncated(n: number): ProxyProtocolError {
  return new ProxyProtocolError('truncated', `PROXY protocol: the input ended after ${n} bytes, before the header was complete`, { offset: n });
}

function reparseCopy(bytes: Uint8Array, length: number, o: ResolvedParseOptions): ProxyHeader {
  const r = scanV2(Buffer.from(bytes.subarray(0, length)), length, o);
  if (typeof r === 'number') throw new ProxyProtocolError('truncated', 'PROXY v2: the header changed while it was copied');
  return r;
}

/** One header at the start of one stream. */
export class ProxyHeaderDecoder {
  readonly #o: ResolvedParseOptions;
  readonly #optional: boolean;
  #kind: 'v1' | 'v2' | undefined;
  #buf: Buffer = EMPTY;
  #filled = 0;
  /** v2: the header's total length once the fixed part is in (-1 before). */
  #total = -1;
  #progress: TlvProgress = newTlvProgress(-1);
  #finished = false;

  constructor(options: ProxyDecoderOptions = {}) {
    this.#o = resolveParseOptions(options);
    this.#optional = options.optional ?? false;
  }

  /** Bytes held while waiting for the rest of the header. */
  get buffered(): number {
    return this.#filled;
  }

  /** Give the next bytes of the stream. Throws ProxyProtocolError; after a result or an error the decoder is finished. */
  feed(chunk: Uint8Array): ProxyDecodeStep {
    if (this.#finished) throw new ProxyProtocolError('invalid-argument', 'ProxyHeaderDecoder: fed after it finished');
    try {
      return this.#feed(chunk);
    } catch (e) {
      this.#finish();
      throw e;
    }
  }

  /** The stream ended: an unfinished header is `truncated` (with `optional`, a partial signature is no header). */
  end(): ProxyDecodeStep {
    if (this.#finished) throw new ProxyProtocolError('invalid-argument', 'ProxyHeaderDecoder: ended after it finished');
    const n = this.#filled;
    const rest = Buffer.from(this.#buf.subarray(0, n));
    this.#finish();
    if (this.#optional && this.#kind === undefined) return { status: 'absent', rest };
    throw truncated(n);
  }

  #finish(): void {
    this.#finished = true;
    this.#buf = EMPTY;
    this.#filled = 0;
  }

  #feed(chunk: Uint8Array): ProxyDecodeStep {
    if (chunk.length === 0) return INCOMPLETE;
    if (this.#filled === 0) {
      // The common case: the whole header is in the first chunk; parse it where it lies.
      const r = this.#scan(chunk, chunk.length, newTlvProgress(-1));
      if (r !== INCOMPLETE) return r;
      this.#buf = Buffer.allocUnsafe(this.#capacity());
      this.#progress = newTlvProgress(-1);
    }
    let off = 0;
    for (;;) {
      const cap = this.#capacity();
      if (cap > this.#buf.length) {
        // The v2 length is known now: make room for the whole header (the TLV walk restarts on the new buffer).
        const grown = Buffer.allocUnsafe(cap);
        this.#buf.copy(grown, 0, 0, this.#filled);
        this.#buf = grown;
        this.#progress = newTlvProgress(-1);
      }
      const take = Math.min(cap - this.#filled, chunk.length - off);
      this.#buf.set(chunk.subarray(off, off + take), this.#filled);
      this.#filled += take;
      off += take;
      const r = this.#scan(this.#buf, this.#filled, this.#progress);
      if (r !== INCOMPLETE) return this.#settle(r, chunk.subarray(off));
      if (off === chunk.length) return INCOMPLETE;
    }
  }

  /** How many bytes the header can take at most, as far as known now. */
  #capacity(): number {
    if (this.#kind === 'v2') return this.#total >= 0 ? this.#total : PP2_FIXED_LENGTH;
    return Math.max(PP1_MAX_LENGTH, PP2_FIXED_LENGTH);
  }

  /** A result found in the internal buffer: copy what follows the header out with the chunk's tail. */
  #settle(r: ProxyDecodeStep, tail: Uint8Array): ProxyDecodeStep {
    const start = r.status === 'complete' ? r.header.length : 0;
    const held = this.#buf.subarray(start, this.#filled);
    const rest = held.length === 0 ? asBuffer(tail) : tail.length === 0 ? Buffer.from(held) : Buffer.concat([held, tail]);
    // The header's TLV values are views into the buffer, which now belongs to them.
    this.#finished = true;
    this.#filled = 0;
    this.#buf = EMPTY;
    return r.status === 'complete' ? { status: 'complete', header: r.header, rest } : { status: 'absent', rest };
  }

  #scan(bytes: Uint8Array, n: number, progress: TlvProgress): ProxyDecodeStep {
    if (this.#kind === undefined) {
      const sig = detectProxySignature(bytes, n);
      if (sig === 'incomplete') return INCOMPLETE;
      if (sig === 'none') {
        if (this.#optional) {
          this.#finished = true;
          return { status: 'absent', rest: asBuffer(bytes.subarray(0, n)) };
        }
        // Let the scanner of the nearer signature name the first wrong byte.
        if (bytes[0] === PP1_SIGNATURE[0]) scanV1(bytes, n, this.#o);
        else scanV2(bytes, n, this.#o);
        throw new ProxyProtocolError('not-proxy-protocol', 'PROXY protocol: no signature', { offset: 0 });
      }
      this.#kind = sig;
    }
    if (this.#kind === 'v1') {
      const header = scanV1(bytes, n, this.#o);
      if (header === null) return INCOMPLETE;
      this.#finished = true;
      return { status: 'complete', header, rest: asBuffer(bytes.subarray(header.length, n)) };
    }
    const r = scanV2(bytes, n, this.#o, progress);
    if (typeof r === 'number') {
      this.#total = r;
      return INCOMPLETE;
    }
    this.#finished = true;
    // TLV values are views into the input: parse a copy of the header rather than keep a large read buffer alive.
    const header = r.length < n && holdsInput(r) ? reparseCopy(bytes, r.length, this.#o) : r;
    return { status: 'complete', header, rest: asBuffer(bytes.subarray(r.length, n)) };
  }
}

/**
 * Parse a header at the start of `bytes`, taken as the whole input: a header that is not complete
 * is `truncated`. The payload starts at `header.length`. Throws ProxyProtocolError.
 */
export function parseProxyHeader(bytes: Uint8Array, options?: ProxyParseOptions): ProxyHeader {
  const o = resolveParseOptions(options);
  const n = bytes.length;
  const r = n > 0 && bytes[0] === PP1_SIGNATURE[0] ? scanV1(bytes, n, o) : scanV2(bytes, n, o);
  if (r === null || typeof r === 'number') throw truncated(n);
  return r;
}
