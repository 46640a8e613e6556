/**
 * The STOMP plugin: STOMP 1.0, 1.1 and 1.2 over TCP and WebSocket.
 *
 * @module
 */
import { definePlugin, type Listening, listenTcp, listenWebSocket, type Transport } from "../../mod.ts";
import { StompConnection, type StompOptions } from "./connection.ts";

interface Options extends StompOptions {
  port: number;
  wsPort: number;
  wsPath: string;
  hostname: string;
}

export default definePlugin<Options>({
  name: "stomp",
  async setup(ctx) {
    const o = ctx.options;
    ctx.provide("protocol:stomp", {
      protocol: "stomp",
      toAddress: (wire) =>
        wire.startsWith(o.topicPrefix) ? wire.slice(o.topicPrefix.length) : wire.slice(o.queuePrefix.length),
      fromAddress: (a) => o.topicPrefix + a,
    });
    const live = new Set<StompConnection>();
    const accept = (listener: string) => (t: Transport) => {
      const c = new StompConnection({ broker: ctx.broker, transport: t, options: o, log: ctx.log, listener });
      live.add(c);
      c.start();
      c.ended.then(() => live.delete(c));
    };
    const count = (listener: string) => () => [...live].filter((c) => c.listener === listener).length;
    const listening: Listening[] = [];
    try {
      listening.push(listenTcp(ctx.broker, {
        name: "stomp:tcp",
        protocol: "stomp",
        port: o.port,
        hostname: o.hostname,
        connections: count("stomp:tcp"),
        onConnection: accept("stomp:tcp"),
      }));
      if (o.wsPort >= 0) {
        listening.push(listenWebSocket(ctx.broker, {
          name: "stomp:ws",
          protocol: "stomp",
          port: o.wsPort,
          hostname: o.hostname,
          path: o.wsPath,
          subprotocols: ["v12.stomp", "v11.stomp", "v10.stomp"],
          text: true,
          connections: count("stomp:ws"),
          onConnection: accept("stomp:ws"),
        }));
      }
    } catch (e) {
      for (const l of listening) await l.close();
      throw e;
    }
    ctx.log.info(`listening on ${listening.map((l) => l.port).join(", ")}`);
    return async () => {
      await Promise.all([...live].map((c) => c.close("broker stopping")));
      for (const l of listening) await l.close();
    };
  },
});
