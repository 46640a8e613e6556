/**
 * Hand-written PUBLISH codec, the packet that dominates traffic: no stream buffers, no intermediate
 * Buffers, topic bytes cached. Decoding covers the common case (no MQTT 5 properties); anything else
 * (properties, a malformed header) is left to mqtt-packet, so both paths answer the same. Every PUBLISH the
 * broker sends is encoded here: mqtt-packet files User Properties by name, so it cannot send them in order.
 *
 * @module
 */

// deno-lint-ignore no-explicit-any
type Packet = any;

/**
 * MQTT's UTF-8: fatal, since a string that is not well-formed UTF-8 ends the connection [MQTT-1.5.3-1]; a
 * leading U+FEFF is part of the string, not a byte order mark to drop [MQTT-1.5.4-3].
 */
export const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/** The topic at `start`, or undefined when its bytes are not valid UTF-8. */
function topicAt(b: Uint8Array, start: number, n: number): string | undefined {
  let s = "";
  for (let k = start; k < start + n; k++) {
    const c = b[k];
    if (c >= 0x80) {
      try {
        return utf8.decode(b.subarray(start, start + n));
      } catch {
        return undefined;
      }
    }
    s += String.fromCharCode(c);
  }
  return s;
}

/**
 * A whole PUBLISH packet of protocol `version` (the framer checked its length) as mqtt-packet would
 * give it, an Error when its topic is not valid UTF-8, or undefined to let mqtt-packet decode it.
 */
export function decodePublish(b: Uint8Array, version: number): Packet | undefined {
  const h = b[0];
  const qos = (h >> 1) & 3;
  if (h >> 4 !== 3 || qos === 3) return undefined;
  let i = 1, length = 0, mult = 1, byte;
  do {
    byte = b[i++];
    length += (byte & 0x7f) * mult;
    mult *= 128;
  } while (byte & 0x80);
  if (i + 2 > b.length) return undefined;
  const topicLength = (b[i] << 8) | b[i + 1];
  i += 2;
  if (i + topicLength > b.length) return undefined;
  const topic = topicAt(b, i, topicLength);
  if (topic === undefined) return new Error("topic name is not valid UTF-8");
  i += topicLength;
  let messageId: number | undefined;
  if (qos > 0) {
    if (i + 2 > b.length) return undefined;
    messageId = (b[i] << 8) | b[i + 1];
    i += 2;
  }
  if (version === 5) {
    if (i >= b.length || b[i] !== 0) return undefined; // properties: mqtt-packet reads them
    i++;
  }
  return {
    cmd: "publish",
    retain: (h & 1) === 1,
    qos,
    dup: (h & 8) !== 0,
    length,
    topic,
    payload: b.subarray(i),
    messageId,
  };
}

// Topics repeat: their UTF-8 bytes are kept (bounded; cleared when full).
const topicBytes = new Map<string, Uint8Array>();
const TOPIC_CACHE_MAX = 10_000;

function bytesOf(topic: string): Uint8Array {
  let t = topicBytes.get(topic);
  if (t === undefined) {
    if (topicBytes.size >= TOPIC_CACHE_MAX) topicBytes.clear();
    t = encoder.encode(topic);
    topicBytes.set(topic, t);
  }
  return t;
}

const ACK_TYPES: Record<string, number> = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 };
const ACK_BY_HEADER: Record<number, string> = Object.fromEntries(
  Object.entries(ACK_TYPES).map(([cmd, header]) => [header, cmd]),
);

/**
 * A whole PUBACK, PUBREC, PUBREL or PUBCOMP in the 2-byte short form, as mqtt-packet would give it (MQTT 5
 * adds reason code 0), or undefined to let mqtt-packet decode it (a reason code, properties, bad flags).
 */
export function decodeAck(b: Uint8Array, version: number): Packet | undefined {
  const cmd = ACK_BY_HEADER[b[0]];
  if (cmd === undefined || b[1] !== 2 || b.length !== 4) return undefined;
  const p: Packet = {
    cmd,
    retain: false,
    qos: cmd === "pubrel" ? 1 : 0,
    dup: false,
    length: 2,
    topic: null,
    payload: null,
    messageId: (b[2] << 8) | b[3],
  };
  if (version === 5) p.reasonCode = 0;
  return p;
}

/**
 * PUBACK, PUBREC, PUBREL or PUBCOMP with reason code 0 and no properties, which every version writes as the
 * 2-byte short form [MQTT-3.4.2.1]; undefined for any other packet.
 */
export function encodeAck(packet: {
  cmd: string;
  messageId?: number;
  reasonCode?: number;
  properties?: unknown;
}): Uint8Array | undefined {
  const type = ACK_TYPES[packet.cmd];
  if (type === undefined || packet.reasonCode || packet.properties !== undefined) return undefined;
  const id = packet.messageId!;
  return new Uint8Array([type, 2, id >> 8, id & 0xff]);
}

/** The MQTT 5 properties of a PUBLISH the broker sends. */
export interface PublishProperties {
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  topicAlias?: number;
  responseTopic?: string;
  correlationData?: Uint8Array;
  /** Name/value pairs, sent in this order [MQTT-3.3.2-18]. */
  userProperties?: [string, string][];
  subscriptionIdentifier?: number;
  contentType?: string;
}

/** A PUBLISH; `properties` go out on MQTT 5 only (without, an empty property list). */
export function encodePublish(
  version: number,
  topic: string,
  payload: Uint8Array,
  qos: number,
  retain: boolean,
  dup: boolean,
  messageId: number | undefined,
  properties?: PublishProperties,
): Uint8Array {
  const t = bytesOf(topic);
  const props = version === 5 && properties !== undefined ? propertyParts(properties) : undefined;
  let propsLength = 0;
  if (props !== undefined) { for (const x of props) propsLength += typeof x === "number" ? 1 : x.length; }
  const remaining = 2 + t.length + (qos > 0 ? 2 : 0) +
    (version === 5 ? varIntSize(propsLength) + propsLength : 0) +
    payload.length;
  const out = new Uint8Array(1 + varIntSize(remaining) + remaining);
  out[0] = 0x30 | (dup ? 8 : 0) | (qos << 1) | (retain ? 1 : 0);
  let i = writeVarInt(out, 1, remaining);
  out[i++] = t.length >> 8;
  out[i++] = t.length & 0xff;
  out.set(t, i);
  i += t.length;
  if (qos > 0) {
    out[i++] = messageId! >> 8;
    out[i++] = messageId! & 0xff;
  }
  if (version === 5) i = writeVarInt(out, i, propsLength);
  if (props !== undefined) {
    for (const x of props) {
      if (typeof x === "number") out[i++] = x;
      else (out.set(x, i), i += x.length);
    }
  }
  out.set(payload, i);
  return out;
}

/** A property list as single bytes and byte runs, in the order of 3.3.2.3. */
function propertyParts(p: PublishProperties): (number | Uint8Array)[] {
  const parts: (number | Uint8Array)[] = [];
  // A string or binary value has a two-byte length [MQTT-1.5.4]: a property with a longer one (a header from
  // another protocol) cannot be written and is left out, rather than the message.
  const put = (property: number, a: Uint8Array, b?: Uint8Array) => {
    if (a.length > 0xffff || (b !== undefined && b.length > 0xffff)) return;
    parts.push(property, a.length >> 8, a.length & 0xff, a);
    if (b !== undefined) parts.push(b.length >> 8, b.length & 0xff, b);
  };
  if (p.payloadFormatIndicator) parts.push(0x01, 1);
  const e = p.messageExpiryInterval;
  if (e !== undefined) parts.push(0x02, e >>> 24, (e >>> 16) & 0xff, (e >>> 8) & 0xff, e & 0xff);
  if (p.topicAlias !== undefined) parts.push(0x23, p.topicAlias >> 8, p.topicAlias & 0xff);
  if (p.responseTopic !== undefined) put(0x08, encoder.encode(p.responseTopic));
  if (p.correlationData !== undefined) put(0x09, p.correlationData);
  for (const [name, value] of p.userProperties ?? []) put(0x26, encoder.encode(name), encoder.encode(value));
  const id = p.subscriptionIdentifier;
  if (id !== undefined) {
    const b = new Uint8Array(varIntSize(id));
    writeVarInt(b, 0, id);
    parts.push(0x0b, b);
  }
  if (p.contentType !== undefined) put(0x03, encoder.encode(p.contentType));
  return parts;
}

/** The bytes of a variable byte integer (1.5.5). */
function varIntSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : 4;
}

/** Writes `n` as a variable byte integer at `i`; the position after it. */
function writeVarInt(out: Uint8Array, i: number, n: number): number {
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out[i++] = byte;
  } while (n > 0);
  return i;
}
