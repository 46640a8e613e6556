/**
 * MQTT.js as the MQTT tests' client: connect to a test broker over TCP or WebSocket, end, decode.
 *
 * @module
 */
import mqtt from "mqtt";
import type { TestBroker } from "../../helpers/broker.ts";
import { within } from "../../helpers/wait.ts";

export type Client = ReturnType<typeof mqtt.connect>;
export type ConnectOptions = mqtt.IClientOptions;

/** The MQTT plugin on free ports, TCP and WebSocket, without $SYS. */
export const MQTT_PLUGIN = {
  use: "mqtt",
  options: { port: 0, wsPort: 0, hostname: "127.0.0.1", sysIntervalMs: 0 },
};

/** The URL of the broker's MQTT listener. */
export const urlOf = (tb: TestBroker, ws = false): string =>
  ws ? `ws://127.0.0.1:${tb.ports["mqtt:ws"]}/mqtt` : `mqtt://127.0.0.1:${tb.ports["mqtt:tcp"]}`;

/**
 * A client that never reconnects by itself, with its CONNACK; rejected on a refusal. `setup` runs before
 * the CONNECT goes out, to listen for what follows the CONNACK at once (a session's queued messages).
 */
export function connectWithAck(
  tb: TestBroker,
  o: ConnectOptions = {},
  ws = false,
  setup?: (c: Client) => void,
): Promise<{ client: Client; connack: mqtt.IConnackPacket }> {
  const c = mqtt.connect(urlOf(tb, ws), { reconnectPeriod: 0, connectTimeout: 3000, ...o });
  setup?.(c);
  return within(
    new Promise((resolve, reject) => {
      c.once("connect", (connack) => resolve({ client: c, connack }));
      c.once("error", reject);
    }),
    5000,
    "MQTT connect",
  );
}

/** A connected client (see {@linkcode connectWithAck}). */
export const connect = (
  tb: TestBroker,
  o: ConnectOptions = {},
  ws = false,
  setup?: (c: Client) => void,
): Promise<Client> => connectWithAck(tb, o, ws, setup).then((x) => x.client);

/** Ends the client: a DISCONNECT first unless `force`. */
export const end = (c: Client, force = false): Promise<void> =>
  new Promise((r) => c.end(force, {}, () => r()));

/** Drops the client's socket without a DISCONNECT, as a client that vanishes. */
// deno-lint-ignore no-explicit-any
export const vanish = (c: Client): void => (c as any).stream.destroy();

export const text = (b: Uint8Array): string => new TextDecoder().decode(b);
