/**
 * GET /bridges: every bridge instance's status, with a real peer broker (amqp plugin) for one bridge and a
 * closed port for another.
 */
import assert from "node:assert/strict";
import type { BridgeStatus } from "../../../plugins/bridge/mod.ts";
import { amqp, bridge, freePort } from "../../helpers/bridge.ts";
import { startBroker } from "../../helpers/broker.ts";
import { waitFor } from "../../helpers/wait.ts";
import { expectProblem, login, startAdmin } from "./helpers.ts";

Deno.test("admin: /bridges shows each bridge: connected with its forwarded count, or down with its last error", async () => {
  const peer = await startBroker({ nodeId: "peer", plugins: [amqp()] });
  const down = freePort();
  const { tb, base } = await startAdmin({
    extra: [
      bridge(peer.ports["amqp:tcp"], { forward: [{ from: "queue://orders" }] }, "east"),
      bridge(down, { forward: [{ from: "topic://t.>" }] }, "down"),
    ],
  });
  try {
    const c = await login(base);
    const get = (id: string) =>
      c.json<BridgeStatus[]>("GET", "/bridges").then((all) => all.find((b) => b.id === id)!);
    await waitFor(async () => (await get("east")).connected, "the bridge to the peer to connect");
    await tb.broker.publish({ kind: "queue", destination: "orders", body: "order 1" });
    const east = await waitFor(async () => {
      const b = await get("east");
      return b.forwarded === 1 && b.pending === 0 ? b : undefined;
    }, "the peer to accept the message");
    assert.equal(east.peer, `127.0.0.1:${peer.ports["amqp:tcp"]}`);
    assert.equal(east.peerNodeId, "peer");
    assert.equal(east.failures, 0);
    assert.deepEqual(east.links, [{
      from: "queue://orders",
      queue: "orders",
      forwarded: 1,
      rejected: 0,
      redelivered: 0,
      pending: 0,
    }]);
    assert.equal(peer.broker.destinations().find((d) => d.name === "orders")?.pending, 1);

    const gone = await waitFor(async () => {
      const b = await get("down");
      return b.lastError !== undefined ? b : undefined;
    }, "the closed port's bridge to fail");
    assert.equal(gone.connected, false);
    assert.equal(gone.peer, `127.0.0.1:${down}`);
    assert.ok(gone.failures >= 1);
    assert.equal(typeof gone.lastErrorAt, "number");
    assert.equal(gone.forwarded, 0);
    assert.deepEqual((await c.json<BridgeStatus[]>("GET", "/bridges")).map((b) => b.id), ["down", "east"]);
  } finally {
    await tb.stop();
    await peer.stop();
  }
});

Deno.test("admin: /bridges is an empty list without bridges, and needs a session", async () => {
  const { tb, base } = await startAdmin();
  try {
    await expectProblem(fetch(`${base}/bridges`), 401, "unauthenticated");
    const c = await login(base);
    assert.deepEqual(await c.json("GET", "/bridges"), []);
    const doc = await (await fetch(`${base}/openapi.json`)).json();
    assert.ok(doc.components.schemas.Bridge, "the Bridge schema is in the OpenAPI document");
    assert.ok(doc.paths["/api/v1/admin/bridges"].get);
  } finally {
    await tb.stop();
  }
});
