import assert from "node:assert/strict";
import type { DelayService } from "../../../plugins/delay/mod.ts";
import { startBroker } from "../../helpers/broker.ts";
import { waitFor } from "../../helpers/wait.ts";
import { base, http } from "./helpers.ts";

Deno.test("http: X-Deliver-At and ?deliverAt= take ms since the epoch or an ISO 8601 time", async () => {
  const tb = await startBroker({ plugins: [{ use: "delay" }, http] });
  try {
    const at = Date.now() + 60_000;
    const send = (query: string, headers: Record<string, string> = {}) =>
      fetch(`${base(tb)}/queues/later/messages${query}`, { method: "POST", body: "x", headers });
    const accepted = [
      await send("", { "x-deliver-at": new Date(at).toISOString() }),
      await send(`?deliverAt=${encodeURIComponent(new Date(at + 1).toISOString())}`),
      await send(`?deliverAt=${at + 2}`),
    ];
    for (const res of accepted) {
      assert.equal(res.status, 201);
      await res.body?.cancel();
    }
    const delay: DelayService = tb.broker.host.service("delay")!;
    assert.deepEqual(delay.list().items.map((i) => i.deliverAt), [at, at + 1, at + 2]);
    assert.equal(tb.broker.queue("later")?.pending ?? 0, 0);
    // A time already past is delivered at once.
    const past = await send("", { "x-deliver-at": "2001-02-03T04:05:06Z" });
    assert.equal(past.status, 201);
    await past.body?.cancel();
    await waitFor(() => tb.broker.queue("later")?.pending === 1, "the past-due message");
    for (const bad of ["tomorrow", "-5", "1.5"]) {
      const res = await send("", { "x-deliver-at": bad });
      assert.equal(res.status, 400, bad);
      assert.match((await res.json()).detail, /deliverAt/);
    }
  } finally {
    await tb.stop();
  }
});

Deno.test("http: the JSON envelope's deliverAt takes ms since the epoch or an ISO 8601 time too", async () => {
  const tb = await startBroker({ plugins: [{ use: "delay" }, http] });
  try {
    const at = Date.now() + 60_000;
    const post = (deliverAt: unknown) =>
      fetch(`${base(tb)}/queues/later/messages`, {
        method: "POST",
        headers: { "content-type": "application/vnd.ferrymq.message+json" },
        body: JSON.stringify({ body: "x", deliverAt }),
      });
    for (const ok of [new Date(at).toISOString(), at + 1]) {
      const res = await post(ok);
      assert.equal(res.status, 201, String(ok));
      await res.body?.cancel();
    }
    const delay: DelayService = tb.broker.host.service("delay")!;
    assert.deepEqual(delay.list().items.map((i) => i.deliverAt), [at, at + 1]);
    for (const bad of ["tomorrow", "-5", -1]) {
      const res = await post(bad);
      assert.equal(res.status, 400, String(bad));
      await res.body?.cancel();
    }
  } finally {
    await tb.stop();
  }
});
