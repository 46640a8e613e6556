import assert from "node:assert/strict";
import { startBroker } from "../../helpers/broker.ts";
import { base, http, json } from "./helpers.ts";

Deno.test("http: a body that is not base64 is a 400 invalid_message, alone or in a batch", async () => {
  const tb = await startBroker({ plugins: [http] });
  try {
    const requests: [string, RequestInit][] = [
      [`${base(tb)}/queues/b64/messages?envelope=true`, json({ body: "%%%", bodyEncoding: "base64" })],
      [
        `${base(tb)}/queues/b64/messages:batch`,
        json([{ body: "aGk=", bodyEncoding: "base64" }, {
          body: "a",
          bodyEncoding: "base64",
        }]),
      ],
    ];
    for (const [url, init] of requests) {
      const res = await fetch(url, init);
      assert.equal(res.status, 400, url);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      const p = await res.json();
      assert.equal(p.type, "https://ferrymq.dev/problems/invalid_message");
      assert.match(p.detail, /body: Invalid base64/);
    }
    assert.equal(tb.broker.queue("b64")?.pending ?? 0, 0);
    // Padding is optional and whitespace is ignored, as atob() did.
    const ok = await fetch(
      `${base(tb)}/queues/b64/messages?envelope=true`,
      json({ body: "aG\nk", bodyEncoding: "base64" }),
    );
    assert.equal(ok.status, 201);
    await ok.body?.cancel();
    assert.equal(new TextDecoder().decode(tb.broker.browse("b64")[0].body), "hi");
  } finally {
    await tb.stop();
  }
});
