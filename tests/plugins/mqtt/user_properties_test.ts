/**
 * User Properties are forwarded unaltered and in order [MQTT-3.3.2-18], repeated names interleaved with
 * others included. Checked on the bytes: MQTT.js, like mqtt-packet, files them by name.
 *
 * @module
 */
import assert from "node:assert/strict";
import mqttPacket from "mqtt-packet";
import type { Message } from "../../../mod.ts";
import { Framer } from "../../../plugins/mqtt/framing.ts";
import { startBroker } from "../../helpers/broker.ts";
import { Collector, within } from "../../helpers/wait.ts";
import { MQTT_PLUGIN } from "./client.ts";

type Pairs = [string, string][];

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** A variable byte integer (1.5.5). */
function varInt(n: number): number[] {
  const out: number[] = [];
  do {
    out.push((n % 128) | (n >= 128 ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return out;
}

const str = (s: string): number[] => {
  const b = utf8.encode(s);
  return [b.length >> 8, b.length & 0xff, ...b];
};

/** A 5.0 QoS 0 PUBLISH whose only properties are User Properties `pairs`, in that order. */
function publishWith(topic: string, pairs: Pairs, payload: string): Uint8Array {
  const props = pairs.flatMap(([k, v]) => [0x26, ...str(k), ...str(v)]);
  const body = [...str(topic), ...varInt(props.length), ...props, ...utf8.encode(payload)];
  return new Uint8Array([0x30, ...varInt(body.length), ...body]);
}

/** The User Properties of a 5.0 PUBLISH, in the order of its bytes; any other property fails the test. */
function userPropertiesOf(b: Uint8Array): Pairs {
  let i = 1;
  while (b[i++] & 0x80); // the remaining length
  const readVarInt = () => {
    let n = 0, mult = 1, byte;
    do {
      byte = b[i++];
      n += (byte & 0x7f) * mult;
      mult *= 128;
    } while (byte & 0x80);
    return n;
  };
  const readString = () => {
    const n = (b[i] << 8) | b[i + 1];
    i += 2 + n;
    return text.decode(b.subarray(i - n, i));
  };
  readString(); // the topic
  if ((b[0] >> 1) & 3) i += 2; // the packet identifier
  const end = readVarInt() + i;
  const pairs: Pairs = [];
  while (i < end) {
    assert.equal(b[i++], 0x26, "only User Properties");
    pairs.push([readString(), readString()]);
  }
  return pairs;
}

/** A raw 5.0 connection: writes bytes, collects each packet the broker sends as its bytes. */
async function rawClient(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const packets = new Collector<Uint8Array>();
  const framer = new Framer(1 << 20);
  const reading = (async () => {
    const buf = new Uint8Array(4096);
    for (let n; (n = await conn.read(buf).catch(() => null)) !== null;) {
      framer.push(buf.subarray(0, n), (p) => (packets.push(p), true));
    }
  })();
  let seen = 0;
  return {
    async send(bytes: Uint8Array) {
      for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
    },
    /** The next packet of type `type` (the high nibble of its first byte). */
    async next(type: number): Promise<Uint8Array> {
      while (true) {
        const p = (await packets.atLeast(++seen))[seen - 1];
        if (p[0] >> 4 === type) return p;
      }
    },
    async close() {
      conn.close();
      await reading;
    },
  };
}

const gen = (p: object) =>
  new Uint8Array(mqttPacket.generate(p as mqttPacket.Packet, { protocolVersion: 5 }));

Deno.test("mqtt 5: User Properties reach a subscriber in the order they were published, repeated names interleaved", async () => {
  const tb = await startBroker({ plugins: [MQTT_PLUGIN] });
  const c = await rawClient(tb.ports["mqtt:tcp"]);
  try {
    const core = new Collector<Message>();
    await tb.broker.subscribe(
      { kind: "topic", destination: "up.>", ack: "auto" },
      (d) => core.push(d.message),
    );
    await c.send(
      gen({ cmd: "connect", protocolId: "MQTT", protocolVersion: 5, clientId: "up", clean: true }),
    );
    await c.next(2);
    await c.send(gen({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "up/#", qos: 1 }] }));
    await c.next(9);
    const sent: Pairs[] = [
      [["a", "1"], ["b", "2"], ["a", "3"]],
      // No name repeats, but an object lists integer-like names first, in numeric order.
      [["2", "x"], ["1", "y"]],
      // mqtt-packet's object lost a first value that was empty.
      [["k", ""], ["k", "v"]],
    ];
    for (const [n, pairs] of sent.entries()) {
      await c.send(publishWith(`up/${n}`, pairs, `m${n}`));
      const got = await within(c.next(3), 5000, `PUBLISH ${n}`);
      assert.deepEqual(userPropertiesOf(got), pairs, `PUBLISH ${n}`);
    }
    // The core sees each name once, with its first value.
    const [m0, m1, m2] = await core.atLeast(3);
    assert.deepEqual({ ...m0.properties }, { a: "1", b: "2" });
    assert.deepEqual({ ...m1.properties }, { 1: "y", 2: "x" });
    assert.deepEqual({ ...m2.properties }, { k: "" });
  } finally {
    await c.close();
    await tb.stop();
  }
});
