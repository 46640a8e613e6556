import assert from "node:assert/strict";
import { startBroker } from "../../helpers/broker.ts";
import { waitFor } from "../../helpers/wait.ts";
import { base, http } from "./helpers.ts";

Deno.test("http: a failed async receipt carries the status a sync publish would have answered", async () => {
  const tb = await startBroker({ plugins: [http], limits: { autoCreate: false } });
  tb.broker.hooks.on(
    "test",
    "authorize",
    (e) => e.destination === "secret" ? { code: "not_authorized", reason: "no" } : true,
  );
  try {
    await tb.broker.createQueue("secret");
    for (
      const [queue, status, code] of [["missing", 404, "destination_not_found"], [
        "secret",
        403,
        "not_authorized",
      ]] as const
    ) {
      const url = `${base(tb)}/queues/${queue}/messages`;
      const sync = await fetch(url, { method: "POST", body: "x" });
      assert.equal(sync.status, status);
      const problem = await sync.json();
      const res = await fetch(`${url}?async=true`, { method: "POST", body: "x" });
      assert.equal(res.status, 202);
      const { id } = await res.json();
      const receipt = await waitFor(async () => {
        const r = await (await fetch(`${base(tb)}/receipts/${id}`)).json();
        return r.status === "pending" ? undefined : r;
      }, "the outcome");
      assert.equal(receipt.status, "failed");
      assert.deepEqual(receipt.error, problem);
      assert.equal(receipt.error.type, `https://ferrymq.dev/problems/${code}`);
    }
  } finally {
    await tb.stop();
  }
});
