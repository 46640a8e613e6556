/**
 * MQTT packets for the raw-socket tests, made with mqtt-packet: any packet, a CONNECT, and the valid packets
 * the fuzz tests mutate.
 *
 * @module
 */
import mqttPacket from "mqtt-packet";
import { Buffer } from "node:buffer";

/** The bytes of packet `p` (mqtt-packet's object form) for `protocolVersion`. */
// deno-lint-ignore no-explicit-any
export const gen = (p: any, protocolVersion = 4): Uint8Array =>
  new Uint8Array(
    mqttPacket.generate(p.payload ? { ...p, payload: Buffer.from(p.payload) } : p, { protocolVersion }),
  );

/** A clean-session CONNECT of version `v` without keep-alive. */
export const CONNECT = (v = 4, id = "raw"): Uint8Array =>
  gen({ cmd: "connect", protocolId: "MQTT", protocolVersion: v, clientId: id, clean: true, keepalive: 0 }, v);

/** Valid packets of every kind a client sends, which the fuzz tests send as they are and mutated. */
export const fuzzSeeds = (): Uint8Array[] => [
  CONNECT(),
  CONNECT(5),
  gen({
    cmd: "publish",
    topic: "fuzz/x",
    payload: new Uint8Array(8),
    qos: 1,
    messageId: 5,
    retain: false,
    dup: false,
  }),
  gen({ cmd: "subscribe", messageId: 2, subscriptions: [{ topic: "fuzz/#", qos: 1 }] }),
  gen({ cmd: "pingreq" }),
  gen({ cmd: "pubrel", messageId: 3 }),
];
