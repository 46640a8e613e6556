/**
 * AMQP 1.0 link and connection rules checked with a real rhea client (raw bytes where no client sends
 * the input): drain and credit, settlement modes, outcomes, malformed frames, SASL outcomes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { amqpClose, amqpConnect } from "../../helpers/amqp.ts";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { Collector, deferred, waitFor, within } from "../../helpers/wait.ts";

const amqp = { use: "amqp", options: { port: 0, hostname: "127.0.0.1" } };
// deno-lint-ignore no-explicit-any
type Any = any;

const text = (body: Any) => typeof body === "string" ? body : new TextDecoder().decode(body.content ?? body);
/** The core's view of the one subscription on `queue`: its credit left and unacked deliveries. */
const consumer = (tb: TestBroker, queue: string) => tb.broker.consumers().find((c) => c.queue === queue);

Deno.test("amqp spec: drain sends what there is, then answers with credit 0; the core pushes nothing more", async () => {
  const tb = await startBroker({ plugins: [amqp] });
  const conn = await amqpConnect(tb.ports["amqp:tcp"]);
  try {
    for (const b of ["a", "b"]) await tb.broker.publish({ kind: "queue", destination: "dr", body: b });
    const got = new Collector<string>();
    const r = conn.open_receiver({ source: "queue://dr", credit_window: 0, autoaccept: true });
    r.on("message", (c: Any) => got.push(text(c.message.body)));
    const drained = deferred<string[]>();
    r.once("receiver_drained", () => drained.resolve([...got.items]));
    // Credit 5 with drain set, the way a client asks for "whatever is there now".
    r.drain = true;
    r.add_credit(5);
    assert.deepEqual(await within(drained.promise, 5000, "the drain answer"), ["a", "b"]);
    assert.equal(r.credit, 0);
    await waitFor(() => consumer(tb, "dr")?.prefetch === 0, "the core credit to be 0");
    await tb.broker.publish({ kind: "queue", destination: "dr", body: "c" });
    assert.equal(tb.broker.queue("dr")!.pending, 1);

    // A drain with the credit already used up is answered too.
    r.drain = false;
    r.add_credit(1);
    await got.atLeast(3);
    const again = deferred<void>();
    r.once("receiver_drained", () => again.resolve());
    r.drain_credit();
    await within(again.promise, 5000, "the second drain answer");
    assert.equal(tb.broker.queue("dr")!.pending, 0);
  } finally {
    await amqpClose(conn);
    await tb.stop();
  }
});

Deno.test("amqp spec: a drain that comes with the attach is answered", async () => {
  const tb = await startBroker({ plugins: [amqp] });
  const conn = await amqpConnect(tb.ports["amqp:tcp"]);
  try {
    const r = conn.open_receiver({ source: "queue://early", credit_window: 0 });
    const drained = deferred<void>();
    r.once("receiver_drained", () => drained.resolve());
    r.drain = true;
    r.add_credit(3);
    await within(drained.promise, 5000, "the drain answer");
    assert.equal(r.credit, 0);
  } finally {
    await amqpClose(conn);
    await tb.stop();
  }
});

Deno.test("amqp spec: a flow that lowers the link credit lowers what the core pushes", async () => {
  const tb = await startBroker({ plugins: [amqp] });
  const conn = await amqpConnect(tb.ports["amqp:tcp"]);
  try {
    const got = new Collector<string>();
    const r = conn.open_receiver({ source: "queue://low", credit_window: 0, autoaccept: false });
    r.on("message", (c: Any) => got.push(text(c.message.body)));
    r.add_credit(10);
    await waitFor(() => consumer(tb, "low")?.prefetch === 10, "credit 10 in the core");
    // rhea's flow() only adds credit: set its count first to announce less.
    r.credit = 0;
    r.flow(1);
    await waitFor(() => consumer(tb, "low")?.prefetch === 1, "credit 1 in the core");
    for (const b of ["1", "2", "3"]) await tb.broker.publish({ kind: "queue", destination: "low", body: b });
    assert.deepEqual(await got.atLeast(1), ["1"]);
    assert.equal(tb.broker.queue("low")!.inflight, 1);
    assert.equal(tb.broker.queue("low")!.pending, 2);
    // Down to 0 (a consumer pausing): the two left stay in the queue, free for other consumers.
    r.add_credit(5);
    await got.atLeast(3);
    r.credit = -1;
    r.flow(1);
    await waitFor(() => consumer(tb, "low")?.prefetch === 0, "credit 0 in the core");
    await tb.broker.publish({ kind: "queue", destination: "low", body: "4" });
    assert.equal(tb.broker.queue("low")!.pending, 1);
  } finally {
    await amqpClose(conn);
    await tb.stop();
  }
});

Deno.test("amqp spec: a receiver asking for pre-settled transfers gets them settled, and the attach says so", async () => {
  const tb = await startBroker({ plugins: [amqp] });
  const conn = await amqpConnect(tb.ports["amqp:tcp"]);
  try {
    const got = new Collector<Any>();
    const r = conn.open_receiver({ source: "queue://ps", snd_settle_mode: 1, autoaccept: false });
    r.on("message", (c: Any) => got.push(c));
    await within(new Promise((ok) => r.once("receiver_open", ok)), 5000, "attach");
    assert.equal(r.remote.attach.snd_settle_mode, 1);
    await waitFor(() => consumer(tb, "ps")?.prefetch, "the subscription's credit");
    await tb.broker.publish({ kind: "queue", destination: "ps", body: "once" });
    const [c] = await got.atLeast(1);
    assert.equal(c.delivery.remote_settled, true);
    assert.equal(tb.broker.queue("ps")!.inflight + tb.broker.queue("ps")!.pending, 0);
  } finally {
    await amqpClose(conn);
    await tb.stop();
  }
});

Deno.test("amqp spec: modified undeliverable-here is not redelivered to the link; modified delivery-failed is, counted", async () => {
  const tb = await startBroker({ plugins: [amqp] });
  const dead: string[] = [];
  tb.broker.hooks.on("test", "deadLetter", (e) => dead.push(`${text(e.message.body)}:${e.reason}`));
  const conn = await amqpConnect(tb.ports["amqp:tcp"]);
  try {
    for (const b of ["here", "failed"]) {
      await tb.broker.publish({ kind: "queue", destination: "md", body: b });
    }
    const got = new Collector<Any>();
    const r = conn.open_receiver({ source: "queue://md", credit_window: 0, autoaccept: false });
    r.on("message", (c: Any) => got.push(c));
    r.add_credit(2);
    const [here, failed] = await got.atLeast(2);
    // One at a time: rhea sends two dispositions given in one turn as one, with the first one's outcome.
    here.delivery.modified({ delivery_failed: true, undeliverable_here: true });
    await waitFor(() => dead.length === 1, "the dead letter");
    failed.delivery.modified({ delivery_failed: true });
    r.add_credit(5);
    const [again] = (await got.atLeast(3)).slice(2);
    assert.equal(text(again.message.body), "failed");
    assert.equal(again.message.delivery_count, 1);
    again.delivery.accept();
    await waitFor(() => tb.broker.queue("md")!.inflight === 0, "the ack");
    assert.deepEqual(dead, ["here:rejected"]);
    assert.equal(tb.broker.queue("md")!.pending, 0);
    assert.equal(got.items.length, 3);
  } finally {
    await amqpClose(conn);
    await tb.stop();
  }
});

Deno.test("amqp spec: modified without delivery-failed puts the message back without raising its delivery count", async () => {
  const tb = await startBroker({ plugins: [amqp] });
  const conn = await amqpConnect(tb.ports["amqp:tcp"]);
  try {
    await tb.broker.publish({ kind: "queue", destination: "mp", body: "m" });
    const got = new Collector<Any>();
    const r = conn.open_receiver({ source: "queue://mp", credit_window: 0, autoaccept: false });
    r.on("message", (c: Any) => got.push(c));
    r.add_credit(1);
    const [first] = await got.atLeast(1);
    first.delivery.modified({ delivery_failed: false });
    r.add_credit(1);
    const [, again] = await got.atLeast(2);
    assert.equal(text(again.message.body), "m");
    assert.equal(again.message.delivery_count ?? 0, 0);
    again.delivery.modified({ delivery_failed: true });
    r.add_credit(1);
    const [, , third] = await got.atLeast(3);
    assert.equal(third.message.delivery_count, 1);
  } finally {
    await amqpClose(conn);
    await tb.stop();
  }
});

Deno.test("amqp spec: released is no delivery attempt: released past maxRedeliveries, the message is then accepted; modified delivery-failed counts", async () => {
  const tb = await startBroker({ plugins: [amqp] });
  const dead: string[] = [];
  tb.broker.hooks.on("test", "deadLetter", (e) => dead.push(`${text(e.message.body)}:${e.reason}`));
  const conn = await amqpConnect(tb.ports["amqp:tcp"]);
  try {
    const max = 2;
    await tb.broker.createQueue("rl", { maxRedeliveries: max });
    await tb.broker.publish({ kind: "queue", destination: "rl", body: "released" });
    const got = new Collector<Any>();
    const r = conn.open_receiver({ source: "queue://rl", credit_window: 0, autoaccept: false });
    r.on("message", (c: Any) => got.push(c));
    /** The next delivery, one credit at a time. */
    const next = async () => {
      r.add_credit(1);
      return (await got.atLeast(got.items.length + 1)).at(-1);
    };
    for (let i = 1; i <= max + 3; i++) {
      const c = await next();
      assert.equal(c.message.delivery_count ?? 0, 0, `delivery ${i}`);
      c.delivery.release();
    }
    const last = await next();
    assert.equal(text(last.message.body), "released");
    assert.equal(last.message.delivery_count ?? 0, 0);
    last.delivery.accept();
    await waitFor(() => tb.broker.queue("rl")!.inflight === 0, "the ack");
    assert.equal(tb.broker.queue("rl")!.pending, 0);
    assert.deepEqual(dead, []);

    await tb.broker.publish({ kind: "queue", destination: "rl", body: "failed" });
    for (let i = 0; i <= max; i++) {
      const c = await next();
      assert.equal(c.message.delivery_count ?? 0, i, `failed delivery ${i + 1}`);
      c.delivery.modified({ delivery_failed: true });
    }
    await waitFor(() => dead.length === 1, "the dead letter");
    assert.deepEqual(dead, ["failed:max_redeliveries"]);
  } finally {
    await amqpClose(conn);
    await tb.stop();
  }
});

Deno.test("amqp spec: outcomes sent just before a detach apply before the subscription ends", async () => {
  const tb = await startBroker({ plugins: [amqp] });
  const conn = await amqpConnect(tb.ports["amqp:tcp"]);
  try {
    /** Takes one message from `queue` on a new link, gives it `outcome` and detaches in the same turn. */
    const settleAndDetach = async (queue: string, outcome: (d: Any) => void) => {
      const got = deferred<Any>();
      const r = conn.open_receiver({ source: `queue://${queue}`, credit_window: 0, autoaccept: false });
      r.once("message", got.resolve);
      r.add_credit(1);
      outcome((await within(got.promise, 5000, "the message")).delivery);
      await within(new Promise((ok) => (r.once("receiver_close", ok), r.close())), 5000, "detach");
    };
    await tb.broker.publish({ kind: "queue", destination: "sd", body: "accepted" });
    await settleAndDetach("sd", (d) => d.accept());
    await waitFor(() => tb.broker.queue("sd")!.consumers.length === 0, "the subscription to end");
    assert.deepEqual([tb.broker.queue("sd")!.pending, tb.broker.queue("sd")!.inflight], [0, 0]);

    await tb.broker.publish({ kind: "queue", destination: "sd", body: "released" });
    await settleAndDetach("sd", (d) => d.release());
    const again = deferred<Any>();
    conn.open_receiver({ source: "queue://sd", autoaccept: true }).once("message", again.resolve);
    const m = (await within(again.promise, 5000, "the released message")).message;
    assert.equal(text(m.body), "released");
    assert.equal(m.delivery_count ?? 0, 0);
  } finally {
    await amqpClose(conn);
    await tb.stop();
  }
});

Deno.test("amqp spec: outcomes settled in one turn keep their own states (a reject then an accept are not sent as one range)", async () => {
  const tb = await startBroker({ plugins: [amqp], limits: { maxMessageSize: 1000 } });
  const conn = await amqpConnect(tb.ports["amqp:tcp"]);
  try {
    const outcomes = new Collector<string>();
    const s = conn.open_sender({ target: { address: "queue://mixed" } });
    await within(new Promise((r) => s.once("sendable", r)), 5000, "credit");
    for (const e of ["accepted", "rejected", "released", "modified"]) {
      s.on(e, (c: Any) => outcomes.push(`${text(c.delivery.tag ? c.delivery.tag : "")}:${e}`));
    }
    // Sent in one write: the broker settles all four in the same turn.
    s.send({ body: "x".repeat(2000) }, "big-1");
    s.send({ body: "small-1" }, "ok-1");
    s.send({ body: "small-2" }, "ok-2");
    s.send({ body: "x".repeat(2000) }, "big-2");
    assert.deepEqual(
      [...await outcomes.atLeast(4)].sort(),
      ["big-1:rejected", "big-2:rejected", "ok-1:accepted", "ok-2:accepted"],
    );
    assert.equal(tb.broker.queue("mixed")!.pending, 2);
  } finally {
    await amqpClose(conn);
    await tb.stop();
  }
});

Deno.test("amqp spec: once a receiving link's attach is answered, its subscription exists: a publish right then reaches it", async () => {
  const tb = await startBroker({ plugins: [amqp] });
  const conn = await amqpConnect(tb.ports["amqp:tcp"]);
  try {
    const got = new Collector<string>();
    for (const address of ["topic://early.a", "topic://early.b", "topic://early.c"]) {
      const r = conn.open_receiver({ source: { address } });
      r.on("message", (c: Any) => got.push(text(c.message.body)));
      r.once(
        "receiver_open",
        () => void tb.broker.publish({ kind: "topic", destination: address.slice(8), body: address }),
      );
    }
    assert.deepEqual([...await got.atLeast(3)].sort(), [
      "topic://early.a",
      "topic://early.b",
      "topic://early.c",
    ]);
  } finally {
    await amqpClose(conn);
    await tb.stop();
  }
});
