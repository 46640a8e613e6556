/**
 * `$SYS/broker/...` statistics, published periodically as retained-style topics any client can read
 * (subject to the ACL, which protects `$SYS` by default).
 *
 * @module
 */
import type { BrokerApi } from "../../mod.ts";
import type { MqttServer } from "./server.ts";

/**
 * A function that publishes one round of statistics. The messages and bytes received leave out the
 * `$SYS` messages themselves: an idle broker's counters stay still.
 */
export function sysPublisher(broker: BrokerApi, server: MqttServer): () => void {
  let ownMessages = 0, ownBytes = 0;
  return () => {
    const s = broker.stats;
    const values: [string, number][] = [
      ["clients.connected", server.connections.size],
      ["clients.total", server.connectionCount],
      ["messages.received", s.messagesIn - ownMessages],
      ["messages.sent", s.messagesOut],
      ["bytes.received", s.bytesIn - ownBytes],
      ["bytes.sent", s.bytesOut],
      ["retained.count", server.retained.size],
      ["uptime", Math.floor((Date.now() - s.startedAt) / 1000)],
    ];
    for (const [name, v] of values) {
      const body = String(v);
      ownMessages++;
      ownBytes += body.length;
      broker.publish({ destination: `$SYS.broker.${name}`, body }).catch(() => {});
    }
  };
}
