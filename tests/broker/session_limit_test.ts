import assert from "node:assert/strict";
import { Client } from "@stomp/stompjs";
import { TCPWrapper } from "@stomp/tcp-wrapper";
import mqtt from "mqtt";
import rhea from "rhea";
import { amqpClose, amqpConnect, type AmqpConnection as AmqpContext } from "../helpers/amqp.ts";
import { startBroker } from "../helpers/broker.ts";
import { deferred, waitFor, within } from "../helpers/wait.ts";

const listen = { port: 0, hostname: "127.0.0.1" };
const plugins = [
  { use: "mqtt", options: { ...listen, wsPort: -1, sysIntervalMs: 0 } },
  { use: "amqp", options: listen },
  { use: "stomp", options: { ...listen, wsPort: -1 } },
  { use: "http", options: { ...listen, sessionCacheTtlMs: 0 } },
];

/** What an MQTT.js client of `version` gets: "connected", or the CONNACK code of its refusal. */
function mqttOutcome(url: string, version: 4 | 5): Promise<{ client: mqtt.MqttClient; outcome: string }> {
  const client = mqtt.connect(url, { protocolVersion: version, reconnectPeriod: 0 });
  return within(
    new Promise((resolve) => {
      client.once("connect", () => resolve({ client, outcome: "connected" }));
      client.once("error", (e) => resolve({ client, outcome: `refused ${(e as { code?: number }).code}` }));
    }),
    5000,
    "CONNACK",
  );
}

Deno.test("limits.maxSessions: a session over the limit is refused by every protocol in its own terms", async () => {
  const tb = await startBroker({ plugins, limits: { maxSessions: 2 } });
  const url = `mqtt://127.0.0.1:${tb.ports["mqtt:tcp"]}`;
  const open: mqtt.MqttClient[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const { client, outcome } = await mqttOutcome(url, 5);
      open.push(client);
      assert.equal(outcome, "connected");
    }
    const v5 = await mqttOutcome(url, 5);
    v5.client.end(true);
    assert.equal(v5.outcome, "refused 137", "MQTT 5: CONNACK 0x89 Server busy");
    const v4 = await mqttOutcome(url, 4);
    v4.client.end(true);
    assert.equal(v4.outcome, "refused 3", "MQTT 3.1.1: CONNACK 3 Server unavailable");

    // AMQP answers open, then closes with the reason (rhea opens first, the session is asked for after).
    const amqpRefused = deferred<string>();
    const c = rhea.create_container({ id: "over" }).connect({
      port: tb.ports["amqp:tcp"],
      host: "127.0.0.1",
      reconnect: false,
    });
    c.once("connection_error", (e: AmqpContext) => amqpRefused.resolve(e.connection.error?.condition));
    assert.equal(await within(amqpRefused.promise, 5000, "AMQP close"), "amqp:resource-limit-exceeded");
    c.close();

    const refused = deferred<string>();
    const stomp = new Client({
      webSocketFactory: () => new TCPWrapper("127.0.0.1", tb.ports["stomp:tcp"]),
      reconnectDelay: 0,
      onStompError: (f) => refused.resolve(f.headers.message),
    });
    stomp.activate();
    assert.match(await within(refused.promise, 5000, "STOMP ERROR"), /limit of 2/);
    await stomp.deactivate();

    const res = await fetch(`http://127.0.0.1:${tb.ports.http}/api/v1/topics/t/messages`, {
      method: "POST",
      body: "x",
    });
    assert.equal(res.status, 503);
    assert.match((await res.json()).detail, /limit of 2/);

    // A session that ends frees its place; sessions inside the broker never took one.
    await open.pop()!.endAsync();
    await waitFor(() => tb.broker.stats.sessions === 1, "the MQTT session to close");
    tb.broker.internalSession("in-process");
    await amqpClose(await amqpConnect(tb.ports["amqp:tcp"]));
  } finally {
    for (const c of open) c.end(true);
    await tb.stop();
  }
});
