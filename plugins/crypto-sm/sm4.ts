/**
 * SM4 (GB/T 32907) sealing: sm-crypto 0.5.8 offers SM4 in ECB and CBC only (no GCM), so a sealed body
 * is SM4-CBC encrypt-then-MAC with HMAC-SM3:
 *
 *     iv (16) | ciphertext (PKCS#7-padded, n x 16) | HMAC-SM3(macKey, len(aad) | aad | iv | ciphertext) (32)
 *
 * The MAC is checked, in constant time, before anything is decrypted. The encryption and MAC keys are
 * derived from the configured 16-byte key with HMAC-SM3 under two labels, once per key, so one
 * configured key never serves two purposes.
 *
 * @module
 */
import { type Cipher, equalBytes, UnsealError } from "./cipher.ts";
import { hmacSm3 } from "./sm3.ts";
import { sm4 } from "./sm_crypto.ts";

const BLOCK = 16, MAC = 32;
const encoder = new TextEncoder();
const ENC_LABEL = encoder.encode("FerryMQ sm4-cbc-hmac-sm3 enc");
const MAC_LABEL = encoder.encode("FerryMQ sm4-cbc-hmac-sm3 mac");

/** A configured SM4 key with its derived halves. */
export interface Sm4Key {
  readonly enc: Uint8Array;
  readonly mac: Uint8Array;
}

/** The MAC input: the aad's length first, so aad and iv can never be confused. */
function macInput(aad: Uint8Array, ivAndCt: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + aad.byteLength + ivAndCt.byteLength);
  new DataView(out.buffer).setUint32(0, aad.byteLength);
  out.set(aad, 4);
  out.set(ivAndCt, 4 + aad.byteLength);
  return out;
}

/**
 * The SM4-CBC + HMAC-SM3 cipher ("sm4-cbc-hmac-sm3").
 *
 * @example
 * ```ts
 * const key = sm4CbcHmacSm3.importKey(crypto.getRandomValues(new Uint8Array(16)));
 * const sealed = sm4CbcHmacSm3.seal(key, body, aad);
 * ```
 */
export const sm4CbcHmacSm3 = {
  name: "sm4-cbc-hmac-sm3",
  keyLength: 16,
  importKey(raw) {
    return { enc: hmacSm3(raw, ENC_LABEL).subarray(0, 16), mac: hmacSm3(raw, MAC_LABEL) };
  },
  seal(key, plain, aad) {
    const iv = crypto.getRandomValues(new Uint8Array(BLOCK));
    const ct = sm4.encrypt(plain, key.enc, { mode: "cbc", iv, output: "array" });
    const out = new Uint8Array(BLOCK + ct.length + MAC);
    out.set(iv);
    out.set(ct, BLOCK);
    out.set(hmacSm3(key.mac, macInput(aad, out.subarray(0, BLOCK + ct.length))), BLOCK + ct.length);
    return out;
  },
  unseal(key, sealed, aad) {
    const n = sealed.byteLength - BLOCK - MAC;
    if (n < BLOCK || n % BLOCK !== 0) {
      throw new UnsealError(
        "seal_malformed",
        `a sealed body of ${sealed.byteLength} bytes is not iv|blocks|mac`,
      );
    }
    const body = sealed.subarray(0, BLOCK + n);
    if (!equalBytes(hmacSm3(key.mac, macInput(aad, body)), sealed.subarray(BLOCK + n))) {
      throw new UnsealError("seal_tampered", "HMAC-SM3 check failed");
    }
    try {
      const plain = sm4.decrypt(body.subarray(BLOCK), key.enc, {
        mode: "cbc",
        iv: body.subarray(0, BLOCK),
        output: "array",
      });
      return Uint8Array.from(plain);
    } catch (e) {
      // Only a writer holding the MAC key gets here: its padding is wrong, not the wire.
      throw new UnsealError("seal_malformed", `SM4 padding: ${(e as Error).message}`);
    }
  },
} satisfies Cipher<Sm4Key>;
