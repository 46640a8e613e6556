/**
 * The two pluggable seams of the crypto-sm plugin: a {@linkcode Cipher} seals and unseals bodies
 * (authenticated encryption), a {@linkcode Signer} signs and verifies them. Both are registered by
 * name; broker.json rules name them, and sealed messages carry the name in `x-seal-alg` / `x-sig-alg`.
 *
 * @module
 */
import type { Awaitable } from "../../mod.ts";

/**
 * Authenticated encryption of a message body. `seal` runs in the async publish fold, so it may
 * return a promise (Web Crypto); `unseal` runs in the deliver fold, which is synchronous, so it
 * must not. `unseal` throws {@linkcode UnsealError} when the body was altered or is malformed:
 * the plugin turns that into a dead letter, never into a delivery.
 *
 * @example
 * ```ts
 * const key = await cipher.importKey(raw);
 * const sealed = await cipher.seal(key, body, aad);
 * const same = cipher.unseal(key, sealed, aad);
 * ```
 */
export interface Cipher<K = unknown> {
  /** The name rules and the `x-seal-alg` header use ("sm4-cbc-hmac-sm3"). */
  readonly name: string;
  /** Length in bytes of the raw key `importKey` takes. */
  readonly keyLength: number;
  /** Prepares a raw key once (key schedule, derived keys, a CryptoKey). */
  importKey(raw: Uint8Array): Awaitable<K>;
  /** Encrypts and authenticates `plain`, binding `aad` (authenticated, not encrypted). */
  seal(key: K, plain: Uint8Array, aad: Uint8Array): Awaitable<Uint8Array>;
  /** Checks and decrypts what `seal` returned; throws UnsealError on any mismatch. Synchronous. */
  unseal(key: K, sealed: Uint8Array, aad: Uint8Array): Uint8Array;
}

/**
 * Signatures over message bodies. Both calls are synchronous because verification runs in the
 * deliver fold.
 *
 * @example
 * ```ts
 * const sig = signer.sign(pair, body);
 * signer.verify(pair, body, sig); // true
 * ```
 */
export interface Signer<K = unknown> {
  /** The name the `x-sig-alg` header carries ("sm2-sm3"). */
  readonly name: string;
  /** Prepares key material once; a key without its private half can only verify. */
  importKey(material: { privateKey?: string; publicKey?: string; userId?: string }): K;
  /** Whether the key can sign (has its private half). */
  canSign(key: K): boolean;
  /** Signature over `data`, as lowercase hex. */
  sign(key: K, data: Uint8Array): string;
  verify(key: K, data: Uint8Array, signature: string): boolean;
}

/** Why an unseal failed; becomes the dead letter's reason prefix and a counter name. */
export type FailureCode =
  | "seal_tampered"
  | "seal_malformed"
  | "seal_unknown_key"
  | "signature_invalid"
  | "signature_unknown_key"
  | "digest_mismatch"
  | "not_reader";

/** Thrown by {@linkcode Cipher.unseal} when a sealed body does not authenticate or cannot be parsed. */
export class UnsealError extends Error {
  override name = "UnsealError";
  readonly code: "seal_tampered" | "seal_malformed";
  constructor(code: "seal_tampered" | "seal_malformed", message: string) {
    super(message);
    this.code = code;
  }
}

/** Constant-time comparison of two byte strings (MAC and tag checks). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let d = 0;
  for (let i = 0; i < a.byteLength; i++) d |= a[i] ^ b[i];
  return d === 0;
}
