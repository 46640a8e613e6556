import assert from "node:assert/strict";
import mqtt from "mqtt";
import type { Delivery, Subscription } from "../../../mod.ts";
import { deferred, waitFor, within } from "../../helpers/wait.ts";
import { expectProblem, login, startAdmin, USER } from "./helpers.ts";

// deno-lint-ignore no-explicit-any
type Obj = Record<string, any>;
type Dest = { name: string; kind: string; pending: number; maxRedeliveries?: number; boundTo: string[] };

Deno.test("admin: destinations are created, read, edited, purged and deleted, each reported with before and after", async () => {
  const { tb, base, actions } = await startAdmin();
  try {
    const c = await login(base);
    const created = await c.json<Dest>("POST", "/destinations", {
      name: "orders.eu",
      kind: "queue",
      maxRedeliveries: 3,
    });
    assert.equal(created.name, "orders.eu");
    assert.equal(created.maxRedeliveries, 3);
    await c.json("POST", "/destinations", { name: "other", kind: "queue" });
    const list = await c.json<Dest[]>("GET", "/destinations?kind=queue&q=ORDERS");
    assert.deepEqual(list.map((d) => d.name), ["orders.eu"]);
    assert.equal((await c.json<Dest>("GET", "/destinations/queue/orders.eu")).pending, 0);

    const patched = await c.json<Dest>("PATCH", "/destinations/queue/orders.eu", { maxRedeliveries: 5 });
    assert.equal(patched.maxRedeliveries, 5);
    const upd = actions.find((a) => a.action === "destination.update")!;
    assert.equal((upd.before as Dest).maxRedeliveries, 3);
    assert.equal((upd.after as Dest).maxRedeliveries, 5);
    assert.equal(upd.principal.id, USER);
    assert.match(upd.remote!, /^127\.0\.0\.1:\d+$/);

    for (let i = 0; i < 3; i++) {
      await tb.broker.publish({ kind: "queue", destination: "orders.eu", body: `m${i}` });
    }
    assert.deepEqual(await c.json("POST", "/destinations/queue/orders.eu/purge"), { purged: 3 });
    const purge = actions.find((a) => a.action === "destination.purge")!;
    assert.equal((purge.before as Dest).pending, 3);
    assert.equal((purge.after as Dest & { purged: number }).purged, 3);

    assert.equal((await c.call("DELETE", "/destinations/queue/orders.eu")).status, 204);
    await expectProblem(c.call("GET", "/destinations/queue/orders.eu"), 404, "not_found");
    const del = actions.find((a) => a.action === "destination.delete")!;
    assert.equal((del.before as Dest).name, "orders.eu");
    assert.equal(del.after, null);
    assert.equal(actions.find((a) => a.action === "destination.create")!.before, null);
  } finally {
    await tb.stop();
  }
});

Deno.test("admin: invalid form values are 4xx with a reason and change nothing", async () => {
  const { tb, base, actions } = await startAdmin();
  try {
    const c = await login(base);
    await c.json("POST", "/destinations", { name: "jobs", kind: "queue", maxRedeliveries: 2 });
    const before = JSON.stringify(tb.broker.destinations());
    const count = actions.length;
    const bad = await expectProblem(
      c.call("POST", "/destinations", { name: "orders.*", kind: "queue" }),
      400,
      "invalid_destination",
    );
    assert.match(String(bad.detail), /orders\.\*/);
    await expectProblem(
      c.call("POST", "/destinations", { name: "x", kind: "exchange" }),
      400,
      "invalid_argument",
    );
    await expectProblem(
      c.call("POST", "/destinations", { name: "x", kind: "queue", maxRedeliveries: -1 }),
      400,
      "invalid_argument",
    );
    await expectProblem(c.call("POST", "/destinations", { name: "jobs", kind: "queue" }), 409, "conflict");
    await expectProblem(
      c.call("POST", "/destinations", { name: "t", kind: "topic" }),
      400,
      "invalid_argument",
    );
    await expectProblem(
      fetch(`${base}/destinations`, {
        method: "POST",
        headers: { cookie: c.cookie, "x-csrf-token": c.csrf, "content-type": "application/json" },
        body: "{not json",
      }),
      400,
      "invalid_json",
    );
    await expectProblem(
      c.call("PATCH", "/destinations/queue/jobs", { maxRedeliveries: "many" }),
      400,
      "invalid_argument",
    );
    await expectProblem(
      c.call("PATCH", "/destinations/queue/jobs", { durable: false }),
      400,
      "invalid_argument",
    );
    await expectProblem(
      c.call("PATCH", "/destinations/queue/nope", { maxRedeliveries: 1 }),
      404,
      "not_found",
    );
    await expectProblem(
      c.call("POST", "/destinations/queue/jobs/messages", { body: "x", priority: 12 }),
      400,
      "invalid_argument",
    );
    await expectProblem(
      c.call("POST", "/destinations/queue/jobs/messages", { body: "%%%", encoding: "base64" }),
      400,
      "invalid_argument",
    );
    await expectProblem(
      c.call("GET", "/destinations/queue/jobs/messages?selector=color%20%3D"),
      400,
      "invalid_selector",
    );
    await expectProblem(c.call("GET", "/destinations/queue/jobs/messages?limit=0"), 400, "invalid_argument");
    await expectProblem(c.call("DELETE", "/connections/nope"), 404, "not_found");
    await expectProblem(c.call("PUT", "/logs/levels/core", { level: "loud" }), 400, "invalid_argument");
    await expectProblem(c.call("PUT", "/logs/levels/no-such-plugin", { level: "debug" }), 404, "not_found");
    assert.equal(JSON.stringify(tb.broker.destinations()), before);
    assert.equal(actions.length, count);
  } finally {
    await tb.stop();
  }
});

Deno.test("admin: send and browse without consuming (text, base64, selector, paging)", async () => {
  const { tb, base, actions } = await startAdmin();
  try {
    const c = await login(base);
    await c.json("POST", "/destinations", { name: "inbox", kind: "queue" });
    for (let i = 0; i < 5; i++) {
      await c.json("POST", "/destinations/queue/inbox/messages", {
        body: `hello ${i}`,
        properties: { color: i % 2 ? "red" : "blue", n: i },
        priority: 4,
      });
    }
    const { id } = await c.json<{ id: string }>("POST", "/destinations/queue/inbox/messages", {
      body: btoa(String.fromCharCode(0xff, 0x00, 0x01)),
      encoding: "base64",
      ttlMs: 60_000,
      persistent: false,
    });
    const send = actions.filter((a) => a.action === "message.send");
    assert.equal(send.length, 6);
    assert.equal((send[5].after as { id: string }).id, id);

    type Page = {
      total: number;
      messages: {
        id: string;
        body: string;
        encoding?: string;
        properties: Record<string, unknown>;
        size: number;
        expiresAt: number | null;
        persistent: boolean;
      }[];
    };
    const all = await c.json<Page>("GET", "/destinations/queue/inbox/messages?limit=2&offset=1");
    assert.equal(all.total, 6);
    assert.deepEqual(all.messages.map((m) => m.body), ["hello 1", "hello 2"]);
    const red = await c.json<Page>(
      "GET",
      `/destinations/queue/inbox/messages?selector=${encodeURIComponent("color = 'red'")}`,
    );
    assert.equal(red.total, 2);
    assert.deepEqual(red.messages.map((m) => m.properties.n), [1, 3]);
    const bin = (await c.json<Page>("GET", "/destinations/queue/inbox/messages?offset=5")).messages[0];
    assert.equal(bin.id, id);
    assert.equal(bin.encoding, "base64");
    assert.equal(bin.body, btoa(String.fromCharCode(0xff, 0x00, 0x01)));
    assert.equal(bin.size, 3);
    assert.equal(bin.persistent, false);
    assert.ok(bin.expiresAt! > Date.now());
    // Browsing consumed nothing.
    assert.equal(tb.broker.destinations().find((d) => d.name === "inbox")!.pending, 6);
    await expectProblem(
      c.call("POST", "/destinations/queue/missing/messages", { body: "x" }),
      404,
      "not_found",
    );
    await expectProblem(c.call("GET", "/destinations/topic/news/messages"), 404, "not_found");
  } finally {
    await tb.stop();
  }
});

Deno.test("admin: node, stats, series, plugins and logs", async () => {
  const { tb, base, actions } = await startAdmin();
  try {
    const c = await login(base);
    const node = await c.json<Obj>("GET", "/node");
    assert.equal(node.nodeId, "test");
    assert.match(node.version, /^\d+\.\d+\.\d+/);
    assert.ok(node.uptimeMs >= 0);
    assert.ok(node.memory.rss > 0 && node.memory.heapUsed > 0);
    assert.equal(typeof node.eventLoopLagMs, "number");
    assert.equal(typeof node.store.sizeBytes, "number");
    assert.ok(node.store.freeBytes > 0);
    assert.deepEqual(node.listeners.map((l: { name: string }) => l.name), ["http"]);

    await tb.broker.publish({ kind: "queue", destination: "q1", body: "x" });
    const stats = await c.json<Record<string, number>>("GET", "/stats");
    assert.equal(stats.messagesIn, 1);
    assert.equal(stats.pending, 1);
    assert.equal(stats.destinations, 1);
    assert.equal(stats.storeFailures, 0);
    for (const k of ["messagesOut", "bytesIn", "bytesOut", "connections", "enqueueRate", "dequeueRate"]) {
      assert.equal(typeof stats[k], "number", k);
    }
    // The sampler takes one point at start and one a second after.
    const series = await waitFor(
      async () => {
        const s = await c.json<{ intervalMs: number; points: Record<string, number>[] }>(
          "GET",
          "/stats/series",
        );
        return s.points.length >= 2 ? s : undefined;
      },
      "two samples",
      5000,
    );
    assert.equal(series.intervalMs, 1000);
    assert.ok(series.points[1].t > series.points[0].t);
    assert.deepEqual(Object.keys(series.points[0]).sort(), [
      "connections",
      "dequeueRate",
      "enqueueRate",
      "messagesIn",
      "messagesOut",
      "pending",
      "t",
    ]);

    const plugins = await c.json<Obj[]>("GET", "/plugins");
    assert.deepEqual(plugins.map((p) => p.id), ["http", "admin"]);
    const admin = plugins.find((p) => p.id === "admin")!;
    assert.equal(admin.enabled, true);
    assert.equal(admin.manifest.name, "admin");
    assert.equal(admin.options.admin.password, "***", "secrets are hidden");
    assert.equal(admin.options.sessionIdleMs, 1800000);

    const levels = await c.json<Record<string, string>>("GET", "/logs/levels");
    assert.equal(levels.admin, "warn");
    assert.deepEqual(await c.json("PUT", "/logs/levels/admin", { level: "debug" }), {
      plugin: "admin",
      level: "debug",
    });
    assert.equal((await c.json<Record<string, string>>("GET", "/logs/levels")).admin, "debug");
    const lvl = actions.find((a) => a.action === "log.level")!;
    assert.deepEqual([lvl.object, lvl.before, lvl.after], ["admin", { level: "warn" }, { level: "debug" }]);
    tb.broker.logs.get("admin").warn("a record for the API");
    const logs = await c.json<{ t: number; level: string; plugin: string; msg: string }[]>(
      "GET",
      "/logs?limit=5",
    );
    assert.ok(logs.length <= 5);
    assert.deepEqual(
      [logs.at(-1)!.plugin, logs.at(-1)!.level, logs.at(-1)!.msg],
      ["admin", "warn", "a record for the API"],
    );

    const doc = await (await fetch(`${base}/openapi.json`)).json();
    assert.equal(doc.openapi, "3.1.0");
    for (
      const p of [
        "/api/v1/admin/login",
        "/api/v1/admin/destinations/{kind}/{name}/messages",
        "/api/v1/admin/events",
      ]
    ) {
      assert.ok(doc.paths[p], p);
    }
    // The messaging API of the http plugin is untouched.
    assert.equal((await fetch(`http://127.0.0.1:${tb.ports.http}/api/v1/openapi.json`)).status, 200);
  } finally {
    await tb.stop();
  }
});

Deno.test("admin: connections, consumers, producers, topology, and closing a connection", async () => {
  const { tb, base, actions } = await startAdmin({
    extra: [{ use: "mqtt", options: { port: 0, wsPort: 0, hostname: "127.0.0.1", sysIntervalMs: 0 } }],
  });
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${tb.ports["mqtt:tcp"]}`, {
    clientId: "sensor-1",
    reconnectPeriod: 0,
    protocolVersion: 5,
  });
  try {
    const c = await login(base);
    await client.subscribeAsync("alerts/#", { qos: 1 });
    const got = deferred<void>();
    client.on("message", () => got.resolve());
    await client.publishAsync("alerts/fire", "hot", { qos: 1 });
    await within(got.promise, 5000, "the echo");

    const conns = await c.json<Obj[]>("GET", "/connections");
    assert.equal(conns.length, 1);
    const conn = conns[0];
    assert.equal(conn.clientId, "sensor-1");
    assert.equal(conn.protocol, "mqtt");
    assert.equal(conn.subscriptions, 1);
    assert.equal(conn.messagesIn, 1);
    assert.equal(conn.messagesOut, 1);
    assert.match(conn.remote, /^127\.0\.0\.1:/);

    const consumers = await c.json<Obj[]>("GET", "/consumers");
    assert.equal(consumers.length, 1);
    assert.equal(consumers[0].connectionId, conn.id);
    assert.equal(consumers[0].destination, "alerts.>");
    assert.equal(consumers[0].kind, "topic");
    assert.equal(consumers[0].delivered, 1);
    const producers = await c.json<Obj[]>("GET", "/producers");
    assert.deepEqual(producers.map((p) => [p.clientId, p.destination, p.messages]), [[
      "sensor-1",
      "alerts.fire",
      1,
    ]]);

    const topo = await c.json<
      { nodes: { id: string; type: string }[]; edges: { from: string; to: string }[] }
    >("GET", "/topology");
    const types = topo.nodes.map((n) => n.type).sort();
    assert.deepEqual(types, ["consumer", "destination", "producer"]);
    assert.ok(topo.edges.some((e) => e.from === `p:${conn.id}` && e.to === "d:topic:alerts.fire"));
    assert.ok(topo.edges.some((e) => e.from === "d:topic:alerts.fire" && e.to.startsWith("c:")));
    const listed = await c.json<Dest[]>("GET", "/destinations?kind=topic");
    assert.equal(listed[0].boundTo.length, 1);

    const closed = deferred<void>();
    const disconnect = deferred<number | undefined>();
    client.on("close", () => closed.resolve());
    client.on("disconnect", (p) => disconnect.resolve(p.reasonCode));
    assert.equal((await c.call("DELETE", `/connections/${conn.id}`)).status, 204);
    await within(closed.promise, 5000, "the MQTT client to be disconnected");
    assert.equal(await disconnect.promise, 0x98, "DISCONNECT: administrative action");
    await waitFor(
      async () => (await c.json<unknown[]>("GET", "/connections")).length === 0,
      "no connections",
    );
    const act = actions.find((a) => a.action === "connection.close")!;
    assert.equal((act.before as { clientId: string }).clientId, "sensor-1");
    assert.equal(act.after, null);
  } finally {
    await client.endAsync(true);
    await tb.stop();
  }
});

Deno.test("admin: scheduled messages (delay) are listed and cancelled; DLQ re-drive", async () => {
  const { tb, base, actions } = await startAdmin({ extra: [{ use: "delay" }, { use: "dlq" }] });
  try {
    const c = await login(base);
    await c.json("POST", "/destinations", { name: "later", kind: "queue" });
    await c.json("POST", "/destinations/queue/later/messages", {
      body: "tick",
      properties: { delay: 3_600_000 },
    });
    const sched = await c.json<{ total: number; items: { id: string; destination: string }[] }>(
      "GET",
      "/scheduled",
    );
    assert.equal(sched.total, 1);
    assert.equal(sched.items[0].destination, "later");
    assert.equal((await c.call("DELETE", `/scheduled/${sched.items[0].id}`)).status, 204);
    await expectProblem(c.call("DELETE", `/scheduled/${sched.items[0].id}`), 404, "not_found");
    const cancel = actions.find((a) => a.action === "delay.cancel")!;
    assert.equal(cancel.principal.id, USER);
    assert.equal(cancel.after, null);

    // A rejected message becomes a dead letter in DLQ.work.
    await tb.broker.publish({ kind: "queue", destination: "work", body: "bad" });
    const first = deferred<[Delivery, Subscription]>();
    const sub = await tb.broker.subscribe(
      { kind: "queue", destination: "work" },
      (d, s) => first.resolve([d, s]),
    );
    const [d] = await within(first.promise, 5000, "the delivery");
    sub.nack([d.tag], false);
    await sub.cancel();
    await waitFor(
      async () =>
        (await c.json<{ name: string; pending: number }[]>("GET", "/dlq")).find((q) =>
          q.name === "DLQ.work" && q.pending === 1
        ),
      "the dead letter",
    );
    await expectProblem(c.call("POST", "/dlq/DLQ.none/redrive", {}), 404, "not_found");
    assert.deepEqual(await c.json("POST", "/dlq/DLQ.work/redrive", {}), { redriven: 1 });
    assert.equal(tb.broker.destinations().find((x) => x.name === "work")!.pending, 1);
    const redrive = actions.find((a) => a.action.startsWith("dlq.redrive"))!;
    assert.equal(redrive.principal.id, USER);
  } finally {
    await tb.stop();
  }
});

Deno.test("admin: scheduled and dlq answer 503 when their plugins are not loaded", async () => {
  const { tb, base } = await startAdmin();
  try {
    const c = await login(base);
    await expectProblem(c.call("GET", "/scheduled"), 503, "unavailable");
    await expectProblem(c.call("GET", "/dlq"), 503, "unavailable");
  } finally {
    await tb.stop();
  }
});

Deno.test("admin: /events streams stats every second, destinations and log records", async () => {
  const { tb, base } = await startAdmin();
  const ctl = new AbortController();
  try {
    const c = await login(base);
    const res = await fetch(`${base}/events`, { headers: { cookie: c.cookie }, signal: ctl.signal });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const seen = new Map<string, unknown[]>();
    let buf = "";
    const next = async () => {
      const { value, done } = await reader.read();
      if (done) throw new Error("stream ended");
      buf += value;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const chunk = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev = /^event: (\w+)$/m.exec(chunk)?.[1];
        const data = /^data: (.*)$/m.exec(chunk)?.[1];
        if (ev && data) seen.set(ev, [...(seen.get(ev) ?? []), JSON.parse(data)]);
      }
    };
    await c.json("PUT", "/logs/levels/admin", { level: "info" });
    await tb.broker.publish({ kind: "queue", destination: "live", body: "x" });
    await waitFor(
      async () => {
        await next();
        return (seen.get("stats")?.length ?? 0) >= 2 && seen.has("destinations");
      },
      "two stats events",
      5000,
    );
    const stats = seen.get("stats")!.at(-1) as Record<string, number>;
    assert.equal(typeof stats.t, "number");
    assert.equal(stats.pending, 1);
    await waitFor(async () => {
      if (!(seen.get("destinations")!.at(-1) as Dest[]).some((d) => d.name === "live")) await next();
      return (seen.get("destinations")!.at(-1) as Dest[]).some((d) => d.name === "live");
    }, "a destinations event with the new queue");
    // A log record written now arrives as a log event.
    tb.broker.logs.get("admin").warn("a line for the live tail");
    await waitFor(async () => {
      if (!(seen.get("log") ?? []).some((r) => (r as { msg: string }).msg === "a line for the live tail")) {
        await next();
      }
      return (seen.get("log") ?? []).some((r) => (r as { msg: string }).msg === "a line for the live tail");
    }, "the log event");
    await reader.cancel();
  } finally {
    ctl.abort();
    await tb.stop();
  }
});

Deno.test("admin: the console at / leaves /api/v1 to the messaging API and /api/v1/admin to the admin API", async () => {
  const { tb, base } = await startAdmin({ admin: { console: true } });
  try {
    const root = `http://127.0.0.1:${tb.ports.http}`;
    const api = await fetch(`${root}/api/v1/openapi.json`);
    assert.equal((await api.json()).info.title, "FerryMQ messaging API");
    await expectProblem(fetch(`${base}/session`), 401, "unauthenticated");
    const page = await fetch(`${root}/`, { redirect: "manual" });
    await page.body?.cancel();
    // "/" is the console's page (or its redirect to the login page).
    assert.ok(page.status < 400, String(page.status));
  } finally {
    await tb.stop();
  }
});
