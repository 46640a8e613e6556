import assert from "node:assert/strict";
import { createMessage, type MessageInit, reserveMessageId } from "../../broker/message.ts";

Deno.test("createMessage gives every message an id of its own, whatever id the producer sent", () => {
  // `id` is no longer a MessageInit field; an old caller (or a plugin passing wire fields through) may still
  // set it, and it must not become the message's id.
  const sneaky = { destination: "q", kind: "queue", id: "taken" } as MessageInit;
  assert.notEqual(createMessage(sneaky, 1).id, "taken");
  const a = createMessage({ destination: "q", kind: "queue", producerId: "same" }, 1);
  const b = createMessage({ destination: "q", kind: "queue", producerId: "same" }, 1);
  assert.notEqual(a.id, b.id);
  assert.notEqual(a.id, "same");
  assert.equal(a.producerId, "same");
  assert.equal(b.producerId, "same");
  assert.equal(createMessage({ destination: "q" }, 1).producerId, undefined);
  assert.throws(
    () => createMessage({ destination: "q", producerId: 7 as unknown as string }, 1),
    /producerId/,
  );
});

Deno.test("a reserved id names one message; a copy of a reservation or a second use gets a new id", () => {
  const r = reserveMessageId();
  assert.equal(createMessage({ destination: "q", reservedId: r }, 1).id, r.id);
  assert.notEqual(createMessage({ destination: "q", reservedId: r }, 1).id, r.id, "used once");
  const forged = { id: "taken" };
  assert.notEqual(createMessage({ destination: "q", reservedId: forged }, 1).id, "taken");
  const other = reserveMessageId();
  assert.notEqual(createMessage({ destination: "q", reservedId: { ...other } }, 1).id, other.id);
  assert.equal(createMessage({ destination: "q", reservedId: other }, 1).id, other.id);
});

Deno.test("replyTo is a reply address: queue://<name> or topic://<name>, nothing else", () => {
  for (const replyTo of ["queue://r", "topic://a.b"]) {
    assert.equal(createMessage({ destination: "q", replyTo }, 1).replyTo, replyTo);
  }
  // A wire form a protocol forgot to translate, a kind without a name.
  for (const replyTo of ["/queue/r", "a/b", "r", "queue://", "amqp://r"]) {
    assert.throws(() => createMessage({ destination: "q", replyTo }, 1), /replyTo.*reply address/);
  }
});
