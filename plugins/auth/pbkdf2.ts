/**
 * PBKDF2 (RFC 8018) for the national-crypto profile: node:crypto's HMAC has no SM3 under Deno, so
 * the PRF is HMAC-SM3 from the crypto-sm plugin's SM3, keyed once per derivation (the pads are hashed
 * once, not per iteration). Generic over the PRF so the construction is checked against node:crypto's
 * PBKDF2-HMAC-SHA-256 in the tests.
 *
 * @module
 */
import { HmacSm3 } from "../crypto-sm/sm3.ts";

/** A PRF already keyed with the password: the MAC of `data`. */
export type Prf = (data: Uint8Array) => Uint8Array;

// SM3 in JavaScript is synchronous: give the event loop a turn every so many iterations.
const YIELD_EVERY = 1000;

/** HMAC-SM3 keyed with `key`, as a PRF. */
export function hmacSm3Prf(key: Uint8Array): Prf {
  const mac = new HmacSm3(key);
  return (data) => mac.update(data).digestInto(new Uint8Array(32), 0);
}

/** PBKDF2 with `prf` (keyed with the password): `keyLength` bytes derived from `salt`. */
export async function pbkdf2(
  prf: Prf,
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
    let u = prf(block);
    const t = u.slice();
    for (let n = 1; n < iterations; n++) {
      u = prf(u);
      for (let j = 0; j < t.length; j++) t[j] ^= u[j];
      if (++done % YIELD_EVERY === 0) await new Promise((r) => setTimeout(r, 0));
    }
    out.set(t.subarray(0, keyLength - at), at);
    at += t.length;
  }
  return out;
}
