import assert from "node:assert/strict";
import { createBroker } from "../../mod.ts";
import { waitFor } from "../helpers/wait.ts";

Deno.test("message-counter, loaded by path from a manifest, logs counts per destination", async () => {
  const b = await createBroker(
    { plugins: [{ use: "./examples/message-counter", options: { everySeconds: 0.05 } }] },
    { printLogs: false, baseDir: Deno.cwd() },
  );
  await b.publish({ destination: "orders" });
  await b.publish({ destination: "orders" });
  await b.publish({ kind: "queue", destination: "jobs" });
  const rec = await waitFor(
    () => b.logs.recent().find((r) => r.logger === "message-counter" && r.msg === "messages per destination"),
    "the counter's log line",
  );
  assert.deepEqual(rec.fields, { orders: 2, jobs: 1 });
  await b.stop();
});
