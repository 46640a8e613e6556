import assert from "node:assert/strict";
import mqtt from "mqtt";
import { startBroker } from "../../helpers/broker.ts";
import { Collector, deferred, within } from "../../helpers/wait.ts";
import { connect, end, MQTT_PLUGIN, text, vanish } from "./client.ts";

const opts = { plugins: [MQTT_PLUGIN] };

for (const version of [4, 5] as const) {
  for (const ws of [false, true]) {
    const label = `v${version} ${ws ? "ws" : "tcp"}`;
    Deno.test(`mqtt ${label}: QoS 0, 1 and 2 round trips with wildcards`, async () => {
      const tb = await startBroker(opts);
      const sub = await connect(tb, { protocolVersion: version }, ws);
      const pub = await connect(tb, { protocolVersion: version }, ws);
      try {
        const got = new Collector<string>();
        sub.on("message", (topic, payload, packet) => got.push(`${topic}:${text(payload)}:${packet.qos}`));
        await sub.subscribeAsync({ "s/+/t": { qos: 2 }, "w/#": { qos: 1 } });
        await pub.publishAsync("s/1/t", "a", { qos: 0 });
        await pub.publishAsync("s/2/t", "b", { qos: 1 });
        await pub.publishAsync("w/x/y", "c", { qos: 2 });
        await pub.publishAsync("w", "d", { qos: 2 });
        const items = await got.atLeast(4);
        assert.deepEqual([...items].sort(), ["s/1/t:a:0", "s/2/t:b:1", "w/x/y:c:1", "w:d:1"].sort());
      } finally {
        await end(sub);
        await end(pub);
        await tb.stop();
      }
    });
  }
}

Deno.test("mqtt: retained messages are delivered on subscribe, survive restart, and an empty payload clears", async () => {
  const plugins = [{ use: "sqlite-store" }, ...opts.plugins];
  const tb = await startBroker({ plugins });
  let c = await connect(tb);
  await c.publishAsync("r/a", "kept", { qos: 1, retain: true });
  await c.publishAsync("r/b", "gone", { qos: 1, retain: true });
  await c.publishAsync("r/b", "", { qos: 1, retain: true });
  await end(c);
  await tb.stop({ keepData: true });
  const tb2 = await startBroker({ plugins, dataDir: tb.dataDir });
  try {
    c = await connect(tb2);
    const got = new Collector<string>();
    c.on("message", (t, p, pk) => got.push(`${t}:${text(p)}:${pk.retain}`));
    await c.subscribeAsync("r/#", { qos: 1 });
    assert.deepEqual(await got.atLeast(1), ["r/a:kept:true"]);
    await end(c);
  } finally {
    await tb2.stop();
  }
});

Deno.test("mqtt: a persistent session keeps QoS 1/2 messages across reconnect and broker restart", async () => {
  const plugins = [{ use: "sqlite-store" }, ...opts.plugins];
  const tb = await startBroker({ plugins });
  let sub = await connect(tb, { clientId: "keeper", clean: false });
  await sub.subscribeAsync("p/#", { qos: 2 });
  await end(sub);
  const pub = await connect(tb);
  await pub.publishAsync("p/1", "one", { qos: 1 });
  await pub.publishAsync("p/2", "two", { qos: 2 });
  await end(pub);
  await tb.stop({ keepData: true });
  const tb2 = await startBroker({ plugins, dataDir: tb.dataDir });
  try {
    const got = new Collector<string>();
    sub = mqtt.connect(`mqtt://127.0.0.1:${tb2.ports["mqtt:tcp"]}`, {
      clientId: "keeper",
      clean: false,
      reconnectPeriod: 0,
    });
    const present = deferred<boolean>();
    sub.once("connect", (ack) => present.resolve(ack.sessionPresent));
    sub.on("message", (t, p) => got.push(`${t}:${text(p)}`));
    assert.equal(await within(present.promise, 5000, "connack"), true);
    assert.deepEqual(await got.atLeast(2), ["p/1:one", "p/2:two"]);
    await end(sub);
  } finally {
    await tb2.stop();
  }
});

Deno.test("mqtt: maxQueuedMessages bounds an offline session's queue; the oldest go to the DLQ", async () => {
  const mqttOpts = { ...opts.plugins[0].options, maxQueuedMessages: 3 };
  const tb = await startBroker({
    plugins: [{ use: "sqlite-store" }, { use: "dlq" }, { use: "mqtt", options: mqttOpts }],
  });
  try {
    let sub = await connect(tb, { clientId: "away", clean: false });
    await sub.subscribeAsync("q/#", { qos: 1 });
    await end(sub);
    const pub = await connect(tb);
    for (let i = 1; i <= 6; i++) await pub.publishAsync("q/x", `m${i}`, { qos: 1 });
    await end(pub);
    const got = new Collector<string>();
    sub = mqtt.connect(`mqtt://127.0.0.1:${tb.ports["mqtt:tcp"]}`, {
      clientId: "away",
      clean: false,
      reconnectPeriod: 0,
    });
    sub.on("message", (_t, p) => got.push(text(p)));
    assert.deepEqual(await got.atLeast(3), ["m4", "m5", "m6"]);
    const dlq = tb.broker.destinations().find((d) => d.kind === "queue" && d.name.startsWith("DLQ."));
    assert.equal(dlq?.pending, 3, "the three oldest were dead-lettered, not lost");
    await end(sub);
  } finally {
    await tb.stop();
  }
});

Deno.test("mqtt: the will is published when a client vanishes, not after a clean DISCONNECT", async () => {
  const tb = await startBroker(opts);
  try {
    const watcher = await connect(tb);
    const got = new Collector<string>();
    watcher.on("message", (t, p) => got.push(`${t}:${text(p)}`));
    await watcher.subscribeAsync("will/#", { qos: 1 });
    const polite = await connect(tb, { will: { topic: "will/polite", payload: "bye", qos: 1 } });
    await end(polite);
    const rude = await connect(tb, { will: { topic: "will/rude", payload: "lost", qos: 1 } });
    vanish(rude);
    assert.deepEqual(await got.atLeast(1), ["will/rude:lost"]);
    await end(rude, true);
    await end(watcher);
  } finally {
    await tb.stop();
  }
});

Deno.test("mqtt: a will with the retain flag becomes the topic's retained message", async () => {
  const tb = await startBroker(opts);
  try {
    const rude = await connect(tb, {
      will: { topic: "status/dev1", payload: "offline", qos: 1, retain: true },
    });
    const fired = deferred();
    const watcher = await connect(tb);
    watcher.on("message", () => fired.resolve());
    await watcher.subscribeAsync("status/dev1", { qos: 1 });
    vanish(rude);
    await within(fired.promise, 5000, "the will");
    // A subscriber arriving later gets it as a retained message.
    const late = await connect(tb);
    const got = new Collector<string>();
    late.on("message", (t, p, packet) => got.push(`${t}:${text(p)}:${packet.retain}`));
    await late.subscribeAsync("status/+", { qos: 1 });
    assert.deepEqual(await got.atLeast(1), ["status/dev1:offline:true"]);
    await end(rude, true);
    await end(watcher);
    await end(late);
  } finally {
    await tb.stop();
  }
});

Deno.test("mqtt: a will on a topic the client may not publish to is refused at CONNECT", async () => {
  const tb = await startBroker({
    plugins: [
      {
        use: "auth",
        options: {
          anonymous: "on",
          acl: { default: "allow", rules: [{ pattern: "locked.>", actions: ["publish"], allow: false }] },
        },
      },
      ...opts.plugins,
    ],
  });
  try {
    for (const protocolVersion of [4, 5] as const) {
      await assert.rejects(
        connect(tb, { protocolVersion, will: { topic: "locked/x", payload: "no", qos: 0 } }),
        (e: { code?: number }) => e.code === (protocolVersion === 5 ? 0x87 : 5),
      );
    }
    const ok = await connect(tb, { will: { topic: "open/x", payload: "yes", qos: 0 } });
    await end(ok);
  } finally {
    await tb.stop();
  }
});

Deno.test("mqtt 5: user properties, content type, correlation data, response topic and expiry cross to the core", async () => {
  const tb = await startBroker(opts);
  try {
    const got = deferred<import("../../../mod.ts").Message>();
    await tb.broker.subscribe(
      { kind: "topic", destination: "req.>", ack: "auto" },
      (d) => got.resolve(d.message),
    );
    const c = await connect(tb, { protocolVersion: 5 });
    await c.publishAsync("req/x", "body", {
      qos: 1,
      properties: {
        userProperties: { app: "test" },
        contentType: "text/plain",
        correlationData: new TextEncoder().encode("corr-1") as never,
        responseTopic: "resp/x",
        messageExpiryInterval: 60,
      },
    });
    const m = await within(got.promise, 5000, "core delivery");
    assert.equal(m.destination, "req.x");
    assert.deepEqual(m.properties, { app: "test" });
    assert.equal(m.contentType, "text/plain");
    assert.equal(m.correlationId, "corr-1");
    assert.equal(m.replyTo, "topic://resp.x", "a Response Topic is the reply address of its topic");
    assert.ok(m.expiresAt > Date.now() + 50_000);
    assert.equal(m.persistent, true);
    // ...and back out to an MQTT 5 subscriber.
    const back = deferred<Record<string, unknown>>();
    c.on("message", (_t, _p, pk) => back.resolve(pk.properties ?? {}));
    await c.subscribeAsync("out/#", { qos: 1 });
    await tb.broker.publish({
      destination: "out.y",
      properties: { k: "v" },
      correlationId: "c2",
      contentType: "a/b",
    });
    const props = await within(back.promise, 5000, "mqtt delivery");
    assert.deepEqual({ ...props.userProperties as object }, { k: "v" });
    assert.equal(props.contentType, "a/b");
    assert.equal(text(props.correlationData as Uint8Array), "c2");
    await end(c);
  } finally {
    await tb.stop();
  }
});

Deno.test("mqtt: cross-protocol names: a/b.c is the core topic a.b/c", async () => {
  const tb = await startBroker(opts);
  try {
    const c = await connect(tb);
    const got = new Collector<string>();
    c.on("message", (t, p) => got.push(`${t}:${text(p)}`));
    await c.subscribeAsync("a/+", { qos: 0 });
    await tb.broker.publish({ destination: "a.b/c", body: "x" });
    assert.deepEqual(await got.atLeast(1), ["a/b.c:x"]);
    const core = new Collector<string>();
    await tb.broker.subscribe(
      { kind: "topic", destination: "z.>", ack: "auto" },
      (d) => core.push(d.message.destination),
    );
    await c.publishAsync("z/q.r", "y", { qos: 1 });
    assert.deepEqual(await core.atLeast(1), ["z.q/r"]);
    await end(c);
  } finally {
    await tb.stop();
  }
});

Deno.test("mqtt: shared subscriptions split messages across the group", async () => {
  const tb = await startBroker(opts);
  try {
    const a = await connect(tb, { protocolVersion: 5 }), b = await connect(tb, { protocolVersion: 5 });
    const all = new Collector<string>();
    let na = 0, nb = 0;
    a.on("message", (_t, p) => (na++, all.push(text(p))));
    b.on("message", (_t, p) => (nb++, all.push(text(p))));
    await a.subscribeAsync("$share/g/jobs/#", { qos: 1 });
    await b.subscribeAsync("$share/g/jobs/#", { qos: 1 });
    for (let i = 0; i < 20; i++) await tb.broker.publish({ destination: "jobs.x", body: String(i) });
    await all.atLeast(20);
    assert.equal(new Set(all.items).size, 20);
    assert.ok(na > 0 && nb > 0, `${na}/${nb}`);
    await end(a);
    await end(b);
  } finally {
    await tb.stop();
  }
});

Deno.test("mqtt: session takeover closes the first connection with the same client id", async () => {
  const tb = await startBroker(opts);
  try {
    const first = await connect(tb, { clientId: "dup", protocolVersion: 5 });
    const closed = deferred<void>();
    first.once("close", () => closed.resolve());
    const second = await connect(tb, { clientId: "dup", protocolVersion: 5 });
    await within(closed.promise, 5000, "first connection closed");
    await end(second);
    await end(first, true);
  } finally {
    await tb.stop();
  }
});

Deno.test("mqtt: a WebSocket port in use fails start-up and releases the TCP listener", async () => {
  const blocker = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const tcpPort = (() => {
    const l = Deno.listen({ port: 0, hostname: "127.0.0.1" });
    const p = (l.addr as Deno.NetAddr).port;
    l.close();
    return p;
  })();
  try {
    await assert.rejects(
      startBroker({
        plugins: [{
          use: "mqtt",
          options: {
            port: tcpPort,
            wsPort: (blocker.addr as Deno.NetAddr).port,
            hostname: "127.0.0.1",
            sysIntervalMs: 0,
          },
        }],
      }),
      /Address already in use/,
    );
    const again = Deno.listen({ port: tcpPort, hostname: "127.0.0.1" }); // free again: nothing half-started
    again.close();
  } finally {
    blocker.close();
  }
});

Deno.test("mqtt 5: outbound topic aliases: the first PUBLISH names the topic, later ones carry the alias", async () => {
  const tb = await startBroker(opts);
  try {
    const c = await connect(tb, { protocolVersion: 5, properties: { topicAliasMaximum: 4 } });
    const got = new Collector<string>();
    c.on("packetreceive", (p) => {
      if (p.cmd === "publish") got.push(`${p.topic}|${p.properties?.topicAlias ?? "-"}`);
    });
    await c.subscribeAsync("al/#", { qos: 0 });
    for (const t of ["al.a", "al.a", "al.b", "al.a"]) await tb.broker.publish({ destination: t, body: "x" });
    assert.deepEqual(await got.atLeast(4), ["al/a|1", "|1", "al/b|2", "|1"]);
    await end(c);
  } finally {
    await tb.stop();
  }
});
