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
  return encodeMessageView(m).slice();
}

// Allocating typed arrays is what encoding mostly cost (about 1 microsecond each): one buffer serves, up
// to a size worth keeping; a larger message gets a buffer of its own.
let scratch = new Uint8Array(4096);
const SCRATCH_MAX = 1024 * 1024;

/**
 * What {@linkcode encodeMessage} returns, as a view of a buffer the next call overwrites: for callers that
 * copy the bytes at once, such as a store binding them to a statement it runs straight away.
 */
export function encodeMessageView(m: Message): Uint8Array {
  const { body, ...meta } = m;
  const json = JSON.stringify(meta);
  // UTF-8 takes at most 3 bytes per UTF-16 unit.
  const room = 4 + json.length * 3 + body.byteLength;
  let out = scratch;
  if (room > out.byteLength) {
    out = new Uint8Array(room);
    if (room <= SCRATCH_MAX) scratch = out;
  }
  const { written } = encoder.encodeInto(json, out.subarray(4));
  new DataView(out.buffer).setUint32(0, written);
  out.set(body, 4 + written);
  return out.subarray(0, 4 + written + body.byteLength);
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
