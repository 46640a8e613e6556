/**
 * POST and DELETE /bridges: a bridge added at runtime to a real peer forwards, comes back after a restart
 * (sqlite-store), and goes when deleted; refusals name the option or the reason; the password is never
 * shown or audited.
 */
import assert from "node:assert/strict";
import type { AdminEvent, PluginEntry } from "../../../mod.ts";
import type { BridgeView } from "../../../plugins/admin/api/bridges.ts";
import { amqp, bridge, freePort } from "../../helpers/bridge.ts";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { waitFor } from "../../helpers/wait.ts";
import { expectProblem, login, PASSWORD, USER } from "./helpers.ts";

const SECRET = "peer-secret-123";

/** http + admin on a sqlite store in `dataDir` (so runtime bridges are kept), plus `extra`. */
async function local(dataDir: string | undefined, extra: PluginEntry[] = []) {
  const tb = await startBroker({
    dataDir,
    plugins: [
      { use: "sqlite-store" },
      { use: "http", options: { port: 0, hostname: "127.0.0.1" } },
      ...extra,
      { use: "admin", options: { admin: { username: USER, password: PASSWORD }, console: false } },
    ],
  });
  const actions: AdminEvent[] = [];
  tb.broker.hooks.on(
    "admin-test",
    "adminAction",
    (e) => void (e.action.startsWith("bridge.") && actions.push(e)),
  );
  const c = await login(`http://127.0.0.1:${tb.ports.http}/api/v1/admin`);
  return { tb, c, actions };
}

const options = (port: number) => ({
  host: "127.0.0.1",
  port,
  username: "bridge",
  password: SECRET,
  reconnect: { initialMs: 10, maxMs: 100 },
  forward: [{ from: "queue://orders" }],
});

Deno.test("admin: a bridge added with POST /bridges forwards, survives a restart, and DELETE removes it", async () => {
  const peer = await startBroker({ nodeId: "peer", plugins: [amqp()] });
  const port = peer.ports["amqp:tcp"];
  let tb: TestBroker | undefined;
  try {
    let l = await local(undefined);
    tb = l.tb;
    const res = await l.c.call("POST", "/bridges", { id: "east", options: options(port) });
    const text = await res.text();
    assert.equal(res.status, 201, text);
    assert.ok(!text.includes(SECRET), "the response carries no password");
    const added = JSON.parse(text) as BridgeView;
    assert.equal(added.id, "east");
    assert.equal(added.runtime, true);
    assert.equal(added.peer, `127.0.0.1:${port}`);
    const east = () =>
      l.c.json<BridgeView[]>("GET", "/bridges").then((all) => all.find((b) => b.id === "east"));
    await waitFor(async () => (await east())?.connected, "the added bridge to connect");
    await l.tb.broker.publish({ kind: "queue", destination: "orders", body: "order 1" });
    await waitFor(async () => (await east())?.forwarded === 1, "the message to be forwarded");
    assert.equal(peer.broker.destinations().find((d) => d.name === "orders")?.pending, 1);
    assert.equal(l.actions.length, 1);
    assert.equal(l.actions[0].action, "bridge.create");
    assert.equal(l.actions[0].object, "bridge:east");
    assert.ok(!JSON.stringify(l.actions[0]).includes(SECRET), "the audit record carries no password");
    assert.equal((l.actions[0].after as { options: { password: string } }).options.password, "***");

    await l.tb.stop({ keepData: true });
    l = await local(l.tb.dataDir);
    tb = l.tb;
    assert.equal((await east())?.runtime, true, "the bridge is back after the restart");
    await waitFor(async () => (await east())?.connected, "the restored bridge to connect");
    await l.tb.broker.publish({ kind: "queue", destination: "orders", body: "order 2" });
    await waitFor(async () => (await east())?.forwarded === 1, "the restored bridge to forward");
    assert.equal(peer.broker.destinations().find((d) => d.name === "orders")?.pending, 2);

    const del = await l.c.call("DELETE", "/bridges/east");
    assert.equal(del.status, 204);
    assert.deepEqual(await l.c.json("GET", "/bridges"), []);
    assert.equal(l.actions.at(-1)?.action, "bridge.delete");
    assert.ok(!JSON.stringify(l.actions.at(-1)).includes(SECRET));
    await expectProblem(l.c.call("DELETE", "/bridges/east"), 404, "not_found");

    await l.tb.stop({ keepData: true });
    l = await local(l.tb.dataDir);
    tb = l.tb;
    assert.deepEqual(await l.c.json("GET", "/bridges"), [], "a deleted bridge stays deleted after a restart");
  } finally {
    await tb?.stop();
    await peer.stop();
  }
});

Deno.test("admin: POST /bridges refuses bad options by name, a taken id, and a missing CSRF token; broker.json bridges are not deletable", async () => {
  const { tb, c, actions } = await local(undefined, [
    bridge(freePort(), { forward: [{ from: "queue://a" }] }, "fixed"),
  ]);
  try {
    const bad = await expectProblem(
      c.call("POST", "/bridges", { id: "west", options: { ...options(70000), forward: [] } }),
      400,
      "invalid_argument",
    );
    assert.match(String(bad.detail), /option "port" must be <= 65535/);
    assert.match(String(bad.detail), /option "forward" must NOT have fewer than 1 items/);
    const noHost = await expectProblem(
      c.call("POST", "/bridges", { id: "west", options: { forward: [{ from: "queue://a" }] } }),
      400,
      "invalid_argument",
    );
    assert.match(String(noHost.detail), /required property 'host'/);
    const badId = await expectProblem(
      c.call("POST", "/bridges", { id: "West!", options: options(1) }),
      400,
      "invalid_argument",
    );
    assert.match(String(badId.detail), /"West!": its id must be lowercase/);
    await expectProblem(c.call("POST", "/bridges", { id: "fixed", options: options(1) }), 409, "conflict");
    await expectProblem(
      c.call("POST", "/bridges", { id: "west", options: options(1) }, { "x-csrf-token": "wrong" }),
      403,
      "csrf",
    );
    const fixed = await expectProblem(c.call("DELETE", "/bridges/fixed"), 409, "conflict");
    assert.match(String(fixed.detail), /comes from broker\.json/);
    await expectProblem(c.call("DELETE", "/bridges/admin"), 404, "not_found");
    await expectProblem(c.call("DELETE", "/bridges/nope"), 404, "not_found");
    const all = await c.json<BridgeView[]>("GET", "/bridges");
    assert.deepEqual(all.map((b) => [b.id, b.runtime]), [["fixed", false]]);
    assert.deepEqual(actions, [], "refusals are not audited");
    const doc = await (await fetch(`http://127.0.0.1:${tb.ports.http}/api/v1/admin/openapi.json`)).json();
    assert.ok(doc.components.schemas.NewBridge);
    assert.ok(doc.paths["/api/v1/admin/bridges"].post);
    assert.ok(doc.paths["/api/v1/admin/bridges/{id}"].delete);
  } finally {
    await tb.stop();
  }
});
