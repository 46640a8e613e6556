/**
 * Session state with MQTT.js: the in-flight window (Receive Maximum), resending on reconnect (DUP, the
 * original packet identifiers, PUBREL for a QoS 2 message the client already has), session expiry, and
 * will delay with will properties. Exactly-once from a client across a reconnect is shown with raw
 * packets, the one way to make a client resend a PUBLISH the broker already acknowledged.
 *
 * @module
 */
import assert from "node:assert/strict";
import mqttPacket from "mqtt-packet";
import { Buffer } from "node:buffer";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { ALICE_AND_BOB } from "../../helpers/users.ts";
import { Collector, deferred, waitFor, within } from "../../helpers/wait.ts";
import { type Client, connect, connectWithAck, end, MQTT_PLUGIN, text, vanish } from "./client.ts";

const withBroker = async (body: (tb: TestBroker) => Promise<void>): Promise<void> => {
  const tb = await startBroker({ plugins: [MQTT_PLUGIN] });
  try {
    await body(tb);
  } finally {
    await tb.stop();
  }
};

type Publish = mqttPacket.IPublishPacket;

/** Holds back the client's acknowledgements (PUBACK for QoS 1, PUBCOMP for QoS 2) until `release()`. */
function holdAcks(c: Client): { received: Collector<Publish>; release(): void } {
  const received = new Collector<Publish>();
  const held: (() => void)[] = [];
  let holding = true;
  c.handleMessage = (packet, callback) => {
    received.push(packet as Publish);
    if (holding) held.push(() => callback());
    else callback();
  };
  return {
    received,
    release() {
      holding = false;
      for (const cb of held.splice(0)) cb();
    },
  };
}

for (const [protocolVersion, ws] of [[4, false], [5, false], [4, true], [5, true]] as const) {
  const via = ws ? "ws" : "tcp";
  const session = protocolVersion === 5 ? { properties: { sessionExpiryInterval: 300 } } : {};
  const persistent = { protocolVersion, clean: false, ...session };

  Deno.test(`mqtt v${protocolVersion} ${via}: the broker keeps at most Receive Maximum / maxInflight deliveries unacknowledged`, () =>
    withBroker(async (tb) => {
      const window = protocolVersion === 5 ? 2 : 100;
      const sub = await connect(tb, {
        protocolVersion,
        properties: protocolVersion === 5 ? { receiveMaximum: 2 } : {},
      }, ws);
      const acks = holdAcks(sub);
      await sub.subscribeAsync("rm/#", { qos: 1 });
      const pub = await connect(tb, { protocolVersion }, ws);
      const total = window + 3;
      await Promise.all(
        Array.from({ length: total }, (_, i) => pub.publishAsync("rm/x", `m${i}`, { qos: 1 })),
      );
      const queue = await waitFor(
        () => tb.broker.destinations().find((d) => d.boundTo === "rm.>" && d.inflight === window),
        `${window} deliveries in flight`,
      );
      assert.equal(queue.pending, 3, "the rest wait in the queue");
      acks.release();
      assert.equal((await acks.received.atLeast(total)).length, total);
      await waitFor(
        () => tb.broker.destinations().find((d) => d.boundTo === "rm.>" && d.inflight === 0),
        "all acked",
      );
      await end(sub);
      await end(pub);
    }));

  for (const qos of [1, 2] as const) {
    Deno.test(`mqtt v${protocolVersion} ${via}: an unacknowledged QoS ${qos} PUBLISH is resent on reconnect with DUP and its packet id`, () =>
      withBroker(async (tb) => {
        const clientId = `resend-${protocolVersion}-${qos}-${via}`;
        let sub = await connect(tb, { ...persistent, clientId }, ws);
        await sub.subscribeAsync("a/#", { qos });
        const pub = await connect(tb, { protocolVersion }, ws);
        // Three go through first: the held one gets a packet id a fresh connection would not start at.
        const warm = new Collector<string>();
        sub.on("message", (_t, p) => warm.push(text(p)));
        for (let i = 0; i < 3; i++) await pub.publishAsync("a/warm", `w${i}`, { qos });
        await warm.atLeast(3);
        // MQTT.js takes one packet at a time: holding the PUBACK (QoS 1) or PUBREC (QoS 2) holds the client.
        if (qos === 1) holdAcks(sub);
        else sub.options.customHandleAcks = () => {};
        const held = deferred<Publish>();
        sub.on("packetreceive", (p) => p.cmd === "publish" && held.resolve(p as Publish));
        await pub.publishAsync("a/x", "one", { qos });
        const first = await within(held.promise, 5000, "the delivery");
        vanish(sub);
        await end(sub, true);

        const again = deferred<Publish>();
        sub = await connect(tb, { ...persistent, clientId }, ws, (c) => {
          c.on("packetreceive", (p) => p.cmd === "publish" && again.resolve(p as Publish));
        });
        const resent = await within(again.promise, 5000, "the resent delivery");
        assert.equal(text(resent.payload as Uint8Array), "one");
        assert.equal(resent.dup, true);
        assert.equal(resent.qos, qos);
        assert.equal(resent.messageId, first.messageId, "the original packet id");
        await end(sub);
        await end(pub);
      }));
  }

  Deno.test(`mqtt v${protocolVersion} ${via}: a QoS 2 message the client got is not sent again after a reconnect; its PUBREL is`, () =>
    withBroker(async (tb) => {
      const clientId = `rel-${protocolVersion}-${via}`;
      let sub = await connect(tb, { ...persistent, clientId }, ws);
      await sub.subscribeAsync("q2/#", { qos: 2 });
      let messages = 0;
      sub.on("message", () => messages++);
      const acks = holdAcks(sub); // MQTT.js hands a QoS 2 message on at PUBREL: the PUBCOMP is held
      const pub = await connect(tb, { protocolVersion }, ws);
      await pub.publishAsync("q2/x", "exactly-once", { qos: 2 });
      const [first] = await acks.received.atLeast(1);
      vanish(sub);
      await end(sub, true);

      const pubrel = deferred<number>();
      sub = await connect(tb, { ...persistent, clientId }, ws, (c) => {
        c.on("packetreceive", (p) => {
          if (p.cmd === "pubrel") pubrel.resolve(p.messageId!);
        });
        c.on("message", () => messages++);
      });
      assert.equal(await within(pubrel.promise, 5000, "PUBREL resent"), first.messageId);
      // A QoS 1 message behind it: had the QoS 2 one been sent again, it would have come first.
      const after = new Collector<string>();
      sub.on("message", (_t, p) => after.push(text(p)));
      await pub.publishAsync("q2/y", "next", { qos: 1 });
      assert.deepEqual(await after.atLeast(1), ["next"]);
      assert.equal(messages, 2, "exactly-once and next: nothing twice");
      await waitFor(
        () => tb.broker.destinations().every((d) => d.inflight === 0 && d.pending === 0),
        "settled",
      );
      await end(sub);
      await end(pub);
    }));
}

/** A raw MQTT client on mqtt-packet: packets in, packets out, nothing automatic. */
async function rawClient(tb: TestBroker, protocolVersion: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: tb.ports["mqtt:tcp"] });
  const packets = new Collector<mqttPacket.Packet>();
  const parser = mqttPacket.parser({ protocolVersion });
  parser.on("packet", packets.push);
  const reading = (async () => {
    const buf = new Uint8Array(4096);
    for (let n; (n = await conn.read(buf).catch(() => null)) !== null;) {
      parser.parse(Buffer.from(buf.subarray(0, n)));
    }
  })();
  return {
    packets,
    async send(p: Record<string, unknown>) {
      const bytes = mqttPacket.generate(p as never, { protocolVersion });
      for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
    },
    async next(cmd: string): Promise<mqttPacket.Packet> {
      const seen = packets.items.length;
      const found = await waitFor(() => packets.items.slice(seen).find((p) => p.cmd === cmd), cmd);
      return found;
    },
    async close() {
      conn.close();
      await reading;
    },
  };
}

for (const protocolVersion of [4, 5]) {
  Deno.test(`mqtt v${protocolVersion}: a QoS 2 PUBLISH resent after a reconnect is not routed twice`, () =>
    withBroker(async (tb) => {
      const watcher = await connect(tb);
      const got = new Collector<string>();
      watcher.on("message", (_t, p) => got.push(text(p)));
      await watcher.subscribeAsync("in2/#", { qos: 2 });
      const connectPacket = {
        cmd: "connect",
        protocolId: "MQTT",
        protocolVersion,
        clientId: `in2-${protocolVersion}`,
        clean: false,
        keepalive: 0,
        properties: protocolVersion === 5 ? { sessionExpiryInterval: 300 } : undefined,
      };
      const publish = { cmd: "publish", topic: "in2/x", payload: Buffer.from("once"), qos: 2, messageId: 7 };
      let raw = await rawClient(tb, protocolVersion);
      await raw.send(connectPacket);
      await raw.next("connack");
      await raw.send(publish);
      await raw.next("pubrec"); // the broker has it; the client never hears so: the connection drops
      await raw.close();

      raw = await rawClient(tb, protocolVersion);
      await raw.send(connectPacket);
      const connack = await raw.next("connack") as mqttPacket.IConnackPacket;
      assert.equal(connack.sessionPresent, true);
      const ack = raw.next("pubrec");
      await raw.send({ ...publish, dup: true });
      assert.equal((await ack).messageId, 7);
      const comp = raw.next("pubcomp");
      await raw.send({ cmd: "pubrel", messageId: 7 });
      assert.equal((await comp).messageId, 7);
      assert.equal((await comp as mqttPacket.IPubcompPacket).reasonCode ?? 0, 0, "the id was known");
      await raw.send({ ...publish, payload: Buffer.from("after"), messageId: 8, qos: 1 });
      await raw.next("puback");
      assert.deepEqual(await got.atLeast(2), ["once", "after"]);
      await raw.close();
      await end(watcher);
    }));
}

Deno.test("mqtt 5: a session ends after its expiry interval; before that the client finds it again", () =>
  withBroker(async (tb) => {
    const queueOf = (id: string) =>
      tb.broker.destinations().find((d) => d.name.startsWith(`$mqtt.session.${id}.`));
    const short = await connect(tb, {
      protocolVersion: 5,
      clientId: "short",
      clean: false,
      properties: { sessionExpiryInterval: 1 },
    });
    const long = await connect(tb, {
      protocolVersion: 5,
      clientId: "long",
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    });
    for (const c of [short, long]) {
      await c.subscribeAsync("se/#", { qos: 1 });
      await end(c);
    }
    assert.ok(queueOf("short") && queueOf("long"));
    await waitFor(() => !queueOf("short"), "the short session's queue to go", 5000);
    const again = async (
      clientId: string,
    ) => (await connectWithAck(tb, {
      protocolVersion: 5,
      clientId,
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    }));
    const s = await again("short");
    assert.equal(s.connack.sessionPresent, false);
    const l = await again("long");
    assert.equal(l.connack.sessionPresent, true);
    await end(s.client);
    await end(l.client);
  }));

Deno.test("mqtt 5: a will waits for its delay and carries its properties", () =>
  withBroker(async (tb) => {
    const watcher = await connect(tb, { protocolVersion: 5 });
    const will = deferred<{ at: number; payload: string; props: Record<string, unknown> }>();
    watcher.on("message", (_t, p, pk) =>
      will.resolve({ at: Date.now(), payload: text(p), props: { ...pk.properties } }));
    await watcher.subscribeAsync("wd/#", { qos: 1 });
    const dev = await connect(tb, {
      protocolVersion: 5,
      clientId: "wd-dev",
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      will: {
        topic: "wd/dev",
        payload: Buffer.from("gone"),
        qos: 1,
        retain: false,
        properties: {
          willDelayInterval: 1,
          contentType: "text/plain",
          userProperties: { site: "north" },
          responseTopic: "wd/ask",
        },
      },
    });
    const t0 = Date.now();
    vanish(dev);
    const got = await within(will.promise, 5000, "the will");
    assert.ok(got.at - t0 >= 900, `published after ${got.at - t0} ms`);
    assert.equal(got.payload, "gone");
    assert.equal(got.props.contentType, "text/plain");
    assert.deepEqual({ ...got.props.userProperties as object }, { site: "north" });
    assert.equal(got.props.responseTopic, "wd/ask");
    await end(dev, true);
    await end(watcher);
  }));

Deno.test("mqtt: after a broker restart a persistent session still gets the PUBREL, not the QoS 2 message again", async () => {
  const plugins = [{ use: "sqlite-store" }, MQTT_PLUGIN];
  const tb = await startBroker({ plugins });
  let messages = 0;
  const sub = await connect(tb, { clientId: "rel-restart", clean: false });
  await sub.subscribeAsync("q2/#", { qos: 2 });
  sub.on("message", () => messages++);
  const acks = holdAcks(sub);
  const pub = await connect(tb);
  await pub.publishAsync("q2/x", "exactly-once", { qos: 2 });
  const [first] = await acks.received.atLeast(1);
  await end(pub);
  await tb.stop({ keepData: true });
  await end(sub, true);
  const tb2 = await startBroker({ plugins, dataDir: tb.dataDir });
  try {
    const pubrel = deferred<number>();
    const again = await connect(tb2, { clientId: "rel-restart", clean: false }, false, (c) => {
      c.on("packetreceive", (p) => p.cmd === "pubrel" && pubrel.resolve(p.messageId!));
      c.on("message", () => messages++);
    });
    assert.equal(await within(pubrel.promise, 5000, "PUBREL after the restart"), first.messageId);
    const after = new Collector<string>();
    again.on("message", (_t, p) => after.push(text(p)));
    await tb2.broker.publish({ destination: "q2.y", body: "next" });
    assert.deepEqual(await after.atLeast(1), ["next"]);
    assert.equal(messages, 2);
    await end(again);
  } finally {
    await tb2.stop();
  }
});

Deno.test("mqtt: a persistent session's shared subscription is still there after a reconnect", () =>
  withBroker(async (tb) => {
    const o = {
      protocolVersion: 5,
      clientId: "worker",
      clean: false,
      properties: { sessionExpiryInterval: 60 },
    } as const;
    const first = await connect(tb, o);
    await first.subscribeAsync("$share/pool/jobs/#", { qos: 1 });
    await end(first);
    const got = new Collector<string>();
    const { client, connack } = await connectWithAck(tb, o);
    assert.equal(connack.sessionPresent, true);
    client.on("message", (t, p) => got.push(`${t}:${text(p)}`));
    await waitFor(
      () => tb.broker.destinations().some((d) => d.boundTo === "jobs.>" && d.consumers === 1),
      "member",
    );
    await tb.broker.publish({ destination: "jobs.a", body: "work" });
    assert.deepEqual(await got.atLeast(1), ["jobs/a:work"]);
    await end(client);
  }));

Deno.test("mqtt: a client id belongs to its user's session: another user naming it is refused, online or offline", async () => {
  const tb = await startBroker({
    plugins: [ALICE_AND_BOB, MQTT_PLUGIN],
  });
  const as = (username: string, password: string, protocolVersion: 4 | 5) =>
    connect(tb, {
      clientId: "dev",
      clean: false,
      username,
      password,
      protocolVersion,
      ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 300 } } : {}),
    });
  try {
    const alice = await as("alice", "a-pw", 5);
    const aliceClosed = deferred<void>();
    alice.once("close", () => aliceClosed.resolve());
    await assert.rejects(as("bob", "b-pw", 5), (e: { code?: number }) => e.code === 0x85);
    await assert.rejects(as("bob", "b-pw", 4), (e: { code?: number }) => e.code === 2);
    assert.equal(alice.connected, true, "the owner stays connected");
    await alice.subscribeAsync("dev/#", { qos: 1 });
    await end(alice);
    await assert.rejects(as("bob", "b-pw", 5), (e: { code?: number }) => e.code === 0x85);
    const again = await connectWithAck(tb, {
      clientId: "dev",
      clean: false,
      username: "alice",
      password: "a-pw",
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 300 },
    });
    assert.equal(again.connack.sessionPresent, true);
    await end(again.client);
  } finally {
    await tb.stop();
  }
});
