/**
 * npm sm-crypto (0.5.8) as the independent reference for the plugin's own SM4 and SM3: typed here, and
 * the sm4-cbc-hmac-sm3 seal exactly as the plugin built it on sm-crypto before it had its own code.
 * The tests cross-check against it; `deno task bench crypto` uses it as the "before" figure.
 *
 * @module
 */
import smCrypto from "sm-crypto";
import { type Cipher, equalBytes, UnsealError } from "../../../plugins/crypto-sm/cipher.ts";
import { fromHex } from "../../../plugins/crypto-sm/hex.ts";

type Bytes = ArrayLike<number>;
interface Sm4Options {
  mode?: "cbc";
  iv?: Bytes;
  padding?: "pkcs#7" | "none";
  output: "array";
}

const lib = smCrypto as {
  sm3: (input: Bytes, opts?: { key: Bytes }) => string;
  sm4: {
    encrypt(input: Bytes, key: Bytes, opts: Sm4Options): number[];
    decrypt(input: Bytes, key: Bytes, opts: Sm4Options): number[];
  };
};

/** sm-crypto's SM4 (ECB or CBC). */
export const refSm4 = lib.sm4;
/** sm-crypto's SM3 as hex; HMAC-SM3 with `opts.key`. */
export const refSm3 = lib.sm3;

const refHmac = (key: Bytes, data: Bytes) => fromHex(lib.sm3(data, { key }), "HMAC-SM3");
const encoder = new TextEncoder();

/** The derived halves of a key, as the plugin has always derived them. */
export function refDerive(raw: Uint8Array): { enc: Uint8Array; mac: Uint8Array } {
  return {
    enc: refHmac(raw, encoder.encode("FerryMQ sm4-cbc-hmac-sm3 enc")).subarray(0, 16),
    mac: refHmac(raw, encoder.encode("FerryMQ sm4-cbc-hmac-sm3 mac")),
  };
}

/** MAC input: len(aad) as 4 bytes big-endian, aad, iv | ciphertext. */
export function refMac(macKey: Uint8Array, aad: Uint8Array, ivAndCt: Uint8Array): Uint8Array {
  const m = new Uint8Array(4 + aad.byteLength + ivAndCt.byteLength);
  new DataView(m.buffer).setUint32(0, aad.byteLength);
  m.set(aad, 4);
  m.set(ivAndCt, 4 + aad.byteLength);
  return refHmac(macKey, m);
}

/** sm4-cbc-hmac-sm3 on sm-crypto: `iv (16) | SM4-CBC ciphertext | HMAC-SM3 (32)`. */
export const refSm4CbcHmacSm3 = {
  name: "sm4-cbc-hmac-sm3",
  keyLength: 16,
  importKey: refDerive,
  seal(key, plain, aad) {
    const iv = crypto.getRandomValues(new Uint8Array(16));
    const ct = lib.sm4.encrypt(plain, key.enc, { mode: "cbc", iv, output: "array" });
    const out = new Uint8Array(16 + ct.length + 32);
    out.set(iv);
    out.set(ct, 16);
    out.set(refMac(key.mac, aad, out.subarray(0, 16 + ct.length)), 16 + ct.length);
    return out;
  },
  unseal(key, sealed, aad) {
    const n = sealed.byteLength - 48;
    if (n < 16 || n % 16 !== 0) throw new UnsealError("seal_malformed", "not iv|blocks|mac");
    if (!equalBytes(refMac(key.mac, aad, sealed.subarray(0, 16 + n)), sealed.subarray(16 + n))) {
      throw new UnsealError("seal_tampered", "HMAC-SM3 check failed");
    }
    const iv = sealed.subarray(0, 16);
    return Uint8Array.from(
      lib.sm4.decrypt(sealed.subarray(16, 16 + n), key.enc, { mode: "cbc", iv, output: "array" }),
    );
  },
} satisfies Cipher<{ enc: Uint8Array; mac: Uint8Array }>;
