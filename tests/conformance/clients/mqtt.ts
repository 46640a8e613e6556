/**
 * MQTT 5 (MQTT.js) in the cross-protocol matrix. MQTT addresses topics only, so the matrix reaches
 * queues through virtual topics (`queues: false`): publish to `VirtualTopic/<name>`, consume the
 * group queue by subscribing to `Consumer/mx/VirtualTopic/<name>`. Delay travels as the `delay` user
 * property, TTL as the message expiry interval (whole seconds), and the receive maximum is the
 * prefetch.
 *
 * @module
 */
import mqtt from "mqtt";
import type { TestBroker } from "../../helpers/broker.ts";
import type { Incoming, Outgoing, ProtocolClient } from "../matrix.ts";

const decoder = new TextDecoder();
let seq = 0;

function port(tb: TestBroker): number {
  const p = tb.ports["mqtt:tcp"] ?? Object.entries(tb.ports).find(([k]) => k.startsWith("mqtt"))?.[1];
  if (p === undefined) throw new Error(`no MQTT listener among ${Object.keys(tb.ports)}`);
  return p;
}

const wire = (name: string) => name.replaceAll(".", "/");

async function connect(tb: TestBroker, receiveMaximum?: number): Promise<mqtt.MqttClient> {
  return await mqtt.connectAsync(`mqtt://127.0.0.1:${port(tb)}`, {
    protocolVersion: 5,
    clientId: `mx-${++seq}-${Date.now()}`,
    clean: true,
    reconnectPeriod: 0,
    properties: receiveMaximum ? { receiveMaximum } : undefined,
  });
}

function publishOptions(m: Outgoing): mqtt.IClientPublishOptions {
  // Only fields that are set: MQTT.js silently never sends a PUBLISH whose properties hold an empty
  // userProperties object.
  const properties: NonNullable<mqtt.IClientPublishOptions["properties"]> = {};
  const userProperties: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.properties ?? {})) userProperties[k] = String(v);
  if (m.delay) userProperties.delay = String(m.delay);
  if (Object.keys(userProperties).length !== 0) properties.userProperties = userProperties;
  if (m.ttl) properties.messageExpiryInterval = Math.max(1, Math.ceil(m.ttl / 1000));
  // QoS 1 even for non-persistent messages: send() must resolve on the broker's confirmation.
  return { qos: 1, properties };
}

/** MQTT.js as producer and consumer. */
export const client: ProtocolClient = {
  name: "mqtt",
  plugins: [{ use: "mqtt", options: { port: 0, wsPort: 0, hostname: "127.0.0.1", sysIntervalMs: 0 } }],
  queues: false,
  typedProperties: false,
  cannotProduce: {
    priority: "MQTT has no message priority",
    groups: "MQTT has no message group id",
  },
  cannotConsume: {
    selector: "MQTT subscriptions carry no message selector",
  },
  async producer(tb) {
    const c = await connect(tb);
    return {
      async send(dest, m) {
        await c.publishAsync(wire(dest.name), m.body, publishOptions(m));
      },
      async sendMany(dest, ms) {
        await Promise.all(
          ms.map((m) => c.publishAsync(wire(dest.name), m.body, { ...publishOptions(m), qos: 1 })),
        );
      },
      close: () => c.endAsync(),
    };
  },
  async consume(tb, dest, opts, onMessage) {
    if (opts.selector) throw new Error("MQTT cannot consume with a selector");
    const c = await connect(tb, opts.pull ? 1 : opts.prefetch);
    c.on("message", (_topic, payload, packet) => {
      const up = packet.properties?.userProperties ?? {};
      const m: Incoming = { body: decoder.decode(payload), properties: { ...up } };
      onMessage(m);
    });
    await c.subscribeAsync(wire(dest.name), { qos: 1 });
    return { close: () => c.endAsync() };
  },
};
