/**
 * Listener helpers every protocol plugin shares: a TCP accept loop, a TLS accept loop and a WebSocket
 * endpoint (plain or TLS) on its own port, each registered with the broker so the console lists it.
 * They hand the plugin a {@linkcode Transport} (or, for TLS, the socket itself); closing the returned
 * handle stops accepting.
 *
 * @module
 */
import net from "node:net";
import type tls from "node:tls";
import type { BrokerApi } from "./api.ts";
import type { TlsCertificates, TlsPeer } from "./tls.ts";
import { SocketTransport, TcpTransport, type Transport, WsTransport } from "./transport.ts";
import { epollAvailable, listenEpoll } from "./epoll.ts";

const LOW_WATER = 256 * 1024;

/** A running listener. */
export interface Listening {
  readonly port: number;
  /** Stops accepting; open connections are the plugin's to close. */
  close(): Promise<void>;
}

/**
 * How plain TCP sockets are served: `deno` through `Deno.listen`; `epoll` through Linux epoll by FFI
 * (see broker/epoll.ts: idle connections cost far less); `auto` is epoll where it is available (Linux,
 * FFI permission granted) and Deno.listen elsewhere.
 */
export type TcpIo = "deno" | "epoll" | "auto";

/** Options of {@linkcode listenTcp}. */
export interface TcpListenOptions {
  name: string;
  protocol: string;
  port: number;
  hostname: string;
  /** "deno" when not given. */
  io?: TcpIo;
  connections: () => number;
  onConnection: (t: Transport) => void;
}

/** Accepts TCP connections until closed. */
export function listenTcp(broker: BrokerApi, o: TcpListenOptions): Listening {
  const io = o.io === "auto" ? (epollAvailable() ? "epoll" : "deno") : o.io ?? "deno";
  const register = (port: number) =>
    broker.registerListener({
      name: o.name,
      protocol: o.protocol,
      transport: "tcp",
      port,
      hostname: o.hostname,
      connections: o.connections,
    });
  if (io === "epoll") {
    const listener = listenEpoll(o.hostname, o.port, LOW_WATER, o.onConnection);
    const unregister = register(listener.port);
    return {
      port: listener.port,
      close() {
        unregister();
        listener.close();
        return Promise.resolve();
      },
    };
  }
  const listener = Deno.listen({ port: o.port, hostname: o.hostname });
  const port = (listener.addr as Deno.NetAddr).port;
  const unregister = register(port);
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
  /** Serves wss: TLS in front (see {@linkcode serveHttp}). */
  tls?: TlsCertificates;
}

/** Serves WebSocket upgrades on `path` until closed. */
export function listenWebSocket(broker: BrokerApi, o: WsListenOptions): Promise<Listening> {
  return serveHttp(o, (req, info) => {
    if (new URL(req.url).pathname !== o.path) return new Response("Not found", { status: 404 });
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("Expected a WebSocket upgrade", { status: 426 });
    }
    const offered = (req.headers.get("sec-websocket-protocol") ?? "").split(",").map((s) => s.trim());
    const protocol = o.subprotocols.find((p) => offered.includes(p));
    // The remote address is gone once the request is upgraded: read it first.
    const remote = `${info.remoteAddr.hostname}:${info.remoteAddr.port}`;
    const { socket, response } = Deno.upgradeWebSocket(req, protocol ? { protocol } : {});
    const opts = { text: o.text, certificateSubject: info.certificateSubject, subprotocol: protocol };
    socket.addEventListener("open", () => o.onConnection(new WsTransport(socket, remote, LOW_WATER, opts)), {
      once: true,
    });
    return response;
  }).then((server) => {
    const unregister = broker.registerListener({
      name: o.name,
      protocol: o.protocol,
      transport: o.tls ? "wss" : "ws",
      port: server.port,
      hostname: o.hostname,
      connections: o.connections,
    });
    return {
      port: server.port,
      async close() {
        unregister();
        await server.close();
      },
    };
  });
}

/** What an HTTP handler learns about the connection; `certificateSubject` only behind TLS. */
export type HttpConnInfo = Deno.ServeHandlerInfo<Deno.NetAddr> & { readonly certificateSubject?: string };

/** Options of {@linkcode serveHttp}. */
export interface ServeHttpOptions {
  port: number;
  hostname: string;
  /** Serves HTTPS with these certificates. */
  tls?: TlsCertificates;
}

/**
 * `Deno.serve`, plain or behind TLS. `Deno.serve` can neither verify client certificates nor change its
 * certificate while listening, so with `tls` a `node:tls` server (see {@linkcode TlsCertificates})
 * accepts the connections and pipes each one to a private `Deno.serve` on a loopback port; the handler
 * still sees the client's own address, and its certificate subject. A connection to the private port
 * that did not come through the TLS side is refused, so it is no way around client certificates.
 */
export async function serveHttp(
  o: ServeHttpOptions,
  handler: (req: Request, info: HttpConnInfo) => Response | Promise<Response>,
): Promise<{ readonly port: number; close(): Promise<void> }> {
  if (!o.tls) {
    const server = Deno.serve(
      { port: o.port, hostname: o.hostname, onListen: () => {} },
      (req, info) => handler(req, info as HttpConnInfo),
    );
    return { port: (server.addr as Deno.NetAddr).port, close: () => server.shutdown() };
  }
  // By the local port of the pipe's loopback side, which is what the private server sees as remote.
  const peers = new Map<number, TlsPeer>();
  const inner = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (req, info) => {
    const peer = peers.get(info.remoteAddr.port);
    if (!peer) return new Response("Connect through the TLS port", { status: 421 });
    const colon = peer.remote.lastIndexOf(":");
    const remoteAddr: Deno.NetAddr = {
      transport: "tcp",
      hostname: peer.remote.slice(0, colon),
      port: Number(peer.remote.slice(colon + 1)),
    };
    return handler(req, {
      remoteAddr,
      completed: info.completed,
      certificateSubject: peer.certificateSubject,
    });
  });
  const innerPort = (inner.addr as Deno.NetAddr).port;
  const server = o.tls.createServer((socket, peer) => {
    const upstream = net.connect({ port: innerPort, host: "127.0.0.1" }, () => {
      const local = upstream.localPort!;
      peers.set(local, peer);
      upstream.once("close", () => peers.delete(local));
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
    const end = () => {
      socket.destroy();
      upstream.destroy();
    };
    upstream.once("close", end).once("error", end);
    socket.once("close", end).once("error", end);
  });
  const sockets = trackSockets(server);
  let port: number;
  try {
    port = await listenNode(server, o);
  } catch (e) {
    await inner.shutdown();
    throw e;
  }
  return {
    port,
    async close() {
      // Dropping the pipes first ends what the private server still serves (streams, sockets).
      const closed = closeNode(server, sockets);
      await inner.shutdown();
      await closed;
    },
  };
}

function listenNode(server: net.Server, o: { port: number; hostname: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.hostname, () => {
      server.off("error", reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/** Options of {@linkcode listenTls}. */
export interface TlsListenOptions {
  name: string;
  protocol: string;
  port: number;
  hostname: string;
  tls: TlsCertificates;
  connections: () => number;
  /** Each connection after its handshake (and client certificate check) succeeded. */
  onSocket: (socket: tls.TLSSocket, peer: TlsPeer) => void;
}

/**
 * Accepts TLS connections until closed; registered with transport "tls". Closing also drops the
 * connections still open, so call it after the plugin closed its own.
 */
export async function listenTls(broker: BrokerApi, o: TlsListenOptions): Promise<Listening> {
  const server = o.tls.createServer(o.onSocket);
  const sockets = trackSockets(server);
  const port = await listenNode(server, o);
  const unregister = broker.registerListener({
    name: o.name,
    protocol: o.protocol,
    transport: "tls",
    port,
    hostname: o.hostname,
    connections: o.connections,
  });
  return {
    port,
    close() {
      unregister();
      return closeNode(server, sockets);
    },
  };
}

function trackSockets(server: net.Server): Set<net.Socket> {
  const sockets = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  return sockets;
}

function closeNode(server: net.Server, sockets: Iterable<{ destroy(): unknown }>): Promise<void> {
  const closed = new Promise<void>((r) => server.close(() => r()));
  for (const s of sockets) s.destroy();
  return closed;
}

/** A connection a protocol plugin made for an accepted transport. */
export interface ProtocolConnection {
  /**
   * Starts reading. The connection calls `ended(this)` once, when it has ended and its session is closed:
   * one function for every connection, where a promise each would cost idle connections by the 10,000.
   */
  start(ended: (c: ProtocolConnection) => void): void;
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
  /** How the plain TCP listener serves its sockets ("deno" when not given). */
  io?: TcpIo;
  /** A TLS listener on `tls.port` and, when `tls.wsPort >= 0`, a wss endpoint beside the plain ones. */
  tls?: { certificates: TlsCertificates; port: number; wsPort: number };
  connect(t: Transport, listener: string): ProtocolConnection;
}

/**
 * Opens a protocol's TCP listener and, when `wsPort >= 0`, its WebSocket endpoint, plus their TLS
 * twins when `tls` is given; tracks the connections so each listener reports its count and `close()`
 * ends them all. Nothing half-starts: if a listener fails, those already open are closed before the
 * error is thrown.
 */
export async function serveProtocol(
  broker: BrokerApi,
  o: ServeProtocolOptions,
): Promise<{ ports: number[]; close(): Promise<void> }> {
  const live = new Map<ProtocolConnection, string>();
  const count = (listener: string) => () => [...live.values()].filter((l) => l === listener).length;
  const forget = (c: ProtocolConnection) => live.delete(c);
  const accept = (listener: string) => (t: Transport) => {
    const c = o.connect(t, listener);
    live.set(c, listener);
    c.start(forget);
  };
  const listening: Listening[] = [];
  const name = (transport: string) => `${o.protocol}:${transport}`;
  const ws = (transport: "ws" | "wss", port: number, tls?: TlsCertificates) =>
    listenWebSocket(broker, {
      ...o,
      name: name(transport),
      port,
      path: o.wsPath,
      tls,
      connections: count(name(transport)),
      onConnection: accept(name(transport)),
    });
  try {
    listening.push(listenTcp(broker, {
      ...o,
      name: name("tcp"),
      connections: count(name("tcp")),
      onConnection: accept(name("tcp")),
    }));
    if (o.wsPort >= 0) listening.push(await ws("ws", o.wsPort));
    if (o.tls) {
      const onTls = accept(name("tls"));
      listening.push(
        await listenTls(broker, {
          ...o,
          name: name("tls"),
          port: o.tls.port,
          tls: o.tls.certificates,
          connections: count(name("tls")),
          onSocket: (socket, peer) => onTls(new SocketTransport(socket, peer, LOW_WATER)),
        }),
      );
      if (o.tls.wsPort >= 0) listening.push(await ws("wss", o.tls.wsPort, o.tls.certificates));
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
