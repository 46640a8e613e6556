import assert from "node:assert/strict";
import type { Message } from "../../../mod.ts";
import { backoffDelay, DEFAULT_POLICY, PolicyTable } from "../../../plugins/dlq/policy.ts";

const msg = (destination: string) => ({ destination }) as Message;

Deno.test("PolicyTable: first matching pattern wins, fields fall back to the default", () => {
  const t = new PolicyTable({
    default: { ...DEFAULT_POLICY, maxRedeliveries: 3 },
    policies: [
      { pattern: "orders.>", strategy: "shared", sharedQueue: "DLQ.orders" },
      { pattern: "orders.eu", maxRedeliveries: 9 },
      { pattern: "logs.>", expired: "discard" },
    ],
    temporary: "discard",
  });
  const a = t.for("orders.eu", msg("orders.eu"));
  assert.equal(a.strategy, "shared");
  assert.equal(a.maxRedeliveries, 3);
  assert.equal(t.for("logs.app", msg("logs.app")).expired, "discard");
  assert.equal(t.for("other", msg("other")).strategy, "individual");
  // A subscription queue matches by its topic too.
  assert.equal(t.for("sub-1", msg("logs.app")).expired, "discard");
  assert.ok(t.isDlq("DLQ.orders"));
  assert.ok(t.isDlq("DLQ.anything"));
  assert.ok(!t.isDlq("orders"));
});

Deno.test("backoffDelay grows by the multiplier up to the maximum; 0 initial means no delay", () => {
  const b = { initialDelayMs: 100, multiplier: 2, maxDelayMs: 1000 };
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(b, n)), [100, 200, 400, 800, 1000, 1000]);
  assert.equal(backoffDelay({ initialDelayMs: 0, multiplier: 2, maxDelayMs: 10 }, 5), 0);
  assert.equal(backoffDelay({ initialDelayMs: 10, multiplier: 10, maxDelayMs: 500 }, 2000), 500);
});
