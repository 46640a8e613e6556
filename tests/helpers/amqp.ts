/**
 * rhea as an independent AMQP 1.0 client for tests: open and close a connection, waiting on events.
 *
 * @module
 */
import rhea from "rhea";
import { within } from "./wait.ts";

// deno-lint-ignore no-explicit-any
export type AmqpConnection = any;

/** Opens a connection to 127.0.0.1:`port`; rejects on an error or a disconnect before open. */
export function amqpConnect(
  port: number,
  opts: Record<string, unknown> = {},
  id = `client-${crypto.randomUUID()}`,
): Promise<AmqpConnection> {
  const conn = rhea.create_container({ id }).connect({ port, host: "127.0.0.1", reconnect: false, ...opts });
  return within(
    new Promise((resolve, reject) => {
      conn.once("connection_open", () => resolve(conn));
      conn.once(
        "connection_error",
        (e: AmqpConnection) => reject(new Error(e.connection.error?.condition ?? "connection error")),
      );
      conn.once("disconnected", (e: AmqpConnection) => reject(new Error(e.error?.message ?? "disconnected")));
    }),
    5000,
    "AMQP open",
  );
}

/** Closes a connection and waits for the peer's close. */
export const amqpClose = (conn: AmqpConnection): Promise<void> =>
  within(
    new Promise<void>((r) => (conn.once("connection_close", () => r()), conn.close())),
    5000,
    "AMQP close",
  );

/** Sends `body` to `address` on new links of `conn` and resolves with the body that comes back. */
export function amqpRoundTrip(conn: AmqpConnection, address: string, body: string): Promise<string> {
  return within(
    new Promise((resolve) => {
      conn.open_receiver(address).once("message", (c: AmqpConnection) => resolve(c.message.body));
      conn.open_sender(address).once("sendable", (c: AmqpConnection) => c.sender.send({ body }));
    }),
    5000,
    `a message on ${address}`,
  );
}
