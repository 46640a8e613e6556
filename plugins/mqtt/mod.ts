/**
 * The MQTT plugin: TCP and WebSocket listeners (and their TLS twins when `tls` is set), one
 * {@linkcode Connection} per client, retained messages and persistent sessions through the store, and
 * `$SYS` statistics.
 *
 * @module
 */
import { definePlugin, loadTls, serveProtocol } from "../../mod.ts";
import { addressToTopic, filterToPattern, topicToAddress } from "./address_map.ts";
import { Connection } from "./connection.ts";
import { RetainStore } from "./retain.ts";
import { type MqttOptions, MqttServer } from "./server.ts";
import { sysPublisher } from "./sys.ts";

export default definePlugin<MqttOptions>({
  name: "mqtt",
  async setup(ctx) {
    const o = ctx.options;
    const retained = new RetainStore(ctx.broker.store.kv<string>("mqtt.retained"), o.maxRetained);
    await retained.load();
    const server = new MqttServer({ broker: ctx.broker, log: ctx.log, options: o, retained });
    await server.restoreExpiries();
    ctx.provide("protocol:mqtt", {
      protocol: "mqtt",
      toAddress: (wire, use) => (use === "publish" ? topicToAddress(wire) : filterToPattern(wire)),
      fromAddress: addressToTopic,
    });
    const served = await serveProtocol(ctx.broker, {
      protocol: "mqtt",
      port: o.port,
      hostname: o.hostname,
      wsPort: o.wsPort,
      wsPath: o.wsPath,
      io: o.io,
      subprotocols: ["mqtt", "mqttv3.1"],
      tls: o.tls && { certificates: await loadTls(o.tls, ctx), port: o.tls.port, wsPort: o.tls.wsPort },
      connect: (t, listener) => new Connection(server, t, listener),
    });
    const sys = o.sysIntervalMs > 0
      ? setInterval(sysPublisher(ctx.broker, server), o.sysIntervalMs)
      : undefined;
    ctx.log.info(`listening on ${served.ports.join(", ")}`);

    return async () => {
      clearInterval(sys);
      await served.close();
      server.stop();
    };
  },
});
