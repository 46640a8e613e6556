import assert from "node:assert/strict";
import { join } from "node:path";
import { createMessage } from "../../../mod.ts";
import { openSqliteStore } from "../../../plugins/sqlite-store/mod.ts";
import { startBroker } from "../../helpers/broker.ts";
import { sqliteFault } from "../../helpers/sqlite_fault.ts";
import { Collector } from "../../helpers/wait.ts";
import { storeConformance } from "../../conformance/store.ts";

storeConformance("SqliteStore", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ferrymq-sqlite-" });
  const path = join(dir, "t.db");
  let store = openSqliteStore(path);
  return {
    store,
    reopen: async () => {
      await store.close();
      store = openSqliteStore(path);
      return store;
    },
    cleanup: async () => {
      await store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
});

Deno.test("SqliteStore commits everything written in one turn in one transaction", async () => {
  const store = openSqliteStore(":memory:");
  const before = store.transactions;
  const writes = [];
  for (let i = 0; i < 500; i++) {
    const message = createMessage({ destination: "q", kind: "queue", body: String(i), persistent: true }, 1);
    writes.push(store.append([{ message, queues: ["q"] }]));
  }
  writes.push(store.kv("x").set("k", 1));
  await Promise.all(writes);
  assert.equal(store.transactions - before, 1);
  await store.close();
});

Deno.test("persistent queue messages and a durable subscription survive a broker restart; acked ones do not", async () => {
  const plugins = [{ use: "sqlite-store" }];
  const first = await startBroker({ plugins });
  const b = first.broker;
  for (let i = 0; i < 5; i++) {
    await b.publish({ kind: "queue", destination: "jobs", body: `j${i}`, persistent: true });
  }
  await b.publish({ kind: "queue", destination: "jobs", body: "volatile" });
  const sub = await b.subscribe({ kind: "topic", destination: "news.>", durable: "reader" }, () => {});
  await sub.cancel();
  await b.publish({ destination: "news.a", body: "n1", persistent: true });
  const got = new Collector<string>();
  const taker = await b.subscribe({ kind: "queue", destination: "jobs", prefetch: 2 }, (d, s) => {
    got.push(new TextDecoder().decode(d.message.body));
    s.ack([d.tag]);
  });
  await got.atLeast(2);
  await taker.cancel();
  await b.store.append([]); // the acks are committed
  await first.stop({ keepData: true });

  const second = await startBroker({ plugins, dataDir: first.dataDir });
  try {
    const jobs = second.broker.browse("jobs").map((m) => new TextDecoder().decode(m.body));
    assert.deepEqual(jobs, ["j2", "j3", "j4"]);
    const news = new Collector<string>();
    await second.broker.subscribe({ kind: "topic", destination: "news.>", durable: "reader" }, (d, s) => {
      news.push(new TextDecoder().decode(d.message.body));
      s.ack([d.tag]);
    });
    assert.deepEqual(await news.atLeast(1), ["n1"]);
  } finally {
    await second.stop();
  }
});

Deno.test("after SIGKILL mid-stream every confirmed message comes back in order and no confirmed ack does", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "ferrymq-crash-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tests/fixtures/store_crash_child.ts", dataDir],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const published: string[] = [];
  const acked = new Set<string>();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (published.length < 2000) {
    const { value, done } = await reader.read();
    if (done) throw new Error("child ended early");
    buf += value;
    const lines = buf.split("\n");
    buf = lines.pop()!;
    for (const l of lines) {
      if (l.startsWith("pub ")) published.push(l.slice(4));
      else if (l.startsWith("ack ")) acked.add(l.slice(4));
    }
  }
  child.kill("SIGKILL");
  await child.status;
  await reader.cancel();
  const again = await startBroker({ plugins: [{ use: "sqlite-store" }], dataDir });
  try {
    const back = again.broker.browse("crash", { limit: 1_000_000 }).map((m) =>
      new TextDecoder().decode(m.body)
    );
    const backSet = new Set(back);
    for (const id of acked) assert.ok(!backSet.has(id), `acked ${id} came back`);
    const expected = published.filter((id) => !acked.has(id));
    for (const id of expected) assert.ok(backSet.has(id), `confirmed ${id} is missing`);
    const order = back.map((id) => Number(id.slice(1)));
    assert.deepEqual(order, [...order].sort((a, b) => a - b), "recovered in publish order");
    assert.ok(acked.size > 100, `the test acked too little (${acked.size})`);
  } finally {
    await again.stop();
  }
});

/** Runs `fn` with the path of a database in a temporary directory, which is removed afterwards. */
async function withDb(fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ferrymq-sqlite-" });
  try {
    await fn(join(dir, "t.db"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The ids of the messages a store at `path` recovers, in order. */
async function recoveredIds(path: string): Promise<string[]> {
  const store = openSqliteStore(path);
  const ids = [];
  for await (const s of store.recover()) ids.push(s.message.id);
  await store.close();
  return ids;
}

Deno.test("SqliteStore: a one-queue message that gains a second queue keeps both across a restart", () =>
  withDb(async (path) => {
    let store = openSqliteStore(path);
    const one = createMessage({ destination: "t", kind: "topic", body: "one", persistent: true }, 1);
    const two = createMessage({ destination: "t", kind: "topic", body: "two", persistent: true }, 2);
    await store.append([{ message: one, queues: ["a"] }, { message: two, queues: ["a"] }]);
    await store.append([{ message: one, queues: ["b"] }]);
    await store.ack([{ queue: "a", id: one.id }]);
    await store.close();
    store = openSqliteStore(path);
    const got = [];
    for await (const s of store.recover()) got.push([s.message.id, [...s.queues]]);
    assert.deepEqual(got, [[one.id, ["b"]], [two.id, ["a"]]]);
    await store.ack([{ queue: "b", id: one.id }, { queue: "a", id: two.id }]);
    await store.close();
    assert.deepEqual(await recoveredIds(path), []);
  }));

Deno.test("SqliteStore: many acknowledgements in one transaction delete every row, and only those", () =>
  withDb(async (path) => {
    const store = openSqliteStore(path);
    const messages = Array.from(
      { length: 150 },
      (_, i) => createMessage({ destination: "q", kind: "queue", body: String(i), persistent: true }, i),
    );
    await store.append(messages.map((message) => ({ message, queues: ["q"] })));
    const before = store.transactions;
    // 149 acks in one turn: two chunks of 64 and 21 single deletes, in one transaction.
    await Promise.all(messages.slice(0, 149).map((m) => store.ack([{ queue: "q", id: m.id }])));
    assert.equal(store.transactions - before, 1);
    await store.close();
    assert.deepEqual(await recoveredIds(path), [messages[149].id]);
  }));

Deno.test("SqliteStore: a transaction of many new messages, large and small, one queue and several, recovers whole", () =>
  withDb(async (path) => {
    let store = openSqliteStore(path);
    // 200 messages in one transaction: three multi-row INSERTs and single rows for the rest; every 7th is
    // big enough to get its own copy, every 5th goes to two queues, and one gains a queue in the same turn.
    const messages = Array.from({ length: 200 }, (_, i) =>
      createMessage({
        destination: "t",
        kind: "topic",
        body: i % 7 === 0 ? new Uint8Array(100_000).fill(i) : `message ${i} ✓`,
        persistent: true,
      }, i));
    const writes = messages.map((message, i) =>
      store.append([{ message, queues: i % 5 === 0 ? ["a", "b"] : ["a"] }])
    );
    writes.push(store.append([{ message: messages[1], queues: ["c"] }]));
    const before = store.transactions;
    await Promise.all(writes);
    assert.equal(store.transactions - before, 1);
    await store.close();
    store = openSqliteStore(path);
    const got = new Map<string, { queues: string[]; body: Uint8Array }>();
    for await (const s of store.recover()) {
      got.set(s.message.id, { queues: [...s.queues].sort(), body: s.message.body });
    }
    assert.equal(got.size, 200);
    messages.forEach((m, i) => {
      const r = got.get(m.id)!;
      assert.deepEqual(r.queues, i === 1 ? ["a", "c"] : i % 5 === 0 ? ["a", "b"] : ["a"], `queues of ${i}`);
      assert.deepEqual(r.body, m.body, `body of ${i}`);
    });
    await store.close();
  }));

Deno.test("SqliteStore: a failed transaction changes nothing, and the same writes tried again take effect", () =>
  withDb(async (path) => {
    const store = openSqliteStore(path);
    const fault = sqliteFault(path);
    try {
      const m = (body: string) =>
        createMessage({ destination: "t", kind: "topic", body, persistent: true }, 1);
      const acked = m("acked"), shared = m("shared"), added = m("added");
      await store.append([{ message: acked, queues: ["a"] }, { message: shared, queues: ["a"] }]);
      fault.fail();
      const failed = [
        store.append([{ message: added, queues: ["a"] }]),
        store.append([{ message: shared, queues: ["b"] }]),
        store.ack([{ queue: "a", id: acked.id }]),
      ];
      for (const w of failed) await assert.rejects(w, { code: "store_failed" });
      assert.deepEqual(await recoveredIds(path), [acked.id, shared.id]);
      fault.heal();
      await store.append([{ message: added, queues: ["a"] }]);
      await store.ack([{ queue: "a", id: acked.id }, { queue: "a", id: shared.id }]);
      await store.close();
      // The second queue of `shared` was never committed: its one queue is gone, and so is it.
      assert.deepEqual(await recoveredIds(path), [added.id]);
    } finally {
      fault.close();
    }
  }));
