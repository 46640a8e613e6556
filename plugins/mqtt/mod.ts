/**
 * The MQTT plugin: TCP and WebSocket listeners, one {@linkcode Connection} per client, retained
 * messages and persistent sessions through the store, and `$SYS` statistics.
 *
 * @module
 */
import { definePlugin, type Listening, listenTcp, listenWebSocket, type Transport } from "../../mod.ts";
import { addressToTopic, filterToPattern, topicToAddress } from "./address_map.ts";
import { Connection } from "./connection.ts";
import { RetainStore } from "./retain.ts";
import { type MqttOptions, MqttServer } from "./server.ts";
import { publishSys } from "./sys.ts";

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
    const live = new Set<Connection>();
    const accept = (listener: string) => (t: Transport) => {
      const c = new Connection(server, t, listener);
      live.add(c);
      c.start();
      c.ended.then(() => live.delete(c));
    };
    const count = (listener: string) => () => [...live].filter((c) => c.listener === listener).length;
    const listening: Listening[] = [];
    try {
      listening.push(listenTcp(ctx.broker, {
        name: "mqtt:tcp",
        protocol: "mqtt",
        port: o.port,
        hostname: o.hostname,
        connections: count("mqtt:tcp"),
        onConnection: accept("mqtt:tcp"),
      }));
      if (o.wsPort >= 0) {
        listening.push(listenWebSocket(ctx.broker, {
          name: "mqtt:ws",
          protocol: "mqtt",
          port: o.wsPort,
          hostname: o.hostname,
          path: o.wsPath,
          subprotocols: ["mqtt", "mqttv3.1"],
          connections: count("mqtt:ws"),
          onConnection: accept("mqtt:ws"),
        }));
      }
    } catch (e) {
      // Nothing half-starts: listeners opened so far go with the failed setup.
      for (const l of listening) await l.close();
      throw e;
    }
    const sys = o.sysIntervalMs > 0
      ? setInterval(() => publishSys(ctx.broker, server), o.sysIntervalMs)
      : undefined;
    ctx.log.info(`listening on ${listening.map((l) => l.port).join(", ")}`);

    return async () => {
      clearInterval(sys);
      await Promise.all([...live].map((c) => c.close("broker stopping")));
      for (const l of listening) await l.close();
      server.stop();
    };
  },
});
