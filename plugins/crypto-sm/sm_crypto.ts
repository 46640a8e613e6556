/**
 * The part of npm `sm-crypto` (0.5.8, untyped) this plugin uses, typed once here: SM2. SM4 and SM3 are
 * the plugin's own typed-array code (sm4_block.ts, sm3.ts); the tests keep sm-crypto's as the reference.
 *
 * @module
 */
import smCrypto from "sm-crypto";

type Bytes = ArrayLike<number>;

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

const lib = smCrypto as { sm2: Sm2 };

export const sm2: Sm2 = lib.sm2;
