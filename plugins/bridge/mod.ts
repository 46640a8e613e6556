/**
 * The bridge plugin: forwards messages from local queues and topics to a peer broker over AMQP 1.0 (a
 * network connector, as ActiveMQ's, or a RabbitMQ shovel). One instance per peer: name each with `as`.
 * Forwarding is demand-driven and at least once: a local message is acked only when the peer accepts it;
 * while the peer is away messages wait in the local queue (for topics, a durable subscription queue the
 * bridge owns). Loops are stopped by the node ids each message carries (`loop_guard.ts`). The status is
 * the typed service `bridge:<instance id>`.
 *
 * @example
 * ```json
 * { "use": "bridge", "as": "bridge-east", "options": {
 *   "host": "east.example", "username": "bridge", "password": "secret",
 *   "forward": [{ "from": "queue://orders" }, { "from": "topic://prices.>", "to": "topic://eu.prices" }]
 * } }
 * ```
 *
 * @module
 */
import { isAbsolute, join } from "node:path";
import { definePlugin } from "../../mod.ts";
import { Bridge, type BridgeOptions, type BridgeStatus } from "./bridge.ts";
import { ForwardLink } from "./link.ts";

export type { BridgeOptions, BridgeStatus };

/** What each bridge instance provides as `bridge:<instance id>`. */
export interface BridgeService {
  /** Connection state, counters and the last error, now. */
  status(): BridgeStatus;
}

declare module "../../mod.ts" {
  interface Services {
    [bridge: `bridge:${string}`]: BridgeService;
  }
}

export default definePlugin<BridgeOptions>({
  name: "bridge",
  async setup(ctx) {
    const o = ctx.options;
    const links = o.forward.map((rule, index) =>
      new ForwardLink(rule, {
        broker: ctx.broker,
        bridgeId: ctx.id,
        index,
        credit: o.credit,
        retry: o.reconnect,
      })
    );
    let tls: Record<string, unknown> | undefined;
    if (o.tls) {
      const t = o.tls === true ? {} : o.tls;
      tls = { servername: t.servername ?? o.host, rejectUnauthorized: t.verify !== false };
      if (t.ca) tls.ca = [await Deno.readTextFile(isAbsolute(t.ca) ? t.ca : join(ctx.dataDir, t.ca))];
    }
    const bridge = new Bridge(ctx.id, o, { broker: ctx.broker, log: ctx.log, links, tls });
    ctx.provide(`bridge:${ctx.id}`, { status: () => bridge.status() });
    await bridge.start();
    return () => bridge.stop();
  },
});
