/**
 * The queues behind topic subscriptions ($tmp.*, $mqtt.session.*...) and AMQP dynamic nodes are their
 * subscriber's: another user naming one as a queue gets that protocol's refusal and none of its messages,
 * whatever the topic ACL would have said.
 */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import type { AccessDeniedEvent } from "../../../mod.ts";
import { amqpClose, amqpConnect, type AmqpConnection } from "../../helpers/amqp.ts";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { Collector, deferred, waitFor, within } from "../../helpers/wait.ts";
import { mqttAs, stompAs } from "./clients.ts";

const PW = "pw";
const listen = { port: 0, hostname: "127.0.0.1" };
const plugins = [
  { use: "sqlite-store" },
  {
    use: "auth",
    options: {
      users: [{ username: "alice", password: PW }, { username: "bob", password: PW }],
      acl: { default: "allow", rules: [{ allow: false, pattern: "secret.>", users: ["bob"] }] },
    },
  },
  { use: "mqtt", options: { ...listen, wsPort: -1, sysIntervalMs: 0 } },
  { use: "stomp", options: { ...listen, wsPort: -1, heartBeatMs: 0 } },
  { use: "amqp", options: listen },
];

async function withBroker(fn: (tb: TestBroker, denied: Collector<AccessDeniedEvent>) => Promise<void>) {
  const tb = await startBroker({ plugins });
  const denied = new Collector<AccessDeniedEvent>();
  tb.broker.hooks.on("test", "accessDenied", denied.push);
  try {
    await fn(tb, denied);
  } finally {
    await tb.stop();
  }
}

/** The queue behind the one subscription of the user's client `clientId`. */
const queueOf = (tb: TestBroker, clientId: string) =>
  waitFor(() => tb.broker.consumers().find((c) => c.clientId === clientId)?.queue, `${clientId}'s queue`);

/** Attaches a receiver; resolves with the detach condition, or "attached" once messages could flow. */
function amqpAttach(conn: AmqpConnection, address: string, got: string[]): Promise<string> {
  const outcome = deferred<string>();
  const r = conn.open_receiver({ source: address });
  r.on("message", (c: AmqpConnection) => got.push(String(c.message.body)));
  r.once("receiver_error", (c: AmqpConnection) => outcome.resolve(c.receiver.error?.condition));
  r.once("receiver_open", () => setTimeout(() => outcome.resolve("attached"), 200));
  return within(outcome.promise, 5000, `attach to ${address}`);
}

Deno.test("STOMP: SUBSCRIBE to another session's $tmp queue is an ERROR, and no message of it arrives", async () => {
  await withBroker(async (tb, denied) => {
    const alice = await mqttAs(tb.ports["mqtt:tcp"], "alice", PW);
    const bob = await stompAs(tb.ports["stomp:tcp"], "bob", PW);
    try {
      await alice.subscribeAsync("secret/x", { qos: 1 });
      const queue = await queueOf(tb, alice.options.clientId!);
      assert.match(queue, /^\$tmp\./);
      const aliceGot = new Collector<string>();
      alice.on("message", (_t, payload) => aliceGot.push(payload.toString()));
      const bobGot: string[] = [];
      bob.client.subscribe(`/queue/${queue}`, (f) => bobGot.push(f.body));
      const [error] = await bob.errors.atLeast(1);
      assert.match(error, /^Cannot consume from queue "\$tmp\.[^"]*": it belongs to another session$/);
      for (let i = 0; i < 3; i++) await alice.publishAsync("secret/x", `top secret ${i}`, { qos: 1 });
      assert.deepEqual(await aliceGot.atLeast(3), ["top secret 0", "top secret 1", "top secret 2"]);
      assert.deepEqual(bobGot, []);
      assert.equal(tb.broker.consumers().filter((c) => c.queue === queue).length, 1, "only alice's");
      const [ev] = await denied.atLeast(1);
      assert.deepEqual([ev.principal.id, ev.action, ev.destination, ev.code], [
        "bob",
        "subscribe",
        queue,
        "not_authorized",
      ]);
    } finally {
      await alice.endAsync();
      await bob.client.deactivate();
    }
  });
});

Deno.test("AMQP: a receiver on another user's persistent MQTT session queue is closed with amqp:unauthorized-access", async () => {
  await withBroker(async (tb) => {
    const clientId = "alice-persistent";
    const opts = { username: "alice", password: PW, clientId, clean: false, reconnectPeriod: 0 };
    const alice = await mqtt.connectAsync(`mqtt://127.0.0.1:${tb.ports["mqtt:tcp"]}`, opts);
    await alice.subscribeAsync("secret/#", { qos: 1 });
    const queue = await queueOf(tb, clientId);
    assert.match(queue, /^\$mqtt\.session\./);
    await alice.endAsync();
    // Kept while alice is away: what bob would read if naming the queue were enough.
    const publisher = await mqttAs(tb.ports["mqtt:tcp"], "alice", PW);
    await publisher.publishAsync("secret/plans", "kept for alice", { qos: 1 });
    await publisher.endAsync();
    assert.equal(tb.broker.browse(queue).length, 1);
    const bob = await amqpConnect(tb.ports["amqp:tcp"], { username: "bob", password: PW });
    try {
      const got: string[] = [];
      assert.equal(await amqpAttach(bob, `queue://${queue}`, got), "amqp:unauthorized-access");
      assert.deepEqual(got, []);
      assert.equal(tb.broker.browse(queue).length, 1, "still alice's");
    } finally {
      await amqpClose(bob);
    }
  });
});

Deno.test("AMQP dynamic node: its connection receives, another connection may send to it but not receive from it", async () => {
  await withBroker(async (tb) => {
    const alice = await amqpConnect(tb.ports["amqp:tcp"], { username: "alice", password: PW });
    const bob = await amqpConnect(tb.ports["amqp:tcp"], { username: "bob", password: PW });
    try {
      const opened = deferred<string>();
      const replies = new Collector<string>();
      const r = alice.open_receiver({ source: { dynamic: true } });
      r.once("receiver_open", (c: AmqpConnection) => opened.resolve(c.receiver.source.address));
      r.on("message", (c: AmqpConnection) => replies.push(String(c.message.body)));
      const address = await within(opened.promise, 5000, "dynamic attach");
      const name = address.slice("queue://".length);
      await waitFor(() => tb.broker.consumers().some((c) => c.queue === name), "alice's subscription");
      const stolen: string[] = [];
      assert.equal(await amqpAttach(bob, address, stolen), "amqp:unauthorized-access");
      const sender = bob.open_sender(address);
      const accepted = deferred<void>();
      sender.once("sendable", () => sender.send({ body: "reply from bob" }));
      sender.once("accepted", () => accepted.resolve());
      await within(accepted.promise, 5000, "bob's reply accepted");
      assert.deepEqual(await replies.atLeast(1), ["reply from bob"]);
      assert.deepEqual(stolen, []);
      r.close();
      await waitFor(() => !tb.broker.destinations().some((d) => d.name === name), "the dynamic node deleted");
    } finally {
      await amqpClose(alice);
      await amqpClose(bob);
    }
  });
});

Deno.test("STOMP: a SEND straight into another user's subscription queue is refused: no message past the topic's ACL", async () => {
  await withBroker(async (tb) => {
    const alice = await mqttAs(tb.ports["mqtt:tcp"], "alice", PW);
    const bob = await stompAs(tb.ports["stomp:tcp"], "bob", PW);
    try {
      await alice.subscribeAsync("secret/x", { qos: 1 });
      const queue = await queueOf(tb, alice.options.clientId!);
      const aliceGot = new Collector<string>();
      alice.on("message", (_t, payload) => aliceGot.push(payload.toString()));
      bob.client.publish({ destination: `/queue/${queue}`, body: "forged" });
      const [error] = await bob.errors.atLeast(1);
      assert.match(error, /takes messages only through its topic/);
      await alice.publishAsync("secret/x", "real", { qos: 1 });
      assert.deepEqual(await aliceGot.atLeast(1), ["real"]);
    } finally {
      await alice.endAsync();
      await bob.client.deactivate();
    }
  });
});
