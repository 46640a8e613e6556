/**
 * Real protocol clients with credentials, for the ACL matrix, the auth and the audit tests.
 *
 * @module
 */
import { Client, type IFrame } from "@stomp/stompjs";
import { TCPWrapper } from "@stomp/tcp-wrapper";
import mqtt from "mqtt";
import { Collector, deferred, within } from "../../helpers/wait.ts";

/** An MQTT.js client connected with `username`/`password` (v4 = 3.1.1 or v5). */
export function mqttAs(
  port: number,
  username: string,
  password: string,
  protocolVersion: 4 | 5 = 5,
): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    username,
    password,
    protocolVersion,
    reconnectPeriod: 0,
    clientId: `c-${crypto.randomUUID().slice(0, 8)}`,
  });
}

/** SUBACK granted codes for `filter` (MQTT.js rejects a SUBACK with a failure but keeps the packet). */
export async function subackOf(c: mqtt.MqttClient, filter: string): Promise<number> {
  const granted = await c.subscribeAsync(filter, { qos: 1 }).then(
    (g) => g.map((x) => x.qos),
    (e: { packet?: { granted: number[] } }) => e.packet?.granted ?? [],
  );
  return granted[0];
}

/** PUBACK reason code of a QoS 1 publish (v5; v4 has none, so 0 when acked). */
export function pubackOf(c: mqtt.MqttClient, topic: string): Promise<number> {
  return new Promise((resolve) =>
    // deno-lint-ignore no-explicit-any
    c.publish(topic, "x", { qos: 1 }, (_e, packet: any) => resolve(packet?.reasonCode ?? 0))
  );
}

/** A STOMP client over TCP: ERROR frames collected, `closed` resolves when the socket closes. */
export async function stompAs(port: number, login?: string, passcode?: string) {
  const connected = deferred<void>();
  const closed = deferred<void>();
  const errors = new Collector<string>();
  const client = new Client({
    webSocketFactory: () => new TCPWrapper("127.0.0.1", port),
    connectHeaders: login === undefined ? {} : { login, passcode: passcode ?? "" },
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
    onConnect: () => connected.resolve(),
    onStompError: (f: IFrame) => {
      errors.push(f.headers.message);
      connected.reject(new Error(f.headers.message));
    },
    onWebSocketClose: () => closed.resolve(),
  });
  client.activate();
  await within(connected.promise, 5000, "STOMP CONNECTED");
  return { client, errors, closed: closed.promise };
}
