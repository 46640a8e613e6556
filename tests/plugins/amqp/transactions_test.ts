import assert from "node:assert/strict";
import { amqpClose, amqpConnect, type AmqpConnection } from "../../helpers/amqp.ts";
import rhea from "rhea";
import {
  acceptInTransaction,
  sendInTransaction,
  settleInTransaction,
  TxnController,
} from "../../helpers/amqp_txn.ts";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { Collector, waitFor, within } from "../../helpers/wait.ts";

// deno-lint-ignore no-explicit-any
type Any = any;
const amqp = { use: "amqp", options: { port: 0, hostname: "127.0.0.1" } };
const connect = (tb: TestBroker) => amqpConnect(tb.ports["amqp:tcp"]);
const pending = (tb: TestBroker, q: string) =>
  tb.broker.destinations().find((d) => d.name === q)?.pending ?? 0;

function openSender(conn: AmqpConnection, address: string): Promise<Any> {
  const s = conn.open_sender(address);
  return within(new Promise((r) => s.once("sendable", () => r(s))), 5000, "sendable");
}

/** Sends in a transaction and resolves with the provisional outcome's name. */
function txnSend(sender: Any, body: string, txnId: Uint8Array, durable = true): Promise<string> {
  return within(
    new Promise((resolve) => {
      const d = sendInTransaction(sender, { body, durable }, txnId);
      const on = (name: string) => (c: Any) => c.delivery === d && resolve(name);
      sender.on("transactional_state", on("transactional"));
      sender.on(
        "rejected",
        (c: Any) => c.delivery === d && resolve(`rejected ${c.delivery.remote_state?.error?.condition}`),
      );
      sender.on("accepted", on("accepted"));
    }),
    5000,
    "transfer disposition",
  );
}

Deno.test("amqp transactions: sends are held until commit and dropped on rollback", async () => {
  const tb = await startBroker({ plugins: [{ use: "sqlite-store" }, amqp] });
  const conn = await connect(tb);
  try {
    const ctl = await TxnController.attach(conn);
    const sender = await openSender(conn, "queue://tx.sends");
    const t1 = await ctl.declare();
    assert.equal(await txnSend(sender, "one", t1), "transactional");
    assert.equal(await txnSend(sender, "two", t1), "transactional");
    assert.equal(pending(tb, "tx.sends"), 0, "nothing is visible before the commit");
    assert.equal(await ctl.discharge(t1, false), "accepted");
    assert.deepEqual(tb.broker.browse("tx.sends").map((m) => new TextDecoder().decode(m.body)), [
      "one",
      "two",
    ]);
    assert.ok(tb.broker.browse("tx.sends").every((m) => m.persistent));

    const t2 = await ctl.declare();
    assert.notDeepEqual(t2, t1);
    assert.equal(await txnSend(sender, "three", t2), "transactional");
    assert.equal(await ctl.discharge(t2, true), "accepted");
    assert.equal(pending(tb, "tx.sends"), 2, "a rolled back send is gone");
  } finally {
    await amqpClose(conn);
    await tb.stop();
  }
});

Deno.test("amqp transactions: acks apply on commit; rollback puts the messages back", async () => {
  const tb = await startBroker({ plugins: [amqp] });
  for (const body of ["a", "b", "c"]) {
    await tb.broker.publish({ destination: "tx.acks", kind: "queue", body });
  }
  const conn = await connect(tb);
  try {
    const ctl = await TxnController.attach(conn);
    const got = new Collector<Any>();
    const r = conn.open_receiver({
      source: { address: "queue://tx.acks" },
      autoaccept: false,
      credit_window: 10,
    });
    r.on("message", (c: Any) => got.push(c));
    const first = (await got.atLeast(3)).slice(0, 3);
    const t1 = await ctl.declare();
    for (const c of first) acceptInTransaction(c.delivery, t1);
    // The outcomes are provisional: the messages stay in flight until the discharge.
    await waitFor(
      () => tb.broker.destinations().find((d) => d.name === "tx.acks")?.inflight === 3,
      "3 in flight",
    );
    assert.equal(await ctl.discharge(t1, true), "accepted");
    // Rolled back: redelivered with a delivery count.
    const again: Any[] = (await got.atLeast(6)).slice(3, 6);
    assert.deepEqual(again.map((c) => new TextDecoder().decode(c.message.body.content)), ["a", "b", "c"]);
    assert.ok(again.every((c) => c.message.delivery_count >= 1));
    const t2 = await ctl.declare();
    for (const c of again) acceptInTransaction(c.delivery, t2);
    assert.equal(await ctl.discharge(t2, false), "accepted");
    await waitFor(() => {
      const d = tb.broker.destinations().find((x) => x.name === "tx.acks");
      return d?.pending === 0 && d.inflight === 0;
    }, "queue drained");
  } finally {
    await amqpClose(conn);
    await tb.stop();
  }
});

Deno.test("amqp transactions: modified outcomes apply on commit with their fields", async () => {
  const tb = await startBroker({ plugins: [amqp] });
  const dead: string[] = [];
  tb.broker.hooks.on("test", "deadLetter", (e) => dead.push(new TextDecoder().decode(e.message.body)));
  for (const body of ["a", "b", "c"]) await tb.broker.publish({ destination: "tx.mod", kind: "queue", body });
  const conn = await connect(tb);
  try {
    const ctl = await TxnController.attach(conn);
    const got = new Collector<Any>();
    const r = conn.open_receiver({ source: "queue://tx.mod", autoaccept: false, credit_window: 0 });
    r.on("message", (c: Any) => got.push(c));
    r.add_credit(3);
    const [a, b, c] = await got.atLeast(3);
    const t = await ctl.declare();
    // In this order: rhea sends the outcomes of adjacent deliveries given in one turn as one.
    const modified = (fields: Record<string, boolean>) => (rhea.message as Any).modified(fields).described();
    settleInTransaction(a.delivery, t, modified({ delivery_failed: true, undeliverable_here: true }));
    settleInTransaction(c.delivery, t, modified({}));
    acceptInTransaction(b.delivery, t);
    assert.equal(await ctl.discharge(t, false), "accepted");
    await waitFor(() => dead.length === 1, "the dead letter");
    assert.deepEqual(dead, ["a"]);
    r.add_credit(3);
    const [again] = (await got.atLeast(4)).slice(3);
    assert.equal(new TextDecoder().decode(again.message.body.content), "c");
    assert.equal(again.message.delivery_count ?? 0, 0);
  } finally {
    await amqpClose(conn);
    await tb.stop();
  }
});

Deno.test("amqp transactions: unknown ids, a second discharge and a connection lost mid-transaction", async () => {
  const tb = await startBroker({ plugins: [amqp] });
  const conn = await connect(tb);
  try {
    const ctl = await TxnController.attach(conn);
    assert.equal(
      await ctl.discharge(new Uint8Array([9, 9, 9, 9]), false),
      "rejected amqp:transaction:unknown-id",
    );
    const sender = await openSender(conn, "queue://tx.lost");
    assert.equal(
      await txnSend(sender, "x", new Uint8Array([1, 2, 3, 4])),
      "rejected amqp:transaction:unknown-id",
    );
    const t = await ctl.declare();
    assert.equal(await ctl.discharge(t, false), "accepted");
    assert.equal(
      await ctl.discharge(t, false),
      "rejected amqp:transaction:unknown-id",
      "discharged once only",
    );
    const t2 = await ctl.declare();
    assert.equal(await txnSend(sender, "never", t2), "transactional");
  } finally {
    await amqpClose(conn);
  }
  // The connection ended with the transaction open: it rolled back.
  assert.equal(pending(tb, "tx.lost"), 0);
  const other = await connect(tb);
  await amqpClose(other);
  await tb.stop();
});

Deno.test("amqp transactions: a commit the core refuses in part publishes nothing and leaves the acks undone", async () => {
  const tb = await startBroker({ plugins: [{ use: "sqlite-store" }, amqp] });
  // A publish hook that refuses one message: the core's refusal comes only at commit.
  tb.broker.hooks.on(
    "test",
    "publish",
    ({ message }) =>
      new TextDecoder().decode(message.body) === "bad" ? { code: "not_authorized", reason: "no" } : message,
  );
  await tb.broker.publish({ kind: "queue", destination: "tx.in", body: "to ack" });
  const conn = await connect(tb);
  try {
    const ctl = await TxnController.attach(conn);
    const sender = await openSender(conn, "queue://tx.out");
    const got = new Collector<Any>();
    const receiver = conn.open_receiver({ source: "queue://tx.in", autoaccept: false });
    receiver.on("message", (c: Any) => got.push(c.delivery));
    const [delivery] = await got.atLeast(1);
    const t = await ctl.declare();
    acceptInTransaction(delivery, t);
    assert.equal(await txnSend(sender, "good", t), "transactional");
    assert.equal(await txnSend(sender, "bad", t), "transactional");
    assert.equal(await ctl.discharge(t, false), "rejected amqp:transaction:rollback");
    assert.equal(pending(tb, "tx.out"), 0, "not even the good one");
    await waitFor(
      () => tb.broker.destinations().find((d) => d.name === "tx.in")?.inflight === 1,
      "still held",
    );
  } finally {
    await amqpClose(conn);
    await tb.stop();
  }
});
