import assert from "node:assert/strict";
import rhea from "rhea";
import { Buffer } from "node:buffer";
import { amqpClose, amqpConnect, type AmqpConnection } from "../../helpers/amqp.ts";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { ALICE_AND_BOB } from "../../helpers/users.ts";
import { Collector, deferred, waitFor, within } from "../../helpers/wait.ts";

const amqp = { use: "amqp", options: { port: 0, hostname: "127.0.0.1" } };
// deno-lint-ignore no-explicit-any
type Any = any;

const connect = (tb: TestBroker, opts: Record<string, unknown> = {}) =>
  amqpConnect(tb.ports["amqp:tcp"], opts);
const closeConn = amqpClose;
const text = (body: Any) => typeof body === "string" ? body : new TextDecoder().decode(body.content ?? body);

function send(conn: Any, address: string, msg: Record<string, unknown>): Promise<string> {
  const s = conn.open_sender(address);
  return within(
    new Promise((resolve) => {
      s.once("sendable", () => s.send(msg));
      s.once("accepted", () => resolve("accepted"));
      s.once("rejected", (c: Any) => resolve(`rejected ${c.delivery.remote_state?.error?.condition}`));
    }),
    5000,
    "disposition",
  );
}

Deno.test("amqp: queue round trip with properties preserved; accepted only after the store commits", async () => {
  const tb = await startBroker({ plugins: [{ use: "sqlite-store" }, amqp] });
  const conn = await connect(tb);
  try {
    assert.equal(
      await send(conn, "queue://orders", {
        body: "hello",
        durable: true,
        priority: 7,
        message_id: "m-1",
        correlation_id: "c-1",
        reply_to: "queue://replies",
        subject: "greet",
        content_type: "text/plain",
        group_id: "g1",
        application_properties: { region: "eu", n: 3 },
      }),
      "accepted",
    );
    const [m] = tb.broker.browse("orders");
    assert.equal(m.persistent, true);
    assert.equal(m.priority, 7);
    assert.equal(m.producerId, "m-1");
    assert.notEqual(m.id, "m-1", "the broker's id is its own");
    const got = deferred<Any>();
    const r = conn.open_receiver("queue://orders");
    r.once("message", (c: Any) => got.resolve(c.message));
    const back = await within(got.promise, 5000, "delivery");
    assert.equal(back.body, "hello");
    assert.equal(back.message_id, "m-1");
    assert.equal(back.correlation_id, "c-1");
    assert.equal(back.reply_to, "queue://replies");
    assert.equal(back.subject, "greet");
    assert.equal(back.group_id, "g1");
    assert.deepEqual({ ...back.application_properties }, { region: "eu", n: 3 });
  } finally {
    await closeConn(conn);
    await tb.stop();
  }
});

Deno.test("amqp: link credit bounds deliveries; released and modified requeue, modified delivery-failed counted", async () => {
  const tb = await startBroker({ plugins: [amqp] });
  const conn = await connect(tb);
  try {
    for (let i = 0; i < 5; i++) await tb.broker.publish({ kind: "queue", destination: "c", body: String(i) });
    const got = new Collector<Any>();
    const r = conn.open_receiver({ source: "queue://c", autoaccept: false, credit_window: 0 });
    r.on("message", (c: Any) => got.push(c));
    r.add_credit(2);
    await got.atLeast(2);
    assert.equal(tb.broker.queue("c")!.inflight, 2);
    // One at a time: rhea sends two dispositions given in one turn as one, with the first one's outcome.
    got.items[0].delivery.release();
    await waitFor(() => tb.broker.queue("c")!.inflight === 1, "the release");
    got.items[1].delivery.modified({ delivery_failed: true });
    r.add_credit(5);
    const all = await got.atLeast(7);
    const count = (body: string) =>
      all.slice(2).find((c: Any) => text(c.message.body) === body)?.message.delivery_count ?? 0;
    assert.deepEqual([count("0"), count("1")], [0, 1]);
    for (const c of all.slice(2)) c.delivery.accept();
    await waitFor(
      () => tb.broker.queue("c")!.inflight === 0 && tb.broker.queue("c")!.pending === 0,
      "all accepted",
    );
  } finally {
    await closeConn(conn);
    await tb.stop();
  }
});

Deno.test("amqp: rejected goes to the deadLetter hook; a selector filter picks messages; binary bodies stay bytes", async () => {
  const tb = await startBroker({ plugins: [amqp] });
  const dead: string[] = [];
  tb.broker.hooks.on("test", "deadLetter", (e) => dead.push(e.reason));
  const conn = await connect(tb);
  try {
    await tb.broker.publish({
      kind: "queue",
      destination: "s",
      body: new Uint8Array([0, 1, 2]),
      properties: { color: "red" },
    });
    await tb.broker.publish({ kind: "queue", destination: "s", body: "blue", properties: { color: "blue" } });
    const got = deferred<Any>();
    const r = conn.open_receiver({
      source: { address: "queue://s", filter: rhea.filter.selector("color = 'red'") },
      autoaccept: false,
    });
    r.once("message", (c: Any) => got.resolve(c));
    const c = await within(got.promise, 5000, "selected message");
    assert.deepEqual([...c.message.body.content], [0, 1, 2]);
    c.delivery.reject({ condition: "app:bad", description: "no" });
    await waitFor(() => dead.length === 1, "dead letter");
    assert.deepEqual(dead, ["rejected"]);
    assert.equal(tb.broker.queue("s")!.pending, 1);
  } finally {
    await closeConn(conn);
    await tb.stop();
  }
});

Deno.test("amqp: a durable topic subscription keeps messages across disconnect and restart", async () => {
  const plugins = [{ use: "sqlite-store" }, amqp];
  const tb = await startBroker({ plugins });
  let conn = await connect(tb, { container_id: "app-1" });
  const opened = deferred<void>();
  const r = conn.open_receiver({
    name: "sub1",
    source: { address: "topic://news.>", durable: 2, expiry_policy: "never" },
  });
  r.once("receiver_open", () => opened.resolve());
  await within(opened.promise, 5000, "attach");
  // rhea answers the attach before the core subscription exists (see the plugin README).
  await waitFor(
    () => tb.broker.destinations().some((d) => d.boundTo === "news.>" && d.durable),
    "durable queue",
  );
  r.detach();
  await closeConn(conn);
  await tb.broker.publish({ destination: "news.eu", body: "n1", persistent: true });
  await tb.stop({ keepData: true });
  const tb2 = await startBroker({ plugins, dataDir: tb.dataDir });
  try {
    conn = await connect(tb2);
    const got = deferred<Any>();
    const again = rhea.create_container({ id: "app-1" }).connect({
      port: tb2.ports["amqp:tcp"],
      host: "127.0.0.1",
      reconnect: false,
    });
    const r2 = again.open_receiver({
      name: "sub1",
      source: { address: "topic://news.>", durable: 2, expiry_policy: "never" },
    });
    r2.once("message", (c: Any) => got.resolve(c.message));
    assert.equal(text((await within(got.promise, 5000, "queued message")).body), "n1");
    await closeConn(again);
    await closeConn(conn);
  } finally {
    await tb2.stop();
  }
});

Deno.test("amqp: dynamic temporary queue for request/reply is deleted when its link closes", async () => {
  const tb = await startBroker({ plugins: [amqp] });
  const conn = await connect(tb);
  try {
    const opened = deferred<string>();
    const r = conn.open_receiver({ source: { dynamic: true } });
    r.once("receiver_open", (c: Any) => opened.resolve(c.receiver.source.address));
    const addr = await within(opened.promise, 5000, "dynamic attach");
    assert.match(addr, /^queue:\/\/temp\./);
    const got = deferred<Any>();
    r.once("message", (c: Any) => got.resolve(c.message));
    assert.equal(await send(conn, addr, { body: "reply" }), "accepted");
    assert.equal((await within(got.promise, 5000, "reply")).body, "reply");
    const name = addr.slice("queue://".length);
    r.close();
    await waitFor(() => tb.broker.queue(name) === undefined, "temporary queue deleted");
  } finally {
    await closeConn(conn);
    await tb.stop();
  }
});

Deno.test("amqp: errors: unknown address with auto-create off, unauthorized publish, bad credentials, garbage bytes", async () => {
  const tb = await startBroker({ plugins: [{ ...amqp, options: { ...amqp.options, autoCreate: false } }] });
  tb.broker.hooks.on(
    "test",
    "authenticate",
    (e) =>
      e.client.username === "bad"
        ? { code: "bad_credentials", reason: "no" }
        : { id: e.client.username ?? "anon" },
  );
  tb.broker.hooks.on(
    "test",
    "authorize",
    (e) => e.destination.startsWith("secret") ? { code: "not_authorized", reason: "no" } : true,
  );
  const conn = await connect(tb);
  try {
    const closed = deferred<string>();
    const r = conn.open_receiver("queue://nowhere");
    r.once("receiver_close", (c: Any) => closed.resolve(c.receiver.error?.condition));
    assert.equal(await within(closed.promise, 5000, "link close"), "amqp:not-found");
    await tb.broker.createQueue("secret");
    assert.equal(await send(conn, "queue://secret", { body: "x" }), "rejected amqp:unauthorized-access");
    // The gate runs at SASL time: bad credentials are the sasl-outcome auth (code 1), and no open follows.
    const bad = rhea.create_container({ id: "bad" }).connect({
      port: tb.ports["amqp:tcp"],
      host: "127.0.0.1",
      reconnect: false,
      username: "bad",
      password: "x",
    });
    bad.on("disconnected", () => {});
    const refused = await within(
      new Promise<string>((r) =>
        bad.once("connection_error", (e: Any) => r(`${e.error.condition} ${e.error.description}`))
      ),
      5000,
      "refused connection",
    );
    assert.equal(refused, "amqp:unauthorized-access Failed to authenticate: 1");
    // Garbage on a raw socket does not disturb the working connection.
    const raw = await Deno.connect({ port: tb.ports["amqp:tcp"], hostname: "127.0.0.1" });
    await raw.write(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n" + "x".repeat(100)));
    await raw.read(new Uint8Array(64)).catch(() => null);
    raw.close();
    await tb.broker.createQueue("ok");
    assert.equal(await send(conn, "queue://ok", { body: Buffer.from("still fine") }), "accepted");
  } finally {
    await closeConn(conn);
    await tb.stop();
  }
});

Deno.test("amqp: cross-protocol with MQTT: publish MQTT, consume AMQP, and back", async () => {
  const { default: mqtt } = await import("mqtt");
  const tb = await startBroker({
    plugins: [amqp, {
      use: "mqtt",
      options: { port: 0, wsPort: -1, hostname: "127.0.0.1", sysIntervalMs: 0 },
    }],
  });
  const conn = await connect(tb);
  const m = await mqtt.connectAsync(`mqtt://127.0.0.1:${tb.ports["mqtt:tcp"]}`, { reconnectPeriod: 0 });
  try {
    const got = deferred<Any>();
    const r = conn.open_receiver("topic://dev.*.temp");
    await within(new Promise((res) => r.once("receiver_open", res)), 5000, "attach");
    r.once("message", (c: Any) => got.resolve(c.message));
    await waitFor(
      () => tb.broker.destinations().some((d) => d.boundTo === "dev.*.temp"),
      "the AMQP subscription",
    );
    await m.publishAsync("dev/k1/temp", "20", { qos: 1 });
    assert.equal(text((await within(got.promise, 5000, "amqp delivery")).body), "20");
    const back = new Collector<string>();
    m.on("message", (t, p) => back.push(`${t}:${p}`));
    await m.subscribeAsync("cmd/#", { qos: 1 });
    assert.equal(await send(conn, "topic://cmd.k1", { body: "on" }), "accepted");
    assert.deepEqual(await back.atLeast(1), ["cmd/k1:on"]);
  } finally {
    await m.endAsync();
    await closeConn(conn);
    await tb.stop();
  }
});

Deno.test("amqp: an oversize message is rejected with amqp:resource-limit-exceeded; the link goes on", async () => {
  const tb = await startBroker({
    plugins: [{ use: "amqp", options: { port: 0, hostname: "127.0.0.1", maxMessageSize: 1024 } }],
  });
  const conn = await connect(tb);
  try {
    assert.equal(
      await send(conn, "queue://big", { body: "x".repeat(2000) }),
      "rejected amqp:resource-limit-exceeded",
    );
    assert.equal(await send(conn, "queue://big", { body: "small" }), "accepted");
    assert.equal(tb.broker.browse("big").length, 1);
  } finally {
    await closeConn(conn);
    await tb.stop();
  }
});

Deno.test("amqp: receivers asking for the shared capability split a topic subscription's messages", async () => {
  const tb = await startBroker({ plugins: [amqp] });
  const conns = [await connect(tb), await connect(tb)];
  const plain = await connect(tb);
  try {
    const shared = conns.map((conn) => {
      const got = new Collector<string>();
      const r = conn.open_receiver({
        name: "news-workers",
        source: { address: "topic://news", capabilities: ["shared"] },
        credit_window: 100,
      });
      r.on("message", (c: Any) => got.push(text(c.message.body)));
      return { r, got };
    });
    const all = new Collector<string>();
    plain.open_receiver({ source: { address: "topic://news" } }).on(
      "message",
      (c: Any) => all.push(text(c.message.body)),
    );
    // Publish once every member's link credit has reached the core.
    await waitFor(() => {
      const members = tb.broker.consumers().filter((c) => c.queue === "$amqp.shared.news-workers");
      const plainSub = tb.broker.consumers().find((c) => c.queue.startsWith("$tmp."));
      return members.length === 2 && members.every((c) => c.prefetch > 0) && plainSub?.prefetch;
    }, "two shared members and a plain subscriber with credit");
    for (let i = 0; i < 20; i++) {
      await tb.broker.publish({ destination: "news", kind: "topic", body: `n${i}` });
    }
    await all.atLeast(20);
    await waitFor(
      () => shared[0].got.items.length + shared[1].got.items.length === 20,
      "20 shared deliveries",
    );
    // Each message went to one member of the group; both members got some.
    const union = [...shared[0].got.items, ...shared[1].got.items].sort();
    assert.deepEqual(union, Array.from({ length: 20 }, (_, i) => `n${i}`).sort());
    assert.ok(shared[0].got.items.length > 0 && shared[1].got.items.length > 0);
  } finally {
    for (const c of [...conns, plain]) await closeConn(c);
    await tb.stop();
  }
});

Deno.test("amqp: a transfer beyond the link credit detaches the link with amqp:link:transfer-limit-exceeded", async () => {
  const tb = await startBroker({
    plugins: [{ use: "amqp", options: { port: 0, hostname: "127.0.0.1", receiverCredit: 1 } }],
  });
  const conn = await connect(tb);
  try {
    const s = conn.open_sender("queue://credit");
    await within(new Promise((r) => s.once("sendable", r)), 5000, "sendable");
    const closed = deferred<string>();
    s.once("sender_close", (c: Any) => closed.resolve(c.sender.remote?.detach?.error?.condition));
    // Ignore the granted credit of 1, as a misbehaving client would.
    s.credit = 20;
    for (let i = 0; i < 20; i++) s.send({ body: `m${i}` });
    assert.equal(await within(closed.promise, 5000, "detach"), "amqp:link:transfer-limit-exceeded");
    // Only what the credit allowed got in; the connection goes on.
    assert.ok(tb.broker.browse("credit").length < 20);
    assert.equal(await send(conn, "queue://credit", { body: "after" }), "accepted");
  } finally {
    await closeConn(conn);
    await tb.stop();
  }
});

Deno.test("amqp: a shared durable subscription keeps what arrives while every member is away, across a restart", async () => {
  const plugins = [{ use: "sqlite-store" }, amqp];
  const tb = await startBroker({ plugins });
  const source = { address: "topic://orders", capabilities: ["shared"], durable: 2, expiry_policy: "never" };
  let conn = await connect(tb);
  const attached = new Promise((r) =>
    conn.open_receiver({ name: "order-workers", source }).once("receiver_open", r)
  );
  await within(attached, 5000, "attach");
  await waitFor(() => tb.broker.consumers().some((c) => c.queue === "$amqp.shared.order-workers"), "member");
  await closeConn(conn);
  await tb.broker.publish({ destination: "orders", kind: "topic", body: "while away", persistent: true });
  await tb.stop({ keepData: true });
  const tb2 = await startBroker({ plugins, dataDir: tb.dataDir });
  try {
    conn = await amqpConnect(tb2.ports["amqp:tcp"]);
    const got = new Collector<string>();
    conn.open_receiver({ name: "order-workers", source }).on(
      "message",
      (c: Any) => got.push(text(c.message.body)),
    );
    assert.deepEqual(await got.atLeast(1), ["while away"]);
    await closeConn(conn);
  } finally {
    await tb2.stop();
  }
});

Deno.test("amqp: a durable subscription belongs to its user: another login with the same container id gets its own", async () => {
  const tb = await startBroker({
    plugins: [ALICE_AND_BOB, amqp],
  });
  const as = (username: string, password: string) =>
    amqpConnect(tb.ports["amqp:tcp"], { username, password }, "the-app");
  const source = { address: "topic://feed", durable: 2, expiry_policy: "never" };
  const attach = async (conn: AmqpConnection, got?: Collector<string>) => {
    const r = conn.open_receiver({ name: "feed-sub", source });
    if (got) r.on("message", (c: Any) => got.push(text(c.message.body)));
    await within(new Promise((ok) => r.once("receiver_open", ok)), 5000, "attach");
  };
  try {
    let conn = await as("alice", "a-pw");
    await attach(conn);
    // The attach is answered before the subscription is made: close once it is.
    await waitFor(() => tb.broker.consumers().some((c) => c.queue.startsWith("$amqp.alice.")), "alice's");
    await closeConn(conn);
    await tb.broker.publish({ destination: "feed", kind: "topic", body: "for alice" });
    conn = await as("bob", "b-pw");
    const bobGot = new Collector<string>();
    await attach(conn, bobGot);
    await waitFor(
      () => tb.broker.consumers().some((c) => c.queue.startsWith("$amqp.bob.") && c.prefetch > 0),
      "bob's credit",
    );
    await tb.broker.publish({ destination: "feed", kind: "topic", body: "for both" });
    assert.deepEqual(await bobGot.atLeast(1), ["for both"]);
    await closeConn(conn);
    conn = await as("alice", "a-pw");
    const aliceGot = new Collector<string>();
    await attach(conn, aliceGot);
    assert.deepEqual(await aliceGot.atLeast(2), ["for alice", "for both"]);
    await closeConn(conn);
  } finally {
    await tb.stop();
  }
});
