import assert from "node:assert/strict";
import { startBroker } from "../../helpers/broker.ts";
import { base, http } from "./helpers.ts";

Deno.test("http: every known path answers a wrong method with 405 and an Allow header", async () => {
  const tb = await startBroker({ plugins: [http] });
  try {
    const cases: [string, string, string][] = [
      ["GET", "/queues/x/messages", "POST"],
      ["DELETE", "/topics/x/messages:batch", "POST"],
      ["GET", "/queues/x/messages/batch", "POST"],
      ["PUT", "/queues/x/consumers", "POST"],
      ["POST", "/queues/x/consumers/c1/messages", "GET, HEAD"],
      ["GET", "/queues/x/consumers/c1/ack", "POST"],
      ["PUT", "/queues/x/consumers/c1/nack", "POST"],
      ["PATCH", "/queues/x/consumers/c1", "DELETE"],
      ["POST", "/receipts/r1", "GET, HEAD"],
      ["POST", "/topics/x/events", "GET, HEAD"],
      ["GET", "/queues/x/events/s1/ack", "POST"],
      ["DELETE", "/openapi.json", "GET, HEAD"],
      ["OPTIONS", "/queues/x/messages", "POST"],
    ];
    for (const [method, path, allow] of cases) {
      const res = await fetch(`${base(tb)}${path}`, { method });
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.get("allow"), allow, `${method} ${path}`);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      assert.equal((await res.json()).type, "https://ferrymq.dev/problems/method_not_allowed");
    }
    const unknown = await fetch(`${base(tb)}/queues/x/nothing`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers.get("allow"), null);
    await unknown.body?.cancel();
  } finally {
    await tb.stop();
  }
});
