import assert from "node:assert/strict";
import { createBroker, DROP, type Session, type StoredMessage } from "../../mod.ts";

const broker = () => createBroker({ plugins: [] }, { printLogs: false });
const sink = { deliver() {} };
const client = (b: Awaited<ReturnType<typeof broker>>) =>
  b.openSession({ clientId: "c", protocol: "test", remote: "test" }, sink) as Promise<Session>;

Deno.test("publishBatch: an asynchronous refusal of a later message routes none of the batch", async () => {
  const b = await broker();
  const asked: string[] = [];
  b.hooks.on("acl", "authorize", async (e) => {
    asked.push(e.destination);
    await Promise.resolve();
    return e.destination === "secret" ? { code: "not_authorized", reason: "no" } : true;
  });
  const s = await client(b);
  const r = await s.publishBatch([
    { kind: "queue", destination: "open", body: "1" },
    { kind: "queue", destination: "secret", body: "2" },
    { kind: "queue", destination: "open", body: "3" },
  ]);
  assert.deepEqual(r, { code: "not_authorized", reason: "no" });
  // The first refusal ends the batch: the third message is not checked.
  assert.deepEqual(asked, ["open", "secret"]);
  assert.equal(b.queue("open")?.pending ?? 0, 0);
  await b.stop();
});

Deno.test("publishBatch: dropped messages are left out; the rest go to the store in one append", async () => {
  const b = await broker();
  b.hooks.on("filter", "publish", ({ message }) => message.properties.drop ? DROP : message);
  const appends: (readonly StoredMessage[])[] = [];
  const append = b.store.append.bind(b.store);
  b.store.append = (batch) => (appends.push(batch), append(batch));
  await b.createQueue("a");
  const s = await client(b);
  const persistent = true;
  const r = await s.publishBatch([
    { kind: "queue", destination: "a", body: "1", persistent },
    { kind: "queue", destination: "a", body: "2", persistent, properties: { drop: true } },
    { kind: "topic", destination: "t.x", body: "3", persistent },
    { kind: "queue", destination: "a", body: "4" },
    { kind: "queue", destination: "b", body: "5", persistent },
  ]);
  assert.equal(r, undefined);
  const body = (m: { body: Uint8Array }) => new TextDecoder().decode(m.body);
  assert.deepEqual(appends.map((batch) => batch.map((e) => body(e.message))), [["1", "5"]]);
  assert.deepEqual(b.browse("a").map(body), ["1", "4"]);
  assert.deepEqual(b.browse("b").map(body), ["5"]);
  await s.close("done");
  assert.deepEqual(await s.publishBatch([{ kind: "queue", destination: "a" }]), {
    code: "closed",
    reason: "Cannot publish: the session is closed",
  });
  await b.stop();
});
