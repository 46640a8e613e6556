import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import rhea from "rhea";
import { createMessage, type MessageInit } from "../../../mod.ts";
import { encodeDelivery } from "../../../plugins/amqp/encode.ts";
import { BODY, fromMessage } from "../../../plugins/amqp/message_map.ts";

// deno-lint-ignore no-explicit-any
const message: any = rhea.message;
const NOW = 1_790_000_000_000;

const cases: [string, MessageInit][] = [
  ["plain bytes", { destination: "q", kind: "queue", body: new Uint8Array([1, 2, 3]) }],
  ["empty body", { destination: "q", kind: "queue", body: new Uint8Array(0) }],
  ["large body", { destination: "q", kind: "queue", body: new Uint8Array(70_000).fill(7) }],
  ["string body", {
    destination: "q",
    kind: "queue",
    body: "héllo wörld",
    annotations: { [BODY]: "string" },
  }],
  ["everything", {
    destination: "t.a",
    kind: "topic",
    body: "x".repeat(300),
    persistent: true,
    priority: 9,
    ttl: 60_000,
    groupId: "g-1",
    correlationId: "c-1",
    replyTo: "queue://replies",
    subject: "greet",
    contentType: "text/plain",
    properties: { region: "eu", n: 3, big: 2 ** 40, neg: -5, pi: 3.25, on: true, off: false, none: null },
    annotations: { [BODY]: "string" },
  }],
  ["long strings", {
    destination: "q",
    kind: "queue",
    body: "b",
    subject: "s".repeat(400),
    properties: { ["k".repeat(300)]: "v".repeat(1000) },
  }],
];

Deno.test("amqp encode: a delivery decodes to what rhea's own encoding of the message decodes to", () => {
  for (const [name, init] of cases) {
    for (const redeliveryCount of [0, 3]) {
      const m = { ...createMessage(init, NOW - 1000), redeliveryCount };
      const ours = encodeDelivery(m, NOW);
      assert.ok(ours, name);
      const expected = fromMessage(m);
      if (m.expiresAt) expected.ttl = Math.max(1, m.expiresAt - NOW);
      const theirs = message.decode(message.encode(expected));
      const got = message.decode(Buffer.from(ours));
      for (const k of new Set([...Object.keys(theirs), ...Object.keys(got)])) {
        assert.deepEqual(normal(got[k]), normal(theirs[k]), `${name} (redelivered ${redeliveryCount}): ${k}`);
      }
    }
  }
});

Deno.test("amqp encode: JSON bodies and delivery annotations are left to rhea", () => {
  const json = createMessage(
    { destination: "q", kind: "queue", body: "{}", annotations: { [BODY]: "json" } },
    NOW,
  );
  assert.equal(encodeDelivery(json, NOW), undefined);
  const delayed = createMessage(
    { destination: "q", kind: "queue", body: "x", annotations: { "x-opt-delivery-delay": 10 } },
    NOW,
  );
  assert.equal(encodeDelivery(delayed, NOW), undefined);
});

// Dates and byte sections compare by value.
function normal(v: unknown): unknown {
  if (v instanceof Date) return v.getTime();
  if (v && typeof v === "object" && "content" in v) return normal((v as { content: unknown }).content);
  if (v instanceof Uint8Array) return [...v];
  return v;
}
