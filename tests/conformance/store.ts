/**
 * The conformance suite every {@linkcode Store} passes (the aedes-persistence abstract.js idea):
 * call `storeConformance(name, factory)` from a test file.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createMessage, type Message, type Store } from "../../mod.ts";

/** Makes a store for one test; `reopen` (when the store persists) closes it and opens it again. */
export type StoreFactory = () => Promise<
  { store: Store; reopen?: () => Promise<Store>; cleanup: () => Promise<void> }
>;

// Stores take the id a message has; these name theirs to keep the assertions readable.
const msg = (id: string, body: Uint8Array | string = id): Message => ({
  ...createMessage({
    destination: "q",
    kind: "queue",
    body,
    persistent: true,
    properties: { n: 1, s: "x", b: true, z: null },
  }, 1000),
  id,
});

async function all(store: Store) {
  const out: { id: string; queues: string[]; body: number[]; redeliveryCount: number }[] = [];
  for await (const { message, queues } of store.recover()) {
    out.push({
      id: message.id,
      queues: [...queues].sort(),
      body: [...message.body],
      redeliveryCount: message.redeliveryCount,
    });
  }
  return out;
}

/** Registers the conformance tests for one store implementation. */
export function storeConformance(name: string, factory: StoreFactory): void {
  const test = (what: string, fn: (store: Store, reopen?: () => Promise<Store>) => Promise<void>) =>
    Deno.test(`${name}: ${what}`, async () => {
      const { store, reopen, cleanup } = await factory();
      try {
        await fn(store, reopen);
      } finally {
        await cleanup();
      }
    });

  test("recover() returns appended messages in append order with their queues", async (store) => {
    await store.append([{ message: msg("a"), queues: ["q1"] }, { message: msg("b"), queues: ["q1", "q2"] }]);
    await store.append([{ message: msg("c"), queues: ["q2"] }]);
    const got = await all(store);
    assert.deepEqual(got.map((g) => [g.id, g.queues]), [["a", ["q1"]], ["b", ["q1", "q2"]], ["c", ["q2"]]]);
  });

  test("a message acked in one of its two queues stays for the other and goes after both", async (store) => {
    await store.append([{ message: msg("m"), queues: ["q1", "q2"] }]);
    await store.ack([{ queue: "q1", id: "m" }]);
    assert.deepEqual((await all(store)).map((g) => g.queues), [["q2"]]);
    await store.ack([{ queue: "q2", id: "m" }]);
    assert.deepEqual(await all(store), []);
  });

  test("acking unknown refs is harmless", async (store) => {
    await store.append([{ message: msg("m"), queues: ["q1"] }]);
    await store.ack([{ queue: "nope", id: "m" }, { queue: "q1", id: "unknown" }]);
    assert.equal((await all(store)).length, 1);
  });

  test("redelivered() updates the count recover() reports", async (store) => {
    await store.append([{ message: msg("m"), queues: ["q1"] }]);
    await store.redelivered([{ queue: "q1", id: "m" }], 3);
    assert.equal((await all(store))[0].redeliveryCount, 3);
  });

  test("bodies come back byte-exact: empty, binary and large", async (store) => {
    const bin = new Uint8Array(256).map((_, i) => i);
    const big = new Uint8Array(1 << 20).fill(7);
    await store.append([
      { message: msg("e", new Uint8Array(0)), queues: ["q"] },
      { message: msg("b", bin), queues: ["q"] },
      { message: msg("l", big), queues: ["q"] },
    ]);
    const got = new Map<string, Message>();
    for await (const { message } of store.recover()) got.set(message.id, message);
    assert.equal(got.get("e")!.body.byteLength, 0);
    assert.deepEqual([...got.get("b")!.body], [...bin]);
    assert.equal(got.get("l")!.body.byteLength, big.byteLength);
    assert.deepEqual(got.get("b")!.properties, { n: 1, s: "x", b: true, z: null });
    assert.equal(got.get("b")!.persistent, true);
  });

  test("kv get/set/delete/entries with prefixes; namespaces are isolated", async (store) => {
    const a = store.kv<{ v: number }>("a"), b = store.kv<{ v: number }>("b");
    await a.set("x.1", { v: 1 });
    await a.set("x.2", { v: 2 });
    await a.set("y.1", { v: 3 });
    await b.set("x.1", { v: 9 });
    assert.deepEqual(await a.get("x.1"), { v: 1 });
    assert.equal(await a.get("missing"), undefined);
    const xs: [string, { v: number }][] = [];
    for await (const e of a.entries("x.")) xs.push(e);
    assert.deepEqual(xs, [["x.1", { v: 1 }], ["x.2", { v: 2 }]]);
    await a.delete("x.1");
    assert.equal(await a.get("x.1"), undefined);
    assert.deepEqual(await b.get("x.1"), { v: 9 });
  });

  test("reopen keeps messages, acks and kv", async (store, reopen) => {
    if (!reopen) return;
    await store.append([{ message: msg("a"), queues: ["q1"] }, { message: msg("b"), queues: ["q1"] }]);
    await store.ack([{ queue: "q1", id: "a" }]);
    await store.kv("defs").set("q1", { durable: true });
    const again = await reopen();
    assert.deepEqual((await all(again)).map((g) => g.id), ["b"]);
    assert.deepEqual(await again.kv("defs").get("q1"), { durable: true });
  });
}
