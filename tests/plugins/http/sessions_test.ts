import assert from "node:assert/strict";
import { isReject } from "../../../mod.ts";
import { SessionCache } from "../../../plugins/http/sessions.ts";
import { startBroker } from "../../helpers/broker.ts";
import { http } from "./helpers.ts";

Deno.test("http sessions: a session opened for one address never serves another (anonymous from loopback only)", async () => {
  const tb = await startBroker({
    plugins: [{ use: "auth", options: { anonymous: "loopback", acl: { default: "allow", rules: [] } } }],
  });
  const cache = new SessionCache(tb.broker, { ttlMs: 60_000, max: 100 });
  const req = () => new Request("http://broker/api/v1/topics/t/messages", { method: "POST" });
  try {
    assert.equal(isReject(await cache.forRequest(req(), { remote: "127.0.0.1:40000" })), false);
    assert.equal(isReject(await cache.forRequest(req(), { remote: "127.0.0.1:40001" })), false);
    // The same (absent) credentials from a remote address: the gate is asked again, and refuses.
    const remote = await cache.forRequest(req(), { remote: "192.0.2.2:40002" });
    assert.equal(isReject(remote) && remote.code, "bad_credentials");
    const v6 = await cache.forRequest(req(), { remote: "[2001:db8::1]:40003" });
    assert.equal(isReject(v6), true);
  } finally {
    await cache.closeAll();
    await tb.stop();
  }
});

Deno.test("http: the listener counts the sessions open through it", async () => {
  const tb = await startBroker({ plugins: [http] });
  try {
    const listener = () => tb.broker.listeners().find((l) => l.name === "http")!;
    assert.equal(listener().connections(), 0);
    const res = await fetch(`http://127.0.0.1:${tb.ports.http}/api/v1/topics/t/messages`, {
      method: "POST",
      body: "x",
    });
    assert.equal(res.status, 201);
    await res.body?.cancel();
    assert.equal(listener().connections(), 1);
    assert.equal(tb.broker.connections().find((c) => c.protocol === "http")?.listener, "http");
  } finally {
    await tb.stop();
  }
});
