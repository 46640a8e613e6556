/**
 * PBKDF2 (RFC 8018) over HMAC (RFC 2104) for the national-crypto profile: sm-crypto has SM3
 * (GB/T 32905) but no PBKDF2, and node:crypto has no SM3 digest. Generic over the hash so the
 * construction is checked against node:crypto's PBKDF2-SHA-256 in the tests.
 *
 * @module
 */
import smCrypto from "sm-crypto";

/** A hash function with a 64-byte block (SHA-256, SM3). */
export type Hash = (data: Uint8Array) => Uint8Array;

const BLOCK = 64;
// SM3 in JavaScript is synchronous: give the event loop a turn every so many iterations.
const YIELD_EVERY = 1000;

/** Bytes of a hex string. */
export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** SM3 digest (32 bytes). */
export const sm3: Hash = (data) => fromHex(smCrypto.sm3(Array.from(data)));

/** HMAC of `data` under `key` with `hash`. */
export function hmac(hash: Hash, key: Uint8Array, data: Uint8Array): Uint8Array {
  const k = new Uint8Array(BLOCK);
  k.set(key.length > BLOCK ? hash(key) : key);
  const inner = new Uint8Array(BLOCK + data.length);
  for (let i = 0; i < BLOCK; i++) inner[i] = k[i] ^ 0x36;
  inner.set(data, BLOCK);
  const ih = hash(inner);
  const outer = new Uint8Array(BLOCK + ih.length);
  for (let i = 0; i < BLOCK; i++) outer[i] = k[i] ^ 0x5c;
  outer.set(ih, BLOCK);
  return hash(outer);
}

/** PBKDF2 with HMAC-`hash`: `keyLength` bytes derived from `password` and `salt`. */
export async function pbkdf2(
  hash: Hash,
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
  keyLength: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(keyLength);
  const block = new Uint8Array(salt.length + 4);
  block.set(salt);
  let done = 0;
  for (let i = 1, at = 0; at < keyLength; i++) {
    new DataView(block.buffer).setUint32(salt.length, i);
    let u = hmac(hash, password, block);
    const t = u.slice();
    for (let n = 1; n < iterations; n++) {
      u = hmac(hash, password, u);
      for (let j = 0; j < t.length; j++) t[j] ^= u[j];
      if (++done % YIELD_EVERY === 0) await new Promise((r) => setTimeout(r, 0));
    }
    out.set(t.subarray(0, keyLength - at), at);
    at += t.length;
  }
  return out;
}
