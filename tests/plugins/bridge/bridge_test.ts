/**
 * The bridge between two brokers in one process: the local one runs the bridge, the peer the amqp plugin;
 * real clients on both ends (MQTT.js, a rhea receiver, the embedded API).
 */
import assert from "node:assert/strict";
import { amqpClose, amqpConnect, type AmqpConnection } from "../../helpers/amqp.ts";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { Collector, waitFor, within } from "../../helpers/wait.ts";
import { connect, end, MQTT_PLUGIN } from "../mqtt/client.ts";
import { amqp, bridge, collect, freePort, pending, status, text } from "./helpers.ts";

const amqpPort = (tb: TestBroker) => tb.ports["amqp:tcp"];

/** A rhea receiver on the peer; messages are accepted as they come. */
async function receiver(tb: TestBroker, address: string) {
  const conn: AmqpConnection = await amqpConnect(amqpPort(tb));
  const got = new Collector<Record<string, unknown>>();
  const link = conn.open_receiver({ source: { address }, credit_window: 100 });
  link.on("message", (c: AmqpConnection) => got.push(c.message));
  await within(new Promise((r) => link.once("receiver_open", r)), 5000, "receiver attach");
  return { got, close: () => amqpClose(conn) };
}

Deno.test("bridge: a queue message reaches the peer with its body, properties and headers; acked here only then", async () => {
  const peer = await startBroker({ nodeId: "peer", plugins: [amqp()] });
  const local = await startBroker({
    nodeId: "local",
    plugins: [bridge(amqpPort(peer), { forward: [{ from: "queue://orders" }] })],
  });
  const rx = await receiver(peer, "queue://orders");
  try {
    await waitFor(() => status(local).connected, "the bridge to connect");
    assert.equal(status(local).peerNodeId, "peer");
    const expiresAt = Date.now() + 60_000;
    await local.broker.publish({
      kind: "queue",
      destination: "orders",
      body: "order 1",
      properties: { customer: "acme", amount: 12.5, rush: true },
      priority: 7,
      persistent: true,
      expiresAt,
      correlationId: "corr-1",
      replyTo: "queue://replies",
      subject: "new-order",
      contentType: "text/plain",
      groupId: "g1",
    });
    const [m] = await rx.got.atLeast(1);
    assert.equal(text((m.body as { content?: Uint8Array }).content ?? m.body as Uint8Array), "order 1");
    const props = m.application_properties as Record<string, unknown>;
    assert.equal(props.customer, "acme");
    assert.equal(props.amount, 12.5);
    assert.equal(props.rush, true);
    assert.equal(props.ferrymq_via, "local", "the route names the node it left");
    assert.equal(m.priority, 7);
    assert.equal(m.durable, true);
    assert.equal((m.absolute_expiry_time as Date).getTime(), expiresAt);
    assert.equal(m.correlation_id, "corr-1");
    assert.equal(m.reply_to, "queue://replies");
    assert.equal(m.subject, "new-order");
    assert.equal(m.content_type, "text/plain");
    assert.equal(m.group_id, "g1");
    await waitFor(() => status(local).forwarded === 1, "the peer's accept to count");
    assert.equal(pending(local, "orders"), 0, "acked locally once accepted");
    assert.equal(status(local).pending, 0);
  } finally {
    await rx.close();
    await local.stop();
    await peer.stop();
  }
});

Deno.test("bridge: topic messages from MQTT.js reach an MQTT.js subscriber at the peer, wildcards and all", async () => {
  const peer = await startBroker({ nodeId: "peer", plugins: [amqp(), MQTT_PLUGIN] });
  const local = await startBroker({
    nodeId: "local",
    plugins: [MQTT_PLUGIN, bridge(amqpPort(peer), { forward: [{ from: "topic://prices.>" }] })],
  });
  const sub = await connect(peer);
  const pub = await connect(local);
  try {
    const got = new Collector<[string, string]>();
    sub.on("message", (topic, payload) => got.push([topic, text(payload)]));
    await sub.subscribeAsync("prices/#", { qos: 1 });
    await waitFor(() => status(local).connected, "the bridge to connect");
    await pub.publishAsync("prices/eu/gold", "1900", { qos: 1 });
    await pub.publishAsync("prices/us", "2000", { qos: 1 });
    await pub.publishAsync("other/topic", "no", { qos: 1 });
    await got.atLeast(2);
    assert.deepEqual(got.items.sort(), [["prices/eu/gold", "1900"], ["prices/us", "2000"]]);
    await waitFor(() => status(local).forwarded === 2, "both accepted");
  } finally {
    await end(sub);
    await end(pub);
    await local.stop();
    await peer.stop();
  }
});

Deno.test("bridge: while the peer is down messages wait here (queue and topic), then all arrive at a new peer on the same port", async () => {
  let peer = await startBroker({ nodeId: "peer", plugins: [amqp()] });
  const port = amqpPort(peer);
  const local = await startBroker({
    nodeId: "local",
    plugins: [
      { use: "sqlite-store" },
      bridge(port, {
        forward: [{ from: "queue://jobs" }, { from: "topic://events.*", to: "queue://events" }],
      }),
    ],
  });
  try {
    await waitFor(() => status(local).connected, "the bridge to connect");
    await peer.stop();
    await waitFor(
      () => !status(local).connected && status(local).failures >= 2,
      "the bridge to notice and retry",
    );
    for (let i = 0; i < 5; i++) {
      await local.broker.publish({ kind: "queue", destination: "jobs", body: `job ${i}`, persistent: true });
      await local.broker.publish({
        kind: "topic",
        destination: `events.e${i}`,
        body: `event ${i}`,
        persistent: true,
      });
    }
    assert.equal(status(local).pending, 10, "everything waits here");
    assert.equal(status(local).forwarded, 0);

    peer = await startBroker({ nodeId: "peer", plugins: [amqp(port)] });
    await waitFor(() => status(local).forwarded === 10, "all ten forwarded", 10_000);
    assert.equal(pending(peer, "jobs"), 5);
    assert.equal(pending(peer, "events"), 5);
    const jobs = peer.broker.browse("jobs").map((m) => text(m.body));
    assert.deepEqual(jobs.sort(), [0, 1, 2, 3, 4].map((i) => `job ${i}`));
    assert.equal(status(local).pending, 0);
    assert.equal(pending(local, "jobs"), 0);
  } finally {
    await local.stop();
    await peer.stop();
  }
});

Deno.test("bridge: two brokers bridged both ways on one topic and one queue pass each message once, no storm", async () => {
  const portA = freePort();
  const b = await startBroker({
    nodeId: "b",
    plugins: [amqp(), bridge(portA, { forward: [{ from: "topic://news.>" }, { from: "queue://work" }] })],
  });
  const a = await startBroker({
    nodeId: "a",
    plugins: [
      amqp(portA),
      bridge(amqpPort(b), { forward: [{ from: "topic://news.>" }, { from: "queue://work" }] }),
    ],
  });
  try {
    await waitFor(() => status(a).connected && status(b).connected, "both bridges to connect", 10_000);
    const onA = await collect(a, "topic", "news.>");
    const onB = await collect(b, "topic", "news.>");

    await a.broker.publish({ kind: "topic", destination: "news.a", body: "from a" });
    await onA.atLeast(1);
    await onB.atLeast(1);
    // b's bridge got the copy through its own subscription and stopped it: it came from a.
    await waitFor(() => status(b).skipped === 1, "b's loop guard");
    await b.broker.publish({ kind: "topic", destination: "news.b", body: "from b" });
    await onA.atLeast(2);
    await onB.atLeast(2);
    await waitFor(() => status(a).skipped === 1, "a's loop guard");
    // One more round trip through both bridges settles anything still on its way.
    await a.broker.publish({ kind: "topic", destination: "news.c", body: "marker" });
    await onB.atLeast(3);
    await waitFor(() => status(b).skipped === 2, "the marker stopped at b");
    assert.deepEqual(onA.items.map((d) => text(d.message.body)), ["from a", "from b", "marker"]);
    assert.deepEqual(onB.items.map((d) => text(d.message.body)), ["from a", "from b", "marker"]);
    await waitFor(() => status(a).forwarded === 2 && status(b).forwarded === 1, "the accepts to count");

    // A queue message goes a -> b once and stays at b for its consumers (b's bridge leaves it there).
    await a.broker.publish({ kind: "queue", destination: "work", body: "task" });
    await waitFor(() => pending(b, "work") === 1 && status(a).forwarded === 3, "the task at b");
    assert.equal(pending(a, "work"), 0);
    const work = await collect(b, "queue", "work");
    assert.deepEqual((await work.atLeast(1)).map((d) => text(d.message.body)), ["task"]);
    assert.equal(status(b).forwarded, 1, "b did not send it back");
  } finally {
    await a.stop();
    await b.stop();
  }
});

Deno.test("bridge: a wrong password at the peer is retried and reported, never a crash; another instance with the right one forwards", async () => {
  const peer = await startBroker({
    nodeId: "peer",
    plugins: [
      {
        use: "auth",
        options: {
          anonymous: "off",
          users: [{ username: "bridge", password: "right" }],
          maxFailures: 1000,
          acl: { default: "allow", rules: [] },
        },
      },
      amqp(),
    ],
  });
  const port = amqpPort(peer);
  const local = await startBroker({
    nodeId: "local",
    plugins: [
      bridge(port, { username: "bridge", password: "wrong", forward: [{ from: "queue://a" }] }, "bridge-bad"),
      bridge(
        port,
        { username: "bridge", password: "right", forward: [{ from: "queue://b" }] },
        "bridge-good",
      ),
    ],
  });
  try {
    await local.broker.publish({ kind: "queue", destination: "a", body: "stays" });
    await local.broker.publish({ kind: "queue", destination: "b", body: "goes" });
    await waitFor(() => status(local, "bridge-bad").failures >= 3, "three failed attempts");
    const bad = status(local, "bridge-bad");
    assert.equal(bad.connected, false);
    assert.match(bad.lastError ?? "", /unauthorized|auth/i);
    assert.equal(bad.pending, 1);
    await waitFor(() => status(local, "bridge-good").forwarded === 1, "the good bridge's message");
    assert.equal(pending(peer, "b"), 1);
    assert.equal(pending(peer, "a"), 0);
    assert.equal(pending(local, "a"), 1, "the message waits for the bridge that cannot log in");
  } finally {
    await local.stop();
    await peer.stop();
  }
});

Deno.test("bridge: a message the peer rejects is dead-lettered here, not retried forever", async () => {
  const peer = await startBroker({ nodeId: "peer", plugins: [amqp()], limits: { maxMessageSize: 100 } });
  const local = await startBroker({
    nodeId: "local",
    plugins: [{ use: "dlq" }, bridge(amqpPort(peer), { forward: [{ from: "queue://big" }] })],
  });
  try {
    await waitFor(() => status(local).connected, "the bridge to connect");
    // Together: the peer settles both in one turn, and each keeps its own outcome.
    await local.broker.publish({ kind: "queue", destination: "big", body: "x".repeat(1000) });
    await local.broker.publish({ kind: "queue", destination: "big", body: "small" });
    await waitFor(() => status(local).rejected === 1, "the peer's refusal");
    await waitFor(() => status(local).forwarded === 1, "the small one forwarded");
    await waitFor(() => pending(local, "DLQ.big") === 1, "the dead letter");
    assert.equal(pending(peer, "big"), 1);
  } finally {
    await local.stop();
    await peer.stop();
  }
});

Deno.test("bridge: topic messages published while the peer is down survive a restart of this broker, then go", async () => {
  const port = freePort();
  const plugins = [{ use: "sqlite-store" }, bridge(port, { forward: [{ from: "topic://alerts.>" }] })];
  let local = await startBroker({ nodeId: "local", plugins });
  let peer: TestBroker | undefined;
  try {
    await waitFor(() => status(local).failures >= 1, "the first failed attempt");
    for (let i = 0; i < 3; i++) {
      await local.broker.publish({
        kind: "topic",
        destination: "alerts.disk",
        body: `alert ${i}`,
        persistent: true,
      });
    }
    assert.equal(status(local).pending, 3);
    await local.stop({ keepData: true });
    local = await startBroker({ nodeId: "local", dataDir: local.dataDir, plugins });
    assert.equal(status(local).pending, 3, "recovered in the bridge's subscription queue");
    peer = await startBroker({ nodeId: "peer", plugins: [amqp(port)] });
    const got = await collect(peer, "topic", "alerts.>");
    await waitFor(() => status(local).forwarded === 3, "all three forwarded", 10_000);
    assert.deepEqual((await got.atLeast(3)).map((d) => text(d.message.body)).sort(), [
      "alert 0",
      "alert 1",
      "alert 2",
    ]);
  } finally {
    await local.stop();
    await peer?.stop();
  }
});
