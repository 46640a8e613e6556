import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import mqttPacket from "mqtt-packet";
import { decodeAck, decodePublish, encodeAck, encodePublish } from "../../../plugins/mqtt/publish_codec.ts";
import { parsePacket } from "../../../plugins/mqtt/packet_parser.ts";

// deno-lint-ignore no-explicit-any
type Packet = any;

// Topics and payload sizes that cross the one-, two- and three-byte remaining-length boundaries.
const topics = ["a", "sensors/1/temp", "ünïcödé/トピック", "x".repeat(300)];
const sizes = [0, 1, 64, 120, 127, 128, 16_000, 16_384, 70_000];

Deno.test("mqtt publish codec: encodes what mqtt-packet encodes and decodes what it decodes", () => {
  for (const version of [4, 5]) {
    for (const topic of topics) {
      for (const size of sizes) {
        for (const qos of [0, 1, 2] as const) {
          const payload = new Uint8Array(size).map((_, i) => i * 7);
          const retain = size % 2 === 0, dup = qos > 0 && size % 3 === 0;
          const messageId = qos > 0 ? 1 + (size % 65535) : undefined;
          const reference = new Uint8Array(mqttPacket.generate(
            { cmd: "publish", topic, payload: Buffer.from(payload), qos, retain, dup, messageId },
            { protocolVersion: version },
          ));
          const ours = encodePublish(version, topic, payload, qos, retain, dup, messageId);
          assert.deepEqual(ours, reference, `encode v${version} ${topic.slice(0, 10)} ${size} q${qos}`);
          const p = decodePublish(reference, version);
          assert.equal(p.topic, topic);
          assert.equal(p.qos, qos);
          assert.equal(p.retain, retain);
          assert.equal(p.dup, dup);
          assert.equal(p.messageId, messageId);
          assert.deepEqual(new Uint8Array(p.payload), payload);
        }
      }
    }
  }
});

Deno.test("mqtt publish codec: properties are written as mqtt-packet writes them, User Properties in their order", () => {
  // A long value takes the property length past one byte.
  for (const note of ["n", "n".repeat(200)]) {
    const userProperties: [string, string][] = [["k", "v"], ["ü", "ß"], ["note", note]];
    const properties = {
      payloadFormatIndicator: true,
      messageExpiryInterval: 70_000,
      topicAlias: 3,
      responseTopic: "r/ü",
      correlationData: new Uint8Array([0, 255, 7]),
      userProperties,
      subscriptionIdentifier: 200_000,
      contentType: "text/plain",
    };
    const payload = new Uint8Array([1, 2, 3]);
    // mqtt-packet writes properties in the order of the object's keys: the order of 3.3.2.3 here.
    const reference = new Uint8Array(mqttPacket.generate(
      {
        cmd: "publish",
        topic: "t",
        payload: Buffer.from(payload),
        qos: 1,
        messageId: 9,
        retain: false,
        dup: false,
        properties: {
          ...properties,
          correlationData: Buffer.from(properties.correlationData),
          userProperties: Object.fromEntries(userProperties),
        },
      },
      { protocolVersion: 5 },
    ));
    assert.deepEqual(encodePublish(5, "t", payload, 1, false, false, 9, properties), reference);
    assert.deepEqual(
      encodePublish(4, "t", payload, 1, false, false, 9, properties),
      encodePublish(4, "t", payload, 1, false, false, 9),
      "no properties before 5.0",
    );
  }
  // Interleaved names go out and are read back in their order, which mqtt-packet's object cannot hold.
  const pairs: [string, string][] = [["a", "1"], ["b", "2"], ["a", "3"], ["2", ""], ["1", "x"]];
  const bytes = encodePublish(5, "t", new Uint8Array(1), 0, false, false, undefined, {
    userProperties: pairs,
  });
  assert.deepEqual(parsePacket(bytes, 5).properties.userProperties, pairs);
});

Deno.test("mqtt publish codec: properties and malformed headers are left to mqtt-packet", () => {
  const withProps = new Uint8Array(mqttPacket.generate(
    {
      cmd: "publish",
      topic: "t",
      payload: Buffer.from("x"),
      qos: 0,
      dup: false,
      retain: false,
      properties: { contentType: "text/plain" },
    },
    { protocolVersion: 5 },
  ));
  assert.equal(decodePublish(withProps, 5), undefined);
  const qos3 = encodePublish(4, "t", new Uint8Array(1), 1, false, false, 1);
  qos3[0] |= 0x06;
  assert.equal(decodePublish(qos3, 4), undefined);
  assert.equal(
    decodePublish(new Uint8Array([0x30, 0x05, 0x00, 0x09, 0x61]), 4),
    undefined,
    "topic past the end",
  );
  assert.equal(decodePublish(new Uint8Array([0xc0, 0x00]), 4), undefined, "not a PUBLISH");
});

Deno.test("mqtt publish codec: a topic that is not valid UTF-8 is an error; U+FEFF is kept", () => {
  for (const topic of [[0xc3, 0x28], [0xed, 0xa0, 0x80], [0x61, 0xff]]) {
    const b = new Uint8Array([0x30, 2 + topic.length + 1, 0, topic.length, ...topic, 0x78]);
    assert.ok(decodePublish(b, 4) instanceof Error, topic.join(" "));
  }
  const bom = encodePublish(4, "\uFEFFt", new Uint8Array(1), 0, false, false, undefined);
  assert.equal(decodePublish(bom, 4).topic, "\uFEFFt");
});

Deno.test("mqtt publish codec: acks without a reason are the short form mqtt-packet reads back", () => {
  for (const version of [3, 4, 5]) {
    const parser = mqttPacket.parser({ protocolVersion: version });
    const read: Packet[] = [];
    parser.on("packet", (p: Packet) => read.push(p));
    for (const cmd of ["puback", "pubrec", "pubrel", "pubcomp"] as const) {
      for (const messageId of [1, 255, 256, 65535]) {
        const ours = encodeAck({ cmd, messageId })!;
        if (version < 5) {
          // Before 5.0 there is one form only: byte for byte mqtt-packet's.
          const reference = new Uint8Array(
            mqttPacket.generate({ cmd, messageId }, { protocolVersion: version }),
          );
          assert.deepEqual(ours, reference, `v${version} ${cmd} ${messageId}`);
        }
        parser.parse(Buffer.from(ours));
        const p = read.pop();
        assert.equal(p.cmd, cmd);
        assert.equal(p.messageId, messageId);
        assert.equal(p.reasonCode ?? 0, 0);
        // Decoded by hand as mqtt-packet decodes it.
        assert.deepEqual(decodeAck(ours, version), { ...p });
      }
    }
  }
  // A reason or properties need the long form: left to mqtt-packet.
  assert.equal(encodeAck({ cmd: "puback", messageId: 1, reasonCode: 0x10 }), undefined);
  assert.equal(encodeAck({ cmd: "puback", messageId: 1, properties: { reasonString: "x" } }), undefined);
  assert.equal(encodeAck({ cmd: "suback", messageId: 1 }), undefined);
  // With a reason code, or PUBREL without its required flags: left to mqtt-packet.
  assert.equal(decodeAck(new Uint8Array([0x40, 3, 0, 1, 0x10]), 5), undefined);
  assert.equal(decodeAck(new Uint8Array([0x60, 2, 0, 1]), 4), undefined);
  assert.equal(decodeAck(new Uint8Array([0x30, 2, 0, 1]), 4), undefined);
});

Deno.test("mqtt publish codec: the plugin turns off mqtt-packet's 65,536-Buffer number cache", () => {
  assert.equal(mqttPacket.writeToStream.cacheNumbers, false);
});
