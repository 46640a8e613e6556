/**
 * The part of npm `sm-crypto` (0.5.8, untyped) this plugin uses, typed once here.
 *
 * @module
 */
import smCrypto from "sm-crypto";

type Bytes = ArrayLike<number>;

/** SM4 block cipher (ECB or CBC, PKCS#7 padding or none). */
export interface Sm4 {
  encrypt(
    input: Bytes,
    key: Bytes | string,
    opts: { mode?: "cbc"; iv?: Bytes; padding?: "pkcs#7" | "none"; output: "array" },
  ): number[];
  decrypt(
    input: Bytes,
    key: Bytes | string,
    opts: { mode?: "cbc"; iv?: Bytes; padding?: "pkcs#7" | "none"; output: "array" },
  ): number[];
}

/** SM2 over the recommended curve (GB/T 32918.5). */
export interface Sm2 {
  doSignature(
    msg: Bytes,
    privateKey: string,
    opts: { hash: true; publicKey?: string; userId?: string; pointPool?: unknown[] },
  ): string;
  doVerifySignature(
    msg: Bytes,
    sig: string,
    publicKey: string,
    opts: { hash: true; userId?: string },
  ): boolean;
  doDecrypt(data: string, privateKey: string, cipherMode: 0 | 1, opts: { output: "array" }): number[];
  getPublicKeyFromPrivateKey(privateKey: string): string;
  verifyPublicKey(publicKey: string): boolean;
  generateKeyPairHex(): { privateKey: string; publicKey: string };
}

const lib = smCrypto as { sm2: Sm2; sm3: (input: Bytes, opts?: { key: Bytes }) => string; sm4: Sm4 };

export const sm2: Sm2 = lib.sm2;
/** SM3 digest (or HMAC-SM3 with `opts.key`), as lowercase hex. */
export const sm3: (input: Bytes, opts?: { key: Bytes }) => string = lib.sm3;
export const sm4: Sm4 = lib.sm4;
