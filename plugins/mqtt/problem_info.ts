/**
 * Request Problem Information 0 (MQTT 5 CONNECT): the client asked for no Reason String or User
 * Properties on any packet but PUBLISH, CONNACK and DISCONNECT [MQTT-3.1.2-29].
 *
 * @module
 */

// deno-lint-ignore no-explicit-any
type Packet = any;

/** `packet` without its Reason String and User Properties unless it is a PUBLISH, CONNACK or DISCONNECT. */
export function withoutProblemInfo(packet: Packet): Packet {
  const cmd = packet.cmd;
  if (cmd === "publish" || cmd === "connack" || cmd === "disconnect" || packet.properties === undefined) {
    return packet;
  }
  const { reasonString, userProperties, ...rest } = packet.properties;
  if (reasonString === undefined && userProperties === undefined) return packet;
  return { ...packet, properties: Object.keys(rest).length > 0 ? rest : undefined };
}
