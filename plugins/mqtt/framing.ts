/**
 * Splits a byte stream into whole MQTT packets before parsing, so an oversized packet is refused from
 * its fixed header alone, without buffering its body [MQTT-3.2.2-15 / 4.13], and a malformed
 * remaining-length is caught early.
 *
 * @module
 */

/** What {@linkcode Framer.push} found wrong. */
export type FrameError = "too_large" | "malformed";

/** Accumulates bytes and hands out complete packets. */
export class Framer {
  #buf: Uint8Array = new Uint8Array(0);
  #len = 0;
  maxPacketSize: number;

  constructor(maxPacketSize: number) {
    this.maxPacketSize = maxPacketSize;
  }

  /** Appends `bytes` (copied) and calls `onPacket` for each complete packet; returns an error if any. */
  push(bytes: Uint8Array, onPacket: (packet: Uint8Array) => boolean): FrameError | undefined {
    this.#append(bytes);
    let off = 0;
    while (this.#len - off >= 2) {
      let mult = 1, remaining = 0, i = off + 1, done = false;
      for (; i < this.#len && i < off + 5; i++) {
        const b = this.#buf[i];
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
      if (this.#len - off < total) break;
      const packet = this.#buf.slice(off, off + total);
      off += total;
      if (!onPacket(packet)) return undefined;
    }
    if (off > 0) {
      this.#buf.copyWithin(0, off, this.#len);
      this.#len -= off;
    }
    return undefined;
  }

  #append(bytes: Uint8Array) {
    if (this.#len + bytes.byteLength > this.#buf.byteLength) {
      const next = new Uint8Array(Math.max(this.#buf.byteLength * 2, this.#len + bytes.byteLength, 4096));
      next.set(this.#buf.subarray(0, this.#len));
      this.#buf = next;
    }
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.byteLength;
  }
}
