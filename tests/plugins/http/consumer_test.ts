import assert from "node:assert/strict";
import { startBroker } from "../../helpers/broker.ts";
import { within } from "../../helpers/wait.ts";
import { base, http, json } from "./helpers.ts";

Deno.test("http: a long-poll longer than the consumer's lease keeps the consumer", async () => {
  const tb = await startBroker({ plugins: [http] });
  try {
    const { id } = await (await fetch(`${base(tb)}/queues/slow/consumers`, json({}))).json();
    // The lease is 300 ms; nothing arrives during a 1000 ms wait.
    const empty = await fetch(`${base(tb)}/queues/slow/consumers/${id}/messages?wait=1000`);
    assert.equal(empty.status, 200);
    assert.deepEqual(await empty.json(), []);
    await tb.broker.publish({ kind: "queue", destination: "slow", body: "late" });
    const later = await fetch(`${base(tb)}/queues/slow/consumers/${id}/messages?wait=1000`);
    assert.equal(later.status, 200);
    assert.deepEqual((await later.json()).map((m: { body: string }) => m.body), ["late"]);
    // The lease runs again once no fetch waits.
    await new Promise((r) => setTimeout(r, 600));
    const gone = await fetch(`${base(tb)}/queues/slow/consumers/${id}/messages`);
    assert.equal(gone.status, 404);
    await gone.body?.cancel();
  } finally {
    await tb.stop();
  }
});

Deno.test("http: consumer options are checked whatever the content type", async () => {
  const tb = await startBroker({ plugins: [http] });
  try {
    const bodies: [string | undefined, string, number, string?][] = [
      [undefined, '{"prefetch": -5}', 400, "invalid_argument"],
      ["text/plain", '{"prefetch": -5}', 400, "invalid_argument"],
      ["application/json", '{"prefetch": -5}', 400, "invalid_argument"],
      ["text/plain", '{"ackTimeoutMs": "soon"}', 400, "invalid_argument"],
      ["text/plain", "{nope", 400, "invalid_json"],
      ["text/plain", "[1]", 400, "invalid_argument"],
      ["text/plain", '{"prefetch": 5}', 201],
      [undefined, "", 201],
    ];
    for (const [type, body, status, code] of bodies) {
      const res = await fetch(`${base(tb)}/queues/opts/consumers`, {
        method: "POST",
        body,
        headers: type ? { "content-type": type } : {},
      });
      assert.equal(res.status, status, `${type} ${body}`);
      const out = await res.json();
      if (code) assert.equal(out.type, `https://ferrymq.dev/problems/${code}`, `${type} ${body}`);
    }
    assert.equal(tb.broker.consumers().length, 2);
  } finally {
    await tb.stop();
  }
});

Deno.test("http: ack and nack bodies are checked whatever the content type", async () => {
  const tb = await startBroker({ plugins: [http] });
  try {
    const { id } = await (await fetch(`${base(tb)}/queues/settle/consumers`, json({}))).json();
    await tb.broker.publish({ kind: "queue", destination: "settle", body: "s" });
    const [m] = await (await fetch(`${base(tb)}/queues/settle/consumers/${id}/messages?wait=1000`)).json();
    for (
      const [body, code] of [["", "invalid_argument"], ["{", "invalid_json"], [
        '{"ids": []}',
        "invalid_argument",
      ]]
    ) {
      const res = await fetch(`${base(tb)}/queues/settle/consumers/${id}/nack`, { method: "POST", body });
      assert.equal(res.status, 400, body);
      assert.equal((await res.json()).type, `https://ferrymq.dev/problems/${code}`);
    }
    const ack = await fetch(`${base(tb)}/queues/settle/consumers/${id}/ack`, {
      method: "POST",
      body: JSON.stringify({ ids: [m.id] }),
    });
    assert.deepEqual(await ack.json(), { settled: 1 });
  } finally {
    await tb.stop();
  }
});

Deno.test("http: two long-polls on one consumer are both woken by arrivals", async () => {
  const tb = await startBroker({ plugins: [http] });
  try {
    const { id } = await (await fetch(`${base(tb)}/queues/two/consumers`, json({}))).json();
    const poll = () =>
      fetch(`${base(tb)}/queues/two/consumers/${id}/messages?wait=20000&max=1`).then((r) => r.json());
    const polls = [poll(), poll()];
    // Whether the fetches wait already or come after: each gets its message, neither waits out its 20 s.
    for (const body of ["m1", "m2"]) await tb.broker.publish({ kind: "queue", destination: "two", body });
    const got = await within(Promise.all(polls), 5000, "both long-polls to return");
    assert.deepEqual(got.flat().map((m: { body: string }) => m.body).sort(), ["m1", "m2"]);
  } finally {
    await tb.stop();
  }
});
