import assert from "node:assert/strict";
import { startBroker } from "../../helpers/broker.ts";
import { Collector, waitFor } from "../../helpers/wait.ts";
import { type Frame, http, openSocket } from "./helpers.ts";

Deno.test("http ws: a malformed frame is answered with an error frame; the connection and others live on", async () => {
  const tb = await startBroker({ plugins: [http] });
  try {
    const bad = await openSocket(tb);
    const other = await openSocket(tb);
    other.send({ op: "subscribe", id: "s", kind: "queue", destination: "wsbad" });
    await waitFor(() => other.frames.items.find((f) => f.op === "subscribed"), "subscribed");
    const cases: [unknown, string][] = [
      [{
        op: "publish",
        id: "p1",
        kind: "queue",
        destination: "wsbad",
        message: { body: "%%%", bodyEncoding: "base64" },
      }, "invalid_message"],
      [
        { op: "publish", id: "p2", kind: "queue", destination: "wsbad", message: { priority: "high" } },
        "invalid_message",
      ],
      [{ op: "publish", id: "p3", kind: "queue" }, "invalid_argument"],
      [{ op: "subscribe", id: "s1", kind: "stream", destination: "x" }, "invalid_argument"],
      [{ op: "ack", ids: "m1" }, "invalid_argument"],
      [{ op: "teleport", id: "t" }, "invalid_argument"],
      [null, "invalid_argument"],
      [42, "invalid_argument"],
      ["{not json", "invalid_json"],
    ];
    for (const [i, [frame, code]] of cases.entries()) {
      bad.send(frame);
      const err = await waitFor(
        () => bad.frames.items.filter((f) => f.op === "error")[i],
        `error frame ${i}`,
      );
      assert.equal(err.type, `https://ferrymq.dev/problems/${code}`, JSON.stringify(frame));
      assert.equal(err.status, 400);
      assert.equal(typeof err.detail, "string");
      const id = (frame as Frame | null)?.id;
      if (typeof id === "string") assert.equal(err.id, id);
    }
    // Nothing was published, and both connections still work.
    assert.equal(tb.broker.queue("wsbad")?.pending ?? 0, 0);
    assert.equal(bad.ws.readyState, WebSocket.OPEN);
    bad.send({
      op: "publish",
      id: "ok",
      kind: "queue",
      destination: "wsbad",
      message: { body: "aGk=", bodyEncoding: "base64" },
    });
    await waitFor(() => bad.frames.items.find((f) => f.op === "published" && f.id === "ok"), "published");
    const msg = await waitFor(() => other.frames.items.find((f) => f.op === "message"), "message") as {
      message: { body: string };
    };
    assert.equal(msg.message.body, "hi");
    await bad.close();
    await other.close();
  } finally {
    await tb.stop();
  }
});

Deno.test("http ws: a queue that holds messages delivers them after subscribed, with the subscription id", async () => {
  const tb = await startBroker({ plugins: [http] });
  try {
    for (const b of ["h1", "h2"]) await tb.broker.publish({ kind: "queue", destination: "held", body: b });
    const s = await openSocket(tb);
    s.send({ op: "subscribe", id: "s", kind: "queue", destination: "held" });
    await waitFor(() => s.frames.items.filter((f) => f.op === "message").length === 2, "both messages");
    const frames = s.frames.items.filter((f) => f.op !== "ping");
    assert.deepEqual(frames.map((f) => f.op), ["subscribed", "message", "message"]);
    assert.deepEqual(frames.slice(1).map((f) => [f.subscription, (f.message as { body: string }).body]), [
      ["s", "h1"],
      ["s", "h2"],
    ]);
    await s.close();
  } finally {
    await tb.stop();
  }
});

Deno.test("http ws: a subscribe under an id in use is refused; the first subscription stays the only one", async () => {
  const tb = await startBroker({ plugins: [http] });
  try {
    const s = await openSocket(tb);
    s.send({ op: "subscribe", id: "s", kind: "topic", destination: "a" });
    s.send({ op: "subscribe", id: "s", kind: "topic", destination: "b" });
    const error = await waitFor(() => s.frames.items.find((f) => f.op === "error"), "the error frame");
    assert.equal(error.status, 409);
    assert.deepEqual(tb.broker.consumers().map((c) => c.destination), ["a"]);
    s.send({ op: "unsubscribe", id: "s" });
    await waitFor(() => tb.broker.consumers().length === 0, "no subscription left");
    await s.close();
  } finally {
    await tb.stop();
  }
});

Deno.test("http ws: frames sent at once, while the login is still being checked, are not lost", async () => {
  const tb = await startBroker({ plugins: [http] });
  // A slow authenticate gate: the socket is open well before its session is.
  tb.broker.hooks.on("test", "authenticate", async () => {
    await new Promise((r) => setTimeout(r, 200));
    return { id: "slow" };
  });
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${tb.ports.http}/api/v1/ws`);
    const frames = new Collector<Record<string, unknown>>();
    ws.onmessage = (e) => frames.push(JSON.parse(e.data));
    ws.onopen = () =>
      ws.send(JSON.stringify({ op: "subscribe", id: "s", kind: "topic", destination: "early" }));
    const subscribed = await waitFor(() => frames.items.find((f) => f.op === "subscribed"), "subscribed");
    assert.equal(subscribed.id, "s");
    const closed = new Promise((r) => ws.onclose = r);
    ws.close();
    await closed;
  } finally {
    await tb.stop();
  }
});
