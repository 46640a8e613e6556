/**
 * Splits a byte stream into whole MQTT packets before parsing, so an oversized packet is refused from
 * its fixed header alone, without buffering its body [MQTT-3.2.2-15 / 4.13], and a malformed
 * remaining-length is caught early.
 *
 * @module
 */

/** What {@linkcode Framer.push} found wrong. */
export type FrameError = "too_large" | "malformed";

// Shared by every framer that has never had to keep a partial packet.
const EMPTY = new Uint8Array(0);
/** The largest buffer kept once drained: about one read's worth. */
const KEEP_BUFFER = 64 * 1024;

/** Accumulates bytes and hands out complete packets. */
export class Framer {
  #buf: Uint8Array = EMPTY;
  #len = 0;
  maxPacketSize: number;

  constructor(maxPacketSize: number) {
    this.maxPacketSize = maxPacketSize;
  }

  /** Bytes of buffer this framer holds for a partial packet (what a connection costs beyond its socket). */
  get buffered(): number {
    return this.#buf.byteLength;
  }

  /** Calls `onPacket` with a copy of each complete packet in `bytes` and keeps the rest; an error if any. */
  push(bytes: Uint8Array, onPacket: (packet: Uint8Array) => boolean): FrameError | undefined {
    // Whole packets are cut straight from the read buffer: an idle or well-behaved connection never
    // needs a buffer of its own.
    if (this.#len === 0) return this.#frame(bytes, bytes.byteLength, onPacket, false);
    this.#append(bytes);
    return this.#frame(this.#buf, this.#len, onPacket, true);
  }

  #frame(
    src: Uint8Array,
    len: number,
    onPacket: (packet: Uint8Array) => boolean,
    owned: boolean,
  ): FrameError | undefined {
    let off = 0;
    while (len - off >= 2) {
      let mult = 1, remaining = 0, i = off + 1, done = false;
      for (; i < len && i < off + 5; i++) {
        const b = src[i];
        remaining += (b & 0x7f) * mult;
        mult *= 128;
        if ((b & 0x80) === 0) {
          done = true;
          i++;
          break;
        }
      }
      if (!done) {
        if (i - off >= 5) return "malformed";
        break; // the length is not complete yet
      }
      const total = i - off + remaining;
      if (total > this.maxPacketSize) return "too_large";
      if (len - off < total) break;
      const packet = src.slice(off, off + total);
      off += total;
      if (!onPacket(packet)) return undefined;
    }
    if (owned) {
      if (off > 0) src.copyWithin(0, off, len);
      this.#len = len - off;
      // One large packet must not leave a large buffer behind for the rest of the connection.
      if (this.#len === 0 && src.byteLength > KEEP_BUFFER) this.#buf = EMPTY;
    } else if (off < len) {
      this.#append(src.subarray(off, len));
    }
    return undefined;
  }

  #append(bytes: Uint8Array) {
    if (this.#len + bytes.byteLength > this.#buf.byteLength) {
      const next = new Uint8Array(Math.max(this.#buf.byteLength * 2, this.#len + bytes.byteLength, 256));
      next.set(this.#buf.subarray(0, this.#len));
      this.#buf = next;
    }
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.byteLength;
  }
}
