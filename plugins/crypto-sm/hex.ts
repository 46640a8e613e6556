/**
 * Hex <-> bytes: sm-crypto speaks hex strings and number arrays, the broker speaks Uint8Array.
 *
 * @module
 */

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * Lowercase hex of `b`.
 *
 * @example
 * ```ts
 * toHex(new Uint8Array([1, 255])); // "01ff"
 * ```
 */
export function toHex(b: ArrayLike<number>): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += HEX[b[i]];
  return s;
}

/**
 * Bytes of a hex string; throws TypeError naming `what` when `s` is not even-length hex.
 *
 * @example
 * ```ts
 * fromHex("01ff", "key"); // Uint8Array [1, 255]
 * ```
 */
export function fromHex(s: string, what: string): Uint8Array {
  const t = s.trim();
  if (t.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(t)) {
    throw new TypeError(`Cannot read ${what}: not an even-length hex string`);
  }
  const out = new Uint8Array(t.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(t.slice(i * 2, i * 2 + 2), 16);
  return out;
}
