/**
 * AES-256-GCM, the second cipher: it shows the {@linkcode Cipher} seam takes more than SM4. Sealing
 * uses Web Crypto (`crypto.subtle`), which is asynchronous and fits the async publish fold. The
 * deliver fold is synchronous and Web Crypto has no synchronous call, so unsealing uses
 * `node:crypto`'s `createDecipheriv("aes-256-gcm")`, which is. Both produce and read the same
 * standard layout (NIST SP 800-38D, 96-bit iv, 128-bit tag):
 *
 *     iv (12) | ciphertext | tag (16)
 *
 * @module
 */
import { createDecipheriv } from "node:crypto";
import { type Cipher, UnsealError } from "./cipher.ts";

const IV = 12, TAG = 16;

/** The raw key (for node:crypto) and the Web Crypto key made from it. */
export interface AesKey {
  readonly raw: Uint8Array;
  readonly web: CryptoKey;
}

/**
 * The AES-256-GCM cipher ("aes-256-gcm").
 *
 * @example
 * ```ts
 * const key = await aes256Gcm.importKey(crypto.getRandomValues(new Uint8Array(32)));
 * const sealed = await aes256Gcm.seal(key, body, aad);
 * const same = aes256Gcm.unseal(key, sealed, aad);
 * ```
 */
export const aes256Gcm = {
  name: "aes-256-gcm",
  keyLength: 32,
  async importKey(raw) {
    const web = await crypto.subtle.importKey("raw", raw as Uint8Array<ArrayBuffer>, "AES-GCM", false, [
      "encrypt",
    ]);
    return { raw: raw.slice(), web };
  },
  async seal(key, plain, aad) {
    const iv = crypto.getRandomValues(new Uint8Array(IV));
    const ct = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: aad as Uint8Array<ArrayBuffer>, tagLength: TAG * 8 },
      key.web,
      plain as Uint8Array<ArrayBuffer>,
    );
    const out = new Uint8Array(IV + ct.byteLength);
    out.set(iv);
    out.set(new Uint8Array(ct), IV);
    return out;
  },
  unseal(key, sealed, aad) {
    if (sealed.byteLength < IV + TAG) {
      throw new UnsealError("seal_malformed", `a sealed body of ${sealed.byteLength} bytes is not iv|ct|tag`);
    }
    const d = createDecipheriv("aes-256-gcm", key.raw, sealed.subarray(0, IV), { authTagLength: TAG });
    d.setAAD(aad);
    d.setAuthTag(sealed.subarray(sealed.byteLength - TAG));
    const head = d.update(sealed.subarray(IV, sealed.byteLength - TAG));
    let tail: Uint8Array;
    try {
      tail = d.final();
    } catch {
      throw new UnsealError("seal_tampered", "AES-GCM tag check failed");
    }
    if (tail.byteLength === 0) return new Uint8Array(head.buffer, head.byteOffset, head.byteLength);
    const out = new Uint8Array(head.byteLength + tail.byteLength);
    out.set(head);
    out.set(tail, head.byteLength);
    return out;
  },
} satisfies Cipher<AesKey>;
