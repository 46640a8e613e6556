import assert from "node:assert/strict";
import { amqpClose, amqpConnect, type AmqpConnection } from "../../helpers/amqp.ts";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { deferred, within } from "../../helpers/wait.ts";

const plugins = [{ use: "sqlite-store" }, { use: "amqp", options: { port: 0, hostname: "127.0.0.1" } }];
const decoder = new TextDecoder();
const bodies = (tb: TestBroker, queue: string) => tb.broker.browse(queue).map((m) => decoder.decode(m.body));

/** Sends durable messages in order on one link; resolves once every one is accepted (stored). */
function sendDurable(conn: AmqpConnection, address: string, msgs: { id: string; body: string }[]) {
  const s = conn.open_sender(address);
  let accepted = 0;
  return within(
    new Promise<void>((resolve, reject) => {
      s.once("sendable", () => {
        for (const m of msgs) s.send({ message_id: m.id, durable: true, body: m.body });
      });
      s.on("accepted", () => ++accepted === msgs.length && resolve());
      s.on("rejected", (c: AmqpConnection) => reject(new Error(c.delivery.remote_state?.error?.condition)));
    }),
    5000,
    `accepted on ${address}`,
  );
}

/** Takes one message from `address` with a credit of 1 and accepts it. */
function takeOne(conn: AmqpConnection, address: string): Promise<{ id: unknown; body: string }> {
  const got = deferred<{ id: unknown; body: string }>();
  const r = conn.open_receiver({ source: { address }, credit_window: 0, autoaccept: false });
  r.once("receiver_open", () => r.add_credit(1));
  r.once("message", (c: AmqpConnection) => {
    c.delivery.accept();
    got.resolve({ id: c.message.message_id, body: c.message.body });
  });
  return within(got.promise, 5000, `a message from ${address}`);
}

Deno.test("amqp + sqlite-store: a message-id sent twice, or reused on another queue, keeps every message apart across restarts and acks", async () => {
  let tb = await startBroker({ plugins });
  const dataDir = tb.dataDir;
  try {
    let conn = await amqpConnect(tb.ports["amqp:tcp"]);
    await sendDurable(conn, "queue://dup", [{ id: "same", body: "first" }, { id: "same", body: "second" }]);
    await sendDurable(conn, "queue://private", [{ id: "X", body: "secret" }]);
    await sendDurable(conn, "queue://mine", [{ id: "X", body: "mine" }]);
    await amqpClose(conn);
    await tb.stop({ keepData: true });

    tb = await startBroker({ plugins, dataDir });
    assert.deepEqual(bodies(tb, "dup"), ["first", "second"]);
    assert.deepEqual(bodies(tb, "private"), ["secret"]);
    assert.deepEqual(bodies(tb, "mine"), ["mine"]);
    // Consumers get the producer's message-id back, though the broker keys the messages apart.
    conn = await amqpConnect(tb.ports["amqp:tcp"]);
    assert.deepEqual(await takeOne(conn, "queue://dup"), { id: "same", body: "first" });
    assert.deepEqual(await takeOne(conn, "queue://private"), { id: "X", body: "secret" });
    await amqpClose(conn);
    await tb.stop({ keepData: true });

    // The acks removed exactly the messages acked, not the others under the same message-id.
    tb = await startBroker({ plugins, dataDir });
    assert.deepEqual(bodies(tb, "dup"), ["second"]);
    assert.deepEqual(bodies(tb, "private"), []);
    assert.deepEqual(bodies(tb, "mine"), ["mine"]);
    conn = await amqpConnect(tb.ports["amqp:tcp"]);
    assert.deepEqual(await takeOne(conn, "queue://mine"), { id: "X", body: "mine" });
    await amqpClose(conn);
  } finally {
    await tb.stop();
  }
});
