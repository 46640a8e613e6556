/**
 * SM3 (GB/T 32905-2016) and HMAC-SM3 (RFC 2104 with SM3, 64-byte blocks) on typed arrays.
 *
 * The state is eight int32 words, the message schedule one shared `Int32Array(68)` (§5.3.2), and whole
 * blocks are compressed straight from the caller's bytes: a digest allocates only its 32-byte result.
 * {@linkcode HmacSm3} keeps the keyed inner and outer states (RFC 2104 §4: the pads hashed once per
 * key), so a MAC costs the message's blocks plus two. sm-crypto stays the independent reference in the
 * tests.
 *
 * @module
 */
import { toHex } from "./hex.ts";

/** §4.1: the initial value. */
const IV = new Int32Array([
  0x7380166f,
  0x4914b2b9,
  0x172442d7,
  0xda8a0600,
  0xa96f30bc,
  0x163138aa,
  0xe38dee4d,
  0xb0fb0e4e,
]);

const rotl = (x: number, n: number) => (x << n) | (x >>> (32 - n));

/** §4.2 T_j, rotated left by j mod 32 as the compression uses it. */
const TJ = new Int32Array(64);
for (let j = 0; j < 64; j++) TJ[j] = rotl(j < 16 ? 0x79cc4519 : 0x7a879d8a, j % 32);

/** W_0..W_67 of §5.3.2; W'_j = W_j ^ W_(j+4) is formed on the fly. Compression is synchronous. */
const W = new Int32Array(68);

/** §5.3.3: CF on the 64-byte block of `b` at `o`, folded into `v`. */
function compress(v: Int32Array, b: Uint8Array, o: number): void {
  for (let j = 0; j < 16; j++, o += 4) W[j] = (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
  for (let j = 16; j < 68; j++) {
    const x = W[j - 16] ^ W[j - 9] ^ rotl(W[j - 3], 15);
    // P1(x) = x ^ x<<<15 ^ x<<<23 (§4.4)
    W[j] = x ^ rotl(x, 15) ^ rotl(x, 23) ^ rotl(W[j - 13], 7) ^ W[j - 6];
  }
  let a = v[0], bb = v[1], c = v[2], d = v[3], e = v[4], f = v[5], g = v[6], h = v[7];
  // FF_j, GG_j (§4.3) are XOR for the first 16 rounds and majority / choice after: two loops, no branch.
  for (let j = 0; j < 16; j++) {
    const a12 = rotl(a, 12);
    const ss1 = rotl((a12 + e + TJ[j]) | 0, 7);
    const tt1 = ((a ^ bb ^ c) + d + (ss1 ^ a12) + (W[j] ^ W[j + 4])) | 0;
    const tt2 = ((e ^ f ^ g) + h + ss1 + W[j]) | 0;
    d = c;
    c = rotl(bb, 9);
    bb = a;
    a = tt1;
    h = g;
    g = rotl(f, 19);
    f = e;
    // P0(x) = x ^ x<<<9 ^ x<<<17 (§4.4)
    e = tt2 ^ rotl(tt2, 9) ^ rotl(tt2, 17);
  }
  for (let j = 16; j < 64; j++) {
    const a12 = rotl(a, 12);
    const ss1 = rotl((a12 + e + TJ[j]) | 0, 7);
    const tt1 = (((a & bb) | (a & c) | (bb & c)) + d + (ss1 ^ a12) + (W[j] ^ W[j + 4])) | 0;
    const tt2 = (((e & f) | (~e & g)) + h + ss1 + W[j]) | 0;
    d = c;
    c = rotl(bb, 9);
    bb = a;
    a = tt1;
    h = g;
    g = rotl(f, 19);
    f = e;
    e = tt2 ^ rotl(tt2, 9) ^ rotl(tt2, 17);
  }
  v[0] ^= a;
  v[1] ^= bb;
  v[2] ^= c;
  v[3] ^= d;
  v[4] ^= e;
  v[5] ^= f;
  v[6] ^= g;
  v[7] ^= h;
}

/**
 * An incremental SM3 hash: `update` any number of times, then `digestInto` (which resets it).
 *
 * @example
 * ```ts
 * const h = new Sm3();
 * h.update(header).update(body);
 * const digest = h.digestInto(new Uint8Array(32), 0);
 * ```
 */
export class Sm3 {
  readonly #v = new Int32Array(8);
  readonly #buf = new Uint8Array(64);
  #used = 0;
  #length = 0;
  readonly #start: Int32Array;
  readonly #startLength: number;

  /** A fresh hash, or one that resumes from `state` after `length` bytes (HMAC's keyed pads). */
  constructor(state: Int32Array = IV, length = 0) {
    this.#start = state;
    this.#startLength = length;
    this.reset();
  }

  /** Back to the start state. */
  reset(): this {
    this.#v.set(this.#start);
    this.#used = 0;
    this.#length = this.#startLength;
    return this;
  }

  /** Hashes more bytes. */
  update(data: Uint8Array): this {
    const n = data.byteLength;
    let i = 0;
    this.#length += n;
    if (this.#used > 0) {
      const take = Math.min(64 - this.#used, n);
      this.#buf.set(data.subarray(0, take), this.#used);
      this.#used += take;
      i = take;
      if (this.#used < 64) return this;
      compress(this.#v, this.#buf, 0);
      this.#used = 0;
    }
    for (; i + 64 <= n; i += 64) compress(this.#v, data, i);
    if (i < n) {
      this.#buf.set(data.subarray(i), 0);
      this.#used = n - i;
    }
    return this;
  }

  /** The eight state words after the bytes so far, when they are whole blocks (HMAC's pads). */
  state(): Int32Array {
    if (this.#used !== 0) throw new RangeError("SM3 state is only defined on a block boundary");
    return this.#v.slice();
  }

  /** Pads (§5.2), writes the 32-byte digest into `out` at `off`, and resets. */
  digestInto(out: Uint8Array, off: number): Uint8Array {
    const buf = this.#buf, bits = this.#length * 8;
    buf[this.#used++] = 0x80;
    if (this.#used > 56) {
      buf.fill(0, this.#used);
      compress(this.#v, buf, 0);
      this.#used = 0;
    }
    buf.fill(0, this.#used, 56);
    // The bit length as 64 bits big-endian; bodies stay far below 2^53 bits.
    const hi = Math.floor(bits / 0x100000000), lo = bits >>> 0;
    for (let k = 0; k < 4; k++) {
      buf[56 + k] = hi >>> (24 - 8 * k);
      buf[60 + k] = lo >>> (24 - 8 * k);
    }
    compress(this.#v, buf, 0);
    for (let k = 0; k < 8; k++) {
      const w = this.#v[k];
      out[off + 4 * k] = w >>> 24;
      out[off + 4 * k + 1] = w >>> 16;
      out[off + 4 * k + 2] = w >>> 8;
      out[off + 4 * k + 3] = w;
    }
    this.reset();
    return out;
  }
}

const shared = new Sm3();

/**
 * SM3 digest of `data` (32 bytes).
 *
 * @example
 * ```ts
 * sm3(new TextEncoder().encode("abc")); // 66 c7 f0 f4 ... 8f 4b a8 e0
 * ```
 */
export function sm3(data: Uint8Array): Uint8Array {
  return shared.update(data).digestInto(new Uint8Array(32), 0);
}

/**
 * SM3 digest of `data` as lowercase hex (the form the `x-sm3` header carries).
 *
 * @example
 * ```ts
 * sm3Hex(new TextEncoder().encode("abc")); // "66c7f0f4...8f4ba8e0"
 * ```
 */
export function sm3Hex(data: Uint8Array): string {
  return toHex(sm3(data));
}

/**
 * HMAC-SM3 under one key (RFC 2104, B = 64, L = 32), with the keyed pad states computed once. Feed the
 * message with `update` (several parts need no concatenation), then `digestInto`, which resets it.
 *
 * @example
 * ```ts
 * const h = new HmacSm3(key);
 * const mac = h.update(part1).update(part2).digestInto(new Uint8Array(32), 0);
 * ```
 */
export class HmacSm3 {
  readonly #inner: Sm3;
  readonly #outer: Sm3;
  readonly #mid = new Uint8Array(32);

  constructor(key: Uint8Array) {
    const k = new Uint8Array(64);
    k.set(key.byteLength > 64 ? sm3(key) : key);
    const pad = (x: number) => new Sm3().update(k.map((b) => b ^ x)).state();
    this.#inner = new Sm3(pad(0x36), 64);
    this.#outer = new Sm3(pad(0x5c), 64);
  }

  /** Authenticates more bytes. */
  update(data: Uint8Array): this {
    this.#inner.update(data);
    return this;
  }

  /** Writes the 32-byte MAC into `out` at `off`, and resets for the next message. */
  digestInto(out: Uint8Array, off: number): Uint8Array {
    this.#inner.digestInto(this.#mid, 0);
    return this.#outer.update(this.#mid).digestInto(out, off);
  }
}

/**
 * HMAC-SM3 of `data` under `key`, once (key derivation); a key used for many messages wants
 * {@linkcode HmacSm3}.
 *
 * @example
 * ```ts
 * const mac = hmacSm3(key, data); // 32 bytes
 * ```
 */
export function hmacSm3(key: Uint8Array, data: Uint8Array): Uint8Array {
  return new HmacSm3(key).update(data).digestInto(new Uint8Array(32), 0);
}
