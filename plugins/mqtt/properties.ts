/**
 * MQTT 5 property decoding for the packets a client sends, in place of mqtt-packet's `_parseProperties`
 * (9.0.2), which keeps one value of a property given twice (or makes a list of it) and files User
 * Properties by name, losing their order.
 *
 * @module
 */
import constants from "mqtt-packet/constants.js";
import { RC } from "./reason_codes.ts";
import { PacketError } from "./validate.ts";

// deno-lint-ignore no-explicit-any
type Parser = any;

const NAMES: Record<number, string> = constants.propertiesCodes;
const TYPES: Record<string, string> = constants.propertiesTypes;

/**
 * The properties at the parser's position, as mqtt-packet gives them except for `userProperties`: the
 * name/value pairs in the order they came, which the broker forwards unaltered [MQTT-3.3.2-18].
 *
 * Any other property given twice is a Protocol Error (the "more than once" rule of each, 3.1.2.11 on): a
 * Subscription Identifier repeats only in a PUBLISH from the server (3.3.2.3.8).
 */
export function parseProperties(this: Parser): Record<string, unknown> | false {
  const length = this._parseVarByteNum();
  const end = this._pos + length;
  const result: Record<string, unknown> = {};
  let pairs: [string, string][] | undefined;
  while (this._pos < end) {
    const name = NAMES[this._parseByte()];
    if (name === undefined) {
      this._emitError(new Error("Unknown property"));
      return false;
    }
    const value = this._parseByType(TYPES[name]);
    if (name === "userProperties") {
      (pairs ??= []).push([value.name, value.value]);
    } else if (name in result) {
      // A CONNECT refused for its content is answered with a CONNACK: PacketError carries its version.
      const connect = this.packet.cmd === "connect" ? this.packet.protocolVersion : undefined;
      this._emitError(new PacketError(RC.PROTOCOL_ERROR, `property ${name} given twice`, connect));
      return false;
    } else {
      result[name] = value;
    }
  }
  if (pairs) result.userProperties = pairs;
  return result;
}
