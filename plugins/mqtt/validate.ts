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

const protocol = (reason: string) => new PacketError(RC.PROTOCOL_ERROR, reason);

/** The violation in client packet `p` of protocol `version`, or undefined. */
export function validatePacket(p: Packet, version: number): PacketError | undefined {
  switch (p.cmd) {
    case "publish":
      return validatePublish(p, version);
    case "subscribe":
      return validateSubscribe(p, version);
    case "unsubscribe":
      if (p.messageId === 0) return protocol("UNSUBSCRIBE with packet identifier 0"); // [MQTT-2.3.1-1]
      if (p.unsubscriptions.length === 0) return protocol("UNSUBSCRIBE without a topic filter"); // [MQTT-3.10.3-2]
      return undefined;
    case "connect":
      return validateConnect(p);
    default:
      return undefined;
  }
}

// The common PUBLISH (decoded by publish_codec.ts) costs a few compares here.
function validatePublish(p: Packet, version: number): PacketError | undefined {
  if (p.qos === 0) {
    if (p.dup) return new PacketError(RC.MALFORMED_PACKET, "DUP set on a QoS 0 PUBLISH"); // [MQTT-3.3.1-2]
  } else if (p.messageId === 0) {
    return protocol("PUBLISH with packet identifier 0"); // [MQTT-2.3.1-1]
  }
  const props = p.properties;
  if (version !== 5 || props === undefined) return undefined;
  if (props.subscriptionIdentifier !== undefined) {
    return protocol("PUBLISH from a client with a Subscription Identifier"); // [MQTT-3.3.4-6]
  }
  const rt = props.responseTopic;
  if (rt !== undefined && (typeof rt !== "string" || rt.includes("+") || rt.includes("#"))) {
    return protocol("wildcard in the Response Topic"); // [MQTT-3.3.2-14]
  }
  return undefined;
}

function validateSubscribe(p: Packet, version: number): PacketError | undefined {
  if (p.messageId === 0) return protocol("SUBSCRIBE with packet identifier 0"); // [MQTT-2.3.1-1]
  if (p.subscriptions.length === 0) return protocol("SUBSCRIBE without a topic filter"); // [MQTT-3.8.3-3]
  if (version !== 5) return undefined;
  // Given twice, it was refused as it was decoded (properties.ts).
  if (p.properties?.subscriptionIdentifier === 0) return protocol("Subscription Identifier 0"); // [MQTT-3.8.2.1.2]
  for (const s of p.subscriptions) {
    if (s.nl && s.topic.startsWith("$share/")) {
      return protocol(`No Local on the shared subscription "${s.topic}"`); // [MQTT-3.8.3-4]
    }
  }
  return undefined;
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
