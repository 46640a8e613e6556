import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import mqttPacket from "mqtt-packet";
import { decodePublish, encodePublish } from "../../../plugins/mqtt/publish_codec.ts";

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
