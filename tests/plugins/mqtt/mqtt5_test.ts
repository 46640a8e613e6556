/**
 * MQTT 5 features with MQTT.js: what CONNACK announces, subscription options and identifiers, topic
 * aliases from the client, maximum packet size, payload format, $SYS statistics, keep-alive and MQTT 3.1.
 *
 * @module
 */
import assert from "node:assert/strict";
import mqttPacket from "mqtt-packet";
import { Buffer } from "node:buffer";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { exchange } from "../../helpers/raw.ts";
import { Collector, waitFor } from "../../helpers/wait.ts";
import { type Client, connect, connectWithAck, end, MQTT_PLUGIN, text } from "./client.ts";

const withBroker = async (
  options: Record<string, unknown>,
  body: (tb: TestBroker) => Promise<void>,
): Promise<void> => {
  const tb = await startBroker({
    plugins: [{ use: "mqtt", options: { ...MQTT_PLUGIN.options, ...options } }],
  });
  try {
    await body(tb);
  } finally {
    await tb.stop();
  }
};

/** Every PUBLISH the client receives, as "topic:payload". */
function messages(c: Client): Collector<string> {
  const got = new Collector<string>();
  c.on("message", (t, p) => got.push(`${t}:${text(p)}`));
  return got;
}

for (const ws of [false, true]) {
  Deno.test(`mqtt 5 ${ws ? "ws" : "tcp"}: CONNACK announces the limits, an assigned client id, server keep-alive and response information`, () =>
    withBroker(
      { maxKeepAlive: 30, receiveMaximum: 50, topicAliasMaximum: 8, maxPacketSize: 65536 },
      async (tb) => {
        const { client, connack } = await connectWithAck(tb, {
          protocolVersion: 5,
          clientId: "",
          keepalive: 120,
          properties: { requestResponseInformation: true },
        }, ws);
        try {
          const p = connack.properties!;
          assert.match(p.assignedClientIdentifier ?? "", /^auto-/);
          assert.equal(p.serverKeepAlive, 30);
          assert.equal(p.receiveMaximum, 50);
          assert.equal(p.topicAliasMaximum, 8);
          assert.equal(p.maximumPacketSize, 65536);
          assert.equal(p.responseInformation, `reply/${p.assignedClientIdentifier}`);
          assert.equal(p.sharedSubscriptionAvailable, true);
          // The assigned id is the session's: a second client taking it over closes the first.
          const closed = new Promise<void>((r) => client.once("close", () => r()));
          const second = await connect(tb, { protocolVersion: 5, clientId: p.assignedClientIdentifier }, ws);
          await closed;
          await end(second);
        } finally {
          await end(client, true);
        }
      },
    ));
}

Deno.test("mqtt 5: no-local keeps a client's own messages out of its subscription", () =>
  withBroker({}, async (tb) => {
    const self = await connect(tb, { protocolVersion: 5 });
    const other = await connect(tb, { protocolVersion: 5 });
    const mine = messages(self), theirs = messages(other);
    await self.subscribeAsync("nl/#", { qos: 1, nl: true });
    await other.subscribeAsync("nl/#", { qos: 1 });
    await self.publishAsync("nl/a", "from-self", { qos: 1 });
    await other.publishAsync("nl/a", "from-other", { qos: 1 });
    // The own message was routed before the other's was accepted: had it come, it would be first.
    assert.deepEqual(await mine.atLeast(1), ["nl/a:from-other"]);
    assert.deepEqual(await theirs.atLeast(2), ["nl/a:from-self", "nl/a:from-other"]);
    await end(self);
    await end(other);
  }));

Deno.test("mqtt 5: retain handling 0, 1 and 2 and retain-as-published", () =>
  withBroker({}, async (tb) => {
    const pub = await connect(tb, { protocolVersion: 5 });
    await pub.publishAsync("rt/a", "kept", { qos: 1, retain: true });
    const flags = (c: Client) => {
      const got = new Collector<string>();
      c.on("message", (t, p, pk) => got.push(`${t}:${text(p)}:${pk.retain}`));
      return got;
    };
    // A live message after each SUBACK shows what came before it: retained messages follow the SUBACK at once.
    const live = () => pub.publishAsync("rt/live", "now", { qos: 1 });

    const a = await connect(tb, { protocolVersion: 5 });
    const gotA = flags(a);
    await a.subscribeAsync("rt/#", { qos: 1, rh: 0 });
    await a.subscribeAsync("rt/#", { qos: 1, rh: 0 }); // 0: sent on every subscribe
    await live();
    assert.deepEqual(await gotA.atLeast(3), ["rt/a:kept:true", "rt/a:kept:true", "rt/live:now:false"]);
    await a.subscribeAsync("rt/#", { qos: 1, rh: 1 }); // 1: only when the subscription is new
    await live();
    assert.deepEqual((await gotA.atLeast(4)).slice(3), ["rt/live:now:false"]);

    const b = await connect(tb, { protocolVersion: 5 });
    const gotB = flags(b);
    await b.subscribeAsync("rt/#", { qos: 1, rh: 2 }); // 2: never
    await live();
    assert.deepEqual(await gotB.atLeast(1), ["rt/live:now:false"]);

    const c = await connect(tb, { protocolVersion: 5 });
    const gotC = flags(c);
    await c.subscribeAsync("rt/#", { qos: 1, rh: 1 });
    assert.deepEqual(await gotC.atLeast(1), ["rt/a:kept:true"]);

    // Retain-as-published: a retained PUBLISH forwarded live keeps its flag only for rap subscriptions.
    const rap = await connect(tb, { protocolVersion: 5 });
    const plain = await connect(tb, { protocolVersion: 5 });
    const gotRap = flags(rap), gotPlain = flags(plain);
    await rap.subscribeAsync("rp/#", { qos: 1, rap: true });
    await plain.subscribeAsync("rp/#", { qos: 1, rap: false });
    await pub.publishAsync("rp/x", "r", { qos: 1, retain: true });
    assert.deepEqual(await gotRap.atLeast(1), ["rp/x:r:true"]);
    assert.deepEqual(await gotPlain.atLeast(1), ["rp/x:r:false"]);
    for (const x of [pub, a, b, c, rap, plain]) await end(x);
  }));

Deno.test("mqtt 5: subscription identifiers travel with the deliveries of their subscription", () =>
  withBroker({}, async (tb) => {
    const c = await connect(tb, { protocolVersion: 5 });
    const got = new Collector<string>();
    c.on(
      "message",
      (t, _p, pk) => got.push(`${t}:${JSON.stringify(pk.properties?.subscriptionIdentifier ?? null)}`),
    );
    await c.subscribeAsync("si/a/#", { qos: 1, properties: { subscriptionIdentifier: 5 } });
    await c.subscribeAsync("si/+/x", { qos: 1, properties: { subscriptionIdentifier: 9 } });
    await c.subscribeAsync("si/none", { qos: 1 });
    await c.publishAsync("si/a/x", "1", { qos: 1 });
    await c.publishAsync("si/none", "2", { qos: 1 });
    const items = await got.atLeast(3);
    // Two matching subscriptions: a copy for each, each with its own identifier.
    assert.deepEqual(items.slice(0, 2).sort(), ["si/a/x:5", "si/a/x:9"]);
    assert.equal(items[2], "si/none:null");
    await end(c);
  }));

Deno.test("mqtt 5: topic aliases from the client: the alias stands for the topic it was set with", () =>
  withBroker({ topicAliasMaximum: 4 }, async (tb) => {
    const sub = await connect(tb, { protocolVersion: 5 });
    const got = messages(sub);
    await sub.subscribeAsync("ta/#", { qos: 1 });
    const pub = await connect(tb, { protocolVersion: 5 });
    await pub.publishAsync("ta/x", "1", { qos: 1, properties: { topicAlias: 1 } });
    await pub.publishAsync("", "2", { qos: 1, properties: { topicAlias: 1 } });
    await pub.publishAsync("ta/y", "3", { qos: 1, properties: { topicAlias: 1 } }); // re-pointed
    await pub.publishAsync("", "4", { qos: 1, properties: { topicAlias: 1 } });
    assert.deepEqual(await got.atLeast(4), ["ta/x:1", "ta/x:2", "ta/y:3", "ta/y:4"]);
    await end(sub);
    await end(pub);
  }));

Deno.test("mqtt 5: a delivery larger than the client's Maximum Packet Size is dropped for it, the rest flow", () =>
  withBroker({}, async (tb) => {
    const small = await connect(tb, {
      protocolVersion: 5,
      properties: { maximumPacketSize: 256, receiveMaximum: 1 },
    });
    const large = await connect(tb, { protocolVersion: 5 });
    const gotSmall = messages(small), gotLarge = messages(large);
    await small.subscribeAsync("mp/#", { qos: 1 });
    await large.subscribeAsync("mp/#", { qos: 1 });
    const pub = await connect(tb, { protocolVersion: 5 });
    await pub.publishAsync("mp/a", "x".repeat(1000), { qos: 1 });
    // A small body whose properties make the packet too large counts by its whole size.
    await pub.publishAsync("mp/p", "p", {
      qos: 1,
      properties: { userProperties: { note: "y".repeat(300) } },
    });
    await pub.publishAsync("mp/b", "fits", { qos: 1 });
    // The dropped ones are settled, not left holding the client's one-message window.
    assert.deepEqual(await gotSmall.atLeast(1), ["mp/b:fits"]);
    assert.deepEqual((await gotLarge.atLeast(3)).map((s) => s.slice(0, 6)), ["mp/a:x", "mp/p:p", "mp/b:f"]);
    for (const c of [small, large, pub]) await end(c);
  }));

Deno.test("mqtt 5: payload format indicator and content type reach an MQTT 5 subscriber; expiry is what is left", () =>
  withBroker({}, async (tb) => {
    const c = await connect(tb, { protocolVersion: 5 });
    const got = new Collector<Record<string, unknown>>();
    c.on("message", (_t, _p, pk) => got.push({ ...pk.properties }));
    await c.subscribeAsync("pf/#", { qos: 1 });
    await c.publishAsync("pf/a", "{}", {
      qos: 1,
      properties: {
        payloadFormatIndicator: true,
        contentType: "application/json",
        messageExpiryInterval: 60,
      },
    });
    await tb.broker.publish({ destination: "pf.b", body: "x", expiresAt: Date.now() + 30_500 });
    const [a, b] = await got.atLeast(2);
    assert.equal(a.payloadFormatIndicator, true);
    assert.equal(a.contentType, "application/json");
    assert.ok((a.messageExpiryInterval as number) >= 59 && (a.messageExpiryInterval as number) <= 60);
    assert.equal(b.payloadFormatIndicator, undefined);
    assert.ok((b.messageExpiryInterval as number) <= 31 && (b.messageExpiryInterval as number) >= 29);
    await end(c);
  }));

Deno.test("mqtt: $SYS topics carry the broker's statistics", () =>
  withBroker({ sysIntervalMs: 50 }, async (tb) => {
    const c = await connect(tb);
    const seen = new Map<string, number>();
    c.on("message", (t, p) => seen.set(t, Number(text(p))));
    await c.subscribeAsync("$SYS/broker/#", { qos: 0 });
    await c.publishAsync("any/topic", "x", { qos: 1 });
    // The counters leave out the $SYS messages themselves: one message of one byte came in.
    await waitFor(() => seen.get("$SYS/broker/messages/received") === 1, "$SYS/broker/messages/received");
    assert.equal(seen.get("$SYS/broker/bytes/received"), 1);
    assert.equal(seen.get("$SYS/broker/clients/connected"), 1);
    for (const k of ["bytes/sent", "messages/sent", "retained/count", "clients/total", "uptime"]) {
      assert.ok(Number.isFinite(seen.get(`$SYS/broker/${k}`)), k);
    }
    // A "#" subscription does not match $SYS topics [MQTT-4.7.2-1].
    const all = await connect(tb);
    const gotAll = messages(all);
    await all.subscribeAsync("#", { qos: 0 });
    await c.publishAsync("after/sys", "y", { qos: 1 });
    await gotAll.atLeast(1);
    assert.ok(gotAll.items.every((s) => !s.startsWith("$SYS")), gotAll.items.join());
    await end(c);
    await end(all);
  }));

for (const ws of [false, true]) {
  Deno.test(`mqtt 3.1 (MQIsdp) ${ws ? "ws" : "tcp"}: connects and round-trips QoS 0, 1 and 2`, () =>
    withBroker({}, async (tb) => {
      const o = { protocolId: "MQIsdp", protocolVersion: 3 } as const;
      const sub = await connect(tb, o, ws);
      const got = messages(sub);
      await sub.subscribeAsync("v3/#", { qos: 2 });
      const pub = await connect(tb, o, ws);
      for (const qos of [0, 1, 2] as const) await pub.publishAsync("v3/x", `q${qos}`, { qos });
      assert.deepEqual(await got.atLeast(3), ["v3/x:q0", "v3/x:q1", "v3/x:q2"]);
      await end(sub);
      await end(pub);
    }));
}

// deno-lint-ignore no-explicit-any
const gen = (p: any, protocolVersion: number) => new Uint8Array(mqttPacket.generate(p, { protocolVersion }));

/** The packets in `bytes`, parsed as `protocolVersion`. */
function parse(bytes: Uint8Array, protocolVersion: number): mqttPacket.Packet[] {
  const out: mqttPacket.Packet[] = [];
  const parser = mqttPacket.parser({ protocolVersion });
  parser.on("packet", (p) => out.push(p));
  parser.parse(Buffer.from(bytes));
  return out;
}

Deno.test("mqtt: a silent client is disconnected after 1.5 times its keep-alive (5.0: DISCONNECT 0x8D)", () =>
  withBroker({}, async (tb) => {
    for (const v of [4, 5]) {
      const connectPacket = {
        cmd: "connect",
        protocolId: "MQTT",
        protocolVersion: v,
        clientId: `silent-${v}`,
        clean: true,
        keepalive: 1,
      };
      const t0 = Date.now();
      const out = parse(await exchange(tb.ports["mqtt:tcp"], [gen(connectPacket, v)]), v);
      const waited = Date.now() - t0;
      assert.equal(out[0].cmd, "connack");
      assert.ok(waited >= 1400, `closed after ${waited} ms`);
      if (v === 5) {
        assert.equal(out[1]?.cmd, "disconnect");
        assert.equal((out[1] as mqttPacket.IDisconnectPacket).reasonCode, 0x8d);
      } else {
        assert.equal(out.length, 1, "3.1.1 has no server DISCONNECT: the connection just closes");
      }
    }
  }));

Deno.test("mqtt 5: the broker's DISCONNECT says why: session taken over 0x8E, server shutting down 0x8B", async () => {
  const tb = await startBroker({ plugins: [MQTT_PLUGIN] });
  const reasons = new Collector<string>();
  const watch = (name: string) => (c: Client) => {
    c.on("disconnect", (p) => reasons.push(`${name}:0x${p.reasonCode?.toString(16)}`));
  };
  try {
    const first = await connect(tb, { protocolVersion: 5, clientId: "twice" }, false, watch("first"));
    await connect(tb, { protocolVersion: 5, clientId: "twice" }, false, watch("second"));
    assert.deepEqual(await reasons.atLeast(1), ["first:0x8e"]);
    await end(first, true);
  } finally {
    await tb.stop();
  }
  assert.deepEqual(await reasons.atLeast(2), ["first:0x8e", "second:0x8b"]);
});

Deno.test("mqtt 5: Receive Maximum exceeded gets DISCONNECT 0x93; a bad topic alias 0x94, an unknown one 0x82", () =>
  withBroker({ receiveMaximum: 2, topicAliasMaximum: 2 }, async (tb) => {
    const connectPacket = gen({
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 5,
      clientId: "rx",
      clean: true,
      keepalive: 0,
    }, 5);
    const publish = (p: Record<string, unknown>) =>
      gen({ cmd: "publish", topic: "rx/t", payload: Buffer.from("x"), qos: 0, ...p }, 5);
    const reasonOf = async (packets: Uint8Array[]) => {
      const bytes = new Uint8Array(packets.reduce((n, p) => n + p.length, 0));
      packets.reduce((off, p) => (bytes.set(p, off), off + p.length), 0);
      // One write: the broker sees every PUBLISH before it can acknowledge the first.
      const out = parse(
        await exchange(tb.ports["mqtt:tcp"], [connectPacket, bytes], { replyFirst: true }),
        5,
      );
      const d = out.find((p) => p.cmd === "disconnect") as mqttPacket.IDisconnectPacket | undefined;
      return d?.reasonCode;
    };
    const flood = Array.from({ length: 10 }, (_, i) => publish({ qos: 1, messageId: i + 1 }));
    assert.equal(await reasonOf(flood), 0x93);
    assert.equal(await reasonOf([publish({ properties: { topicAlias: 3 } })]), 0x94);
    assert.equal(await reasonOf([publish({ topic: "", properties: { topicAlias: 1 } })]), 0x82);
  }));

Deno.test("mqtt 5: UNSUBACK says which filters had a subscription (0x00) and which did not (0x11)", () =>
  withBroker({}, async (tb) => {
    const c = await connect(tb, { protocolVersion: 5 });
    const got = messages(c);
    await c.subscribeAsync("un/a", { qos: 1 });
    const ack = await c.unsubscribeAsync(["un/a", "un/never"]) as mqttPacket.IUnsubackPacket;
    assert.deepEqual(ack.granted, [0x00, 0x11]);
    await c.subscribeAsync("un/b", { qos: 1 });
    await c.publishAsync("un/a", "gone", { qos: 1 });
    await c.publishAsync("un/b", "here", { qos: 1 });
    assert.deepEqual(await got.atLeast(1), ["un/b:here"]);
    await end(c);
  }));

Deno.test("mqtt 5: a header MQTT cannot carry (a value over 65,535 bytes from another protocol) is left out, the message and the rest flow", () =>
  withBroker({}, async (tb) => {
    const sub = await connect(tb, { protocolVersion: 5, properties: { receiveMaximum: 1 } });
    const got = new Collector<[string, Record<string, unknown> | undefined]>();
    sub.on(
      "message",
      (t, p, packet) => got.push([`${t}:${text(p)}`, { ...packet.properties?.userProperties }]),
    );
    await sub.subscribeAsync("big/#", { qos: 1 });
    await tb.broker.publish({
      kind: "topic",
      destination: "big.a",
      body: new TextEncoder().encode("a"),
      properties: { huge: "h".repeat(70_000), kept: "yes" },
      correlationId: "c".repeat(70_000),
    });
    await tb.broker.publish({ kind: "topic", destination: "big.b", body: new TextEncoder().encode("b") });
    const [first, second] = await got.atLeast(2);
    assert.deepEqual(first, ["big/a:a", { kept: "yes" }]);
    assert.equal(second[0], "big/b:b");
    await end(sub);
  }));
