import assert from "node:assert/strict";
import { join } from "node:path";
import { type AdminEvent, type Delivery, Priority } from "../../../mod.ts";
import type { DelayService } from "../../../plugins/delay/mod.ts";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { sqliteFault } from "../../helpers/sqlite_fault.ts";
import { Collector, waitFor } from "../../helpers/wait.ts";

const text = (d: Delivery) => new TextDecoder().decode(d.message.body);

async function collect(tb: TestBroker, queue: string): Promise<Collector<{ d: Delivery; at: number }>> {
  const got = new Collector<{ d: Delivery; at: number }>();
  await tb.broker.subscribe({ kind: "queue", destination: queue, ack: "auto", prefetch: Infinity }, (d) => {
    got.push({ d, at: Date.now() });
  });
  return got;
}

function delayService(tb: TestBroker): DelayService {
  return tb.broker.host.service("delay")!;
}

Deno.test("a message published with delay 200 ms is delivered no earlier than 200 ms later", async () => {
  const tb = await startBroker({ plugins: [{ use: "delay" }] });
  try {
    const got = await collect(tb, "later");
    const t0 = Date.now();
    await tb.broker.publish({ kind: "queue", destination: "later", body: "x", delay: 200 });
    await tb.broker.publish({ kind: "queue", destination: "later", body: "now" });
    const [first, second] = await got.atLeast(2);
    assert.equal(text(first.d), "now");
    assert.equal(text(second.d), "x");
    assert.ok(second.at - t0 >= 200, `arrived after ${second.at - t0} ms`);
  } finally {
    await tb.stop();
  }
});

Deno.test("delay and deliver-at are read from properties (MQTT user properties, STOMP headers) and stripped", async () => {
  const tb = await startBroker({ plugins: [{ use: "delay" }] });
  try {
    const got = await collect(tb, "props");
    const t0 = Date.now();
    await tb.broker.publish({
      kind: "queue",
      destination: "props",
      body: "a",
      properties: { delay: "150", keep: 1 },
    });
    const at = new Date(t0 + 250).toISOString();
    await tb.broker.publish({
      kind: "queue",
      destination: "props",
      body: "b",
      properties: { "deliver-at": at },
    });
    await tb.broker.publish({
      kind: "queue",
      destination: "props",
      body: "c",
      annotations: { "delay.delay": 100 },
    });
    const items = await got.atLeast(3);
    assert.deepEqual(items.map((x) => text(x.d)), ["c", "a", "b"]);
    assert.deepEqual(items[1].d.message.properties, { keep: 1 });
    assert.ok(items[1].at - t0 >= 150);
    assert.ok(items[2].at - t0 >= 250);
    assert.equal(items[0].d.message.annotations, undefined);
  } finally {
    await tb.stop();
  }
});

Deno.test("repeat-count 3 with repeat-period 60 delivers four times, the repeats under derived ids", async () => {
  const tb = await startBroker({ plugins: [{ use: "delay" }] });
  try {
    const got = await collect(tb, "rep");
    const id = await tb.broker.send({
      kind: "queue",
      destination: "rep",
      producerId: "job-1",
      body: "tick",
      properties: { "repeat-count": 3, "repeat-period": 60 },
    });
    const items = await got.atLeast(4);
    assert.deepEqual(items.map((x) => x.d.message.id), [id, `${id}#1`, `${id}#2`, `${id}#3`]);
    assert.deepEqual(items.map((x) => x.d.message.producerId), ["job-1", "job-1#1", "job-1#2", "job-1#3"]);
    for (let i = 1; i < 4; i++) {
      assert.ok(items[i].at - items[i - 1].at >= 45, `gap ${items[i].at - items[i - 1].at} ms`);
    }
    await waitFor(() => delayService(tb).size === 0, "the job to finish");
  } finally {
    await tb.stop();
  }
});

Deno.test("a repeating job due at once still reaches the scheduler when a later fold takes time", async () => {
  const tb = await startBroker({ plugins: [{ use: "delay" }] });
  try {
    // A publish fold after the delay plugin's (sealing, say) that takes a few milliseconds: by the time the
    // message is dispatched, the clock has passed the deliverAt the delay plugin gave it.
    tb.broker.hooks.on("test", "publish", async ({ message }) => {
      await new Promise((r) => setTimeout(r, 5));
      return message;
    }, { priority: Priority.SEAL });
    const got = await collect(tb, "slow-fold");
    const id = await tb.broker.send({
      kind: "queue",
      destination: "slow-fold",
      body: "tick",
      properties: { "repeat-count": 1, "repeat-period": 50 },
    });
    const items = await got.atLeast(2);
    assert.deepEqual(items.map((x) => x.d.message.id), [id, `${id}#1`]);
  } finally {
    await tb.stop();
  }
});

Deno.test("a cron expression delivers at each matching second until repeat-count runs out", async () => {
  const tb = await startBroker({ plugins: [{ use: "delay" }] });
  try {
    const got = await collect(tb, "cron");
    await tb.broker.publish({
      kind: "queue",
      destination: "cron",
      body: "c",
      properties: { cron: "* * * * * *", "repeat-count": 1 },
    });
    const items = await got.atLeast(2, 4000);
    for (const { d, at } of items) {
      assert.equal(d.message.deliverAt % 1000, 0, "on a whole second");
      assert.ok(at >= d.message.deliverAt);
    }
    assert.equal(items[1].d.message.deliverAt - items[0].d.message.deliverAt, 1000);
    assert.equal(delayService(tb).size, 0);
  } finally {
    await tb.stop();
  }
});

Deno.test("bad delay requests are refused with invalid_message naming the field", async () => {
  const tb = await startBroker({ plugins: [{ use: "delay", options: { maxDelayMs: 60_000 } }] });
  try {
    const cases: [Record<string, string | number>, RegExp][] = [
      [{ delay: "soon" }, /"delay"/],
      [{ delay: 120_000 }, /limit is 60000/],
      [{ "deliver-at": "not a date" }, /"deliver-at"/],
      [{ "repeat-count": 2 }, /"repeat-period"/],
      [{ "repeat-count": 2.5, "repeat-period": 100 }, /"repeat-count"/],
      [{ cron: "every day" }, /"cron"/],
    ];
    for (const [properties, re] of cases) {
      await assert.rejects(
        tb.broker.publish({ kind: "queue", destination: "q", properties }),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, "invalid_message");
          assert.match(e.message, re);
          return true;
        },
      );
    }
    await assert.rejects(
      tb.broker.publish({ kind: "queue", destination: "q", delay: 61_000 }),
      /limit is 60000/,
    );
  } finally {
    await tb.stop();
  }
});

Deno.test("the delay service lists scheduled messages in due order and cancels one, reporting an adminAction", async () => {
  const tb = await startBroker({ plugins: [{ use: "delay" }] });
  try {
    const actions = new Collector<AdminEvent>();
    tb.broker.hooks.on("test", "adminAction", actions.push);
    const got = await collect(tb, "svc");
    const id: Record<string, string> = {};
    for (const [name, delay] of [["c", 400], ["a", 200], ["b", 300]] as const) {
      id[name] = await tb.broker.send({ kind: "queue", destination: "svc", body: name, delay });
    }
    const svc = delayService(tb);
    const page = svc.list({ limit: 10 });
    assert.equal(page.total, 3);
    assert.deepEqual(page.items.map((i) => i.id), [id.a, id.b, id.c]);
    assert.deepEqual(svc.list({ offset: 1, limit: 1 }).items.map((i) => i.id), [id.b]);
    assert.equal(svc.get(id.b)?.destination, "svc");
    assert.equal(await svc.cancel(id.b), true);
    assert.equal(await svc.cancel(id.b), false);
    const [ev] = await actions.atLeast(1);
    assert.equal(ev.action, "delay.cancel");
    assert.equal(ev.object, id.b);
    const items = await got.atLeast(2);
    await waitFor(() => svc.size === 0, "the rest to fire");
    assert.deepEqual(items.map((x) => x.d.message.id), [id.a, id.c]);
  } finally {
    await tb.stop();
  }
});

Deno.test("maxScheduled refuses further delayed publishes with server_busy", async () => {
  const tb = await startBroker({ plugins: [{ use: "delay", options: { maxScheduled: 2 } }] });
  try {
    await tb.broker.publish({ kind: "queue", destination: "q", delay: 10_000 });
    await tb.broker.publish({ kind: "queue", destination: "q", delay: 10_000 });
    await assert.rejects(
      tb.broker.publish({ kind: "queue", destination: "q", delay: 10_000 }),
      /maxScheduled/,
    );
    await assert.rejects(
      tb.broker.publish({ kind: "queue", destination: "q", properties: { delay: 10_000 } }),
      /maxScheduled/,
    );
    const s = tb.broker.internalSession("t");
    const r = await s.publish({ kind: "queue", destination: "q", delay: 10_000 });
    assert.equal(r?.code, "server_busy", "a Reject, not a thrown error");
    await s.close("done");
    await tb.broker.publish({ kind: "queue", destination: "q" }); // not delayed: fine
  } finally {
    await tb.stop();
  }
});

Deno.test("a message whose time to live runs out while it is scheduled is dead-lettered, not delivered", async () => {
  const tb = await startBroker({ plugins: [{ use: "delay" }, { use: "dlq" }] });
  try {
    const got = await collect(tb, "ttl");
    await tb.broker.publish({ kind: "queue", destination: "ttl", body: "stale", ttl: 50, delay: 150 });
    await tb.broker.publish({ kind: "queue", destination: "ttl", body: "fresh", ttl: 5000, delay: 150 });
    await got.atLeast(1);
    await waitFor(
      () => tb.broker.destinations().find((d) => d.name === "DLQ.ttl")?.pending === 1,
      "the dead letter",
    );
    assert.deepEqual(got.items.map((x) => text(x.d)), ["fresh"]);
    assert.equal(tb.broker.browse("DLQ.ttl")[0].properties.dlqReason, "expired");
  } finally {
    await tb.stop();
  }
});

Deno.test("AMQP x-opt-delivery-delay / x-opt-delivery-time annotations are honoured when passed through", async () => {
  const tb = await startBroker({ plugins: [{ use: "delay" }] });
  try {
    const got = await collect(tb, "amqp");
    const t0 = Date.now();
    await tb.broker.publish({
      kind: "queue",
      destination: "amqp",
      body: "d",
      annotations: { "x-opt-delivery-delay": 120 },
    });
    await tb.broker.publish({
      kind: "queue",
      destination: "amqp",
      body: "t",
      annotations: { "amqp.x-opt-delivery-time": t0 + 200 },
    });
    const items = await got.atLeast(2);
    assert.deepEqual(items.map((x) => text(x.d)), ["d", "t"]);
    assert.ok(items[0].at - t0 >= 120 && items[1].at - t0 >= 200);
  } finally {
    await tb.stop();
  }
});

Deno.test("a scheduled message that cannot be routed when due goes to the dead-letter queue", async () => {
  const tb = await startBroker({
    plugins: [{ use: "delay" }, { use: "dlq" }],
    limits: { autoCreate: false },
  });
  try {
    await tb.broker.publish({
      kind: "queue",
      destination: "nowhere",
      body: "late",
      deliverAt: Date.now() + 20,
    });
    const dead = await waitFor(
      () =>
        tb.broker.destinations().find((d) =>
          d.kind === "queue" && d.name.startsWith("DLQ") && d.pending === 1
        ),
      "the dead letter",
    );
    const [m] = tb.broker.browse(dead.name);
    assert.equal(new TextDecoder().decode(m.body), "late");
    assert.equal(m.properties.dlqReason, "unroutable");
  } finally {
    await tb.stop();
  }
});

Deno.test("a scheduled message the store refuses when it falls due stays scheduled and arrives once the store heals", async () => {
  const tb = await startBroker({ plugins: [{ use: "sqlite-store" }, { use: "delay" }] });
  const fault = sqliteFault(join(tb.dataDir, "broker.db"));
  try {
    await tb.broker.createQueue("later");
    await tb.broker.publish({ kind: "queue", destination: "later", body: "x", delay: 100, persistent: true });
    fault.fail();
    await waitFor(() => tb.broker.stats.storeFailures >= 1, "the store to refuse the due message", 5000);
    assert.equal(delayService(tb).size, 1, "still scheduled");
    fault.heal();
    await waitFor(() => tb.broker.queue("later")!.pending === 1, "the retried delivery", 5000);
    assert.equal(delayService(tb).size, 0);
  } finally {
    fault.close();
    await tb.stop();
  }
});
