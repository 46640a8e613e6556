import assert from "node:assert/strict";
import {
  type AccessDeniedEvent,
  type BrokerLimits,
  createBroker,
  type Delivery,
  isReject,
  type Session,
  type Subscription,
  type SubscriptionSpec,
} from "../../mod.ts";
import { Collector } from "../helpers/wait.ts";

async function broker(limits: Partial<BrokerLimits> = {}) {
  const b = await createBroker({ plugins: [], limits });
  const denied: AccessDeniedEvent[] = [];
  b.hooks.on("test", "accessDenied", (e) => denied.push(e));
  const open = async (clientId: string) => {
    const got = new Collector<Delivery>();
    const s = await b.openSession({ clientId, protocol: "test", remote: "test" }, {
      deliver: (_s, d) => got.push(d),
    });
    assert.ok(!isReject(s));
    return { s: s as Session, got };
  };
  return { b, denied, open };
}

async function subscribed(s: Session, spec: SubscriptionSpec): Promise<Subscription> {
  const sub = await s.subscribe(spec);
  assert.ok(!isReject(sub), isReject(sub) ? sub.reason : "");
  return sub as Subscription;
}

async function refused(s: Session, spec: SubscriptionSpec, code: string, reason: RegExp): Promise<void> {
  const r = await s.subscribe(spec);
  assert.ok(isReject(r), `${spec.destination} was not refused`);
  assert.equal(r.code, code);
  assert.match(r.reason, reason);
}

Deno.test("a subscription's queue is consumed through its subscription, never by name from another session", async () => {
  const { b, denied, open } = await broker();
  try {
    const alice = await open("alice"), bob = await open("bob");
    const plain = await subscribed(alice.s, { kind: "topic", destination: "news.>" });
    assert.match(plain.queue, /^\$tmp\./);
    await refused(bob.s, { kind: "queue", destination: plain.queue }, "not_authorized", /another session/);
    // The same session may: the queue was made for it.
    await (await subscribed(alice.s, { kind: "queue", destination: plain.queue })).cancel();
    const durable = { kind: "topic", destination: "news.>", durable: "$app.reader" } as const;
    await subscribed(alice.s, durable);
    await refused(
      bob.s,
      { kind: "queue", destination: "$app.reader" },
      "not_authorized",
      /subscribe to the topic/,
    );
    await refused(
      bob.s,
      { kind: "queue", destination: "$nothing.yet" },
      "not_authorized",
      /belong to subscriptions/,
    );
    // Through the spec, where the topic's ACL applies, the durable subscription is anyone's to join.
    await subscribed(bob.s, durable);
    assert.deepEqual(denied.map((e) => [e.principal.id, e.action, e.destination]), [
      ["anonymous", "subscribe", plain.queue],
      ["anonymous", "subscribe", "$app.reader"],
      ["anonymous", "subscribe", "$nothing.yet"],
    ]);
    // Sending to a "$" queue that does not exist would make a queue nobody may read.
    await assert.rejects(b.publish({ kind: "queue", destination: "$nothing.yet" }), /only the broker makes/);
    assert.ok(!b.destinations().some((d) => d.name === "$nothing.yet"));
  } finally {
    await b.stop();
  }
});

Deno.test("a temporary queue: its session consumes, others may send to it, and it goes with its consumer", async () => {
  // autoCreate off: a temporary queue is made because its session asks for it, not on first use.
  const { b, open } = await broker({ autoCreate: false });
  try {
    const alice = await open("alice"), bob = await open("bob");
    const temp = await subscribed(alice.s, { kind: "queue", destination: "reply.a1", temporary: true });
    await refused(bob.s, { kind: "queue", destination: "reply.a1" }, "not_authorized", /another session/);
    await refused(bob.s, { kind: "queue", destination: "reply.a1", temporary: true }, "conflict", /taken/);
    await refused(
      bob.s,
      { kind: "topic", destination: "news", durable: "reply.a1" },
      "not_authorized",
      /temporary queue/,
    );
    await refused(
      alice.s,
      { kind: "queue", destination: "$mine", temporary: true },
      "invalid_destination",
      /\$/,
    );
    assert.equal(await bob.s.publish({ kind: "queue", destination: "reply.a1", body: "answer" }), undefined);
    const [d] = await alice.got.atLeast(1);
    assert.equal(new TextDecoder().decode(d.message.body), "answer");
    assert.equal(bob.got.items.length, 0);
    await temp.cancel();
    assert.ok(!b.destinations().some((x) => x.name === "reply.a1"), "deleted with its consumer");
  } finally {
    await b.stop();
  }
});
