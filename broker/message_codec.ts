/**
 * The binary form of a {@linkcode Message} for stores and plugins that persist messages:
 * a 4-byte big-endian length, the metadata as UTF-8 JSON, then the body bytes as they are.
 *
 * @module
 */
import type { Message } from "./message.ts";
import { BrokerError } from "./errors.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encodes a message; {@linkcode decodeMessage} restores it exactly.
 *
 * @example
 * ```ts
 * const bytes = encodeMessage(message);
 * const same = decodeMessage(bytes);
 * ```
 */
export function encodeMessage(m: Message): Uint8Array {
  const { body, ...meta } = m;
  const head = encoder.encode(JSON.stringify(meta));
  const out = new Uint8Array(4 + head.byteLength + body.byteLength);
  new DataView(out.buffer).setUint32(0, head.byteLength);
  out.set(head, 4);
  out.set(body, 4 + head.byteLength);
  return out;
}

/** Decodes what {@linkcode encodeMessage} wrote. The body is a view into `b`, not a copy. */
export function decodeMessage(b: Uint8Array): Message {
  if (b.byteLength < 4) {
    throw new BrokerError("store_failed", `Cannot decode a message of ${b.byteLength} bytes`);
  }
  const len = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0);
  if (4 + len > b.byteLength) {
    throw new BrokerError("store_failed", "Cannot decode a message: truncated metadata");
  }
  const meta = JSON.parse(decoder.decode(b.subarray(4, 4 + len)));
  return { ...meta, body: b.subarray(4 + len) };
}
