/**
 * Reply addresses across protocols, with real clients: each protocol's reply-to reaches the others as the
 * same destination in their own wire form (AMQP `queue://r`, STOMP `/queue/r`, MQTT only for topics,
 * HTTP the core's `queue://r`), and one that does not name a destination is refused.
 *
 * @module
 */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { amqpClose, amqpConnect, type AmqpConnection } from "../helpers/amqp.ts";
import { startBroker, type TestBroker } from "../helpers/broker.ts";
import { Collector, deferred, waitFor, within } from "../helpers/wait.ts";
import { stompAs } from "../plugins/acl/clients.ts";

const listen = { port: 0, hostname: "127.0.0.1" };
const plugins = [
  { use: "amqp", options: listen },
  { use: "mqtt", options: { ...listen, wsPort: -1, sysIntervalMs: 0 } },
  { use: "stomp", options: { ...listen, wsPort: -1, heartBeatMs: 0 } },
  { use: "http", options: listen },
];
const text = (body: unknown) =>
  typeof body === "string"
    ? body
    : new TextDecoder().decode((body as { content?: Uint8Array }).content ?? body as Uint8Array);

const mqttClient = (tb: TestBroker) =>
  mqtt.connectAsync(`mqtt://127.0.0.1:${tb.ports["mqtt:tcp"]}`, { protocolVersion: 5, reconnectPeriod: 0 });

/** POSTs an envelope to topic `name`; resolves with the HTTP status. */
async function httpPublish(tb: TestBroker, name: string, envelope: Record<string, unknown>): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${tb.ports.http}/api/v1/topics/${name}/messages`, {
    method: "POST",
    headers: { "content-type": "application/vnd.ferrymq.message+json" },
    body: JSON.stringify(envelope),
  });
  await res.body?.cancel();
  return res.status;
}

/** Sends one message on `sender`; resolves once the broker accepted it (one at a time). */
function amqpSend(sender: AmqpConnection, message: Record<string, unknown>): Promise<void> {
  sender.send(message);
  return within(new Promise((ok) => sender.once("accepted", ok)), 5000, "accepted");
}

Deno.test("reply-to: every protocol's reply address reaches the others in their own form", async () => {
  const tb = await startBroker({ plugins });
  const amqpConn = await amqpConnect(tb.ports["amqp:tcp"]);
  const stomp = await stompAs(tb.ports["stomp:tcp"]);
  const mq = await mqttClient(tb);
  // What each consumer sees: "<body> <reply-to as its protocol carries it>", "-" for none.
  const seen = {
    amqp: new Collector<string>(),
    stomp: new Collector<string>(),
    mqtt: new Collector<string>(),
  };
  const replies = new Collector<string>();
  try {
    amqpConn.open_receiver("topic://rr.req").on(
      "message",
      (c: AmqpConnection) => seen.amqp.push(`${text(c.message.body)} ${c.message.reply_to ?? "-"}`),
    );
    amqpConn.open_receiver("topic://r.s").on(
      "message",
      (c: AmqpConnection) => replies.push(text(c.message.body)),
    );
    stomp.client.subscribe(
      "/topic/rr.req",
      (m) => seen.stomp.push(`${m.body} ${m.headers["reply-to"] ?? "-"}`),
    );
    mq.on("message", (topic, payload, packet) => {
      if (topic !== "rr/req") return;
      const responseTopic = packet.properties?.responseTopic;
      seen.mqtt.push(`${payload} ${responseTopic ?? "-"}`);
      // A responder answers where it was told to: the AMQP requester listening on topic://r.s gets it.
      if (responseTopic) mq.publish(responseTopic, `re ${payload}`, { qos: 1 });
    });
    await mq.subscribeAsync("rr/req", { qos: 1 });
    await waitFor(() => tb.broker.consumers().length === 4, "the four subscriptions");

    const sender = amqpConn.open_sender("topic://rr.req");
    await within(new Promise((ok) => sender.once("sendable", ok)), 5000, "sendable");
    await amqpSend(sender, { body: "a1", reply_to: "queue://r" });
    await amqpSend(sender, { body: "a2", reply_to: "topic://r.s" });
    await amqpSend(sender, { body: "a3", reply_to: "r" }); // bare: the default kind, queue
    await mq.publishAsync("rr/req", "m1", { qos: 1, properties: { responseTopic: "a/b" } });
    for (const [body, replyTo] of [["s1", "/queue/x"], ["s2", "/topic/a.b"]]) {
      stomp.client.publish({ destination: "/topic/rr.req", body, headers: { "reply-to": replyTo } });
    }
    assert.equal(await httpPublish(tb, "rr.req", { body: "h1", replyTo: "queue://h" }), 201);

    const order = (c: Collector<string>) => c.atLeast(7).then((l) => l.toSorted());
    assert.deepEqual(await order(seen.amqp), [
      "a1 queue://r",
      "a2 topic://r.s",
      "a3 queue://r",
      "h1 queue://h",
      "m1 topic://a.b",
      "s1 queue://x",
      "s2 topic://a.b",
    ]);
    assert.deepEqual(await order(seen.stomp), [
      "a1 /queue/r",
      "a2 /topic/r.s",
      "a3 /queue/r",
      "h1 /queue/h",
      "m1 /topic/a.b",
      "s1 /queue/x",
      "s2 /topic/a.b",
    ]);
    // MQTT publishes only to topics: a queue has no Response Topic to give.
    assert.deepEqual(await order(seen.mqtt), ["a1 -", "a2 r/s", "a3 -", "h1 -", "m1 a/b", "s1 -", "s2 a/b"]);
    assert.deepEqual(await replies.atLeast(1), ["re a2"]);
    assert.deepEqual(stomp.errors.items, []);
  } finally {
    await mq.endAsync();
    await stomp.client.deactivate();
    await amqpClose(amqpConn);
    await tb.stop();
  }
});

Deno.test("reply-to: one that names no destination is refused in each protocol's terms", async () => {
  const tb = await startBroker({ plugins });
  try {
    const stomp = await stompAs(tb.ports["stomp:tcp"]);
    stomp.client.publish({ destination: "/topic/t", body: "x", headers: { "reply-to": "elsewhere" } });
    assert.match((await stomp.errors.atLeast(1))[0], /reply-to.*must start with \/queue\/ or \/topic\//);
    await stomp.client.deactivate();

    assert.equal(await httpPublish(tb, "t", { body: "x", replyTo: "elsewhere" }), 400);

    // [MQTT-3.3.2-14]: no wildcards in a Response Topic.
    const mq = await mqttClient(tb);
    const gone = deferred<number | undefined>();
    mq.on("disconnect", (p) => gone.resolve(p.reasonCode));
    mq.publish("t", "x", { qos: 1, properties: { responseTopic: "a/+" } });
    assert.equal(await within(gone.promise, 5000, "DISCONNECT"), 0x82);
    await mq.endAsync(true);
  } finally {
    await tb.stop();
  }
});
