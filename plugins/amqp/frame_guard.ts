/**
 * The frame size limit rhea does not enforce: it buffers a frame of whatever size the peer announces, up
 * to 4 GiB, before it looks at it. This follows the frame boundaries of the incoming byte stream (protocol
 * headers, then frames that each begin with their size) and reports the first frame over the limit.
 *
 * @module
 */

const HEADER_SIZE = 8;
const A = 0x41; // "AMQP" opens a protocol header; a frame size starting so would be over 1 GiB

/** What stops a connection's input, and where in the chunk it starts (0 if in an earlier one). */
export type InputStop =
  /** A frame over the limit, with its announced size. */
  | { readonly kind: "oversize"; readonly size: number; readonly offset: number }
  /** A header after the first (the one that follows SASL) other than AMQP 1.0.0's: ours answers it [2.2]. */
  | { readonly kind: "header"; readonly offset: number };

/**
 * Returns a checker for one connection's input, given each chunk in order: where the input must stop, if it
 * must. The first header is {@linkcode protocolHeaderCheck}'s.
 */
export function frameGuard(max: number): (chunk: Uint8Array) => InputStop | undefined {
  let skip = 0; // bytes left of the current header or frame
  let size = 0; // the next frame's size, as far as its four bytes have arrived
  let sizeBytes = 0;
  let headers = 0;
  let header: number[] | undefined; // a later header's bytes, as far as they have arrived
  let headerAt = 0; // where it began in the chunk it began in
  return (chunk) => {
    for (let at = 0; at < chunk.length;) {
      if (header !== undefined) {
        while (header.length < HEADER_SIZE && at < chunk.length) header.push(chunk[at++]);
        if (header.length < HEADER_SIZE) {
          headerAt = 0;
          break;
        }
        if (header.some((b, i) => b !== AMQP_HEADER[i])) return { kind: "header", offset: headerAt };
        header = undefined;
      } else if (skip > 0) {
        const n = Math.min(skip, chunk.length - at);
        skip -= n;
        at += n;
      } else if (sizeBytes === 0 && chunk[at] === A) {
        if (headers++ === 0) skip = HEADER_SIZE;
        else (header = [], headerAt = at);
      } else {
        size = size * 256 + chunk[at++];
        if (++sizeBytes < 4) continue;
        if (size > max) return { kind: "oversize", size, offset: Math.max(0, at - 4) };
        // A size under the frame header's 8 bytes is rhea's to refuse: the stream is over either way.
        skip = Math.max(0, size - 4);
        size = sizeBytes = 0;
      }
    }
    return undefined;
  };
}

const AMQP = [0x41, 0x4d, 0x51, 0x50];
/** The headers of AMQP 1.0.0: plain (protocol id 0) and SASL (3). */
/** The header of AMQP 1.0.0 itself (protocol id 0). */
export const AMQP_HEADER = new Uint8Array([...AMQP, 0, 1, 0, 0]);
const SASL = new Uint8Array([...AMQP, 3, 1, 0, 0]);

/**
 * Returns a checker of a connection's first 8 bytes, given each chunk in order: the header to answer with
 * when they are not an AMQP 1.0.0 header (plain or SASL) the broker speaks, else undefined. A peer asking
 * for another version of the plain protocol is told the plain one; anything else, SASL.
 */
export function protocolHeaderCheck(): (chunk: Uint8Array) => Uint8Array | undefined {
  const seen: number[] = [];
  return (chunk) => {
    if (seen.length === 8) return undefined;
    for (let i = 0; i < chunk.length && seen.length < 8; i++) {
      const at = seen.length;
      seen.push(chunk[i]);
      if (at < 4 && chunk[i] !== AMQP[at]) return SASL;
    }
    if (seen.length < 8) return undefined;
    const [id, major, minor, revision] = seen.slice(4);
    if ((id === 0 || id === 3) && major === 1 && minor === 0 && revision === 0) return undefined;
    return id === 0 ? AMQP_HEADER : SASL;
  };
}
