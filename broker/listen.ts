/**
 * Listener helpers every protocol plugin shares: a TCP accept loop and a WebSocket endpoint on its own
 * port, each registered with the broker so the console lists it. Both hand the plugin a
 * {@linkcode Transport}; closing the returned handle stops accepting.
 *
 * @module
 */
import type { BrokerApi } from "./api.ts";
import { TcpTransport, type Transport, WsTransport } from "./transport.ts";

const LOW_WATER = 256 * 1024;

/** A running listener. */
export interface Listening {
  readonly port: number;
  /** Stops accepting; open connections are the plugin's to close. */
  close(): Promise<void>;
}

/** Options of {@linkcode listenTcp}. */
export interface TcpListenOptions {
  name: string;
  protocol: string;
  port: number;
  hostname: string;
  connections: () => number;
  onConnection: (t: Transport) => void;
}

/** Accepts TCP connections until closed. */
export function listenTcp(broker: BrokerApi, o: TcpListenOptions): Listening {
  const listener = Deno.listen({ port: o.port, hostname: o.hostname });
  const port = (listener.addr as Deno.NetAddr).port;
  const unregister = broker.registerListener({
    name: o.name,
    protocol: o.protocol,
    transport: "tcp",
    port,
    hostname: o.hostname,
    connections: o.connections,
  });
  const accepting = (async () => {
    for await (const conn of listener) o.onConnection(new TcpTransport(conn, LOW_WATER));
  })().catch(() => {/* the listener was closed */});
  return {
    port,
    async close() {
      unregister();
      try {
        listener.close();
      } catch { /* closed already */ }
      await accepting;
    },
  };
}

/** Options of {@linkcode listenWebSocket}. */
export interface WsListenOptions {
  name: string;
  protocol: string;
  port: number;
  hostname: string;
  path: string;
  /** Subprotocols the endpoint speaks, preferred first. */
  subprotocols: readonly string[];
  /** Accept text frames too (STOMP); binary only otherwise. */
  text?: boolean;
  connections: () => number;
  onConnection: (t: Transport) => void;
}

/** Serves WebSocket upgrades on `path` until closed. */
export function listenWebSocket(broker: BrokerApi, o: WsListenOptions): Listening {
  const server = Deno.serve({ port: o.port, hostname: o.hostname, onListen: () => {} }, (req, info) => {
    if (new URL(req.url).pathname !== o.path) return new Response("Not found", { status: 404 });
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("Expected a WebSocket upgrade", { status: 426 });
    }
    const offered = (req.headers.get("sec-websocket-protocol") ?? "").split(",").map((s) => s.trim());
    const protocol = o.subprotocols.find((p) => offered.includes(p));
    // The remote address is gone once the request is upgraded: read it first.
    const remote = `${info.remoteAddr.hostname}:${info.remoteAddr.port}`;
    const { socket, response } = Deno.upgradeWebSocket(req, protocol ? { protocol } : {});
    socket.addEventListener(
      "open",
      () => o.onConnection(new WsTransport(socket, remote, LOW_WATER, { text: o.text })),
      {
        once: true,
      },
    );
    return response;
  });
  const port = (server.addr as Deno.NetAddr).port;
  const unregister = broker.registerListener({
    name: o.name,
    protocol: o.protocol,
    transport: "ws",
    port,
    hostname: o.hostname,
    connections: o.connections,
  });
  return {
    port,
    async close() {
      unregister();
      await server.shutdown();
    },
  };
}

/** A connection a protocol plugin made for an accepted transport. */
export interface ProtocolConnection {
  readonly ended: Promise<void>;
  start(): void;
  close(reason: string): Promise<void>;
}

/** Options of {@linkcode serveProtocol}. */
export interface ServeProtocolOptions {
  protocol: string;
  port: number;
  hostname: string;
  /** -1 leaves WebSocket off. */
  wsPort: number;
  wsPath: string;
  subprotocols: readonly string[];
  text?: boolean;
  connect(t: Transport, listener: string): ProtocolConnection;
}

/**
 * Opens a protocol's TCP listener and, when `wsPort >= 0`, its WebSocket endpoint; tracks the
 * connections so each listener reports its count and `close()` ends them all. Nothing half-starts:
 * if the second listener fails, the first is closed before the error is thrown.
 */
export async function serveProtocol(
  broker: BrokerApi,
  o: ServeProtocolOptions,
): Promise<{ ports: number[]; close(): Promise<void> }> {
  const live = new Map<ProtocolConnection, string>();
  const count = (listener: string) => () => [...live.values()].filter((l) => l === listener).length;
  const accept = (listener: string) => (t: Transport) => {
    const c = o.connect(t, listener);
    live.set(c, listener);
    c.start();
    c.ended.then(() => live.delete(c));
  };
  const listening: Listening[] = [];
  const tcpName = `${o.protocol}:tcp`, wsName = `${o.protocol}:ws`;
  try {
    listening.push(
      listenTcp(broker, { ...o, name: tcpName, connections: count(tcpName), onConnection: accept(tcpName) }),
    );
    if (o.wsPort >= 0) {
      listening.push(listenWebSocket(broker, {
        ...o,
        name: wsName,
        port: o.wsPort,
        path: o.wsPath,
        connections: count(wsName),
        onConnection: accept(wsName),
      }));
    }
  } catch (e) {
    for (const l of listening) await l.close();
    throw e;
  }
  return {
    ports: listening.map((l) => l.port),
    async close() {
      await Promise.all([...live.keys()].map((c) => c.close("broker stopping")));
      for (const l of listening) await l.close();
    },
  };
}
