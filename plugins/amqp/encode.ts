/**
 * AMQP 1.0 message encoding for the delivery path: header, properties, application properties and a data
 * or string body written straight into one buffer, instead of building rhea's message object and its
 * typed wrappers for every delivery. Messages it does not cover (JSON bodies, delivery annotations)
 * return undefined and go through rhea ({@linkcode fromMessage}).
 *
 * @module
 */
import type { Message } from "../../mod.ts";
import { BODY } from "./message_map.ts";

const utf8 = new TextEncoder();

/** A growable byte buffer with the AMQP primitive encodings this module needs. */
class Out {
  buf: Uint8Array;
  view: DataView;
  n = 0;

  /** `size`: the expected length, so a large body is not copied again when the buffer grows. */
  constructor(size: number) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }

  room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  byte(b: number): void {
    this.room(1);
    this.buf[this.n++] = b;
  }
  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.n, v);
    this.n += 4;
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
  }
  /** A described section's constructor (0x00, smallulong descriptor). */
  section(code: number): void {
    this.byte(0x00);
    this.byte(0x53);
    this.byte(code);
  }
  /** str8/str32 (`code8`/`code32`: 0xa1/0xb1 string, 0xa3/0xb3 symbol, 0xa0/0xb0 binary). */
  variable(b: Uint8Array, code8: number, code32: number): void {
    if (b.length < 256) {
      this.byte(code8);
      this.byte(b.length);
    } else {
      this.byte(code32);
      this.u32(b.length);
    }
    this.bytes(b);
  }
  string(s: string): void {
    this.variable(utf8.encode(s), 0xa1, 0xb1);
  }
  uint(v: number): void {
    if (v === 0) return this.byte(0x43);
    if (v < 256) {
      this.byte(0x52);
      return this.byte(v);
    }
    this.byte(0x70);
    this.u32(v);
  }
  timestamp(ms: number): void {
    this.room(9);
    this.buf[this.n++] = 0x83;
    this.view.setBigInt64(this.n, BigInt(Math.trunc(ms)));
    this.n += 8;
  }
  /** A list32 whose items `write` appends; returns nothing, patches size and count. */
  list(count: number, write: () => void): void {
    this.byte(0xd0);
    const at = this.n;
    this.u32(0);
    this.u32(count);
    write();
    this.view.setUint32(at, this.n - at - 4);
  }
  map(count: number, write: () => void): void {
    this.byte(0xd1);
    const at = this.n;
    this.u32(0);
    this.u32(count);
    write();
    this.view.setUint32(at, this.n - at - 4);
  }
}

/** A property value rhea would decode to the same JS value, or false when this module does not encode it. */
function value(o: Out, v: unknown): boolean {
  if (typeof v === "string") o.string(v);
  else if (typeof v === "boolean") o.byte(v ? 0x41 : 0x42);
  else if (v === null) o.byte(0x40);
  else if (typeof v === "number" && Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff) {
    o.byte(0x71);
    o.room(4);
    o.view.setInt32(o.n, v);
    o.n += 4;
  } else if (typeof v === "number") {
    o.byte(0x82);
    o.room(8);
    o.view.setFloat64(o.n, v);
    o.n += 8;
  } else return false;
  return true;
}

/** The encoded message for one delivery, or undefined when rhea must encode it. */
export function encodeDelivery(m: Message, now: number): Uint8Array | undefined {
  const kind = m.annotations?.[BODY];
  if (kind === "json") return undefined;
  for (const k in m.annotations) if (k.startsWith("x-opt-")) return undefined;
  // Sections other than the body rarely pass a few hundred bytes; room() grows the buffer when they do.
  const o = new Out(256 + m.body.byteLength);
  // header: durable, priority, ttl, first-acquirer, delivery-count
  o.section(0x70);
  o.list(5, () => {
    o.byte(m.persistent ? 0x41 : 0x42);
    o.byte(0x50);
    o.byte(m.priority);
    if (m.expiresAt) o.uint(Math.max(1, m.expiresAt - now));
    else o.byte(0x40);
    o.byte(m.redeliveryCount === 0 ? 0x41 : 0x42);
    o.uint(m.redeliveryCount);
  });
  // properties: message-id, user-id, to, subject, reply-to, correlation-id, content-type,
  // content-encoding, absolute-expiry-time, creation-time, group-id
  o.section(0x73);
  o.list(11, () => {
    o.string(m.producerId ?? m.id);
    o.byte(0x40);
    o.byte(0x40);
    if (m.subject !== undefined) o.string(m.subject);
    else o.byte(0x40);
    if (m.replyTo !== undefined) o.string(m.replyTo); // a reply address is an AMQP address
    else o.byte(0x40);
    if (m.correlationId !== undefined) o.string(m.correlationId);
    else o.byte(0x40);
    if (m.contentType !== undefined) o.variable(utf8.encode(m.contentType), 0xa3, 0xb3);
    else o.byte(0x40);
    o.byte(0x40);
    if (m.expiresAt) o.timestamp(m.expiresAt);
    else o.byte(0x40);
    o.timestamp(m.timestamp);
    if (m.groupId !== undefined) o.string(m.groupId);
    else o.byte(0x40);
  });
  // Always present (empty when there are none), as consumers have always received it.
  const props = m.properties ?? {};
  const keys = Object.keys(props);
  let ok = true;
  o.section(0x74);
  o.map(keys.length * 2, () => {
    for (const k of keys) {
      o.string(k);
      if (!value(o, props[k])) ok = false;
    }
  });
  if (!ok) return undefined;
  if (kind === "string") {
    o.section(0x77);
    o.variable(m.body, 0xa1, 0xb1);
  } else {
    o.section(0x75);
    o.variable(m.body, 0xa0, 0xb0);
  }
  return o.buf.subarray(0, o.n);
}
