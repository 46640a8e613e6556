/**
 * Packets that break a rule of the spec the broker must close the connection for (malformed packet 0x81,
 * protocol error 0x82), sent raw since MQTT.js refuses to send most of them.
 *
 * @module
 */
import assert from "node:assert/strict";
import mqttPacket from "mqtt-packet";
import { Buffer } from "node:buffer";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { exchange } from "../../helpers/raw.ts";
import { Collector, within } from "../../helpers/wait.ts";
import { connect, end, MQTT_PLUGIN, text } from "./client.ts";

// deno-lint-ignore no-explicit-any
type Packet = any;

const gen = (p: Packet, protocolVersion: number): Uint8Array =>
  new Uint8Array(mqttPacket.generate(p, { protocolVersion }));

const connectPacket = (v: number, extra: Packet = {}): Packet => ({
  cmd: "connect",
  protocolId: "MQTT",
  protocolVersion: v,
  clientId: `val-${v}-${crypto.randomUUID().slice(0, 8)}`,
  clean: true,
  keepalive: 0,
  ...extra,
});

/** Decodes what the broker wrote as protocol `v` packets. */
function decode(bytes: Uint8Array, v: number): Packet[] {
  const out: Packet[] = [];
  const parser = mqttPacket.parser({ protocolVersion: v });
  parser.on("packet", (p: Packet) => out.push(p));
  parser.on("error", (e: Error) => out.push({ cmd: "error", message: e.message }));
  parser.parse(Buffer.from(bytes));
  return out;
}

/**
 * Sends `chunks` (packets as objects or bytes) on a raw socket of protocol `v` and returns the packets the
 * broker answered with until it closed the connection (a test fails on a connection left open).
 */
async function answers(tb: TestBroker, v: number, chunks: (Packet | Uint8Array)[]): Promise<Packet[]> {
  const bytes = chunks.map((c) => c instanceof Uint8Array ? c : gen(c, v));
  return decode(await exchange(tb.ports["mqtt:tcp"], bytes, { replyFirst: bytes.length > 1 }), v);
}

/** Connects with protocol `v`, sends `packets`, and returns what followed the CONNACK until the close. */
async function afterConnect(tb: TestBroker, v: number, packets: (Packet | Uint8Array)[]): Promise<Packet[]> {
  const [connack, ...rest] = await answers(tb, v, [connectPacket(v), ...packets]);
  assert.equal(connack.cmd, "connack");
  assert.equal(connack.returnCode ?? connack.reasonCode, 0);
  return rest;
}

/** Asserts the connection ended for a protocol violation: a 5.0 DISCONNECT with `code`, or nothing (3.1.1). */
function assertClosedWith(got: Packet[], v: number, code: number, what: string): void {
  if (v === 5) {
    assert.deepEqual(got.map((p) => [p.cmd, p.reasonCode]), [["disconnect", code]], what);
  } else {
    assert.deepEqual(got.map((p) => p.cmd), [], what);
  }
}

async function withBroker(f: (tb: TestBroker) => Promise<void>): Promise<void> {
  const tb = await startBroker({ plugins: [MQTT_PLUGIN] });
  try {
    await f(tb);
  } finally {
    await tb.stop();
  }
}

Deno.test("mqtt validation: a CONNECT breaking the spec is refused (5.0: CONNACK with the reason code) and closed", async (t) => {
  await withBroker(async (tb) => {
    const refused = (v: number, bytes: Uint8Array, code: number, what: string) =>
      t.step(what, async () => {
        const got = await answers(tb, v, [bytes]);
        if (v === 5) assert.deepEqual(got.map((p) => [p.cmd, p.reasonCode]), [["connack", code]]);
        else assert.deepEqual(got, []);
      });
    const v5 = (properties: Packet) => gen(connectPacket(5, { properties }), 5);
    await refused(5, v5({ receiveMaximum: 0 }), 0x82, "Receive Maximum 0 [MQTT-3.1.2.11.3]");
    await refused(5, v5({ maximumPacketSize: 0 }), 0x82, "Maximum Packet Size 0 [MQTT-3.1.2.11.4]");
    await refused(
      5,
      v5({ authenticationData: Buffer.from("x") }),
      0x82,
      "Authentication Data without a method",
    );
    for (const v of [4, 5]) {
      const will = { topic: "will/q3", payload: Buffer.from("x"), qos: 2, retain: false };
      const b = gen(connectPacket(v, { will }), v);
      b[9] |= 0x18; // the will QoS bits of the connect flags (byte 9 of an "MQTT" CONNECT)
      await refused(v, b, 0x81, `v${v} will QoS 3 [MQTT-3.1.2-14]`);
    }
    // Flags: password, clean session; no user name. 3.1.1 forbids it, 5.0 allows it.
    const noUser = (v: number) =>
      new Uint8Array([
        0x10,
        v === 5 ? 19 : 18,
        0,
        4,
        77,
        81,
        84,
        84,
        v,
        0x42,
        0,
        0,
        ...(v === 5 ? [0] : []),
        0,
        2,
        0x70,
        0x77,
        0,
        2,
        0x70,
        0x77,
      ]);
    await refused(4, noUser(4), 0, "v4 password without a user name [MQTT-3.1.2-22]");
    await t.step("v5 password without a user name is accepted", async () => {
      const got = await answers(tb, 5, [noUser(5), { cmd: "disconnect", reasonCode: 0 }]);
      assert.deepEqual(got.map((p) => [p.cmd, p.reasonCode]), [["connack", 0]]);
    });
  });
});

Deno.test("mqtt validation: packet identifier 0 and a SUBSCRIBE or UNSUBSCRIBE without filters end the connection", async (t) => {
  await withBroker(async (tb) => {
    for (const v of [4, 5]) {
      const closed = (what: string, packet: Packet | Uint8Array) =>
        t.step(
          `v${v} ${what}`,
          async () => assertClosedWith(await afterConnect(tb, v, [packet]), v, 0x82, what),
        );
      const publish = { cmd: "publish", topic: "t", payload: Buffer.from("x"), retain: false, dup: false };
      // [MQTT-2.3.1-1]: the fast path (no properties) and mqtt-packet's (properties).
      await closed("QoS 1 PUBLISH with packet identifier 0", { ...publish, qos: 1, messageId: 0 });
      await closed("QoS 2 PUBLISH with packet identifier 0", { ...publish, qos: 2, messageId: 0 });
      if (v === 5) {
        await closed("QoS 1 PUBLISH with properties and packet identifier 0", {
          ...publish,
          qos: 1,
          messageId: 0,
          properties: { contentType: "text/plain" },
        });
      }
      await closed("SUBSCRIBE with packet identifier 0", {
        cmd: "subscribe",
        messageId: 0,
        subscriptions: [{ topic: "a", qos: 0 }],
      });
      await closed("UNSUBSCRIBE with packet identifier 0", {
        cmd: "unsubscribe",
        messageId: 0,
        unsubscriptions: ["a"],
      });
      // [MQTT-3.8.3-3 / 3.10.3-2]: packet identifier 1, (5.0) no properties, no payload.
      const props = v === 5 ? [0] : [];
      await closed("SUBSCRIBE without filters", new Uint8Array([0x82, 2 + props.length, 0, 1, ...props]));
      await closed("UNSUBSCRIBE without filters", new Uint8Array([0xa2, 2 + props.length, 0, 1, ...props]));
    }
  });
});

Deno.test("mqtt validation: a 5.0 SUBSCRIBE with Subscription Identifier 0 or No Local on a shared filter is a protocol error", async (t) => {
  await withBroker(async (tb) => {
    const closed = (what: string, packet: Packet | Uint8Array) =>
      t.step(what, async () => assertClosedWith(await afterConnect(tb, 5, [packet]), 5, 0x82, what));
    const sub = (properties: Packet, s: Packet) => ({
      cmd: "subscribe",
      messageId: 1,
      properties,
      subscriptions: [s],
    });
    await closed(
      "Subscription Identifier 0 [MQTT-3.8.2.1.2]",
      sub({ subscriptionIdentifier: 0 }, { topic: "a", qos: 0 }),
    );
    await closed(
      "No Local on $share/g/a [MQTT-3.8.3-4]",
      sub(undefined, { topic: "$share/g/a", qos: 0, nl: true }),
    );
    await t.step("No Local on a plain filter and identifier 1 are granted", async () => {
      const got = await afterConnect(tb, 5, [
        sub({ subscriptionIdentifier: 1 }, { topic: "a", qos: 1, nl: true }),
        { cmd: "disconnect", reasonCode: 0 },
      ]);
      assert.deepEqual(got.map((p) => [p.cmd, p.granted]), [["suback", [1]]]);
    });
  });
});

Deno.test("mqtt validation: a 5.0 property given twice is a protocol error; User Property may repeat", async (t) => {
  await withBroker(async (tb) => {
    // A well-behaved client on the same broker keeps receiving, and no refused PUBLISH reaches it.
    const watcher = await connect(tb, { protocolVersion: 5 });
    const got = new Collector<string>();
    watcher.on("message", (topic, payload) => got.push(`${topic}:${text(payload)}`));
    await watcher.subscribeAsync("twice/#", { qos: 1 });
    // mqtt-packet writes each value of a list as one more property. A first value of 0 or false is what
    // its parser used to overwrite without a trace; a second one, what it made a list of.
    const connects: Record<string, unknown[]> = {
      sessionExpiryInterval: [0, 60],
      receiveMaximum: [10, 20],
      maximumPacketSize: [1000, 2000],
      topicAliasMaximum: [0, 5],
      requestResponseInformation: [false, true],
      requestProblemInformation: [true, false],
      authenticationMethod: ["a", "a"],
    };
    for (const [name, values] of Object.entries(connects)) {
      await t.step(`CONNECT with ${name} twice: CONNACK 0x82`, async () => {
        const got = await answers(tb, 5, [connectPacket(5, { properties: { [name]: values } })]);
        assert.deepEqual(got.map((p) => [p.cmd, p.reasonCode]), [["connack", 0x82]]);
      });
    }
    await t.step("CONNECT with the will's Will Delay Interval twice: CONNACK 0x82", async () => {
      const will = {
        topic: "twice/will",
        payload: Buffer.from("w"),
        qos: 0,
        retain: false,
        properties: { willDelayInterval: [0, 10] },
      };
      const got = await answers(tb, 5, [connectPacket(5, { will })]);
      assert.deepEqual(got.map((p) => [p.cmd, p.reasonCode]), [["connack", 0x82]]);
    });
    const publish = { cmd: "publish", topic: "twice/x", qos: 1, messageId: 1, retain: false, dup: false };
    const publishes: Record<string, unknown[]> = {
      payloadFormatIndicator: [false, true],
      messageExpiryInterval: [60, 60],
      topicAlias: [1, 1],
      responseTopic: ["r/a", "r/b"],
      correlationData: [Buffer.from("a"), Buffer.from("b")],
      contentType: ["", "text/plain"],
    };
    for (const [name, values] of Object.entries(publishes)) {
      await t.step(`PUBLISH with ${name} twice: DISCONNECT 0x82`, async () => {
        const p = { ...publish, payload: Buffer.from(name), properties: { [name]: values } };
        assertClosedWith(await afterConnect(tb, 5, [p]), 5, 0x82, name);
      });
    }
    const others: Record<string, Packet> = {
      "SUBSCRIBE with Subscription Identifier": {
        cmd: "subscribe",
        messageId: 1,
        properties: { subscriptionIdentifier: [1, 2] },
        subscriptions: [{ topic: "a", qos: 0 }],
      },
      "PUBACK with Reason String": {
        cmd: "puback",
        messageId: 1,
        reasonCode: 0x10,
        properties: { reasonString: ["a", "b"] },
      },
      "DISCONNECT with Session Expiry Interval": {
        cmd: "disconnect",
        reasonCode: 0,
        properties: { sessionExpiryInterval: [0, 0] },
      },
    };
    for (const [what, packet] of Object.entries(others)) {
      await t.step(`${what} twice: DISCONNECT 0x82`, async () => {
        assertClosedWith(await afterConnect(tb, 5, [packet]), 5, 0x82, what);
      });
    }
    await t.step("PUBLISH with a User Property name repeated is delivered", async () => {
      const p = {
        ...publish,
        topic: "twice/ok",
        payload: Buffer.from("fine"),
        properties: { userProperties: { k: ["1", "2"] } },
      };
      const answered = await afterConnect(tb, 5, [p, { cmd: "disconnect", reasonCode: 0 }]);
      assert.deepEqual(answered.map((p) => [p.cmd, p.reasonCode]), [["puback", 0]]);
      await got.atLeast(1);
      assert.deepEqual(got.items, ["twice/ok:fine"]);
    });
    await end(watcher);
  });
});

Deno.test("mqtt validation: a QoS 0 PUBLISH with DUP is malformed; a client's Subscription Identifier or a wildcard Response Topic is a protocol error", async (t) => {
  await withBroker(async (tb) => {
    const publish = {
      cmd: "publish",
      topic: "t",
      payload: Buffer.from("x"),
      retain: false,
      dup: false,
      qos: 0,
    };
    for (const v of [4, 5]) {
      const dup = gen(publish, v);
      dup[0] |= 0x08;
      await t.step(`v${v} QoS 0 PUBLISH with DUP [MQTT-3.3.1-2]`, async () => {
        assertClosedWith(await afterConnect(tb, v, [dup]), v, 0x81, "DUP on QoS 0");
      });
    }
    await t.step("v5 QoS 0 PUBLISH with properties and DUP [MQTT-3.3.1-2]", async () => {
      const b = gen({ ...publish, properties: { contentType: "text/plain" } }, 5);
      b[0] |= 0x08;
      assertClosedWith(await afterConnect(tb, 5, [b]), 5, 0x81, "DUP on QoS 0");
    });
    await t.step("v5 PUBLISH with a Subscription Identifier [MQTT-3.3.4-6]", async () => {
      const b = { ...publish, qos: 1, messageId: 2, properties: { subscriptionIdentifier: 3 } };
      assertClosedWith(await afterConnect(tb, 5, [b]), 5, 0x82, "Subscription Identifier");
    });
    await t.step("v5 PUBLISH with Response Topic r/# (MQTT.js) [MQTT-3.3.2-14]", async () => {
      const c = await connect(tb, { protocolVersion: 5 });
      try {
        const reason = new Promise<number | undefined>((r) => c.once("disconnect", (p) => r(p.reasonCode)));
        c.publish("t", "x", { qos: 1, properties: { responseTopic: "r/#" } });
        assert.equal(await within(reason, 5000, "DISCONNECT"), 0x82);
      } finally {
        c.end(true);
      }
    });
  });
});

Deno.test("mqtt validation: a topic name or filter that is not valid UTF-8 is malformed [MQTT-1.5.3-1]", async (t) => {
  await withBroker(async (tb) => {
    const bad = { "C3 28": [0x61, 0xc3, 0x28], "surrogate ED A0 80": [0x61, 0xed, 0xa0, 0x80] };
    for (const [name, topic] of Object.entries(bad)) {
      for (const v of [4, 5]) {
        // Topic length, topic, packet identifier 1, (5.0) properties, payload "x".
        const publish = (props: number[]) => {
          const body = [0, topic.length, ...topic, 0, 1, ...(v === 5 ? props : []), 0x78];
          return new Uint8Array([0x32, body.length, ...body]);
        };
        await t.step(`v${v} PUBLISH topic ${name}`, async () => {
          assertClosedWith(await afterConnect(tb, v, [publish([0])]), v, 0x81, "topic");
        });
        if (v === 5) {
          // With a property (Payload Format Indicator 1) mqtt-packet decodes it, not publish_codec.ts.
          await t.step(`v5 PUBLISH with properties, topic ${name}`, async () => {
            assertClosedWith(await afterConnect(tb, v, [publish([2, 0x01, 0x01])]), v, 0x81, "topic");
          });
        }
        await t.step(`v${v} SUBSCRIBE filter ${name}`, async () => {
          const body = [0, 1, ...(v === 5 ? [0] : []), 0, topic.length, ...topic, 0];
          assertClosedWith(
            await afterConnect(tb, v, [new Uint8Array([0x82, body.length, ...body])]),
            v,
            0x81,
            "filter",
          );
        });
      }
    }
  });
});

Deno.test("mqtt validation: valid UTF-8 topics, a leading U+FEFF included, are delivered as sent [MQTT-1.5.4-3]", async () => {
  await withBroker(async (tb) => {
    for (const protocolVersion of [4, 5] as const) {
      const c = await connect(tb, { protocolVersion });
      try {
        const got = new Promise<string>((r) => c.once("message", (topic) => r(topic)));
        for (const topic of ["\uFEFFbom/#", "ünï/トピック/#"]) await c.subscribeAsync(topic, { qos: 1 });
        await c.publishAsync("\uFEFFbom/x", "a", { qos: 1 });
        assert.equal(await within(got, 5000, "the message"), "\uFEFFbom/x");
        const got2 = new Promise<string>((r) => c.once("message", (topic) => r(topic)));
        await c.publishAsync("ünï/トピック/x", "b", { qos: 1 });
        assert.equal(await within(got2, 5000, "the message"), "ünï/トピック/x");
      } finally {
        c.end(true);
      }
    }
  });
});

Deno.test("mqtt validation: with Request Problem Information 0 a refused PUBLISH's PUBACK / PUBREC has no Reason String [MQTT-3.1.2-29]", async (t) => {
  const tb = await startBroker({ limits: { maxMessageSize: 100 }, plugins: [MQTT_PLUGIN] });
  try {
    for (const requestProblemInformation of [true, false]) {
      for (const qos of [1, 2] as const) {
        await t.step(`Request Problem Information ${requestProblemInformation}, QoS ${qos}`, async () => {
          const c = await connect(tb, { protocolVersion: 5, properties: { requestProblemInformation } });
          try {
            const ack = new Promise<Packet>((r) =>
              c.on("packetreceive", (p) => (p.cmd === "puback" || p.cmd === "pubrec") && r(p))
            );
            c.publish("rpi/t", Buffer.alloc(300, 65), { qos }, () => {});
            const p = await within(ack, 5000, "the PUBACK / PUBREC");
            assert.equal(p.reasonCode, 0x97, "quota exceeded: larger than maxMessageSize");
            assert.equal(p.properties?.reasonString !== undefined, requestProblemInformation);
          } finally {
            c.end(true);
          }
        });
      }
    }
  } finally {
    await tb.stop();
  }
});
