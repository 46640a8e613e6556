import assert from "node:assert/strict";
import { createBroker, DEFER, type Delivery, DROP, Priority } from "../../mod.ts";
import { Collector } from "../helpers/wait.ts";

const broker = () => createBroker({ plugins: [] }, { printLogs: false });
const text = (d: Delivery) => new TextDecoder().decode(d.message.body);
const sink = { deliver() {} };

Deno.test("publish fold runs by priority; each handler sees the previous result", async () => {
  const b = await broker();
  const order: string[] = [];
  b.hooks.on("low", "publish", ({ message }) => {
    order.push("low");
    return { ...message, properties: { ...message.properties, low: true } };
  }, { priority: Priority.SEAL });
  b.hooks.on("high", "publish", ({ message }) => {
    order.push("high");
    return { ...message, properties: { ...message.properties, high: true } };
  }, { priority: Priority.VALIDATE });
  const got = new Collector<Delivery>();
  await b.subscribe({ kind: "queue", destination: "q" }, (d) => got.push(d));
  await b.publish({ kind: "queue", destination: "q" });
  const [d] = await got.atLeast(1);
  assert.deepEqual(order, ["high", "low"]);
  assert.deepEqual(d.message.properties, { high: true, low: true });
  await b.stop();
});

Deno.test("a Reject from the publish fold vetoes; DROP swallows; neither reaches the queue", async () => {
  const b = await broker();
  b.hooks.on(
    "v",
    "publish",
    ({ message }) =>
      message.destination === "bad"
        ? { code: "not_authorized", reason: "no" }
        : message.destination === "gone"
        ? DROP
        : message,
  );
  const s = b.internalSession("t");
  assert.deepEqual(await s.publish({ kind: "queue", destination: "bad" }), {
    code: "not_authorized",
    reason: "no",
  });
  assert.equal(await s.publish({ kind: "queue", destination: "gone" }), undefined);
  assert.equal(b.queue("bad"), undefined);
  assert.equal(b.queue("gone"), undefined);
  await b.stop();
});

Deno.test("a throwing publish handler answers server_busy naming the plugin", async () => {
  const b = await broker();
  b.hooks.on("broken", "publish", () => {
    throw new Error("x");
  });
  await assert.rejects(
    b.publish({ destination: "a" }),
    (e: Error & { code?: string }) => e.code === "server_busy" && /"broken"/.test(e.message),
  );
  await b.stop();
});

Deno.test("async fold handlers compose with sync ones", async () => {
  const b = await broker();
  b.hooks.on("a", "publish", async ({ message }) => {
    await Promise.resolve();
    return { ...message, priority: 9 };
  }, { priority: 2 });
  b.hooks.on("b", "publish", ({ message }) => ({ ...message, subject: `p${message.priority}` }), {
    priority: 1,
  });
  const got = new Collector<Delivery>();
  await b.subscribe({ kind: "queue", destination: "q" }, (d) => got.push(d));
  await b.publish({ kind: "queue", destination: "q" });
  assert.equal((await got.atLeast(1))[0].message.subject, "p9");
  await b.stop();
});

Deno.test("authenticate gate: first non-DEFER answer wins; all DEFER denies; a throw denies", async () => {
  const b = await broker();
  const client = (u: string) => ({ clientId: u, protocol: "test", remote: "x", username: u });
  b.hooks.on("a", "authenticate", (e) => e.client.username === "alice" ? { id: "alice" } : DEFER, {
    priority: 2,
  });
  b.hooks.on("b", "authenticate", (e) => {
    if (e.client.username === "boom") throw new Error("db down");
    return e.client.username === "bob" ? { code: "bad_credentials", reason: "wrong password" } : DEFER;
  }, { priority: 1 });
  const ok = await b.openSession(client("alice"), sink);
  assert.equal("principal" in ok && ok.principal.id, "alice");
  assert.deepEqual(await b.openSession(client("bob"), sink), {
    code: "bad_credentials",
    reason: "wrong password",
  });
  assert.equal((await b.openSession(client("carol"), sink) as { code: string }).code, "not_authorized");
  assert.equal((await b.openSession(client("boom"), sink) as { code: string }).code, "not_authorized");
  await b.stop();
});

Deno.test("authorize gate with a filter is consulted only for matching destinations", async () => {
  const b = await broker();
  const calls: string[] = [];
  b.hooks.on("acl", "authorize", (e) => {
    calls.push(e.destination);
    return e.principal.id === "admin" ? true : { code: "not_authorized", reason: "secret" };
  }, { filter: "secret.>" });
  b.hooks.on("rest", "authorize", () => true, { priority: -1 });
  const s = await b.openSession({ clientId: "c", protocol: "test", remote: "x", username: "eve" }, sink);
  if (!("publish" in s)) throw new Error("no session");
  assert.equal(await s.publish({ destination: "public.a" }), undefined);
  assert.deepEqual(await s.publish({ destination: "secret.a" }), {
    code: "not_authorized",
    reason: "secret",
  });
  assert.deepEqual(calls, ["secret.a"]);
  await b.stop();
});

Deno.test("deliver fold runs bands in reverse and may drop per consumer", async () => {
  const b = await broker();
  const order: string[] = [];
  b.hooks.on("seal", "deliver", ({ message }) => {
    order.push("seal");
    return message;
  }, { priority: Priority.SEAL });
  b.hooks.on("validate", "deliver", ({ message }) => {
    order.push("validate");
    return text({ message } as Delivery) === "drop" ? DROP : message;
  }, { priority: Priority.VALIDATE });
  const got = new Collector<string>();
  await b.subscribe({ kind: "queue", destination: "q" }, (d, s) => {
    got.push(text(d));
    s.ack([d.tag]);
  });
  await b.publish({ kind: "queue", destination: "q", body: "drop" });
  await b.publish({ kind: "queue", destination: "q", body: "keep" });
  assert.deepEqual(await got.atLeast(1), ["keep"]);
  assert.deepEqual(order.slice(0, 2), ["seal", "validate"]);
  assert.equal(b.queue("q")!.pending + b.queue("q")!.inflight, 0);
  await b.stop();
});

Deno.test("an observer that throws does not disturb dispatch", async () => {
  const b = await broker();
  b.hooks.on("bad", "acked", () => {
    throw new Error("observer");
  });
  const got = new Collector<string>();
  await b.subscribe({ kind: "queue", destination: "q", ack: "auto" }, (d) => got.push(text(d)));
  await b.publish({ kind: "queue", destination: "q", body: "1" });
  await b.publish({ kind: "queue", destination: "q", body: "2" });
  assert.deepEqual(await got.atLeast(2), ["1", "2"]);
  await b.stop();
});

Deno.test("releasing a plugin's hooks recompiles the chains", async () => {
  const b = await broker();
  b.hooks.on("p", "publish", () => DROP);
  b.hooks.release("p");
  await b.publish({ kind: "queue", destination: "q" });
  assert.equal(b.queue("q")!.pending, 1);
  assert.deepEqual(b.hooks.table(), []);
  await b.stop();
});

Deno.test("a subscribe whose authorize answer comes after the session closed leaves no consumer behind", async () => {
  const b = await broker();
  let answer!: (v: true) => void;
  b.hooks.on("slow", "authorize", () => new Promise<true>((r) => answer = r));
  const s = await b.openSession({ clientId: "c", protocol: "test", remote: "x" }, sink);
  assert.ok(!("code" in s));
  const pending = s.subscribe({ kind: "topic", destination: "t", ack: "client" });
  await s.close("gone");
  answer(true);
  assert.equal((await pending as { code: string }).code, "closed");
  assert.deepEqual(b.consumers(), []);
  await b.stop();
});
