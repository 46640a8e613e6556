import assert from "node:assert/strict";
import { Client, type IMessage, Versions } from "@stomp/stompjs";
import { TCPWrapper } from "@stomp/tcp-wrapper";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { ALICE_AND_BOB } from "../../helpers/users.ts";
import { Collector, deferred, waitFor, within } from "../../helpers/wait.ts";

const plugin = { use: "stomp", options: { port: 0, wsPort: 0, hostname: "127.0.0.1", heartBeatMs: 0 } };
const opts = { plugins: [plugin] };

async function connect(
  tb: TestBroker,
  how: "tcp" | "ws",
  extra: Partial<ConstructorParameters<typeof Client>[0]> = {},
) {
  const connected = deferred<void>();
  const failed = deferred<string>();
  const client = new Client({
    webSocketFactory: how === "tcp"
      ? () => new TCPWrapper("127.0.0.1", tb.ports["stomp:tcp"])
      : () => new WebSocket(`ws://127.0.0.1:${tb.ports["stomp:ws"]}/stomp`, ["v12.stomp"]),
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
    onStompError: (f) => failed.resolve(f.headers.message),
    ...extra,
    onConnect: (f) => {
      extra.onConnect?.(f);
      connected.resolve();
    },
  });
  client.activate();
  await within(connected.promise, 5000, "STOMP CONNECTED");
  return { client, failed: failed.promise };
}
const text = (m: IMessage) => m.body;

for (const how of ["tcp", "ws"] as const) {
  Deno.test(`stomp ${how}: queue send and client-individual ack; topic fan-out with wildcards`, async () => {
    const tb = await startBroker(opts);
    const { client } = await connect(tb, how);
    try {
      const q = new Collector<string>();
      client.subscribe("/queue/jobs", (m) => {
        q.push(text(m));
        m.ack();
      }, { ack: "client-individual" });
      const t = new Collector<string>();
      // Frames on one connection are handled in order: the SUBSCRIBEs precede the SENDs.
      client.subscribe("/topic/news.*", (m) => t.push(`${m.headers.destination}:${text(m)}`));
      const receipt = deferred<void>();
      client.watchForReceipt("r1", () => receipt.resolve());
      client.publish({
        destination: "/queue/jobs",
        body: "j1",
        headers: { receipt: "r1", persistent: "true" },
      });
      await within(receipt.promise, 5000, "receipt");
      client.publish({ destination: "/topic/news.eu", body: "n1" });
      assert.deepEqual(await q.atLeast(1), ["j1"]);
      assert.deepEqual(await t.atLeast(1), ["/topic/news.eu:n1"]);
    } finally {
      await client.deactivate();
      await tb.stop();
    }
  });
}

Deno.test("stomp: headers, priority, selector, user properties and binary bodies cross to the core and back", async () => {
  const tb = await startBroker(opts);
  const { client } = await connect(tb, "tcp");
  try {
    const core = deferred<import("../../../mod.ts").Message>();
    await tb.broker.subscribe({ kind: "queue", destination: "in" }, (d, s) => {
      s.ack([d.tag]);
      core.resolve(d.message);
    });
    const bin = new Uint8Array([0, 1, 0, 255]);
    client.publish({
      destination: "/queue/in",
      binaryBody: bin,
      headers: {
        "content-type": "application/octet-stream",
        priority: "7",
        "correlation-id": "c1",
        "reply-to": "/queue/replies",
        color: "red",
      },
    });
    const m = await within(core.promise, 5000, "core delivery");
    assert.deepEqual([...m.body], [0, 1, 0, 255]);
    assert.equal(m.priority, 7);
    assert.equal(m.correlationId, "c1");
    assert.equal(m.replyTo, "queue://replies", "reply-to is the reply address of its destination");
    assert.equal(m.contentType, "application/octet-stream");
    assert.equal(m.properties.color, "red");
    const got = new Collector<IMessage>();
    client.subscribe("/queue/out", (msg) => got.push(msg), { selector: "color = 'blue'" });
    await tb.broker.publish({
      kind: "queue",
      destination: "out",
      body: "red one",
      properties: { color: "red" },
    });
    await tb.broker.publish({
      kind: "queue",
      destination: "out",
      body: "blue one",
      properties: { color: "blue" },
      correlationId: "c2",
    });
    const [msg] = await got.atLeast(1);
    assert.equal(msg.body, "blue one");
    assert.equal(msg.headers["correlation-id"], "c2");
    assert.equal(msg.headers.color, "blue");
  } finally {
    await client.deactivate();
    await tb.stop();
  }
});

Deno.test("stomp: NACK requeues with a redelivery count; client ack mode is cumulative", async () => {
  const tb = await startBroker(opts);
  const { client } = await connect(tb, "tcp");
  try {
    for (const b of ["a", "b", "c"]) await tb.broker.publish({ kind: "queue", destination: "n", body: b });
    const got = new Collector<IMessage>();
    let nacked = false;
    client.subscribe("/queue/n", (m) => {
      got.push(m);
      if (m.body === "a" && !nacked) {
        nacked = true;
        m.nack();
      }
    }, { ack: "client" });
    const items = await got.atLeast(4);
    const again = items.find((m, i) => i > 0 && m.body === "a")!;
    assert.equal(again.headers.redelivered, "true");
    items.at(-1)!.ack(); // cumulative: acks everything delivered before it too
    await waitFor(() => tb.broker.queue("n")!.inflight === 0, "every message acked");
  } finally {
    await client.deactivate();
    await tb.stop();
  }
});

Deno.test("stomp: a transaction's sends and acks apply on COMMIT, and not at all on ABORT", async () => {
  const tb = await startBroker(opts);
  const { client } = await connect(tb, "tcp");
  try {
    const tx = client.begin();
    client.publish({ destination: "/queue/t", body: "1", headers: { transaction: tx.id } });
    client.publish({ destination: "/queue/t", body: "2", headers: { transaction: tx.id } });
    const before = deferred<void>();
    client.watchForReceipt("b1", () => before.resolve());
    client.publish({ destination: "/queue/sync", body: "w", headers: { receipt: "b1" } });
    await within(before.promise, 5000, "receipt before commit");
    assert.equal(tb.broker.queue("t")?.pending ?? 0, 0, "nothing before COMMIT");
    const done = deferred<void>();
    client.watchForReceipt("c1", () => done.resolve());
    tx.commit();
    client.publish({ destination: "/queue/sync", body: "x", headers: { receipt: "c1" } });
    await within(done.promise, 5000, "receipt after commit");
    assert.equal(tb.broker.queue("t")!.pending, 2);
    const tx2 = client.begin();
    client.publish({ destination: "/queue/t", body: "3", headers: { transaction: tx2.id } });
    tx2.abort();
    const d2 = deferred<void>();
    client.watchForReceipt("c2", () => d2.resolve());
    client.publish({ destination: "/queue/sync", body: "y", headers: { receipt: "c2" } });
    await within(d2.promise, 5000, "receipt after abort");
    assert.equal(tb.broker.queue("t")!.pending, 2);
  } finally {
    await client.deactivate();
    await tb.stop();
  }
});

Deno.test("stomp: persistent messages and a durable topic subscription survive a restart", async () => {
  const plugins = [{ use: "sqlite-store" }, plugin];
  const tb = await startBroker({ plugins });
  let { client } = await connect(tb, "tcp", { connectHeaders: { "client-id": "app" } });
  const subscribed = deferred<void>();
  client.watchForReceipt("s", () => subscribed.resolve());
  const first = client.subscribe("/topic/events.>", () => {}, {
    "durable-subscription-name": "audit",
    ack: "client",
    receipt: "s",
  });
  await within(subscribed.promise, 5000, "SUBSCRIBE receipt");
  first.unsubscribe();
  const r = deferred<void>();
  client.watchForReceipt("p", () => r.resolve());
  client.publish({ destination: "/topic/events.a", body: "e1", headers: { persistent: "true" } });
  client.publish({ destination: "/queue/q", body: "q1", headers: { persistent: "true", receipt: "p" } });
  await within(r.promise, 5000, "receipt");
  await client.deactivate();
  await tb.stop({ keepData: true });
  const tb2 = await startBroker({ plugins, dataDir: tb.dataDir });
  try {
    ({ client } = await connect(tb2, "tcp", { connectHeaders: { "client-id": "app" } }));
    const got = new Collector<string>();
    client.subscribe("/topic/events.>", (m) => (got.push(m.body), m.ack()), {
      "durable-subscription-name": "audit",
      ack: "client",
    });
    client.subscribe("/queue/q", (m) => got.push(m.body));
    assert.deepEqual([...await got.atLeast(2)].sort(), ["e1", "q1"]);
    await client.deactivate();
  } finally {
    await tb2.stop();
  }
});

Deno.test("stomp: a bad login gets an ERROR frame", async () => {
  const tb = await startBroker(opts);
  tb.broker.hooks.on(
    "test",
    "authenticate",
    (e) => e.client.username === "ok" ? { id: "ok" } : { code: "bad_credentials", reason: "no" },
  );
  const failed = deferred<string>();
  const client = new Client({
    webSocketFactory: () => new TCPWrapper("127.0.0.1", tb.ports["stomp:tcp"]),
    connectHeaders: { login: "bad", passcode: "x" },
    reconnectDelay: 0,
    onStompError: (f) => failed.resolve(f.headers.message),
  });
  client.activate();
  try {
    assert.match(await within(failed.promise, 5000, "ERROR"), /Bad login/);
  } finally {
    await client.deactivate();
    await tb.stop();
  }
});

Deno.test("stomp: a transaction with one unauthorized send publishes none of its sends", async () => {
  const tb = await startBroker(opts);
  tb.broker.hooks.on(
    "test",
    "authorize",
    (e) => e.destination === "secret" ? { code: "not_authorized", reason: "no" } : true,
  );
  const { client, failed } = await connect(tb, "tcp");
  try {
    const tx = client.begin();
    client.publish({ destination: "/queue/open", body: "1", headers: { transaction: tx.id } });
    client.publish({ destination: "/queue/secret", body: "2", headers: { transaction: tx.id } });
    tx.commit();
    assert.match(await within(failed, 5000, "ERROR"), /refused/);
    assert.equal(tb.broker.queue("open")?.pending ?? 0, 0);
  } finally {
    await client.deactivate();
    await tb.stop();
  }
});

Deno.test("stomp: user properties named like frame headers cannot break the frame; odd values round-trip", async () => {
  const tb = await startBroker(opts);
  const { client } = await connect(tb, "tcp");
  try {
    const got = new Collector<IMessage>();
    const subscribed = deferred<void>();
    client.watchForReceipt("s", () => subscribed.resolve());
    client.subscribe("/queue/hdr", (m) => got.push(m), { receipt: "s" });
    await within(subscribed.promise, 5000, "SUBSCRIBE receipt");
    // Any producer can set these: an MQTT user property, an AMQP application property.
    await tb.broker.publish({
      kind: "queue",
      destination: "hdr",
      body: "hello world",
      properties: { "content-length": "2", odd: "a:b\nc\\d" },
    });
    const [m] = await got.atLeast(1);
    assert.equal(m.body, "hello world");
    assert.equal(m.headers["content-length"], "11");
    assert.equal(m.headers.odd, "a:b\nc\\d");
  } finally {
    await client.deactivate();
    await tb.stop();
  }
});

Deno.test("stomp: an ACK inside a transaction applies on COMMIT, not on ABORT; a bad ACK fails the whole COMMIT", async () => {
  const tb = await startBroker(opts);
  const { client, failed } = await connect(tb, "tcp");
  try {
    for (const b of ["a", "b"]) await tb.broker.publish({ kind: "queue", destination: "txa", body: b });
    const got = new Collector<IMessage>();
    const sub = client.subscribe("/queue/txa", (m) => got.push(m), { ack: "client-individual" });
    const [a, b] = await got.atLeast(2);
    const sync = async (id: string) => {
      const r = deferred<void>();
      client.watchForReceipt(id, () => r.resolve());
      client.publish({ destination: "/queue/sync", body: id, headers: { receipt: id } });
      await within(r.promise, 5000, `receipt ${id}`);
    };
    const aborted = client.begin();
    a.ack({ transaction: aborted.id });
    aborted.abort();
    await sync("r1");
    assert.equal(tb.broker.queue("txa")!.inflight, 2, "the aborted ACK did nothing");
    const committed = client.begin();
    a.ack({ transaction: committed.id });
    committed.commit();
    await sync("r2");
    assert.equal(tb.broker.queue("txa")!.inflight, 1, "the committed ACK took");
    const bad = client.begin();
    client.publish({ destination: "/queue/txout", body: "x", headers: { transaction: bad.id } });
    b.ack({ transaction: bad.id });
    client.ack("nosuch:1", sub.id, { transaction: bad.id });
    bad.commit();
    assert.match(await within(failed, 5000, "ERROR"), /unknown message/);
    assert.equal(tb.broker.queue("txout")?.pending ?? 0, 0, "the transaction's SEND was not published");
  } finally {
    await client.deactivate();
    await tb.stop();
  }
});

for (const [version, how] of [["1.0", "ws"], ["1.1", "ws"], ["1.0", "tcp"], ["1.1", "tcp"]] as const) {
  Deno.test(`stomp ${version} ${how}: negotiated; client acks by message-id; headers as the version escapes them`, async () => {
    const tb = await startBroker(opts);
    const subprotocol = version === "1.0" ? "v10.stomp" : "v11.stomp";
    const negotiated = deferred<string>();
    const { client } = await connect(tb, how, {
      stompVersions: new Versions([version]),
      webSocketFactory: how === "tcp"
        ? () => new TCPWrapper("127.0.0.1", tb.ports["stomp:tcp"])
        : () => new WebSocket(`ws://127.0.0.1:${tb.ports["stomp:ws"]}/stomp`, [subprotocol]),
      onConnect: (f) => negotiated.resolve(f.headers.version),
    });
    try {
      assert.equal(await within(negotiated.promise, 5000, "CONNECTED"), version);
      const got = new Collector<IMessage>();
      client.subscribe("/queue/v", (m) => got.push(m), { ack: "client-individual" });
      const id = await tb.broker.send({
        kind: "queue",
        destination: "v",
        body: "one",
        properties: { note: "a b" },
      });
      const [m] = await got.atLeast(1);
      assert.equal(m.body, "one");
      assert.equal(m.headers.note, "a b");
      // The message's own id, the broker's (what the admin API and HTTP show), not an ack token.
      assert.equal(m.headers["message-id"], id);
      m.ack();
      await waitFor(
        () => tb.broker.queue("v")!.inflight === 0 && tb.broker.queue("v")!.pending === 0,
        "acked",
      );
    } finally {
      await client.deactivate();
      await tb.stop();
    }
  });
}

Deno.test("stomp: a durable subscription belongs to its user: another login with the same client-id gets its own", async () => {
  const tb = await startBroker({
    plugins: [ALICE_AND_BOB, plugin],
  });
  const as = (login: string, passcode: string) =>
    connect(tb, "tcp", { connectHeaders: { login, passcode, "client-id": "app" } });
  const durable = { "durable-subscription-name": "feed", ack: "client" };
  try {
    let { client } = await as("alice", "a-pw");
    const subscribed = deferred<void>();
    client.watchForReceipt("s", () => subscribed.resolve());
    client.subscribe("/topic/feed", () => {}, { ...durable, receipt: "s" });
    await within(subscribed.promise, 5000, "SUBSCRIBE receipt");
    await client.deactivate();
    await tb.broker.publish({ destination: "feed", body: "for alice" });

    ({ client } = await as("bob", "b-pw"));
    const bobGot = new Collector<string>();
    const bobSubscribed = deferred<void>();
    client.watchForReceipt("b", () => bobSubscribed.resolve());
    client.subscribe("/topic/feed", (m) => (bobGot.push(m.body), m.ack()), { ...durable, receipt: "b" });
    await within(bobSubscribed.promise, 5000, "SUBSCRIBE receipt");
    await tb.broker.publish({ destination: "feed", body: "for both" });
    assert.deepEqual(await bobGot.atLeast(1), ["for both"]);
    await client.deactivate();

    ({ client } = await as("alice", "a-pw"));
    const aliceGot = new Collector<string>();
    client.subscribe("/topic/feed", (m) => (aliceGot.push(m.body), m.ack()), durable);
    assert.deepEqual(await aliceGot.atLeast(2), ["for alice", "for both"]);
    await client.deactivate();
  } finally {
    await tb.stop();
  }
});

Deno.test("stomp: a transaction the core refuses in part publishes none of its sends", async () => {
  const tb = await startBroker({
    plugins: [plugin],
    limits: { autoCreate: false },
  });
  await tb.broker.createQueue("exists");
  const { client, failed } = await connect(tb, "tcp");
  try {
    const tx = client.begin();
    client.publish({ destination: "/queue/exists", body: "1", headers: { transaction: tx.id } });
    client.publish({ destination: "/queue/missing", body: "2", headers: { transaction: tx.id } });
    tx.commit();
    assert.match(await within(failed, 5000, "ERROR"), /refused/);
    assert.equal(tb.broker.queue("exists")!.pending, 0);
  } finally {
    await client.deactivate();
    await tb.stop();
  }
});

Deno.test("stomp: an auto-ack subscriber that does not read pauses at the socket; the rest wait in the queue", async () => {
  const tb = await startBroker(opts);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: tb.ports["stomp:tcp"] });
  try {
    const frames =
      "CONNECT\naccept-version:1.2\n\n\0SUBSCRIBE\nid:s\ndestination:/queue/slow\nreceipt:r\n\n\0";
    await conn.write(new TextEncoder().encode(frames));
    const buf = new Uint8Array(4096);
    let seen = "";
    while (!seen.includes("receipt-id:r")) {
      seen += new TextDecoder().decode(buf.subarray(0, (await conn.read(buf))!));
    }
    // Then it reads nothing more: 200 messages of 100 KB cannot all sit in its socket.
    const body = new Uint8Array(100 * 1024).fill(120);
    for (let i = 0; i < 200; i++) await tb.broker.publish({ kind: "queue", destination: "slow", body });
    await waitFor(() => tb.broker.queue("slow")!.pending >= 100, "messages waiting in the queue");
  } finally {
    conn.close();
    await tb.stop();
  }
});

Deno.test("stomp ws: the subprotocol agreed at the upgrade names the version", async () => {
  const tb = await startBroker(opts);
  try {
    for (
      const [subprotocol, expected] of [["v10.stomp", "1.0"], ["v11.stomp", "1.1"], ["v12.stomp", "1.2"]]
    ) {
      const ws = new WebSocket(`ws://127.0.0.1:${tb.ports["stomp:ws"]}/stomp`, [subprotocol]);
      ws.binaryType = "arraybuffer";
      const first = deferred<string>();
      ws.onmessage = (e) =>
        first.resolve(typeof e.data === "string" ? e.data : new TextDecoder().decode(e.data));
      await within(new Promise((r) => ws.onopen = r), 5000, "ws open");
      assert.equal(ws.protocol, subprotocol);
      ws.send("CONNECT\naccept-version:1.0,1.1,1.2\nhost:x\n\n\0");
      assert.match(
        await within(first.promise, 5000, "CONNECTED"),
        new RegExp(`^CONNECTED\\nversion:${expected}\\n`),
      );
      const closed = new Promise((r) => ws.onclose = r);
      ws.close();
      await closed;
    }
  } finally {
    await tb.stop();
  }
});

Deno.test("stomp: receipts come in the order of their frames while a SEND before them is being stored", async () => {
  const tb = await startBroker({ plugins: [{ use: "sqlite-store" }, plugin] });
  const { client } = await connect(tb, "tcp");
  try {
    const order = new Collector<string>();
    for (const id of ["stored", "fast", "sub", "stored-2", "unsub"]) {
      client.watchForReceipt(id, () => order.push(id));
    }
    // The persistent SEND waits for its commit; the non-persistent SEND and the SUBSCRIBE after it are done
    // at once, but their receipts must not overtake it.
    client.publish({
      destination: "/queue/q",
      body: "1",
      headers: { persistent: "true", receipt: "stored" },
    });
    client.publish({ destination: "/topic/t", body: "2", headers: { receipt: "fast" } });
    const sub = client.subscribe("/topic/other", () => {}, { receipt: "sub" });
    client.publish({
      destination: "/queue/q",
      body: "3",
      headers: { persistent: "true", receipt: "stored-2" },
    });
    sub.unsubscribe({ receipt: "unsub" });
    assert.deepEqual(await order.atLeast(5), ["stored", "fast", "sub", "stored-2", "unsub"]);
  } finally {
    await client.deactivate();
    await tb.stop();
  }
});

Deno.test("stomp: a small body read after a large frame does not keep the large read buffer alive in its queue", async () => {
  const tb = await startBroker(opts);
  const { client } = await connect(tb, "tcp");
  try {
    const done = deferred<void>();
    client.watchForReceipt("last", () => done.resolve());
    client.publish({ destination: "/queue/kept", body: "x".repeat(512 * 1024) });
    for (let i = 0; i < 20; i++) client.publish({ destination: "/queue/kept", body: `small-${i}` });
    client.publish({ destination: "/queue/kept", body: "end", headers: { receipt: "last" } });
    await within(done.promise, 5000, "the receipt");
    const held = tb.broker.browse("kept", { limit: 100 }).slice(1);
    assert.equal(held.length, 21);
    for (const m of held) {
      assert.ok(m.body.buffer.byteLength < 64 * 1024, `${m.body.buffer.byteLength} bytes held`);
    }
  } finally {
    await client.deactivate();
    await tb.stop();
  }
});
