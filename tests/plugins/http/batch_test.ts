import assert from "node:assert/strict";
import type { StoredMessage } from "../../../mod.ts";
import { startBroker } from "../../helpers/broker.ts";
import { base, http, json } from "./helpers.ts";

Deno.test("http: a batch an item of which the core refuses after the checks stores nothing", async () => {
  const tb = await startBroker({ plugins: [http] });
  // A publish fold refusing the last item: the HTTP plugin cannot know before publishing.
  tb.broker.hooks.on(
    "test",
    "publish",
    ({ message }) => message.properties.poison ? { code: "invalid_message", reason: "poisoned" } : message,
  );
  try {
    await tb.broker.createQueue("atomic");
    const res = await fetch(
      `${base(tb)}/queues/atomic/messages:batch`,
      json([{ body: "1" }, { body: "2" }, { body: "3", properties: { poison: true } }]),
    );
    assert.equal(res.status, 400);
    const p = await res.json();
    assert.equal(p.type, "https://ferrymq.dev/problems/invalid_message");
    assert.equal(p.detail, "poisoned");
    assert.equal(tb.broker.queue("atomic")!.pending, 0);
  } finally {
    await tb.stop();
  }
});

Deno.test("http: a batch to a queue that does not exist stores nothing anywhere", async () => {
  const tb = await startBroker({ plugins: [http], limits: { autoCreate: false } });
  // A fold sending one item elsewhere: that queue does not exist, so the whole batch is refused.
  tb.broker.hooks.on(
    "test",
    "publish",
    ({ message }) => message.properties.elsewhere ? { ...message, destination: "nowhere" } : message,
  );
  try {
    await tb.broker.createQueue("here");
    const res = await fetch(
      `${base(tb)}/queues/here/messages:batch`,
      json([{ body: "1" }, { body: "2", properties: { elsewhere: true } }]),
    );
    assert.equal(res.status, 404);
    assert.match((await res.json()).type, /destination_not_found$/);
    assert.equal(tb.broker.queue("here")!.pending, 0);
  } finally {
    await tb.stop();
  }
});

Deno.test("http: the persistent messages of a batch go to the store in one append", async () => {
  const tb = await startBroker({ plugins: [http] });
  const appends: (readonly StoredMessage[])[] = [];
  const store = tb.broker.store;
  const append = store.append.bind(store);
  store.append = (batch) => (appends.push(batch), append(batch));
  try {
    const res = await fetch(
      `${base(tb)}/queues/one.commit/messages:batch`,
      json([{ body: "1" }, { body: "2", persistent: false }, { body: "3" }]),
    );
    assert.equal(res.status, 201);
    const { ids } = await res.json();
    assert.deepEqual(appends.map((b) => b.map((s) => s.message.id)), [[ids[0], ids[2]]]);
    assert.equal(tb.broker.queue("one.commit")!.pending, 3);
  } finally {
    await tb.stop();
  }
});
