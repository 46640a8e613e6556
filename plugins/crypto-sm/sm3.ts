/**
 * SM3 (GB/T 32905) digests and HMAC-SM3, as bytes, on npm `sm-crypto`.
 *
 * @module
 */
import { fromHex } from "./hex.ts";
import { sm3 } from "./sm_crypto.ts";

/**
 * SM3 digest of `data` as lowercase hex (the form the `x-sm3` header carries).
 *
 * @example
 * ```ts
 * sm3Hex(new TextEncoder().encode("abc")); // "66c7f0f4...8f4ba8e0"
 * ```
 */
export function sm3Hex(data: Uint8Array): string {
  return sm3(data);
}

/**
 * HMAC-SM3 of `data` under `key` (32 bytes).
 *
 * @example
 * ```ts
 * const mac = hmacSm3(key, data);
 * ```
 */
export function hmacSm3(key: Uint8Array, data: Uint8Array): Uint8Array {
  return fromHex(sm3(data, { key }), "HMAC-SM3 output");
}
