import assert from "node:assert/strict";
import type { VirtualDestinationsService } from "../../../plugins/virtual-destinations/mod.ts";
import { startBroker } from "../../helpers/broker.ts";
import { Collector, deferred, within } from "../../helpers/wait.ts";
import { mqttAs, stompAs, subackOf } from "../acl/clients.ts";

/** SUBSCRIBE with a receipt over STOMP: "receipt", or "ERROR <message>" when refused. */
async function subscribe(client: Awaited<ReturnType<typeof stompAs>>, queue: string, got: Collector<string>) {
  const receipt = deferred<string>();
  client.client.watchForReceipt(queue, () => receipt.resolve("receipt"));
  client.client.subscribe(`/queue/${queue}`, (f) => {
    got.push(f.body);
    f.ack();
  }, { receipt: queue });
  return await within(
    Promise.race([receipt.promise, client.errors.atLeast(1).then((e) => `ERROR ${e[0]}`)]),
    5000,
    `SUBSCRIBE ${queue}`,
  );
}

Deno.test("virtual topic: a consumer queue needs the right to subscribe to its topic", async () => {
  const tb = await startBroker({
    plugins: [
      {
        use: "auth",
        options: {
          users: [{ username: "alice", password: "pw" }, { username: "bob", password: "pw" }],
          acl: {
            default: "allow",
            rules: [{ allow: false, pattern: "VirtualTopic.secret.>", users: ["bob"] }],
          },
        },
      },
      { use: "stomp", options: { port: 0, wsPort: -1, hostname: "127.0.0.1", heartBeatMs: 0 } },
      { use: "mqtt", options: { port: 0, wsPort: -1, hostname: "127.0.0.1", sysIntervalMs: 0 } },
      { use: "virtual-destinations" },
    ],
  });
  const bob = await stompAs(tb.ports["stomp:tcp"], "bob", "pw");
  const alice = await stompAs(tb.ports["stomp:tcp"], "alice", "pw");
  try {
    // The queue's own name is allowed; the topic whose messages it holds is not.
    const bobGot = new Collector<string>();
    assert.equal(
      await subscribe(bob, "Consumer.bob.VirtualTopic.secret.plans", bobGot),
      `ERROR Cannot consume "Consumer.bob.VirtualTopic.secret.plans": Not allowed to subscribe "VirtualTopic.secret.plans"`,
    );
    // The same through a topic subscription to the queue's name (MQTT): SUBACK 0x87.
    const bobMqtt = await mqttAs(tb.ports["mqtt:tcp"], "bob", "pw");
    try {
      assert.equal(await subackOf(bobMqtt, "Consumer/bob/VirtualTopic/secret/plans"), 0x87);
    } finally {
      await bobMqtt.endAsync(true);
    }
    const aliceGot = new Collector<string>();
    assert.equal(await subscribe(alice, "Consumer.alice.VirtualTopic.secret.plans", aliceGot), "receipt");
    await tb.broker.publish({ destination: "VirtualTopic.secret.plans", body: "top secret" });
    assert.deepEqual(await aliceGot.atLeast(1), ["top secret"]);
    // Refused before its queue was made: nothing collects the topic's messages for bob.
    assert.deepEqual(bobGot.items, []);
    const vd: VirtualDestinationsService = tb.broker.host.service("virtual-destinations")!;
    assert.deepEqual(vd.consumerGroups().map((g) => g.queue), ["Consumer.alice.VirtualTopic.secret.plans"]);
  } finally {
    await bob.client.deactivate();
    await alice.client.deactivate();
    await tb.stop();
  }
});
