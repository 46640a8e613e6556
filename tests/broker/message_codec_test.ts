import assert from "node:assert/strict";
import { decodeMessage, encodeMessage, encodeMessageView } from "../../broker/message_codec.ts";
import { createMessage } from "../../broker/message.ts";

Deno.test("decodeMessage(encodeMessage(m)) restores every field, absent ones stay absent", () => {
  const m = createMessage(
    {
      destination: "a.b",
      kind: "queue",
      body: new Uint8Array([0, 1, 255]),
      properties: { s: "x", n: 1.5, b: false, z: null },
      priority: 7,
      persistent: true,
      ttl: 100,
      groupId: "g",
      correlationId: "c",
      replyTo: "queue://r",
      subject: "s",
      contentType: "application/octet-stream",
      annotations: { "x-opt-delivery-delay": 10 },
      producerId: "p-1",
    },
    5000,
    "origin-1",
  );
  const back = decodeMessage(encodeMessage(m));
  assert.deepEqual({ ...back, body: [...back.body] }, { ...m, body: [...m.body] });
  const bare = createMessage({ destination: "t" }, 1);
  const back2 = decodeMessage(encodeMessage(bare));
  assert.equal("groupId" in back2, false);
  assert.equal(back2.body.byteLength, 0);
});

Deno.test("encodeMessageView() writes what encodeMessage() does, for small, non-ASCII and large messages", () => {
  for (
    const m of [
      createMessage({ destination: "t" }, 1),
      createMessage({ destination: "ünï.コード", body: "é".repeat(1000), properties: { k: "☃" } }, 1),
      createMessage({ destination: "big", body: new Uint8Array(3 * 1024 * 1024).fill(7) }, 1),
      createMessage({ destination: "t2", body: new Uint8Array([9]) }, 1),
    ]
  ) {
    const view = encodeMessageView(m);
    assert.deepEqual(view, encodeMessage(m));
    const back = decodeMessage(view);
    assert.equal(back.destination, m.destination);
    assert.deepEqual(back.properties, m.properties);
    assert.deepEqual(back.body, m.body);
  }
});

Deno.test("decodeMessage() rejects truncated input with store_failed", () => {
  assert.throws(() => decodeMessage(new Uint8Array([0, 0])), { code: "store_failed" });
  assert.throws(() => decodeMessage(new Uint8Array([0, 0, 0, 9, 1])), { code: "store_failed" });
});
