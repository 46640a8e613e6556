/**
 * Packet decoding with mqtt-packet, one parser per protocol version for every connection. The framer
 * hands over whole packets, so a parser holds nothing between calls; a parser of its own would cost each
 * of 10,000s of idle connections a stream, its buffers and event lists.
 *
 * @module
 */
import mqttPacket from "mqtt-packet";
import { Buffer } from "node:buffer";
import { parseProperties } from "./properties.ts";
import { decodeAck, decodePublish, utf8 } from "./publish_codec.ts";
import { validatePacket } from "./validate.ts";

// deno-lint-ignore no-explicit-any
type Packet = any;
// deno-lint-ignore no-explicit-any
type Parser = any;

// The encoder's default builds a cache of 65,536 two-byte Buffers (about 7 MB of heap) at its first packet.
// The hot packets (PUBLISH and the acks) are encoded by publish_codec.ts, so the rest go without it.
mqttPacket.writeToStream.cacheNumbers = false;

const parsers = new Map<number, Parser>();
let result: Packet | Error | undefined;

/**
 * mqtt-packet's `_parseString` (9.0.2) with MQTT's UTF-8: an error where it decodes bytes that are not UTF-8
 * to U+FFFD.
 */
function parseString(this: Parser): string | null {
  const length = this._parseNum();
  const end = length + this._pos;
  if (length === -1 || end > this._list.length || end > this.packet.length) return null;
  let s: string;
  try {
    s = utf8.decode(this._list.slice(this._pos, end));
  } catch {
    this._emitError(new Error("a string is not valid UTF-8"));
    return null;
  }
  this._pos += length;
  return s;
}

function parserFor(version: number): Parser {
  let p = parsers.get(version);
  if (!p) {
    p = mqttPacket.parser({ protocolVersion: version });
    p._parseString = parseString;
    p._parseProperties = parseProperties;
    p.on("packet", (packet: Packet) => result = packet);
    // The first error says what is wrong: a string that fails is then also a topic that "cannot be parsed".
    p.on("error", (e: Error) => result = result instanceof Error ? result : e);
    parsers.set(version, p);
  }
  return p;
}

/**
 * Decodes one whole packet of `version`; an Error when it is malformed, a
 * `PacketError` (validate.ts) when it breaks a rule of the spec the connection is closed for.
 */
export function parsePacket(bytes: Uint8Array, version: number): Packet | Error {
  const p = decodePublish(bytes, version) ?? decodeAck(bytes, version) ?? parseWithMqttPacket(bytes, version);
  if (p instanceof Error) return p;
  return validatePacket(p, version) ?? p;
}

function parseWithMqttPacket(bytes: Uint8Array, version: number): Packet | Error {
  const p = parserFor(version);
  // A CONNECT becomes the parser's settings: put the version back for the next caller.
  p.settings = { protocolVersion: version };
  result = undefined;
  const left = p.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const out = result ?? new Error("incomplete packet");
  result = undefined;
  if (left !== 0 || out instanceof Error) {
    // mqtt-packet's reset leaves the read position where the error stopped it.
    p._resetState();
    p._pos = 0;
  }
  return out;
}
