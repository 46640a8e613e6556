/**
 * What must keep its order: retained messages (the last publish of a topic wins whatever its QoS), the
 * acknowledgements of a client's publishes, and a subscription replaced by a repeated SUBSCRIBE.
 *
 * @module
 */
import assert from "node:assert/strict";
import mqttPacket from "mqtt-packet";
import { Buffer } from "node:buffer";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { exchange } from "../../helpers/raw.ts";
import { Collector, waitFor } from "../../helpers/wait.ts";
import { connect, connectWithAck, end, MQTT_PLUGIN, text } from "./client.ts";

const withStore = async (body: (tb: TestBroker) => Promise<void>) => {
  const tb = await startBroker({ plugins: [{ use: "sqlite-store" }, MQTT_PLUGIN] });
  try {
    await body(tb);
  } finally {
    await tb.stop();
  }
};

Deno.test("mqtt: the last retained publish of a topic wins, though an earlier QoS 2 one finishes later", () =>
  withStore(async (tb) => {
    const pub = await connect(tb);
    const topics = Array.from({ length: 20 }, (_, i) => `ro/${i}`);
    const sent: Promise<unknown>[] = [];
    for (const [i, t] of topics.entries()) {
      sent.push(pub.publishAsync(t, "first", { qos: 2, retain: true }));
      // Half are replaced by a later QoS 0 message, half cleared by a later empty one.
      sent.push(pub.publishAsync(t, i % 2 ? "last" : "", { qos: 0, retain: true }));
    }
    await Promise.all(sent);
    // Retained publishes are kept in arrival order: once this one's PUBACK is back, all before it are kept.
    await pub.publishAsync("ro/sync", "s", { qos: 1, retain: true });
    const sub = await connect(tb);
    const got = new Collector<string>();
    sub.on("message", (t, p) => got.push(`${t}:${text(p)}`));
    await sub.subscribeAsync("ro/#", { qos: 1 });
    const expected = topics.filter((_, i) => i % 2).map((t) => `${t}:last`).concat("ro/sync:s").sort();
    assert.deepEqual((await got.atLeast(expected.length)).sort(), expected);
    await end(pub);
    await end(sub);
  }));

Deno.test("mqtt: PUBACKs come in the order of the PUBLISHes, retained ones among them", () =>
  withStore(async (tb) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: tb.ports["mqtt:tcp"] });
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const acks = new Collector<number>();
    parser.on("packet", (p) => p.cmd === "puback" && acks.push(p.messageId!));
    const reading = (async () => {
      const buf = new Uint8Array(4096);
      for (let n; (n = await conn.read(buf).catch(() => null)) !== null;) {
        parser.parse(Buffer.from(buf.subarray(0, n)));
      }
    })();
    const gen = (p: object) => mqttPacket.generate(p as mqttPacket.Packet);
    const packets = [
      gen({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clientId: "order", clean: true }),
    ];
    for (let id = 1; id <= 20; id++) {
      const retain = id % 2 === 1;
      packets.push(
        gen({ cmd: "publish", topic: `ao/${id}`, payload: Buffer.from("x"), qos: 1, messageId: id, retain }),
      );
    }
    const bytes = Buffer.concat(packets);
    for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
    assert.deepEqual(await acks.atLeast(20), Array.from({ length: 20 }, (_, i) => i + 1));
    conn.close();
    await reading;
  }));

Deno.test("mqtt: a repeated SUBSCRIBE replaces the subscription without losing a message", () =>
  withStore(async (tb) => {
    const sub = await connect(tb, { clean: true });
    const got = new Set<string>();
    sub.on("message", (_t, p) => got.add(text(p)));
    await sub.subscribeAsync("rs/#", { qos: 1 });
    const pub = await connect(tb);
    const sending = Promise.all(
      Array.from({ length: 200 }, (_, i) => pub.publishAsync("rs/x", `m${i}`, { qos: 1 })),
    );
    for (let i = 0; i < 10; i++) await sub.subscribeAsync("rs/#", { qos: 1 });
    await sending;
    await waitFor(() => got.size === 200, "all 200 messages");
    await end(sub);
    await end(pub);
  }));

Deno.test("mqtt 5: retained messages for a new subscription respect the client's Receive Maximum", () =>
  withStore(async (tb) => {
    const pub = await connect(tb);
    for (let i = 0; i < 10; i++) await pub.publishAsync(`rw/${i}`, `r${i}`, { qos: 1, retain: true });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: tb.ports["mqtt:tcp"] });
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    const packets = new Collector<mqttPacket.Packet>();
    parser.on("packet", packets.push);
    const reading = (async () => {
      const buf = new Uint8Array(4096);
      for (let n; (n = await conn.read(buf).catch(() => null)) !== null;) {
        parser.parse(Buffer.from(buf.subarray(0, n)));
      }
    })();
    const send = async (p: object) => {
      const b = mqttPacket.generate(p as mqttPacket.Packet, { protocolVersion: 5 });
      for (let off = 0; off < b.length;) off += await conn.write(b.subarray(off));
    };
    await send({
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 5,
      clientId: "window",
      clean: true,
      properties: { receiveMaximum: 2 },
    });
    await send({
      cmd: "subscribe",
      messageId: 1,
      subscriptions: [{ topic: "rw/#", qos: 1 }, { topic: "rw-live", qos: 0 }],
    });
    // A live QoS 0 message after the SUBACK shows what had come before it: two retained, no more.
    await waitFor(() => packets.items.some((p) => p.cmd === "suback"), "SUBACK");
    await pub.publishAsync("rw-live", "now", { qos: 0 });
    await waitFor(
      () => packets.items.some((p) => p.cmd === "publish" && p.topic === "rw-live"),
      "the live one",
    );
    const retained = () =>
      packets.items.filter((p) => p.cmd === "publish" && p.retain) as mqttPacket.IPublishPacket[];
    assert.equal(retained().length, 2);
    // Each PUBACK lets one more through, until all ten came.
    for (let acked = 0; acked < 10; acked++) {
      await waitFor(() => retained().length > acked, `retained ${acked + 1}`);
      await send({ cmd: "puback", messageId: retained()[acked].messageId });
    }
    assert.deepEqual(
      retained().map((p) => text(p.payload as Uint8Array)).sort(),
      Array.from({ length: 10 }, (_, i) => `r${i}`).sort(),
    );
    conn.close();
    await reading;
    await end(pub);
  }));

Deno.test("mqtt 5: DISCONNECT with Session Expiry 0 ends the session; Clean Start 0 with expiry 0 resumes one", () =>
  withStore(async (tb) => {
    const queueOf = (id: string) =>
      tb.broker.destinations().find((d) => d.name.startsWith(`$mqtt.session.${id}.`));
    const keep = { protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 300 } } as const;
    // Ended at DISCONNECT.
    let c = await connect(tb, { ...keep, clientId: "ends" });
    await c.subscribeAsync("se/#", { qos: 1 });
    await new Promise<void>((r) => c.end(false, { properties: { sessionExpiryInterval: 0 } }, () => r()));
    await waitFor(() => !queueOf("ends"), "the session's queue to go");
    let again = await connectWithAck(tb, { ...keep, clientId: "ends" });
    assert.equal(again.connack.sessionPresent, false);
    await end(again.client);
    // Resumed with expiry 0: the queued message comes, then the session ends with the connection.
    c = await connect(tb, { ...keep, clientId: "resumes" });
    await c.subscribeAsync("sr/#", { qos: 1 });
    await end(c);
    const pub = await connect(tb);
    await pub.publishAsync("sr/x", "kept", { qos: 1 });
    const got = new Collector<string>();
    again = await connectWithAck(
      tb,
      { protocolVersion: 5, clean: false, clientId: "resumes" },
      false,
      (cl) => {
        cl.on("message", (_t, p) => got.push(text(p)));
      },
    );
    assert.equal(again.connack.sessionPresent, true);
    assert.deepEqual(await got.atLeast(1), ["kept"]);
    await end(again.client);
    await waitFor(() => !queueOf("resumes"), "the resumed session to end with its connection");
    await end(pub);
  }));

Deno.test("mqtt: a DISCONNECT sent right behind a SUBSCRIBE, just before closing, still counts (no will)", () =>
  withStore(async (tb) => {
    const reasons = new Collector<string>();
    tb.broker.hooks.on(
      "test",
      "disconnected",
      (e) => e.client.clientId === "quick" && reasons.push(e.reason),
    );
    const gen = (p: object) => mqttPacket.generate(p as mqttPacket.Packet);
    // In one write, then the end of input: the DISCONNECT waits behind the SUBSCRIBE being stored.
    const bytes = Buffer.concat([
      gen({
        cmd: "connect",
        protocolId: "MQTT",
        protocolVersion: 4,
        clientId: "quick",
        clean: false,
        will: { topic: "quick/will", payload: Buffer.from("lost"), qos: 1, retain: false },
      }),
      gen({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "quick/#", qos: 1 }] }),
      gen({ cmd: "disconnect" }),
    ]);
    await exchange(tb.ports["mqtt:tcp"], [new Uint8Array(bytes)], { endInput: true });
    assert.deepEqual(await reasons.atLeast(1), ["client disconnected"]);
  }));

Deno.test("mqtt: a client that sends CONNECT, PUBLISH and DISCONNECT at once and closes gets its message through", () =>
  withStore(async (tb) => {
    const watcher = await connect(tb);
    const got = new Collector<string>();
    watcher.on("message", (t, p) => got.push(`${t}:${text(p)}`));
    await watcher.subscribeAsync("fire/#", { qos: 1 });
    const gen = (p: object) => mqttPacket.generate(p as mqttPacket.Packet);
    const bytes = Buffer.concat([
      gen({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clientId: "fire", clean: true }),
      gen({ cmd: "publish", topic: "fire/forget", payload: Buffer.from("sent"), qos: 0, retain: false }),
      gen({ cmd: "disconnect" }),
    ]);
    await exchange(tb.ports["mqtt:tcp"], [new Uint8Array(bytes)], { endInput: true });
    assert.deepEqual(await got.atLeast(1), ["fire/forget:sent"]);
    await end(watcher);
  }));
