/**
 * SM4 (GB/T 32907) sealing, SM4-CBC encrypt-then-MAC with HMAC-SM3:
 *
 *     iv (16) | ciphertext (PKCS#7-padded, n x 16) | HMAC-SM3(macKey, len(aad) | aad | iv | ciphertext) (32)
 *
 * The MAC is checked, in constant time, before anything is decrypted. The encryption and MAC keys are
 * derived from the configured 16-byte key with HMAC-SM3 under two labels, once per key, so one
 * configured key never serves two purposes. The layout is the one the plugin wrote when it sealed with
 * sm-crypto; the typed-array SM4 and SM3 ({@linkcode ./sm4_block.ts}, {@linkcode ./sm3.ts}) read and
 * write it unchanged, and the tests check both ways against sm-crypto.
 *
 * @module
 */
import { type Cipher, equalBytes, UnsealError } from "./cipher.ts";
import { HmacSm3, hmacSm3 } from "./sm3.ts";
import { cbcLength, sm4CbcDecrypt, sm4CbcEncrypt, type Sm4Schedule, sm4Schedule } from "./sm4_block.ts";

const BLOCK = 16, MAC = 32;
const encoder = new TextEncoder();
const ENC_LABEL = encoder.encode("FerryMQ sm4-cbc-hmac-sm3 enc");
const MAC_LABEL = encoder.encode("FerryMQ sm4-cbc-hmac-sm3 mac");

/** A configured SM4 key: the round keys of its derived encryption half, and its keyed MAC. */
export interface Sm4Key {
  readonly enc: Sm4Schedule;
  readonly mac: HmacSm3;
}

const LEN = new Uint8Array(4);

/** MACs the aad's length first, so aad and iv can never be confused; then the aad, iv and ciphertext. */
function mac(key: Sm4Key, aad: Uint8Array, ivAndCt: Uint8Array, out: Uint8Array, off: number): Uint8Array {
  new DataView(LEN.buffer).setUint32(0, aad.byteLength);
  return key.mac.update(LEN).update(aad).update(ivAndCt).digestInto(out, off);
}

const CHECK = new Uint8Array(MAC);

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
    return {
      enc: sm4Schedule(hmacSm3(raw, ENC_LABEL).subarray(0, 16)),
      mac: new HmacSm3(hmacSm3(raw, MAC_LABEL)),
    };
  },
  seal(key, plain, aad) {
    const n = cbcLength(plain.byteLength);
    const out = new Uint8Array(BLOCK + n + MAC);
    const iv = crypto.getRandomValues(out.subarray(0, BLOCK));
    sm4CbcEncrypt(key.enc, iv, plain, out.subarray(BLOCK, BLOCK + n));
    mac(key, aad, out.subarray(0, BLOCK + n), out, BLOCK + n);
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
    if (!equalBytes(mac(key, aad, body, CHECK, 0), sealed.subarray(BLOCK + n))) {
      throw new UnsealError("seal_tampered", "HMAC-SM3 check failed");
    }
    const plain = new Uint8Array(n);
    const len = sm4CbcDecrypt(key.enc, body.subarray(0, BLOCK), body.subarray(BLOCK), plain);
    // Only a writer holding the MAC key gets here: its padding is wrong, not the wire.
    if (len < 0) throw new UnsealError("seal_malformed", "SM4-CBC padding is not PKCS#7");
    return plain.subarray(0, len);
  },
} satisfies Cipher<Sm4Key>;
