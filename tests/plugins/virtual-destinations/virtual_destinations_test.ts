import { existsSync } from "node:fs";
import assert from "node:assert/strict";
import type { AdminEvent, Delivery } from "../../../mod.ts";
import type { VirtualDestinationsService } from "../../../plugins/virtual-destinations/mod.ts";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { Collector, waitFor } from "../../helpers/wait.ts";

// Restart tests need a persistent store plugin.
const NO_STORE = !existsSync(new URL("../../../plugins/sqlite-store/plugin.json", import.meta.url));

const text = (d: Delivery) => new TextDecoder().decode(d.message.body);
const vdOf = (tb: TestBroker): VirtualDestinationsService => tb.broker.host.service("virtual-destinations")!;

async function consume(tb: TestBroker, kind: "queue" | "topic", destination: string, selector?: string) {
  const got = new Collector<string>();
  const sub = await tb.broker.subscribe({ kind, destination, selector }, (d, s) => {
    got.push(text(d));
    s.ack([d.tag]);
  });
  return { got, sub };
}

Deno.test("virtual topic: each consumer group gets every message once, load-balanced within the group", async () => {
  const tb = await startBroker({ plugins: [{ use: "virtual-destinations" }] });
  try {
    const a1 = await consume(tb, "queue", "Consumer.A.VirtualTopic.Orders");
    const a2 = await consume(tb, "queue", "Consumer.A.VirtualTopic.Orders");
    const b1 = await consume(tb, "queue", "Consumer.B.VirtualTopic.Orders");
    const plain = await consume(tb, "topic", "VirtualTopic.Orders");
    for (let i = 0; i < 10; i++) {
      await tb.broker.publish({ destination: "VirtualTopic.Orders", body: String(i) });
    }
    await waitFor(() => a1.got.items.length + a2.got.items.length === 10, "group A");
    await b1.got.atLeast(10);
    await plain.got.atLeast(10);
    assert.ok(a1.got.items.length > 0 && a2.got.items.length > 0, "group A is load-balanced");
    assert.deepEqual([...a1.got.items, ...a2.got.items].map(Number).sort((x, y) => x - y), [
      ...Array(10).keys(),
    ]);
    const groups = vdOf(tb).consumerGroups().map((g) => `${g.group}:${g.topic}`).sort();
    assert.deepEqual(groups, ["A:VirtualTopic.Orders", "B:VirtualTopic.Orders"]);
  } finally {
    await tb.stop();
  }
});

Deno.test({
  name: "virtual topic: a group queue keeps collecting while its consumers are away, and after a restart",
  ignore: NO_STORE,
}, async () => {
  let tb = await startBroker({ plugins: [{ use: "sqlite-store" }, { use: "virtual-destinations" }] });
  const dataDir = tb.dataDir;
  try {
    const first = await consume(tb, "queue", "Consumer.Billing.VirtualTopic.Invoices");
    await first.sub.cancel();
    await tb.broker.publish({ destination: "VirtualTopic.Invoices", body: "while away", persistent: true });
    await tb.stop({ keepData: true });
    tb = await startBroker({ plugins: [{ use: "sqlite-store" }, { use: "virtual-destinations" }], dataDir });
    await tb.broker.publish({
      destination: "VirtualTopic.Invoices",
      body: "after restart",
      persistent: true,
    });
    const again = await consume(tb, "queue", "Consumer.Billing.VirtualTopic.Invoices");
    assert.deepEqual(await again.got.atLeast(2), ["while away", "after restart"]);
  } finally {
    await tb.stop();
  }
});

Deno.test("virtual topic: a topic subscription to a group queue's name (MQTT style) consumes the queue", async () => {
  const tb = await startBroker({ plugins: [{ use: "virtual-destinations" }] });
  try {
    const viaTopic = await consume(tb, "topic", "Consumer.M.VirtualTopic.Events");
    assert.equal(viaTopic.sub.spec.kind, "queue");
    const viaQueue = await consume(tb, "queue", "Consumer.M.VirtualTopic.Events");
    for (let i = 0; i < 6; i++) {
      await tb.broker.publish({ destination: "VirtualTopic.Events", body: String(i) });
    }
    await waitFor(
      () => viaTopic.got.items.length + viaQueue.got.items.length === 6,
      "six deliveries in one group",
    );
    assert.ok(viaTopic.got.items.length > 0 && viaQueue.got.items.length > 0);
  } finally {
    await tb.stop();
  }
});

Deno.test("composite destination: one publish reaches several queues and topics, each with its own selector", async () => {
  const tb = await startBroker({
    plugins: [{
      use: "virtual-destinations",
      options: {
        composites: [{
          name: "orders",
          kind: "queue",
          targets: [
            { destination: "orders.eu", kind: "queue", selector: "region = 'EU'" },
            { destination: "orders.us", kind: "queue", selector: "region = 'US'" },
            { destination: "orders.audit", kind: "topic" },
          ],
        }],
      },
    }],
  });
  try {
    const audit = await consume(tb, "topic", "orders.audit");
    for (const region of ["EU", "US", "EU"]) {
      await tb.broker.publish({ kind: "queue", destination: "orders", body: region, properties: { region } });
    }
    await audit.got.atLeast(3);
    assert.deepEqual(tb.broker.browse("orders.eu").map((m) => m.properties.region), ["EU", "EU"]);
    assert.deepEqual(tb.broker.browse("orders.us").map((m) => m.properties.region), ["US"]);
    assert.ok(
      !tb.broker.destinations().some((d) => d.name === "orders" && d.kind === "queue" && d.pending > 0),
      "forward-only",
    );
  } finally {
    await tb.stop();
  }
});

Deno.test("mirrored queue: everything sent to the queue is also published to topic Mirror.<queue>", async () => {
  const tb = await startBroker({
    plugins: [{ use: "virtual-destinations", options: { mirrors: { queues: ["payments.>"] } } }],
  });
  try {
    const mirror = await consume(tb, "topic", "Mirror.payments.in");
    await tb.broker.publish({ kind: "queue", destination: "payments.in", body: "p1" });
    await tb.broker.publish({ kind: "queue", destination: "other", body: "not mirrored" });
    assert.deepEqual(await mirror.got.atLeast(1), ["p1"]);
    assert.deepEqual(tb.broker.browse("payments.in").map((m) => new TextDecoder().decode(m.body)), ["p1"]);
  } finally {
    await tb.stop();
  }
});

Deno.test({
  name: "runtime changes apply at once, are reported as adminActions and survive a restart",
  ignore: NO_STORE,
}, async () => {
  let tb = await startBroker({ plugins: [{ use: "sqlite-store" }, { use: "virtual-destinations" }] });
  const dataDir = tb.dataDir;
  try {
    const actions = new Collector<AdminEvent>();
    tb.broker.hooks.on("test", "adminAction", actions.push);
    const vd = vdOf(tb);
    await vd.setRule({
      name: "big-orders",
      source: "shop.*.orders",
      kind: "topic",
      selector: "amount > 100",
      targets: [{ destination: "review.{destination}", kind: "queue" }],
    });
    await tb.broker.publish({ destination: "shop.eu.orders", body: "small", properties: { amount: 5 } });
    await tb.broker.publish({
      destination: "shop.eu.orders",
      body: "big",
      properties: { amount: 500 },
      persistent: true,
    });
    assert.deepEqual(tb.broker.browse("review.shop.eu.orders").map((m) => new TextDecoder().decode(m.body)), [
      "big",
    ]);
    await assert.rejects(
      vd.setRule({
        name: "bad",
        source: "a",
        kind: "topic",
        selector: "amount >",
        targets: [{ destination: "b", kind: "queue" }],
      }),
    );
    const [ev] = await actions.atLeast(1);
    assert.equal(ev.action, "virtual-destinations.setRule");
    assert.equal(ev.before, null);
    assert.equal((ev.after as { name: string }).name, "big-orders");
    await tb.stop({ keepData: true });
    tb = await startBroker({ plugins: [{ use: "sqlite-store" }, { use: "virtual-destinations" }], dataDir });
    assert.deepEqual(vdOf(tb).config().rules.map((r) => r.name), ["big-orders"]);
    assert.equal(await vdOf(tb).removeRule("big-orders"), true);
    await tb.broker.publish({ destination: "shop.eu.orders", body: "big2", properties: { amount: 500 } });
    assert.equal(tb.broker.browse("review.shop.eu.orders").length, 1, "rule removed");
  } finally {
    await tb.stop();
  }
});

Deno.test("forwarding loops stop after maxHops", async () => {
  const tb = await startBroker({
    plugins: [{
      use: "virtual-destinations",
      options: {
        maxHops: 3,
        rules: [
          { name: "ab", source: "a", kind: "queue", targets: [{ destination: "b", kind: "queue" }] },
          { name: "ba", source: "b", kind: "queue", targets: [{ destination: "a", kind: "queue" }] },
        ],
      },
    }],
  });
  try {
    await tb.broker.publish({ kind: "queue", destination: "a", body: "x" });
    const total = tb.broker.browse("a").length + tb.broker.browse("b").length;
    assert.equal(total, 4, "original + 3 hops");
  } finally {
    await tb.stop();
  }
});
