import assert from "node:assert/strict";
import { type Broker, createBroker, type Delivery, type Subscription } from "../../mod.ts";
import { Collector, waitFor } from "../helpers/wait.ts";

async function broker(limits = {}): Promise<Broker> {
  return await createBroker({ plugins: [], limits }, { printLogs: false });
}
const text = (d: Delivery) => new TextDecoder().decode(d.message.body);
/** "body:reason" of every message the broker dead-letters from now on. */
function deadLetters(b: Broker): string[] {
  const dead: string[] = [];
  b.hooks.on(
    "test",
    "deadLetter",
    (e) => dead.push(`${new TextDecoder().decode(e.message.body)}:${e.reason}`),
  );
  return dead;
}

Deno.test("queue delivers higher priority first, FIFO within a priority", async () => {
  const b = await broker();
  for (const [i, p] of [[0, 1], [1, 9], [2, 4], [3, 9], [4, 1], [5, 4]]) {
    await b.publish({ kind: "queue", destination: "prio", body: String(i), priority: p });
  }
  const got = new Collector<string>();
  await b.subscribe({ kind: "queue", destination: "prio" }, (d, s) => {
    got.push(text(d));
    s.ack([d.tag]);
  });
  assert.deepEqual(await got.atLeast(6), ["1", "3", "2", "5", "0", "4"]);
  await b.stop();
});

Deno.test("queue delivers each of 10,000 messages exactly once across 3 consumers, round-robin", async () => {
  const b = await broker();
  const seen = new Map<string, number>();
  const perConsumer = [0, 0, 0];
  const done = new Collector<string>();
  for (let c = 0; c < 3; c++) {
    await b.subscribe({ kind: "queue", destination: "work", prefetch: 50 }, (d, s) => {
      seen.set(text(d), (seen.get(text(d)) ?? 0) + 1);
      perConsumer[c]++;
      s.ack([d.tag]);
      s.credit(1);
      done.push(text(d));
    });
  }
  for (let i = 0; i < 10_000; i++) await b.publish({ kind: "queue", destination: "work", body: String(i) });
  await done.atLeast(10_000);
  assert.equal(seen.size, 10_000);
  assert.ok([...seen.values()].every((n) => n === 1));
  for (const n of perConsumer) assert.ok(n > 3000, `unbalanced: ${perConsumer}`);
  assert.equal(b.queue("work")!.pending + b.queue("work")!.inflight, 0);
  await b.stop();
});

Deno.test("queue redelivers unacked messages with a redelivery count when their consumer goes away", async () => {
  const b = await broker();
  for (let i = 0; i < 5; i++) await b.publish({ kind: "queue", destination: "r", body: String(i) });
  const first = new Collector<Delivery>();
  const sub1 = await b.subscribe({ kind: "queue", destination: "r", prefetch: 3 }, (d) => first.push(d));
  await first.atLeast(3);
  await sub1.cancel();
  const second = new Collector<Delivery>();
  await b.subscribe({ kind: "queue", destination: "r" }, (d, s) => {
    second.push(d);
    s.ack([d.tag]);
  });
  const got = await second.atLeast(5);
  assert.deepEqual(got.map(text), ["0", "1", "2", "3", "4"]);
  assert.deepEqual(got.map((d) => d.message.redeliveryCount), [1, 1, 1, 0, 0]);
  await b.stop();
});

Deno.test("nack with requeue redelivers; nack without requeue dead-letters with reason rejected", async () => {
  const b = await broker();
  const dead = deadLetters(b);
  await b.publish({ kind: "queue", destination: "n", body: "a" });
  await b.publish({ kind: "queue", destination: "n", body: "b" });
  const got = new Collector<Delivery>();
  let nacked = false;
  await b.subscribe({ kind: "queue", destination: "n", prefetch: 1 }, (d, s) => {
    got.push(d);
    if (text(d) === "a" && !nacked) {
      nacked = true;
      queueMicrotask(() => (s.nack([d.tag], true), s.credit(1)));
    } else if (text(d) === "b") queueMicrotask(() => (s.nack([d.tag], false), s.credit(1)));
    else queueMicrotask(() => (s.ack([d.tag]), s.credit(1)));
  });
  await got.atLeast(3);
  assert.deepEqual(got.items.map((d) => `${text(d)}${d.message.redeliveryCount}`), ["a0", "a1", "b0"]);
  await waitFor(() => dead.length === 1, "dead letter");
  assert.deepEqual(dead, ["b:rejected"]);
  await b.stop();
});

Deno.test("nack with requeue but not counted puts the message back with its redelivery count unchanged", async () => {
  const b = await broker();
  await b.publish({ kind: "queue", destination: "nc", body: "a" });
  const got = new Collector<Delivery>();
  await b.subscribe({ kind: "queue", destination: "nc", prefetch: 1 }, (d, s) => {
    got.push(d);
    if (got.items.length === 1) queueMicrotask(() => (s.nack([d.tag], true, false), s.credit(1)));
    else if (got.items.length === 2) queueMicrotask(() => (s.nack([d.tag], true), s.credit(1)));
    else s.ack([d.tag]);
  });
  await got.atLeast(3);
  assert.deepEqual(got.items.map((d) => d.message.redeliveryCount), [0, 0, 1]);
  await b.stop();
});

Deno.test("message groups stick to one consumer and move when it leaves", async () => {
  const b = await broker();
  const owners = new Map<string, Set<number>>();
  const subs: Subscription[] = [];
  const got = new Collector<string>();
  for (let c = 0; c < 3; c++) {
    subs.push(
      await b.subscribe({ kind: "queue", destination: "g" }, (d, s) => {
        const g = d.message.groupId!;
        if (!owners.has(g)) owners.set(g, new Set());
        owners.get(g)!.add(c);
        s.ack([d.tag]);
        got.push(g);
      }),
    );
  }
  for (let i = 0; i < 300; i++) await b.publish({ kind: "queue", destination: "g", groupId: `g${i % 6}` });
  await got.atLeast(300);
  for (const [g, set] of owners) assert.equal(set.size, 1, `group ${g} went to ${[...set]}`);
  const used = new Set([...owners.values()].map((s) => [...s][0]));
  assert.ok(used.size >= 2, "groups should spread across consumers");
  // The owner of g0 leaves: g0 moves to another consumer and stays there.
  const ownerOfG0 = [...owners.get("g0")!][0];
  await subs[ownerOfG0].cancel();
  owners.clear();
  for (let i = 0; i < 60; i++) await b.publish({ kind: "queue", destination: "g", groupId: `g${i % 6}` });
  await got.atLeast(360);
  assert.equal(owners.get("g0")!.size, 1);
  assert.ok(!owners.get("g0")!.has(ownerOfG0));
  await b.stop();
});

Deno.test("an exclusive consumer receives everything while it lives; the next takes over", async () => {
  const b = await broker();
  const a = new Collector<string>(), c = new Collector<string>();
  const ex = await b.subscribe({ kind: "queue", destination: "x", exclusive: true }, (d, s) => {
    a.push(text(d));
    s.ack([d.tag]);
  });
  await b.subscribe({ kind: "queue", destination: "x", exclusive: true }, (d, s) => {
    c.push(text(d));
    s.ack([d.tag]);
  });
  for (let i = 0; i < 10; i++) await b.publish({ kind: "queue", destination: "x", body: String(i) });
  await a.atLeast(10);
  assert.equal(c.items.length, 0);
  await ex.cancel();
  await b.publish({ kind: "queue", destination: "x", body: "after" });
  assert.deepEqual(await c.atLeast(1), ["after"]);
  await b.stop();
});

Deno.test("queue consumers with selectors each get only matching messages", async () => {
  const b = await broker();
  const red = new Collector<string>(), blue = new Collector<string>();
  await b.subscribe({ kind: "queue", destination: "s", selector: "color = 'red'" }, (d, s) => {
    red.push(text(d));
    s.ack([d.tag]);
  });
  await b.subscribe(
    { kind: "queue", destination: "s", selector: "color = 'blue' AND weight > 2" },
    (d, s) => {
      blue.push(text(d));
      s.ack([d.tag]);
    },
  );
  await b.publish({ kind: "queue", destination: "s", body: "1", properties: { color: "blue", weight: 1 } });
  await b.publish({ kind: "queue", destination: "s", body: "2", properties: { color: "red" } });
  await b.publish({ kind: "queue", destination: "s", body: "3", properties: { color: "blue", weight: 5 } });
  assert.deepEqual(await red.atLeast(1), ["2"]);
  assert.deepEqual(await blue.atLeast(1), ["3"]);
  assert.equal(b.queue("s")!.pending, 1, "the unmatched message waits");
  await b.stop();
});

Deno.test("credit: deliveries stop when credit runs out and resume when credit is added", async () => {
  const b = await broker();
  const got = new Collector<Delivery>();
  const sub = await b.subscribe({ kind: "queue", destination: "c", prefetch: 2 }, (d) => got.push(d));
  for (let i = 0; i < 5; i++) await b.publish({ kind: "queue", destination: "c", body: String(i) });
  await got.atLeast(2);
  assert.equal(got.items.length, 2);
  sub.ack([got.items[0].tag]);
  sub.credit(1);
  await got.atLeast(3);
  assert.equal(got.items.length, 3);
  await b.stop();
});

Deno.test("an expired message is never delivered and fires the expired hook", async () => {
  const b = await broker({ expirySweepMs: 10 });
  const expired: string[] = [];
  b.hooks.on("test", "expired", (e) => expired.push(new TextDecoder().decode(e.message.body)));
  await b.publish({ kind: "queue", destination: "ttl", body: "old", ttl: 1 });
  await b.publish({ kind: "queue", destination: "ttl", body: "new" });
  await waitFor(() => expired.length === 1, "expiry");
  const got = new Collector<string>();
  await b.subscribe({ kind: "queue", destination: "ttl" }, (d, s) => {
    got.push(text(d));
    s.ack([d.tag]);
  });
  assert.deepEqual(await got.atLeast(1), ["new"]);
  assert.deepEqual(expired, ["old"]);
  await b.stop();
});

Deno.test("topic fans out to every matching subscription, not to others", async () => {
  const b = await broker();
  const all = new Collector<string>(), one = new Collector<string>(), other = new Collector<string>();
  await b.subscribe(
    { kind: "topic", destination: "sensors.>", ack: "auto" },
    (d) => all.push(d.message.destination),
  );
  await b.subscribe(
    { kind: "topic", destination: "sensors.*.temp", ack: "auto" },
    (d) => one.push(d.message.destination),
  );
  await b.subscribe(
    { kind: "topic", destination: "other", ack: "auto" },
    (d) => other.push(d.message.destination),
  );
  await b.publish({ destination: "sensors.k1.temp" });
  await b.publish({ destination: "sensors.k1.hum" });
  assert.deepEqual(await all.atLeast(2), ["sensors.k1.temp", "sensors.k1.hum"]);
  assert.deepEqual(await one.atLeast(1), ["sensors.k1.temp"]);
  assert.equal(other.items.length, 0);
  await b.stop();
});

Deno.test("a durable topic subscription keeps messages while its consumer is away", async () => {
  const b = await broker();
  const first = new Collector<string>();
  const sub = await b.subscribe({ kind: "topic", destination: "news.>", durable: "app1" }, (d, s) => {
    first.push(text(d));
    s.ack([d.tag]);
  });
  await b.publish({ destination: "news.a", body: "1" });
  await first.atLeast(1);
  await sub.cancel();
  await b.publish({ destination: "news.b", body: "2" });
  await b.publish({ destination: "news.c", body: "3" });
  assert.equal(b.queue("app1")!.pending, 2);
  const again = new Collector<string>();
  await b.subscribe({ kind: "topic", destination: "news.>", durable: "app1" }, (d, s) => {
    again.push(text(d));
    s.ack([d.tag]);
  });
  assert.deepEqual(await again.atLeast(2), ["2", "3"]);
  await b.stop();
});

Deno.test("a non-durable subscription's queue disappears when it is cancelled", async () => {
  const b = await broker();
  const sub = await b.subscribe({ kind: "topic", destination: "t", ack: "auto" }, () => {});
  assert.ok(b.queue(sub.queue));
  await sub.cancel();
  assert.equal(b.queue(sub.queue), undefined);
  await b.stop();
});

Deno.test("publish rejects an invalid destination and an oversized message with stable codes", async () => {
  const b = await broker({ maxMessageSize: 10 });
  await assert.rejects(b.publish({ destination: "" }), { code: "invalid_destination" });
  await assert.rejects(b.publish({ destination: "a\u0007b" }), { code: "invalid_destination" });
  await assert.rejects(b.publish({ destination: "a.*" }), { code: "invalid_destination" });
  await assert.rejects(b.publish({ destination: "a", body: "01234567890" }), { code: "payload_too_large" });
  await assert.rejects(b.publish({ destination: "a", priority: 11 }), { code: "invalid_message" });
  assert.equal(b.destinations().length, 0, "nothing created by a failed publish");
  await b.stop();
});

Deno.test("maxLength: one more pending message dead-letters the oldest of the lowest priority", async () => {
  const b = await broker();
  const dead = deadLetters(b);
  await b.createQueue("bounded", { maxLength: 3 });
  for (const [body, priority] of [["a", 4], ["b", 9], ["c", 4], ["d", 1], ["e", 4], ["f", 4]] as const) {
    await b.publish({ kind: "queue", destination: "bounded", body, priority });
  }
  // d is the only low-priority one, then a and c are the oldest of priority 4.
  assert.deepEqual(dead, ["d:max_length", "a:max_length", "c:max_length"]);
  assert.equal(b.queue("bounded")!.pending, 3);
  const info = () => b.destinations().find((d) => d.name === "bounded")!;
  assert.equal(info().maxLength, 3);
  // In flight does not count: a consumer holding messages leaves room for new ones.
  const got = new Collector<string>();
  await b.subscribe({ kind: "queue", destination: "bounded", prefetch: 3 }, (d) => got.push(text(d)));
  assert.deepEqual(await got.atLeast(3), ["b", "e", "f"]);
  for (const body of ["g", "h", "i"]) await b.publish({ kind: "queue", destination: "bounded", body });
  assert.equal(b.queue("bounded")!.pending, 3);
  assert.equal(dead.length, 3);
  // Changed and cleared through updateQueue (a lower limit applies at once); a bad value is refused.
  await b.updateQueue("bounded", { maxLength: 1 });
  assert.deepEqual(dead.slice(3), ["g:max_length", "h:max_length"]);
  await b.publish({ kind: "queue", destination: "bounded", body: "j" });
  assert.deepEqual(dead.slice(5), ["i:max_length"]);
  await b.updateQueue("bounded", { maxLength: null });
  assert.equal(info().maxLength, undefined);
  await assert.rejects(b.updateQueue("bounded", { maxLength: 0 }), /must be an integer >= 1/);
  await b.stop();
});

Deno.test("maxLength on a durable topic subscription bounds what it keeps while its consumer is away", async () => {
  const b = await broker();
  const sub = await b.subscribe(
    { kind: "topic", destination: "feed.>", durable: "slow", maxLength: 2 },
    () => {},
  );
  await sub.cancel();
  for (let i = 0; i < 5; i++) await b.publish({ destination: "feed.x", body: String(i) });
  const again = new Collector<string>();
  await b.subscribe({ kind: "topic", destination: "feed.>", durable: "slow", maxLength: 2 }, (d, s) => {
    again.push(text(d));
    s.ack([d.tag]);
  });
  assert.deepEqual(await again.atLeast(2), ["3", "4"]);
  await b.stop();
});
