import assert from "node:assert/strict";
import type { DelayService } from "../../../plugins/delay/mod.ts";
import { startBroker } from "../../helpers/broker.ts";
import { deferred, within } from "../../helpers/wait.ts";

// The issue asks for a million. `deno task test` runs this file on its own, after the others, so its
// CPU load does not disturb their timing; the lead time lets every message be scheduled before the first is due.
const N = 1_000_000;
const LEAD_MS = 20_000;

Deno.test(`${N.toLocaleString("en")} scheduled messages share one timer, stay small and fire in due order`, async () => {
  const tb = await startBroker({ plugins: [{ use: "delay" }] });
  try {
    const svc: DelayService = tb.broker.host.service("delay")!;
    let received = 0, lastDue = 0, outOfOrder = 0, early = 0;
    const done = deferred();
    await tb.broker.subscribe(
      { kind: "queue", destination: "many", ack: "auto", prefetch: Infinity },
      (d) => {
        const due = d.message.deliverAt;
        if (due < lastDue) outOfOrder++;
        if (Date.now() < due) early++;
        lastDue = due;
        if (++received === N) done.resolve();
      },
    );
    const body = new Uint8Array(16);
    const heapBefore = Deno.memoryUsage().heapUsed;
    const start = Date.now() + LEAD_MS;
    // Due times spread over 1.5 s, published out of order (a fixed permutation).
    const batch: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      const j = (i * 7919) % N;
      batch.push(
        tb.broker.publish({
          kind: "queue",
          destination: "many",
          body,
          deliverAt: start + Math.floor(j * 1500 / N),
        }),
      );
      if (batch.length === 1000) await Promise.all(batch.splice(0));
    }
    await Promise.all(batch);
    const perMessage = (Deno.memoryUsage().heapUsed - heapBefore) / N;
    assert.ok(Date.now() < start, "scheduling finished before the first was due (slow machine?)");
    assert.equal(svc.size, N);
    assert.ok(perMessage < 1024, `heap grew ${perMessage.toFixed(0)} bytes per scheduled message`);
    await within(done.promise, LEAD_MS + 30_000, `${N} deliveries (have ${received})`);
    assert.equal(outOfOrder, 0, "deliveries in due order");
    assert.equal(early, 0, "none delivered before its time");
    assert.equal(svc.size, 0);
  } finally {
    await tb.stop();
  }
});
