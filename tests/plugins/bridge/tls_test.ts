/** The bridge over TLS: the peer's amqps listener, its certificate verified against a CA file. */
import assert from "node:assert/strict";
import type { BridgeStatus } from "../../../plugins/bridge/mod.ts";
import { startBroker, type TestBroker } from "../../helpers/broker.ts";
import { waitFor } from "../../helpers/wait.ts";
import { testPki, tlsOption } from "../tls/setup.ts";

const status = (tb: TestBroker): BridgeStatus => tb.broker.host.service("bridge:bridge")!.status();
const bridgeTo = (port: number, tls: Record<string, unknown>) => ({
  use: "bridge",
  options: {
    host: "127.0.0.1",
    port,
    tls,
    forward: [{ from: "queue://secure" }],
    reconnect: { initialMs: 10, maxMs: 100 },
  },
});

Deno.test("bridge over TLS: forwards to a peer whose certificate verifies; refuses one that does not", async () => {
  const pki = await testPki();
  const peer = await startBroker({
    nodeId: "peer",
    plugins: [{ use: "amqp", options: { port: 0, hostname: "127.0.0.1", tls: tlsOption(pki, "off") } }],
  });
  const port = peer.ports["amqp:tls"];
  const good = await startBroker({
    nodeId: "good",
    plugins: [bridgeTo(port, { ca: pki.cert("ca"), servername: "localhost" })],
  });
  const bad = await startBroker({ nodeId: "bad", plugins: [bridgeTo(port, { servername: "localhost" })] });
  try {
    await good.broker.publish({ kind: "queue", destination: "secure", body: "over tls" });
    await waitFor(() => status(good).forwarded === 1, "the message over TLS");
    assert.equal(new TextDecoder().decode(peer.broker.browse("secure")[0].body), "over tls");
    await waitFor(() => status(bad).failures >= 2, "the untrusted certificate refused twice");
    assert.equal(status(bad).connected, false);
    assert.ok(status(bad).lastError, "the TLS error is reported");
  } finally {
    await bad.stop();
    await good.stop();
    await peer.stop();
  }
});
