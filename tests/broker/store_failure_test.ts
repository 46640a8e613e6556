/**
 * A store that fails to commit: the publish fails and is taken back whole, acks are tried again, and the
 * broker goes on and recovers with the store. Deliveries happen while a commit is pending (see
 * docs/architecture.md), so a consumer may have had a message whose publish then failed; it is taken back
 * from that consumer too.
 */
import assert from "node:assert/strict";
import { type Broker, BrokerError, createBroker, type Delivery, type StoredMessage } from "../../mod.ts";
import { Collector, waitFor } from "../helpers/wait.ts";

const text = (d: Delivery) => new TextDecoder().decode(d.message.body);
const persistent = true;

interface Fault {
  failing: boolean;
  /** Writes refused so far. */
  refused: number;
}

/** A bare broker whose in-memory store fails every append and ack while `failing` is set. */
async function brokerWithFaultyStore(): Promise<{ b: Broker; fault: Fault }> {
  const b = await createBroker({ plugins: [] }, { printLogs: false, logLevel: "info" });
  const store = b.store;
  const append = store.append.bind(store), ack = store.ack.bind(store);
  const fault: Fault = { failing: false, refused: 0 };
  const fail = () => {
    fault.refused++;
    return Promise.reject(new BrokerError("store_failed", "Cannot commit: disk full (injected)"));
  };
  store.append = (batch) => fault.failing ? fail() : append(batch);
  store.ack = (refs) => fault.failing ? fail() : ack(refs);
  return { b, fault };
}

async function stored(b: Broker): Promise<StoredMessage[]> {
  const out = [];
  for await (const s of b.store.recover()) out.push(s);
  return out;
}

Deno.test("a persistent publish the store fails to commit is refused and taken back from every queue", async () => {
  const { b, fault } = await brokerWithFaultyStore();
  try {
    await b.createQueue("jobs");
    // A durable subscription whose subscriber is away, and a plain one that takes nothing yet.
    await (await b.subscribe({ kind: "topic", destination: "news", durable: "away" }, () => {})).cancel();
    const plain = new Collector<string>();
    const live = await b.subscribe({ kind: "topic", destination: "news", prefetch: 0 }, (d, s) => {
      plain.push(text(d));
      s.ack([d.tag]);
    });
    fault.failing = true;
    await assert.rejects(b.publish({ kind: "queue", destination: "jobs", body: "j1", persistent }), {
      code: "store_failed",
    });
    await assert.rejects(b.publish({ destination: "news", body: "n1", persistent }), {
      code: "store_failed",
    });
    assert.deepEqual(b.browse("jobs"), []);
    assert.deepEqual(b.browse("away"), []);
    assert.equal(b.queue(live.queue)!.pending, 0, "the plain subscription's copy is taken back too");
    // What the store is not asked to keep still flows.
    await b.publish({ kind: "queue", destination: "jobs", body: "volatile" });

    fault.failing = false;
    await b.publish({ kind: "queue", destination: "jobs", body: "j2", persistent });
    await b.publish({ destination: "news", body: "n2", persistent });
    assert.deepEqual(b.browse("jobs").map((m) => new TextDecoder().decode(m.body)), ["volatile", "j2"]);
    assert.deepEqual(b.browse("away").map((m) => new TextDecoder().decode(m.body)), ["n2"]);
    live.setCredit(10);
    assert.deepEqual(await plain.atLeast(1), ["n2"]);
    assert.deepEqual((await stored(b)).map((s) => s.queues), [["jobs"], ["away"]]);
  } finally {
    await b.stop();
  }
});

Deno.test("a message delivered before its commit failed is taken back from its consumer, not redelivered", async () => {
  const { b, fault } = await brokerWithFaultyStore();
  try {
    const got: Delivery[] = [];
    let sub = await b.subscribe({ kind: "queue", destination: "jobs" }, (d) => got.push(d));
    fault.failing = true;
    const published = b.publish({ kind: "queue", destination: "jobs", body: "j1", persistent });
    assert.deepEqual(got.map(text), ["j1"], "delivered while the commit is pending");
    await assert.rejects(published, { code: "store_failed" });
    const q = b.queue("jobs")!;
    assert.equal(q.inflight, 0);
    fault.failing = false;
    sub.ack([got[0].tag]); // does nothing: the broker holds no such message any more
    await sub.cancel(); // an unacked delivery would go back to the queue here
    assert.equal(q.pending, 0);

    // The publisher tries again: the consumer gets the message once more, and only that copy is kept.
    await b.publish({ kind: "queue", destination: "jobs", body: "j1", persistent });
    const again = new Collector<string>();
    sub = await b.subscribe({ kind: "queue", destination: "jobs" }, (d, s) => {
      again.push(text(d));
      s.ack([d.tag]);
    });
    assert.deepEqual(await again.atLeast(1), ["j1"]);
    await waitFor(async () => (await stored(b)).length === 0, "the ack to be stored");
    await sub.cancel();
  } finally {
    await b.stop();
  }
});

Deno.test("a message held back for a redelivery delay when its commit failed does not come back", async () => {
  const { b, fault } = await brokerWithFaultyStore();
  try {
    b.setRedeliveryPolicy(() => ({ delayMs: 20 }));
    const redelivered = new Collector<string>();
    // Every first delivery is refused, so each message waits out the delay once, in the order they came.
    await b.subscribe({ kind: "queue", destination: "jobs" }, (d, s) => {
      if (d.message.redeliveryCount === 0) return s.nack([d.tag], true);
      redelivered.push(text(d));
      s.ack([d.tag]);
    });
    fault.failing = true;
    await assert.rejects(b.publish({ kind: "queue", destination: "jobs", body: "failed", persistent }), {
      code: "store_failed",
    });
    fault.failing = false;
    await b.publish({ kind: "queue", destination: "jobs", body: "marker" });
    // "failed" was held first: it would be back before "marker".
    assert.deepEqual(await redelivered.atLeast(1), ["marker"]);
  } finally {
    await b.stop();
  }
});

Deno.test("an ack the store fails to take is tried again until it is stored", async () => {
  const { b, fault } = await brokerWithFaultyStore();
  try {
    await b.publish({ kind: "queue", destination: "jobs", body: "j1", persistent });
    const acked = new Collector<string>();
    fault.failing = true;
    const sub = await b.subscribe({ kind: "queue", destination: "jobs" }, (d, s) => {
      s.ack([d.tag]);
      acked.push(text(d));
    });
    await acked.atLeast(1);
    await waitFor(() => fault.refused === 1, "the ack to fail");
    assert.equal((await stored(b)).length, 1);
    fault.failing = false;
    await waitFor(async () => (await stored(b)).length === 0, "the ack to be tried again");
    await sub.cancel();
  } finally {
    await b.stop();
  }
});

Deno.test("a store that keeps failing is counted, logged once and again when it recovers; the broker goes on", async () => {
  const { b, fault } = await brokerWithFaultyStore();
  try {
    fault.failing = true;
    const refused = [];
    for (let turn = 0; turn < 5; turn++) {
      const writes = [];
      for (let i = 0; i < 10; i++) {
        writes.push(b.publish({ kind: "queue", destination: "jobs", body: `${turn}.${i}`, persistent }));
      }
      for (const r of await Promise.allSettled(writes)) refused.push(r.status);
    }
    assert.deepEqual(new Set(refused), new Set(["rejected"]));
    assert.equal(b.stats.storeFailures, 50);
    assert.equal(b.queue("jobs")!.pending, 0);
    fault.failing = false;
    await b.publish({ kind: "queue", destination: "jobs", body: "ok", persistent });
    const core = b.logs.recent().filter((r) => r.logger === "core" && /store/.test(r.msg));
    assert.deepEqual(core.map((r) => [r.level, r.msg]), [
      ["error", "cannot store published messages; persistent publishes fail until the store recovers"],
      ["info", "store writes succeed again, after 50 failed"],
    ]);
    assert.equal(b.queue("jobs")!.pending, 1);
  } finally {
    await b.stop();
  }
});
