/**
 * The HTTP plugin: one Deno.serve listener. Other plugins mount handlers under a path prefix and
 * WebSocket paths through the `http` service; everything else goes to the messaging API (Hono with
 * OpenAPI routes, served at /api/v1/openapi.json). With `tls`, an HTTPS listener serves the same.
 *
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import {
  definePlugin,
  type HttpConnInfo,
  type HttpMount,
  isBrokerError,
  loadTls,
  serveHttp,
} from "../../mod.ts";
import { BodyTimeout } from "./api/body.ts";
import { consumeRoutes } from "./api/consume.ts";
import type { HttpContext, HttpOptions, Routes, ServeEnv } from "./api/context.ts";
import { publishRoutes } from "./api/publish.ts";
import { pushRoutes } from "./api/push.ts";
import { handleSocket } from "./api/socket.ts";
import { allowedMethods } from "./methods.ts";
import { issuesText, methodNotAllowed, problem } from "./problems.ts";
import { Receipts } from "./receipts.ts";
import { SessionCache } from "./sessions.ts";

type Handler = Parameters<HttpMount["mount"]>[1];

/**
 * `req` at `url` with `body`. Not `new Request(req, ...)`: that reads the request's signal, which makes Deno
 * print a warning about its legacy abort behaviour to the broker's output.
 */
function withBody(req: Request, url: URL, body: ReadableStream<Uint8Array> | null): Request {
  return new Request(url, { method: req.method, headers: req.headers, body, duplex: "half" } as RequestInit);
}
type SocketHandler = Parameters<HttpMount["websocket"]>[1];

/** Methods `new Request` refuses (fetch's forbidden methods). */
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

export default definePlugin<HttpOptions>({
  name: "http",
  async setup(ctx) {
    const o = ctx.options;
    const sessions = new SessionCache(ctx.broker, { ttlMs: o.sessionCacheTtlMs, max: 1000 });
    const receipts = new Receipts(o.receiptTtlMs, ctx.log);
    const hc: HttpContext = {
      options: o,
      body: { maxBytes: o.maxBodySize, timeoutMs: o.bodyTimeoutMs },
      receipts,
      log: ctx.log,
      session: (
        req,
        env,
        sink,
      ) => (sink ? sessions.open(req, env, sink) : sessions.forRequest(req, env)),
    };
    const app = new OpenAPIHono<{ Bindings: ServeEnv }>({
      defaultHook: (result) => {
        if (!result.success) {
          return problem("invalid_argument", issuesText(result.error.issues));
        }
      },
    });
    publishRoutes(app as unknown as Routes, hc);
    const closeConsumers = consumeRoutes(app as unknown as Routes, hc);
    pushRoutes(app as unknown as Routes, hc);
    app.doc31("/api/v1/openapi.json", {
      openapi: "3.1.0",
      info: { title: "FerryMQ messaging API", version: "0.1.0" },
    });
    const allowed = allowedMethods(app.routes);
    const unrouted = (method: string, path: string) => {
      const methods = allowed(path);
      return methods.length !== 0
        ? methodNotAllowed(methods)
        : problem("not_found", `No route for ${method} ${path}`);
    };
    app.notFound((c) => unrouted(c.req.method, new URL(c.req.url).pathname));
    app.onError((err) => {
      if (err instanceof BodyTimeout) {
        // The rest of the body may never come: the connection ends with the answer.
        const r = problem("request_timeout", `The body did not arrive within ${o.bodyTimeoutMs} ms`, 408);
        r.headers.set("connection", "close");
        return r;
      }
      // A core failure with a code (the store could not keep a message) is answered by its code.
      if (isBrokerError(err)) return problem(err.code, err.message);
      ctx.log.error("request failed", { error: err });
      return problem("server_busy", "Internal error", 500);
    });

    const mounts: [string, Handler][] = [];
    // Where each request a mounted handler serves came from, for `sessionFor`.
    const mountedPeers = new WeakMap<Request, ServeEnv>();
    const sockets = new Map<string, SocketHandler>();
    sockets.set("/api/v1/ws", (socket, req, info) => {
      const a = info.remoteAddr as Deno.NetAddr;
      const { certificateSubject, listener } = info as HttpConnInfo & { listener: string };
      void handleSocket(socket, req, { remote: `${a.hostname}:${a.port}`, certificateSubject, listener }, hc);
    });
    ctx.provide("http", {
      mount(prefix, handler) {
        mounts.push([prefix, handler]);
        mounts.sort((a, b) => b[0].length - a[0].length);
      },
      websocket(path, onSocket) {
        sockets.set(path, onSocket);
      },
      sessionFor(req) {
        const peer = mountedPeers.get(req);
        if (!peer) throw new Error("sessionFor takes a request a mounted handler is serving");
        return sessions.forRequest(req, peer);
      },
    });

    /** Serves one listener's requests; sessions they open are counted as that listener's connections. */
    const handlerFor = (listener: string) => (req: Request, info: HttpConnInfo) => {
      const url = new URL(req.url);
      const onSocket = sockets.get(url.pathname);
      if (onSocket && req.headers.get("upgrade")?.toLowerCase() === "websocket") {
        // The request's headers and remote address are gone once it is upgraded: keep copies.
        const snapshot: HttpConnInfo & { listener: string } = {
          remoteAddr: info.remoteAddr,
          completed: info.completed,
          certificateSubject: info.certificateSubject,
          listener,
        };
        const copy = new Request(req.url, { headers: new Headers(req.headers) });
        const { socket, response } = Deno.upgradeWebSocket(req);
        socket.addEventListener("open", () => onSocket(socket, copy, snapshot), { once: true });
        return response;
      }
      const a = info.remoteAddr;
      const peer: ServeEnv = {
        remote: `${a.hostname}:${a.port}`,
        certificateSubject: info.certificateSubject,
        listener,
      };
      // The messaging API keeps /api/v1: a mount at "/" (the console) takes only what is left.
      const ownApi = url.pathname === "/api/v1" || url.pathname.startsWith("/api/v1/");
      for (const [prefix, handler] of mounts) {
        if (prefix === "/" && ownApi) continue;
        if (
          url.pathname === prefix || url.pathname.startsWith(prefix.endsWith("/") ? prefix : prefix + "/")
        ) {
          mountedPeers.set(req, peer);
          return handler(req, info);
        }
      }
      // ".../messages:batch" is the documented form; Hono routes it as ".../messages/batch".
      const batch = url.pathname.endsWith("/messages:batch");
      if (batch) url.pathname = url.pathname.slice(0, -":batch".length) + "/batch";
      // No route takes a method fetch forbids (TRACE, TRACK, CONNECT), and no Request can be rebuilt with one.
      if (FORBIDDEN_METHODS.has(req.method.toUpperCase())) return unrouted(req.method, url.pathname);
      if (batch) req = withBody(req, url, req.body);
      return app.fetch(req, peer);
    };
    const names = ["http", "http:tls"];
    const servers = [await serveHttp({ port: o.port, hostname: o.hostname }, handlerFor(names[0]))];
    try {
      if (o.tls) {
        servers.push(
          await serveHttp({ ...o, port: o.tls.port, tls: await loadTls(o.tls, ctx) }, handlerFor(names[1])),
        );
      }
    } catch (e) {
      await servers[0].close();
      throw e;
    }
    const unregister = servers.map((s, i) =>
      ctx.broker.registerListener({
        name: names[i],
        protocol: "http",
        transport: i === 0 ? "http" : "https",
        port: s.port,
        hostname: o.hostname,
        // The sessions open through it: cached request credentials, streams, sockets and pull consumers.
        connections: () => ctx.broker.connections().filter((c) => c.listener === names[i]).length,
      })
    );
    ctx.log.info(`listening on ${servers.map((s) => s.port).join(", ")}`);
    return async () => {
      for (const u of unregister) u();
      await closeConsumers();
      await sessions.closeAll();
      receipts.stop();
      for (const s of servers) await s.close();
    };
  },
});
