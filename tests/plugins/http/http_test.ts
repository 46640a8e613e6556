import assert from "node:assert/strict";
import mqtt from "mqtt";
import { startBroker } from "../../helpers/broker.ts";
import { Collector, deferred, waitFor, within } from "../../helpers/wait.ts";
import { base, http, json } from "./helpers.ts";

Deno.test("http: raw publish keeps the body and content type; options as headers and query", async () => {
  const tb = await startBroker({ plugins: [http] });
  try {
    const got = deferred<import("../../../mod.ts").Message>();
    await tb.broker.subscribe(
      { kind: "queue", destination: "orders" },
      (d, s) => (s.ack([d.tag]), got.resolve(d.message)),
    );
    const res = await fetch(`${base(tb)}/queues/orders/messages?priority=7&property.region=eu`, {
      method: "POST",
      headers: {
        "content-type": "application/xml",
        "x-correlation-id": "c1",
        "x-property-kind": "new",
        "x-ttl": "60000",
      },
      body: "<order/>",
    });
    assert.equal(res.status, 201);
    const { id, status } = await res.json();
    assert.equal(status, "confirmed");
    const m = await within(got.promise, 5000, "delivery");
    assert.equal(m.id, id);
    assert.equal(new TextDecoder().decode(m.body), "<order/>");
    assert.equal(m.contentType, "application/xml");
    assert.equal(m.priority, 7);
    assert.equal(m.correlationId, "c1");
    assert.deepEqual(m.properties, { kind: "new", region: "eu" });
    assert.ok(m.expiresAt > Date.now());
    assert.equal(m.persistent, true);
  } finally {
    await tb.stop();
  }
});

Deno.test("http: JSON envelope publish, and async publish with a receipt and a callback", async () => {
  const hook = deferred<Record<string, unknown>>();
  const cb = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    hook.resolve(await req.json());
    return new Response(null, { status: 204 });
  });
  const tb = await startBroker({ plugins: [{ use: "sqlite-store" }, http] });
  try {
    const r1 = await fetch(`${base(tb)}/topics/a.b/messages`, {
      method: "POST",
      headers: { "content-type": "application/vnd.ferrymq.message+json" },
      body: JSON.stringify({ body: "aGk=", bodyEncoding: "base64", properties: { n: 1 }, priority: 2 }),
    });
    assert.equal(r1.status, 201);
    await r1.body?.cancel();
    const r2 = await fetch(
      `${base(tb)}/queues/async/messages?async=true&callback=http://127.0.0.1:${cb.addr.port}/hook`,
      {
        method: "POST",
        body: "later",
      },
    );
    assert.equal(r2.status, 202);
    const { id } = await r2.json();
    const pushed = await within(hook.promise, 5000, "callback");
    assert.deepEqual(pushed, { id, status: "confirmed" });
    const rec = await (await fetch(`${base(tb)}/receipts/${id}`)).json();
    assert.equal(rec.status, "confirmed");
  } finally {
    await tb.stop();
    await cb.shutdown();
  }
});

Deno.test("http: a batch is atomic: one bad item stores nothing; a good batch stores all", async () => {
  const tb = await startBroker({ plugins: [http] });
  try {
    const bad = await fetch(
      `${base(tb)}/queues/b/messages:batch`,
      json([{ body: "1" }, { body: "2", priority: 99 }]),
    );
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get("content-type"), "application/problem+json");
    assert.match((await bad.json()).type, /invalid_message$/);
    assert.equal(tb.broker.queue("b")?.pending ?? 0, 0);
    const ok = await fetch(`${base(tb)}/queues/b/messages:batch`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: '{"body":"1"}\n{"body":"2"}\n{"body":"3"}\n',
    });
    assert.equal(ok.status, 201);
    assert.equal((await ok.json()).ids.length, 3);
    assert.equal(tb.broker.queue("b")!.pending, 3);
  } finally {
    await tb.stop();
  }
});

Deno.test("http: pull consumer long-polls, acks, and an expired lease redelivers", async () => {
  const tb = await startBroker({ plugins: [http] });
  try {
    const create = await fetch(`${base(tb)}/queues/work/consumers`, json({ prefetch: 10 }));
    assert.equal(create.status, 201);
    const { id } = await create.json();
    const poll = fetch(`${base(tb)}/queues/work/consumers/${id}/messages?max=5&wait=3000`).then((r) =>
      r.json()
    );
    await fetch(`${base(tb)}/queues/work/messages`, { method: "POST", body: "w1" }).then((r) =>
      r.body?.cancel()
    );
    const [m] = await poll;
    assert.equal(m.body, "w1");
    const ack = await fetch(`${base(tb)}/queues/work/consumers/${id}/ack`, json({ ids: [m.id] }));
    assert.deepEqual(await ack.json(), { settled: 1 });
    // A second message, taken and never acked: the lease (300 ms) expires and it is redelivered.
    await fetch(`${base(tb)}/queues/work/messages`, { method: "POST", body: "w2" }).then((r) =>
      r.body?.cancel()
    );
    const [m2] = await (await fetch(`${base(tb)}/queues/work/consumers/${id}/messages?wait=3000`)).json();
    assert.equal(m2.body, "w2");
    await waitFor(() => tb.broker.queue("work")!.pending === 1, "lease expiry to return the message");
    assert.equal(tb.broker.browse("work")[0].redeliveryCount, 1);
    const gone = await fetch(`${base(tb)}/queues/work/consumers/${id}/messages`);
    assert.equal(gone.status, 404);
    await gone.body?.cancel();
  } finally {
    await tb.stop();
  }
});

/** A request body sent in `n` chunks of `size` bytes, so with no Content-Length. */
const chunked = (n: number, size: number) =>
  new ReadableStream<Uint8Array>({
    pull(c) {
      if (n-- > 0) c.enqueue(new Uint8Array(size).fill(0x31));
      else c.close();
    },
  });

Deno.test("http: bad input answers problem+json: bad JSON, bad query, unknown consumer, wrong method, too large", async () => {
  const tb = await startBroker({
    plugins: [{ ...http, options: { ...http.options, maxBodySize: 10 } }],
    limits: { autoCreate: false },
  });
  try {
    const cases: [RequestInfo, RequestInit, number][] = [
      [`${base(tb)}/queues/x/messages:batch`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "[{",
      }, 400],
      [`${base(tb)}/queues/x/messages?priority=high`, { method: "POST", body: "1" }, 400],
      [`${base(tb)}/queues/x/consumers/nope/messages`, {}, 404],
      [`${base(tb)}/queues/x/messages`, { method: "GET" }, 405],
      [`${base(tb)}/queues/x/messages`, { method: "POST", body: "01234567890" }, 413],
      // Chunked, without a Content-Length: the limit holds while the body is read, so a body without an end
      // is answered too.
      [
        `${base(tb)}/queues/x/messages`,
        { method: "POST", body: chunked(Infinity, 6), duplex: "half" } as RequestInit,
        413,
      ],
      [`${base(tb)}/queues/x/messages:batch`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: chunked(Infinity, 8),
        duplex: "half",
      } as RequestInit, 413],
      [`${base(tb)}/queues/missing/messages`, { method: "POST", body: "1" }, 404],
    ];
    for (const [url, init, status] of cases) {
      const res = await fetch(url, init);
      assert.equal(res.status, status, `${init.method ?? "GET"} ${url}`);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      const p = await res.json();
      assert.match(p.type, /^https:\/\/ferrymq\.dev\/problems\//);
    }
  } finally {
    await tb.stop();
  }
});

Deno.test("http: Basic and Bearer credentials go through the authenticate hook; failures get 401", async () => {
  const tb = await startBroker({ plugins: [http] });
  tb.broker.hooks.on("test", "authenticate", (e) => {
    const pw = new TextDecoder().decode(e.client.password ?? new Uint8Array());
    return (e.client.username === "alice" && pw === "pw") || (e.client.username === "" && pw === "tok")
      ? { id: e.client.username || "token" }
      : { code: "bad_credentials", reason: "no" };
  });
  try {
    const send = (auth?: string) =>
      fetch(`${base(tb)}/topics/t/messages`, {
        method: "POST",
        body: "x",
        headers: auth ? { authorization: auth } : {},
      });
    for (
      const [auth, status] of [[`Basic ${btoa("alice:pw")}`, 201], ["Bearer tok", 201], [
        `Basic ${btoa("alice:bad")}`,
        401,
      ], [undefined, 401]] as const
    ) {
      const res = await send(auth);
      assert.equal(res.status, status, String(auth));
      if (status === 401) assert.ok(res.headers.get("www-authenticate"));
      await res.body?.cancel();
    }
  } finally {
    await tb.stop();
  }
});

Deno.test("http: OpenAPI 3.1 document lists the routes", async () => {
  const tb = await startBroker({ plugins: [http] });
  try {
    const doc = await (await fetch(`${base(tb)}/openapi.json`)).json();
    assert.equal(doc.openapi, "3.1.0");
    for (
      const p of [
        "/api/v1/{kind}/{name}/messages",
        "/api/v1/{kind}/{name}/messages/batch",
        "/api/v1/queues/{name}/consumers",
        "/api/v1/receipts/{id}",
      ]
    ) {
      assert.ok(doc.paths[p], p);
    }
  } finally {
    await tb.stop();
  }
});

Deno.test("http: SSE and WebSocket push; cross-protocol with MQTT both ways", async () => {
  const tb = await startBroker({
    plugins: [http, {
      use: "mqtt",
      options: { port: 0, wsPort: -1, hostname: "127.0.0.1", sysIntervalMs: 0 },
    }],
  });
  const ctrl = new AbortController();
  try {
    // MQTT publish -> SSE.
    const res = await fetch(`${base(tb)}/topics/sensors.>/events`, { signal: ctrl.signal });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("subscribed")) text += (await reader.read()).value ?? "";
    const m = await mqtt.connectAsync(`mqtt://127.0.0.1:${tb.ports["mqtt:tcp"]}`, { reconnectPeriod: 0 });
    await m.publishAsync("sensors/k1", "21.5", { qos: 1 });
    while (!text.includes("event: message")) text += (await reader.read()).value ?? "";
    while (!text.includes("\n\n", text.indexOf("event: message"))) text += (await reader.read()).value ?? "";
    const data = JSON.parse(/event: message\ndata: (.*)\n/.exec(text)![1]);
    assert.equal(data.body, "21.5");
    assert.equal(data.destination, "sensors.k1");
    // HTTP publish -> MQTT subscriber.
    const got = new Collector<string>();
    m.on("message", (t, p) => got.push(`${t}:${p}`));
    await m.subscribeAsync("cmd/#", { qos: 1 });
    await fetch(`${base(tb)}/topics/cmd.k1/messages`, { method: "POST", body: "on" }).then((r) =>
      r.body?.cancel()
    );
    assert.deepEqual(await got.atLeast(1), ["cmd/k1:on"]);
    await m.endAsync();
    // WebSocket JSON frames.
    const ws = new WebSocket(`ws://127.0.0.1:${tb.ports.http}/api/v1/ws`);
    const frames = new Collector<Record<string, unknown>>();
    ws.onmessage = (e) => frames.push(JSON.parse(e.data));
    await within(new Promise((r) => ws.onopen = r), 5000, "ws open");
    ws.send(JSON.stringify({ op: "subscribe", id: "s1", kind: "queue", destination: "wsq", ack: "client" }));
    await waitFor(() => frames.items.find((f) => f.op === "subscribed"), "subscribed");
    ws.send(
      JSON.stringify({
        op: "publish",
        id: "p1",
        kind: "queue",
        destination: "wsq",
        message: { body: "hello" },
      }),
    );
    const msg = await waitFor(() => frames.items.find((f) => f.op === "message"), "message") as {
      message: { id: string; body: string };
    };
    assert.equal(msg.message.body, "hello");
    ws.send(JSON.stringify({ op: "ack", ids: [msg.message.id] }));
    await waitFor(() => tb.broker.queue("wsq")!.inflight === 0, "ack");
    const closed = new Promise((r) => ws.onclose = r);
    ws.close();
    await closed;
  } finally {
    ctrl.abort();
    await tb.stop();
  }
});

Deno.test("http: SSE on a queue that already holds messages streams them (delivered during subscribe)", async () => {
  const tb = await startBroker({ plugins: [http] });
  const ctrl = new AbortController();
  try {
    for (const b of ["q1", "q2"]) await tb.broker.publish({ kind: "queue", destination: "held", body: b });
    const res = await fetch(`${base(tb)}/queues/held/events`, { signal: ctrl.signal });
    assert.equal(res.status, 200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while ((text.match(/event: message/g) ?? []).length < 2) text += (await reader.read()).value ?? "";
    assert.ok(text.indexOf('"body":"q1"') < text.indexOf('"body":"q2"'));
    await waitFor(
      () => tb.broker.queue("held")!.pending + tb.broker.queue("held")!.inflight === 0,
      "acked on write",
    );
  } finally {
    ctrl.abort();
    await tb.stop();
  }
});

async function readEvents(
  reader: ReadableStreamDefaultReader<string>,
  state: { text: string },
  until: (t: string) => boolean,
) {
  while (!until(state.text)) {
    const { value, done } = await reader.read();
    if (done) break;
    state.text += value;
  }
  return state.text;
}

Deno.test("http: SSE on a queue with ack=client: messages stay in flight until acked by id", async () => {
  const tb = await startBroker({ plugins: [http] });
  const ctrl = new AbortController();
  try {
    await tb.broker.publish({ kind: "queue", destination: "acked", body: "a1" });
    const res = await fetch(`${base(tb)}/queues/acked/events?ack=client`, { signal: ctrl.signal });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const state = { text: "" };
    await readEvents(reader, state, (t) => t.includes("event: message") && t.includes("event: stream"));
    const stream = JSON.parse(/event: stream\ndata: (.*)\n/.exec(state.text)![1]);
    const msg = JSON.parse(/event: message\ndata: (.*)\n/.exec(state.text)![1]);
    assert.equal(tb.broker.queue("acked")!.inflight, 1);
    const ack = await fetch(`http://127.0.0.1:${tb.ports.http}${stream.ack}`, json({ ids: [msg.id] }));
    assert.deepEqual(await ack.json(), { settled: 1 });
    assert.equal(tb.broker.queue("acked")!.inflight, 0);
  } finally {
    ctrl.abort();
    await tb.stop();
  }
});

Deno.test("http: a durable SSE stream resumes after Last-Event-ID, replaying what followed it", async () => {
  const tb = await startBroker({ plugins: [http] });
  const first = new AbortController(), second = new AbortController();
  try {
    const res = await fetch(`${base(tb)}/topics/feed.>/events?durable=d1`, { signal: first.signal });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const state = { text: "" };
    await readEvents(reader, state, (t) => t.includes("subscribed"));
    for (const b of ["e1", "e2", "e3"]) await tb.broker.publish({ destination: "feed.x", body: b });
    await readEvents(reader, state, (t) => (t.match(/event: message/g) ?? []).length === 3);
    const ids = [...state.text.matchAll(/^id: (.*)$/gm)].map((m) => m[1]);
    first.abort();
    // The client saw only e1: it reconnects with that id and gets e2 and e3 again, then new ones.
    const again = await fetch(`${base(tb)}/topics/feed.>/events?durable=d1`, {
      signal: second.signal,
      headers: { "last-event-id": ids[0] },
    });
    const r2 = again.body!.pipeThrough(new TextDecoderStream()).getReader();
    const s2 = { text: "" };
    await readEvents(r2, s2, (t) => (t.match(/event: message/g) ?? []).length === 2);
    assert.deepEqual([...s2.text.matchAll(/"body":"(e\d)"/g)].map((m) => m[1]), ["e2", "e3"]);
  } finally {
    second.abort();
    await tb.stop();
  }
});

Deno.test("http: a durable WebSocket subscription resumes with what arrived while it was away", async () => {
  const tb = await startBroker({ plugins: [http] });
  const open = async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${tb.ports.http}/api/v1/ws`);
    const frames = new Collector<Record<string, unknown>>();
    ws.onmessage = (e) => frames.push(JSON.parse(e.data));
    await within(new Promise((r) => ws.onopen = r), 5000, "ws open");
    ws.send(
      JSON.stringify({ op: "subscribe", id: "s", kind: "topic", destination: "alerts.>", durable: "w1" }),
    );
    await waitFor(() => frames.items.find((f) => f.op === "subscribed"), "subscribed");
    return { ws, frames };
  };
  const close = async (ws: WebSocket) => {
    const closed = new Promise((r) => ws.onclose = r);
    ws.close();
    await closed;
  };
  try {
    const a = await open();
    await close(a.ws);
    await tb.broker.publish({ destination: "alerts.fire", body: "while away" });
    const b = await open();
    const msg = await waitFor(() => b.frames.items.find((f) => f.op === "message"), "the queued message") as {
      message: { id: string; body: string };
    };
    assert.equal(msg.message.body, "while away");
    b.ws.send(JSON.stringify({ op: "ack", ids: [msg.message.id] }));
    await close(b.ws);
  } finally {
    await tb.stop();
  }
});

Deno.test("http: a standard EventSource client receives topic events", async () => {
  const tb = await startBroker({ plugins: [http] });
  const es = new EventSource(`${base(tb)}/topics/es.>/events`);
  try {
    const got = new Collector<string>();
    es.addEventListener("message", (e) => got.push(JSON.parse((e as MessageEvent).data).body));
    await within(new Promise((r) => es.onopen = r), 5000, "EventSource open");
    await waitFor(() => tb.broker.destinations().some((d) => d.boundTo === "es.>"), "the subscription");
    await tb.broker.publish({ destination: "es.one", body: "via EventSource" });
    assert.deepEqual(await got.atLeast(1), ["via EventSource"]);
  } finally {
    es.close();
    await tb.stop();
  }
});
