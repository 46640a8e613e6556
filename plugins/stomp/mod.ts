/**
 * The STOMP plugin: STOMP 1.0, 1.1 and 1.2 over TCP and WebSocket, and over TLS when `tls` is set.
 *
 * @module
 */
import { definePlugin, loadTls, serveProtocol, type TcpIo, type TlsSettings } from "../../mod.ts";
import { StompConnection, type StompOptions } from "./connection.ts";

interface Options extends StompOptions {
  port: number;
  wsPort: number;
  wsPath: string;
  hostname: string;
  io: TcpIo;
  tls?: TlsSettings & { port: number; wsPort: number };
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
    const served = await serveProtocol(ctx.broker, {
      protocol: "stomp",
      port: o.port,
      hostname: o.hostname,
      io: o.io,
      wsPort: o.wsPort,
      wsPath: o.wsPath,
      subprotocols: ["v12.stomp", "v11.stomp", "v10.stomp"],
      text: true,
      tls: o.tls && { certificates: await loadTls(o.tls, ctx), port: o.tls.port, wsPort: o.tls.wsPort },
      connect: (transport, listener) =>
        new StompConnection({ broker: ctx.broker, transport, options: o, log: ctx.log, listener }),
    });
    ctx.log.info(`listening on ${served.ports.join(", ")}`);
    return () => served.close();
  },
});
