/**
 * The MQTT plugin: TCP and WebSocket listeners, one {@linkcode Connection} per client, retained
 * messages and persistent sessions through the store, and `$SYS` statistics.
 *
 * @module
 */
import { definePlugin, type ListenerInfo } from "../../mod.ts";
import { addressToTopic, filterToPattern, topicToAddress } from "./address_map.ts";
import { Connection } from "./connection.ts";
import { RetainStore } from "./retain.ts";
import { type MqttOptions, MqttServer } from "./server.ts";
import { TcpTransport, WsTransport } from "../../mod.ts";
import { publishSys } from "./sys.ts";

const LOW_WATER = 256 * 1024;

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
    const track = (c: Connection) => {
      live.add(c);
      c.start();
      c.ended.then(() => live.delete(c));
    };
    const count = (kind: string) => () =>
      [...live].filter((c) => c.listener === kind && !c.transport.closed).length;

    const tcp = Deno.listen({ port: o.port, hostname: o.hostname });
    const unregister: (() => void)[] = [];
    const tcpInfo: ListenerInfo = {
      name: "mqtt:tcp",
      protocol: "mqtt",
      transport: "tcp",
      port: (tcp.addr as Deno.NetAddr).port,
      hostname: o.hostname,
      connections: count("mqtt:tcp"),
    };
    unregister.push(ctx.broker.registerListener(tcpInfo));
    const accepting = (async () => {
      for await (const conn of tcp) {
        const c = new Connection(server, new TcpTransport(conn, LOW_WATER), "mqtt:tcp");
        track(c);
      }
    })().catch(() => {/* listener closed */});

    let ws: Deno.HttpServer | undefined;
    const serve = () =>
      Deno.serve({ port: o.wsPort, hostname: o.hostname, onListen: () => {} }, (req, info) => {
        if (new URL(req.url).pathname !== o.wsPath) return new Response("Not found", { status: 404 });
        if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
          return new Response("Expected a WebSocket upgrade", { status: 426 });
        }
        const offered = (req.headers.get("sec-websocket-protocol") ?? "").split(",").map((s) => s.trim());
        const protocol = offered.find((p) => p === "mqtt" || p === "mqttv3.1");
        const remote = `${info.remoteAddr.hostname}:${info.remoteAddr.port}`;
        const { socket, response } = Deno.upgradeWebSocket(req, protocol ? { protocol } : {});
        socket.addEventListener("open", () => {
          const c = new Connection(server, new WsTransport(socket, remote, LOW_WATER), "mqtt:ws");
          track(c);
        }, { once: true });
        return response;
      });
    if (o.wsPort >= 0) {
      try {
        ws = serve();
      } catch (e) {
        // Nothing half-starts: the TCP listener goes with the failed setup.
        tcp.close();
        await accepting;
        for (const u of unregister) u();
        throw e;
      }
      unregister.push(ctx.broker.registerListener({
        name: "mqtt:ws",
        protocol: "mqtt",
        transport: "ws",
        port: (ws.addr as Deno.NetAddr).port,
        hostname: o.hostname,
        connections: count("mqtt:ws"),
      }));
    }
    const sys = o.sysIntervalMs > 0
      ? setInterval(() => publishSys(ctx.broker, server), o.sysIntervalMs)
      : undefined;
    ctx.log.info(
      `listening on tcp ${tcpInfo.port}${ws ? `, ws ${(ws.addr as Deno.NetAddr).port}${o.wsPath}` : ""}`,
    );

    return async () => {
      clearInterval(sys);
      tcp.close();
      await accepting;
      await Promise.all([...live].map((c) => c.close("broker stopping")));
      await ws?.shutdown();
      server.stop();
      for (const u of unregister) u();
    };
  },
});
