/**
 * `$SYS/broker/...` statistics, published periodically as retained-style topics any client can read
 * (subject to the ACL, which protects `$SYS` by default).
 *
 * @module
 */
import type { BrokerApi } from "../../mod.ts";
import type { MqttServer } from "./server.ts";

/** Publishes one round of statistics. */
export function publishSys(broker: BrokerApi, server: MqttServer): void {
  const s = broker.stats;
  const values: [string, number][] = [
    ["clients.connected", server.connections.size],
    ["clients.total", server.connectionCount],
    ["messages.received", s.messagesIn],
    ["messages.sent", s.messagesOut],
    ["bytes.received", s.bytesIn],
    ["bytes.sent", s.bytesOut],
    ["retained.count", server.retained.size],
    ["uptime", Math.floor((Date.now() - s.startedAt) / 1000)],
  ];
  for (const [name, v] of values) {
    broker.publish({ destination: `$SYS.broker.${name}`, body: String(v) }).catch(() => {});
  }
}
