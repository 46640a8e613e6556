/**
 * The SM4 block cipher (GB/T 32907-2016) and its CBC mode with PKCS#7 padding, on typed arrays.
 *
 * Each round is one lookup per byte in four 256-entry tables that fold the S-box (§6.2 τ) and the
 * linear transform L (§6.2) together, T-table style: T(x) = L(τ(x)). The round keys (§7.3) are
 * expanded once per key by {@linkcode sm4Schedule}, so sealing a body only walks its blocks: no
 * per-block arrays, no number arrays, no hex. sm-crypto stays the independent reference in the tests.
 *
 * @module
 */

/** GB/T 32907-2016 §6.2, Table 1: the S-box. */
const SBOX = new Uint8Array([
  0xd6,
  0x90,
  0xe9,
  0xfe,
  0xcc,
  0xe1,
  0x3d,
  0xb7,
  0x16,
  0xb6,
  0x14,
  0xc2,
  0x28,
  0xfb,
  0x2c,
  0x05,
  0x2b,
  0x67,
  0x9a,
  0x76,
  0x2a,
  0xbe,
  0x04,
  0xc3,
  0xaa,
  0x44,
  0x13,
  0x26,
  0x49,
  0x86,
  0x06,
  0x99,
  0x9c,
  0x42,
  0x50,
  0xf4,
  0x91,
  0xef,
  0x98,
  0x7a,
  0x33,
  0x54,
  0x0b,
  0x43,
  0xed,
  0xcf,
  0xac,
  0x62,
  0xe4,
  0xb3,
  0x1c,
  0xa9,
  0xc9,
  0x08,
  0xe8,
  0x95,
  0x80,
  0xdf,
  0x94,
  0xfa,
  0x75,
  0x8f,
  0x3f,
  0xa6,
  0x47,
  0x07,
  0xa7,
  0xfc,
  0xf3,
  0x73,
  0x17,
  0xba,
  0x83,
  0x59,
  0x3c,
  0x19,
  0xe6,
  0x85,
  0x4f,
  0xa8,
  0x68,
  0x6b,
  0x81,
  0xb2,
  0x71,
  0x64,
  0xda,
  0x8b,
  0xf8,
  0xeb,
  0x0f,
  0x4b,
  0x70,
  0x56,
  0x9d,
  0x35,
  0x1e,
  0x24,
  0x0e,
  0x5e,
  0x63,
  0x58,
  0xd1,
  0xa2,
  0x25,
  0x22,
  0x7c,
  0x3b,
  0x01,
  0x21,
  0x78,
  0x87,
  0xd4,
  0x00,
  0x46,
  0x57,
  0x9f,
  0xd3,
  0x27,
  0x52,
  0x4c,
  0x36,
  0x02,
  0xe7,
  0xa0,
  0xc4,
  0xc8,
  0x9e,
  0xea,
  0xbf,
  0x8a,
  0xd2,
  0x40,
  0xc7,
  0x38,
  0xb5,
  0xa3,
  0xf7,
  0xf2,
  0xce,
  0xf9,
  0x61,
  0x15,
  0xa1,
  0xe0,
  0xae,
  0x5d,
  0xa4,
  0x9b,
  0x34,
  0x1a,
  0x55,
  0xad,
  0x93,
  0x32,
  0x30,
  0xf5,
  0x8c,
  0xb1,
  0xe3,
  0x1d,
  0xf6,
  0xe2,
  0x2e,
  0x82,
  0x66,
  0xca,
  0x60,
  0xc0,
  0x29,
  0x23,
  0xab,
  0x0d,
  0x53,
  0x4e,
  0x6f,
  0xd5,
  0xdb,
  0x37,
  0x45,
  0xde,
  0xfd,
  0x8e,
  0x2f,
  0x03,
  0xff,
  0x6a,
  0x72,
  0x6d,
  0x6c,
  0x5b,
  0x51,
  0x8d,
  0x1b,
  0xaf,
  0x92,
  0xbb,
  0xdd,
  0xbc,
  0x7f,
  0x11,
  0xd9,
  0x5c,
  0x41,
  0x1f,
  0x10,
  0x5a,
  0xd8,
  0x0a,
  0xc1,
  0x31,
  0x88,
  0xa5,
  0xcd,
  0x7b,
  0xbd,
  0x2d,
  0x74,
  0xd0,
  0x12,
  0xb8,
  0xe5,
  0xb4,
  0xb0,
  0x89,
  0x69,
  0x97,
  0x4a,
  0x0c,
  0x96,
  0x77,
  0x7e,
  0x65,
  0xb9,
  0xf1,
  0x09,
  0xc5,
  0x6e,
  0xc6,
  0x84,
  0x18,
  0xf0,
  0x7d,
  0xec,
  0x3a,
  0xdc,
  0x4d,
  0x20,
  0x79,
  0xee,
  0x5f,
  0x3e,
  0xd7,
  0xcb,
  0x39,
  0x48,
]);

/** §7.3: the system parameter FK. */
const FK = [0xa3b1bac6, 0x56aa3350, 0x677d9197, 0xb27022dc];

const rotl = (x: number, n: number) => (x << n) | (x >>> (32 - n));

/** τ (§6.2): the S-box on each byte of a word. */
function tau(x: number): number {
  return (SBOX[x >>> 24] << 24) | (SBOX[(x >>> 16) & 255] << 16) | (SBOX[(x >>> 8) & 255] << 8) |
    SBOX[x & 255];
}

// T(x) = L(τ(x)) with L(B) = B ^ B<<<2 ^ B<<<10 ^ B<<<18 ^ B<<<24 (§6.2). L is linear and commutes with
// rotation, so the table for byte k of x is the table for the top byte rotated right by 8k.
const T0 = new Int32Array(256), T1 = new Int32Array(256), T2 = new Int32Array(256), T3 = new Int32Array(256);
for (let a = 0; a < 256; a++) {
  const b = SBOX[a] << 24;
  const l = b ^ rotl(b, 2) ^ rotl(b, 10) ^ rotl(b, 18) ^ rotl(b, 24);
  T0[a] = l;
  T1[a] = rotl(l, 24);
  T2[a] = rotl(l, 16);
  T3[a] = rotl(l, 8);
}

const t = (x: number) => T0[x >>> 24] ^ T1[(x >>> 16) & 255] ^ T2[(x >>> 8) & 255] ^ T3[x & 255];

/** The round keys of one SM4 key: `enc` in order, `dec` reversed (§7.2: decryption runs them backwards). */
export interface Sm4Schedule {
  readonly enc: Int32Array;
  readonly dec: Int32Array;
}

/**
 * Expands a 16-byte key into its 32 round keys (GB/T 32907-2016 §7.3).
 *
 * @example
 * ```ts
 * const rk = sm4Schedule(crypto.getRandomValues(new Uint8Array(16)));
 * ```
 */
export function sm4Schedule(key: Uint8Array): Sm4Schedule {
  if (key.byteLength !== 16) throw new TypeError(`Cannot use an SM4 key of ${key.byteLength} bytes: need 16`);
  const k = [0, 1, 2, 3].map((i) => readWord(key, i * 4) ^ FK[i]);
  const enc = new Int32Array(32);
  for (let i = 0; i < 32; i++) {
    // CK (§7.3): byte j of CK_i is (4i + j) * 7 mod 256.
    const ck = ((((4 * i) * 7) & 255) << 24) | ((((4 * i + 1) * 7) & 255) << 16) |
      ((((4 * i + 2) * 7) & 255) << 8) | (((4 * i + 3) * 7) & 255);
    // T' = L'(τ(x)), L'(B) = B ^ B<<<13 ^ B<<<23.
    const b = tau(k[i + 1] ^ k[i + 2] ^ k[i + 3] ^ ck);
    k.push(k[i] ^ b ^ rotl(b, 13) ^ rotl(b, 23));
    enc[i] = k[i + 4];
  }
  return { enc, dec: enc.slice().reverse() };
}

function readWord(b: Uint8Array, o: number): number {
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
}

function writeWord(b: Uint8Array, o: number, w: number): void {
  b[o] = w >>> 24;
  b[o + 1] = w >>> 16;
  b[o + 2] = w >>> 8;
  b[o + 3] = w;
}

/** One block's output words; the calls that fill it are synchronous, so one scratch serves all. */
const OUT = new Int32Array(4);

/** The 32 rounds (§7.1) on one block X0..X3, with the reverse transform R; result in OUT. */
function crypt(rk: Int32Array, x0: number, x1: number, x2: number, x3: number): void {
  for (let r = 0; r < 32; r += 4) {
    x0 ^= t(x1 ^ x2 ^ x3 ^ rk[r]);
    x1 ^= t(x2 ^ x3 ^ x0 ^ rk[r + 1]);
    x2 ^= t(x3 ^ x0 ^ x1 ^ rk[r + 2]);
    x3 ^= t(x0 ^ x1 ^ x2 ^ rk[r + 3]);
  }
  OUT[0] = x3;
  OUT[1] = x2;
  OUT[2] = x1;
  OUT[3] = x0;
}

/**
 * One block: 16 bytes of `src` at `srcOff` through the round keys `rk` (`enc` or `dec` of a schedule),
 * into `dst` at `dstOff`. `src` and `dst` may be the same bytes.
 *
 * @example
 * ```ts
 * const rk = sm4Schedule(key);
 * sm4Block(rk.enc, block, 0, block, 0); // encrypts in place
 * ```
 */
export function sm4Block(
  rk: Int32Array,
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
): void {
  crypt(
    rk,
    readWord(src, srcOff),
    readWord(src, srcOff + 4),
    readWord(src, srcOff + 8),
    readWord(src, srcOff + 12),
  );
  for (let i = 0; i < 4; i++) writeWord(dst, dstOff + i * 4, OUT[i]);
}

/** Length of the CBC ciphertext of `n` plain bytes: PKCS#7 always adds 1 to 16 bytes. */
export function cbcLength(n: number): number {
  return (n & ~15) + 16;
}

const LAST = new Uint8Array(16);

/**
 * SM4-CBC encryption with PKCS#7 padding (GB/T 17964 CBC; RFC 5652 §6.3 padding) of `plain` into
 * `out`, which must be {@linkcode cbcLength} bytes and must not overlap `plain`.
 *
 * @example
 * ```ts
 * const out = new Uint8Array(cbcLength(plain.byteLength));
 * sm4CbcEncrypt(rk, iv, plain, out);
 * ```
 */
export function sm4CbcEncrypt(rk: Sm4Schedule, iv: Uint8Array, plain: Uint8Array, out: Uint8Array): void {
  const n = plain.byteLength, full = n & ~15, enc = rk.enc;
  if (out.byteLength !== full + 16) throw new RangeError(`SM4-CBC output must be ${full + 16} bytes`);
  let c0 = readWord(iv, 0), c1 = readWord(iv, 4), c2 = readWord(iv, 8), c3 = readWord(iv, 12);
  for (let o = 0; o <= full; o += 16) {
    let src = plain, s = o;
    if (o === full) {
      // The last block: the tail of the body, then pad bytes each holding the pad's length.
      const pad = 16 - (n - full);
      LAST.fill(pad);
      LAST.set(plain.subarray(full));
      src = LAST;
      s = 0;
    }
    crypt(
      enc,
      readWord(src, s) ^ c0,
      readWord(src, s + 4) ^ c1,
      readWord(src, s + 8) ^ c2,
      readWord(src, s + 12) ^ c3,
    );
    c0 = OUT[0];
    c1 = OUT[1];
    c2 = OUT[2];
    c3 = OUT[3];
    writeWord(out, o, c0);
    writeWord(out, o + 4, c1);
    writeWord(out, o + 8, c2);
    writeWord(out, o + 12, c3);
  }
}

/**
 * SM4-CBC decryption of `ct` (a non-empty multiple of 16 bytes) into `out` (as long as `ct`; it may be
 * `ct` itself). Returns the plain length after removing PKCS#7 padding, or -1 when the padding is wrong.
 *
 * @example
 * ```ts
 * const out = new Uint8Array(ct.byteLength);
 * const n = sm4CbcDecrypt(rk, iv, ct, out); // plain text is out.subarray(0, n)
 * ```
 */
export function sm4CbcDecrypt(rk: Sm4Schedule, iv: Uint8Array, ct: Uint8Array, out: Uint8Array): number {
  const n = ct.byteLength, dec = rk.dec;
  if (n === 0 || n % 16 !== 0 || out.byteLength !== n) {
    throw new RangeError(`SM4-CBC input of ${n} bytes is not whole blocks, or the output is not as long`);
  }
  let p0 = readWord(iv, 0), p1 = readWord(iv, 4), p2 = readWord(iv, 8), p3 = readWord(iv, 12);
  for (let o = 0; o < n; o += 16) {
    const c0 = readWord(ct, o), c1 = readWord(ct, o + 4), c2 = readWord(ct, o + 8), c3 = readWord(ct, o + 12);
    crypt(dec, c0, c1, c2, c3);
    writeWord(out, o, OUT[0] ^ p0);
    writeWord(out, o + 4, OUT[1] ^ p1);
    writeWord(out, o + 8, OUT[2] ^ p2);
    writeWord(out, o + 12, OUT[3] ^ p3);
    p0 = c0;
    p1 = c1;
    p2 = c2;
    p3 = c3;
  }
  const pad = out[n - 1];
  if (pad < 1 || pad > 16) return -1;
  for (let i = n - pad; i < n; i++) if (out[i] !== pad) return -1;
  return n - pad;
}
