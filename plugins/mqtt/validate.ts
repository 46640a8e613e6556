/**
 * What a decoded packet must satisfy beyond what mqtt-packet checks: the spec's rules on values, flags and
 * combinations whose violation ends the connection (malformed packet 0x81 or protocol error 0x82).
 * Run on each packet a client sends, before it is dispatched.
 *
 * @module
 */
import { RC } from "./reason_codes.ts";

// deno-lint-ignore no-explicit-any
type Packet = any;

/** A packet the connection must be closed for, with the reason code to close it with. */
export class PacketError extends Error {
  /** MALFORMED_PACKET or PROTOCOL_ERROR. */
  readonly code: number;
  /** Set when the packet is a CONNECT: its protocol version, so a 5.0 client gets a CONNACK. */
  readonly connectVersion: number | undefined;

  constructor(code: number, message: string, connectVersion?: number) {
    super(message);
    this.code = code;
    this.connectVersion = connectVersion;
  }
}

/** The violation in client packet `p`, or undefined. */
export function validatePacket(p: Packet): PacketError | undefined {
  switch (p.cmd) {
    case "connect":
      return validateConnect(p);
    default:
      return undefined;
  }
}

function validateConnect(p: Packet): PacketError | undefined {
  const v = p.protocolVersion;
  const fail = (code: number, reason: string) => new PacketError(code, reason, v);
  if (p.will && p.will.qos > 2) return fail(RC.MALFORMED_PACKET, "will QoS 3"); // [MQTT-3.1.2-14]
  if (v !== 5) {
    if (p.password !== undefined && p.username === undefined) {
      return fail(RC.PROTOCOL_ERROR, "password flag without the user name flag"); // [MQTT-3.1.2-22]
    }
    return undefined;
  }
  const props = p.properties;
  if (props === undefined) return undefined;
  if (props.receiveMaximum === 0) return fail(RC.PROTOCOL_ERROR, "Receive Maximum 0"); // [MQTT-3.1.2.11.3]
  if (props.maximumPacketSize === 0) return fail(RC.PROTOCOL_ERROR, "Maximum Packet Size 0"); // [MQTT-3.1.2.11.4]
  if (props.authenticationData !== undefined && props.authenticationMethod === undefined) {
    return fail(RC.PROTOCOL_ERROR, "Authentication Data without an Authentication Method"); // [MQTT-3.1.2.11.10]
  }
  return undefined;
}
