/**
 * The bridge against a hard peer: one that gives no credit, settles late, releases everything, drops the
 * connection mid-stream; this broker stopping with messages in flight; large messages; bad options.
 */
import assert from "node:assert/strict";
import type {} from "../../../plugins/auth/mod.ts";
import { startBroker } from "../../helpers/broker.ts";
import { waitFor } from "../../helpers/wait.ts";
import { fakePeer } from "./fake_peer.ts";
import { amqp, bridge, collect, pending, status, text } from "./helpers.ts";

Deno.test("bridge faults: a peer that gives no credit: at most `credit` messages leave the local queue", async () => {
  const peer = await fakePeer({ initialCredit: 1 });
  const local = await startBroker({
    nodeId: "local",
    plugins: [bridge(peer.port, { credit: 5, forward: [{ from: "queue://q" }] })],
  });
  try {
    await waitFor(() => status(local).connected, "the bridge to connect");
    for (let i = 0; i < 50; i++) {
      await local.broker.publish({ kind: "queue", destination: "q", body: `m${i}` });
    }
    await waitFor(() => peer.got.length === 1, "the one message the credit allows");
    await waitFor(() => pending(local, "q") === 45, "the rest in the local queue");
    assert.equal(status(local).pending, 50, "pending counts the queue and what the bridge holds, once");
    assert.equal(status(local).links[0].pending, 50);
    peer.answer((g) => g.delivery.accept());
    peer.credit(100);
    await waitFor(() => status(local).forwarded === 50, "all accepted once credit comes");
    assert.equal(peer.got.length, 50);
    assert.equal(status(local).pending, 0);
  } finally {
    await local.stop();
    await peer.close();
  }
});

Deno.test("bridge faults: a peer that releases everything is not sent the same message in a tight loop", async () => {
  const peer = await fakePeer({ initialCredit: 100, settle: (g) => g.delivery.release() });
  const local = await startBroker({
    nodeId: "local",
    plugins: [
      bridge(peer.port, { forward: [{ from: "queue://q" }], reconnect: { initialMs: 20, maxMs: 80 } }),
    ],
  });
  try {
    await waitFor(() => status(local).connected, "the bridge to connect");
    await local.broker.publish({ kind: "queue", destination: "q", body: "refused" });
    await waitFor(() => peer.got.length >= 5, "five attempts");
    // Paused 20, 40, 80 and 80 ms after the releases (the reconnect backoff): not a tight loop.
    const took = peer.got[4].at - peer.got[0].at;
    assert.ok(took >= 200, `five attempts took ${took} ms`);
    const s = status(local);
    assert.ok(s.redelivered >= 4, "each release counted");
    assert.equal(s.links[0].lastRefusal, "released");
    assert.equal(s.pending, 1);
    assert.equal(s.failures, 0, "a release is no connection failure");
    peer.answer((g) => g.delivery.accept());
    await waitFor(() => status(local).forwarded === 1, "forwarded once the peer takes it");
    assert.equal(status(local).pending, 0);
  } finally {
    await local.stop();
    await peer.close();
  }
});

Deno.test("bridge faults: a message that expires while the bridge holds it is not forwarded; the TTL left is carried", async () => {
  const peer = await fakePeer({ initialCredit: 0 });
  const local = await startBroker({
    nodeId: "local",
    plugins: [bridge(peer.port, { forward: [{ from: "queue://q" }] })],
  });
  try {
    await waitFor(() => status(local).connected && peer.links.length === 1, "the bridge to connect");
    const short = Date.now() + 100;
    await local.broker.publish({ kind: "queue", destination: "q", body: "short", ttl: 100 });
    const t0 = Date.now();
    await local.broker.publish({ kind: "queue", destination: "q", body: "long", ttl: 60_000 });
    await waitFor(() => pending(local, "q") === 0, "both held by the bridge");
    await waitFor(() => Date.now() > short + 200, "the short one to expire");
    const granted = Date.now();
    peer.credit(10);
    await waitFor(() => peer.got.length >= 1, "the long one");
    await local.broker.publish({ kind: "queue", destination: "q", body: "marker" });
    await waitFor(() => peer.got.length >= 2, "the marker");
    assert.deepEqual(peer.got.map((g) => text(g.message.body)), ["long", "marker"]);
    const ttl = peer.got[0].message.ttl as number;
    assert.ok(ttl <= 60_000 - (granted - t0) && ttl > 50_000, `the TTL left at sending, got ${ttl}`);
    await waitFor(
      () => status(local).pending === 2 && pending(local, "q") === 0,
      "the short one expired here",
    );
  } finally {
    await local.stop();
    await peer.close();
  }
});

Deno.test("bridge faults: the peer stops mid-stream and a new one starts on its port: nothing lost, counts consistent", async () => {
  let peer = await startBroker({ nodeId: "peer", plugins: [amqp()] });
  const port = peer.ports["amqp:tcp"];
  const local = await startBroker({
    nodeId: "local",
    plugins: [bridge(port, { credit: 20, forward: [{ from: "queue://q" }] })],
  });
  const first = await collect(peer, "queue", "q");
  try {
    await waitFor(() => status(local).connected, "the bridge to connect");
    const n = 300;
    for (let i = 0; i < n; i++) {
      await local.broker.publish({ kind: "queue", destination: "q", body: `m${i}`, persistent: true });
    }
    await waitFor(() => first.items.length >= 20, "some forwarded");
    await peer.stop();
    const before = new Set(first.items.map((d) => text(d.message.body)));
    peer = await startBroker({ nodeId: "peer", plugins: [amqp(port)] });
    const second = await collect(peer, "queue", "q");
    await waitFor(() => status(local).pending === 0, "everything forwarded", 10_000);
    const all = new Set([...before, ...second.items.map((d) => text(d.message.body))]);
    assert.equal(all.size, n, "no message lost");
    assert.equal(status(local).forwarded, n, "each local message counted once");
    assert.equal(pending(local, "q"), 0);
    assert.ok(status(local).failures >= 1);
  } finally {
    await local.stop();
    await peer.stop();
  }
});

Deno.test("bridge faults: this broker stops with messages in flight: persistent ones come back and go after a restart", async () => {
  const slow = await fakePeer({ initialCredit: 100 });
  const plugins = [{ use: "sqlite-store" }, bridge(slow.port, { forward: [{ from: "queue://q" }] })];
  let local = await startBroker({ nodeId: "local", plugins });
  try {
    await waitFor(() => status(local).connected, "the bridge to connect");
    for (let i = 0; i < 10; i++) {
      await local.broker.publish({ kind: "queue", destination: "q", body: `m${i}`, persistent: true });
    }
    await waitFor(() => slow.got.length === 10, "all sent, none answered");
    slow.got[0].delivery.accept();
    await waitFor(() => status(local).forwarded === 1, "one accepted");
    await local.stop({ keepData: true });
    await slow.close();
    const peer = await startBroker({ nodeId: "peer", plugins: [amqp()] });
    local = await startBroker({
      nodeId: "local",
      dataDir: local.dataDir,
      plugins: [
        { use: "sqlite-store" },
        bridge(peer.ports["amqp:tcp"], { forward: [{ from: "queue://q" }] }),
      ],
    });
    try {
      await waitFor(() => status(local).forwarded === 9, "the nine unanswered sent again");
      assert.deepEqual(
        peer.broker.browse("q").map((m) => text(m.body)).sort(),
        [1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => `m${i}`),
      );
    } finally {
      await local.stop();
      await peer.stop();
    }
  } finally {
    await slow.close().catch(() => {});
  }
});

Deno.test("bridge faults: a message larger than the peer's max-frame-size goes in several frames", async () => {
  const peer = await startBroker({ nodeId: "peer", plugins: [amqp(0, { maxFrameSize: 512 })] });
  const local = await startBroker({
    nodeId: "local",
    plugins: [bridge(peer.ports["amqp:tcp"], { forward: [{ from: "queue://big" }] })],
  });
  try {
    await waitFor(() => status(local).connected, "the bridge to connect");
    const body = "x".repeat(100_000);
    await local.broker.publish({ kind: "queue", destination: "big", body });
    await waitFor(() => status(local).forwarded === 1, "the large message");
    assert.equal(text(peer.broker.browse("big")[0].body), body);
    assert.equal(status(local).failures, 0);
  } finally {
    await local.stop();
    await peer.stop();
  }
});

Deno.test("bridge faults: a rule whose address the peer refuses keeps its messages and does not stop the others; status says which", async () => {
  const peer = await startBroker({ nodeId: "peer", plugins: [amqp()] });
  const local = await startBroker({
    nodeId: "local",
    plugins: [
      { use: "dlq" },
      bridge(peer.ports["amqp:tcp"], {
        forward: [{ from: "queue://bad", to: "queue://$sys.nope" }, { from: "queue://good" }],
      }),
    ],
  });
  try {
    await waitFor(() => status(local).connected, "the bridge to connect");
    await local.broker.publish({ kind: "queue", destination: "bad", body: "refused" });
    await local.broker.publish({ kind: "queue", destination: "good", body: "goes" });
    await waitFor(
      () => status(local).forwarded === 1 && status(local).links[0].lastRefusal !== undefined,
      "both answered",
    );
    assert.equal(pending(peer, "good"), 1);
    const [bad, good] = status(local).links;
    assert.match(bad.lastRefusal ?? "", /^rejected: amqp:/);
    // The route is refused, not the message: it waits here for the configuration to change, not in a DLQ.
    assert.equal(bad.rejected, 0);
    assert.equal(bad.pending, 1);
    assert.equal(pending(local, "DLQ.bad"), 0);
    assert.equal(good.lastRefusal, undefined);
  } finally {
    await local.stop();
    await peer.stop();
  }
});

for (
  const [what, options, field] of [
    ["a from that is not queue:// or topic://", { forward: [{ from: "orders" }] }, /forward.*from/],
    ["port 0", { port: 0, forward: [{ from: "queue://a" }] }, /port/],
    ["an empty forward list", { forward: [] }, /forward/],
    [
      "a wildcard in a queue name",
      { forward: [{ from: "queue://a" }, { from: "queue://orders.*" }] },
      /"forward\.1\.from".*wildcard/,
    ],
    ["a bad topic pattern", { forward: [{ from: "topic://a.>.b" }] }, /"forward\.0\.from".*last level/],
    ["a to that is not an address", { forward: [{ from: "queue://a", to: "" }] }, /forward.*to/],
  ] as const
) {
  Deno.test(`bridge faults: ${what} is a startup error naming the field`, async () => {
    await assert.rejects(
      startBroker({ nodeId: "local", plugins: [bridge(5672, options)] }),
      (e: Error) => {
        assert.match(e.message, field);
        return true;
      },
    );
  });
}

Deno.test("bridge faults: an ACL denial at the peer is per rule: the messages wait here until the peer allows them; the other rule goes on", async () => {
  const peer = await startBroker({
    nodeId: "peer",
    plugins: [
      {
        use: "auth",
        options: {
          users: [{ username: "bridge", password: "pw", groups: ["blocked"] }],
          acl: {
            default: "allow",
            rules: [{ allow: false, pattern: "secret", actions: ["publish"], groups: ["blocked"] }],
          },
        },
      },
      amqp(),
    ],
  });
  const local = await startBroker({
    nodeId: "local",
    plugins: [
      { use: "dlq" },
      bridge(peer.ports["amqp:tcp"], {
        username: "bridge",
        password: "pw",
        forward: [{ from: "queue://secret" }, { from: "queue://open" }],
      }),
    ],
  });
  try {
    await waitFor(() => status(local).connected, "the bridge to connect");
    await local.broker.publish({ kind: "queue", destination: "secret", body: "denied" });
    await local.broker.publish({ kind: "queue", destination: "open", body: "goes" });
    await waitFor(() => status(local).links[0].lastRefusal !== undefined, "the denial");
    await waitFor(() => status(local).links[1].forwarded === 1, "the other rule");
    assert.match(status(local).links[0].lastRefusal ?? "", /unauthorized/);
    assert.equal(status(local).links[0].pending, 1);
    assert.equal(pending(local, "DLQ.secret"), 0);
    assert.equal(status(local).connected, true, "the connection stays up");
    // The peer's administrator lets the bridge in: the waiting message goes, once.
    await peer.broker.host.service("users")!.update("bridge", { groups: [] });
    await waitFor(() => status(local).links[0].forwarded === 1, "the message forwarded after the change");
    assert.equal(pending(peer, "secret"), 1);
    assert.equal(status(local).links[0].pending, 0);
  } finally {
    await local.stop();
    await peer.stop();
  }
});
