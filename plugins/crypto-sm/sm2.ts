/**
 * SM2 (GB/T 32918) signatures over message bodies with SM3 and the signer's user id (the standard's
 * Z value), on npm `sm-crypto`. Signatures are `r | s` as 128 hex digits.
 *
 * @module
 */
import type { Signer } from "./cipher.ts";
import { sm2 } from "./sm_crypto.ts";

/** The GB/T 32918 default user id ("1234567812345678"). */
export const DEFAULT_USER_ID = "1234567812345678";

/** An imported SM2 key: the public point always, the private scalar when this node signs. */
export interface Sm2Key {
  readonly privateKey?: string;
  /** Uncompressed point, "04" + x + y. */
  readonly publicKey: string;
  readonly userId: string;
}

/**
 * The SM2-with-SM3 signer ("sm2-sm3").
 *
 * @example
 * ```ts
 * const key = sm2Sm3.importKey({ privateKey: "3945208f...c5b8" });
 * const sig = sm2Sm3.sign(key, body);
 * sm2Sm3.verify(key, body, sig); // true
 * ```
 */
export const sm2Sm3: Signer<Sm2Key> = {
  name: "sm2-sm3",
  importKey({ privateKey, publicKey, userId = DEFAULT_USER_ID }) {
    const priv = privateKey?.trim().toLowerCase();
    if (priv !== undefined && !/^[0-9a-f]{64}$/.test(priv)) {
      throw new TypeError("Cannot import SM2 key: privateKey must be 64 hex digits");
    }
    const given = publicKey?.trim().toLowerCase();
    const derived = priv && sm2.getPublicKeyFromPrivateKey(priv);
    // "04" marks an uncompressed point; files written by other tools often leave it out.
    const pub = (given?.length === 128 ? "04" + given : given) ?? derived;
    if (!pub || !sm2.verifyPublicKey(pub)) {
      throw new TypeError("Cannot import SM2 key: publicKey is not a point on the SM2 curve");
    }
    if (derived !== undefined && derived !== pub) {
      throw new TypeError("Cannot import SM2 key: publicKey does not belong to privateKey");
    }
    return { privateKey: priv, publicKey: pub, userId };
  },
  canSign: (key) => key.privateKey !== undefined,
  sign(key, data) {
    if (key.privateKey === undefined) throw new TypeError("Cannot sign: the SM2 key has no private half");
    return sm2.doSignature(data, key.privateKey, {
      hash: true,
      publicKey: key.publicKey,
      userId: key.userId,
    });
  },
  verify(key, data, signature) {
    return /^[0-9a-fA-F]{128}$/.test(signature) &&
      sm2.doVerifySignature(data, signature, key.publicKey, { hash: true, userId: key.userId });
  },
};
