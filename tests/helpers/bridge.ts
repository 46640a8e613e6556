/**
 * Plugin entries for bridge tests: a peer's amqp listener and a bridge to it with a fast reconnect, and a
 * port nobody listens on.
 *
 * @module
 */
import type { PluginEntry } from "../../mod.ts";

/** The amqp plugin on 127.0.0.1 (`port` 0: any free port). */
export const amqp = (port = 0, options: Record<string, unknown> = {}): PluginEntry => ({
  use: "amqp",
  options: { port, hostname: "127.0.0.1", ...options },
});

/** A bridge to 127.0.0.1:`port` that retries within 100 ms, so tests see reconnects quickly. */
export const bridge = (port: number, options: Record<string, unknown>, as?: string): PluginEntry => ({
  use: "bridge",
  as,
  options: { host: "127.0.0.1", port, reconnect: { initialMs: 10, maxMs: 100 }, ...options },
});

/** A port nobody listens on now (for a peer that starts later, or never). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
