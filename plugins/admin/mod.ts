/**
 * The admin plugin: the REST management API under `/api/v1/admin` on the http plugin's listener
 * (docs/admin-api.md; OpenAPI at `/api/v1/admin/openapi.json`), console login with CSRF protection,
 * live SSE, and the browser console (`console/server.ts`) at `/` when it is present. Every change is
 * reported through the `adminAction` hook with the value before and after.
 *
 * @example broker.json
 * ```json
 * { "use": "admin", "options": { "sessionIdleMs": 900000 } }
 * ```
 * with FERRYMQ_ADMIN_USER / FERRYMQ_ADMIN_PASSWORD set for the first console user.
 *
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import meta from "../../deno.json" with { type: "json" };
import { definePlugin, type Logger } from "../../mod.ts";
import { authRoutes, guard } from "./api/auth.ts";
import { bridgeRoutes } from "./api/bridges.ts";
import { clientRoutes } from "./api/clients.ts";
import type { AdminContext, AdminEnv, AdminOptions, Routes } from "./api/context.ts";
import { destinationRoutes } from "./api/destinations.ts";
import { systemRoutes } from "./api/system.ts";
import { liveRoutes } from "./live.ts";
import { problem } from "./problems.ts";
import { ConsoleSessions, LoginLimiter } from "./session_auth.ts";
import { StatsSampler } from "./stats.ts";
import { type AdminUser, AdminUsers, type FirstAdmin, MIN_PASSWORD } from "./users.ts";
import type {} from "../delay/mod.ts";
import type {} from "../dlq/mod.ts";
import type {} from "../bridge/mod.ts";

/** The base path of the API. */
export const API_BASE = "/api/v1/admin";

type ConsoleHandler = (req: Request) => Response | Promise<Response>;
/** The options console/server.ts's `consoleHandler` takes (loaded dynamically: the console is optional). */
interface ConsoleOptions {
  apiBase: string;
  fetchApi?: ConsoleHandler;
  onError?: (message: string, error: unknown) => void;
}

export default definePlugin<AdminOptions>({
  name: "admin",
  async setup(ctx) {
    const o = ctx.options;
    const broker = ctx.broker;
    const users = new AdminUsers(broker.store.kv<AdminUser>("admin.users"), ctx.log);
    await users.bootstrap(firstAdmin(o.admin, ctx.log));
    const sessions = new ConsoleSessions(o.sessionIdleMs);
    const sampler = new StatsSampler(broker);
    const ac: AdminContext = {
      broker,
      users,
      sessions,
      limiter: new LoginLimiter(o.loginMaxFailures, o.loginWindowMs),
      sampler,
      dataDir: ctx.dataDir,
      version: meta.version,
      delay: () => ctx.tryUse("delay"),
      dlq: () => ctx.tryUse("dlq"),
      plugins: ctx.plugins,
      bridges: () => ctx.useAll("bridge:"),
    };

    const app = new OpenAPIHono<AdminEnv>({
      defaultHook: (result) => {
        if (!result.success) {
          return problem(
            "invalid_argument",
            result.error.issues.map((i) => `${i.path.join(".") || "request"}: ${i.message}`).join("; "),
          );
        }
      },
    });
    // Bodies are read through a limit, chunked ones too: the largest is a message to send, in base64.
    const maxBody = Math.ceil(ctx.broker.limits.maxMessageSize * 4 / 3) + 64 * 1024;
    app.use(
      `${API_BASE}/*`,
      bodyLimit({
        maxSize: maxBody,
        onError: () => problem("payload_too_large", `The body exceeds ${maxBody} bytes`),
      }),
    );
    app.use(`${API_BASE}/*`, guard(ac));
    authRoutes(app as unknown as Routes, ac);
    systemRoutes(app as unknown as Routes, ac);
    destinationRoutes(app as unknown as Routes, ac);
    clientRoutes(app as unknown as Routes, ac);
    bridgeRoutes(app as unknown as Routes, ac);
    const closeStreams = liveRoutes(app as unknown as Routes, ac);
    app.doc31(`${API_BASE}/openapi.json`, {
      openapi: "3.1.0",
      info: { title: "FerryMQ management API", version: meta.version },
    });
    app.notFound((c) => problem("not_found", `No route for ${c.req.method} ${c.req.path}`));
    app.onError((err) => {
      // zod-openapi's own body parsing reports malformed JSON as a plain Error.
      if (/Malformed JSON/.test(err.message)) return problem("invalid_json", err.message);
      // Hono's body validation, for a body that is not JSON at all.
      if (/Unsupported Media Type/i.test(err.message)) {
        return problem("unsupported_media_type", "The body must be application/json");
      }
      ctx.log.error("request failed", { error: err });
      return problem("server_busy", "Internal error");
    });

    const http = ctx.use("http");
    const api = (req: Request, remote: string) =>
      app.fetch(req, {
        remote,
        secure: new URL(req.url).protocol === "https:" || req.headers.get("x-forwarded-proto") === "https",
      });
    http.mount(API_BASE, (req, info) => {
      const a = info.remoteAddr as Deno.NetAddr;
      return api(req, `${a.hostname}:${a.port}`);
    });
    if (o.console) {
      const handler = await loadConsole(ctx.log, {
        apiBase: API_BASE,
        // Server-rendered pages read the API in-process, not through a loopback request to our own port.
        fetchApi: (req) => api(req, "in-process"),
        onError: (message, error) => ctx.log.error(message, { error }),
      });
      if (handler) http.mount("/", (req) => handler(req));
    }

    sampler.start();
    const sweep = setInterval(() => sessions.sweep(), Math.min(o.sessionIdleMs, 60_000));
    Deno.unrefTimer(sweep);
    return () => {
      clearInterval(sweep);
      sampler.stop();
      closeStreams();
    };
  },
});

/** The first admin from the options, else from the environment; undefined when neither is set. */
function firstAdmin(configured: FirstAdmin | undefined, log: Logger): FirstAdmin | undefined {
  if (configured) return configured;
  let username: string | undefined, password: string | undefined;
  try {
    username = Deno.env.get("FERRYMQ_ADMIN_USER");
    password = Deno.env.get("FERRYMQ_ADMIN_PASSWORD");
  } catch {
    log.warn("cannot read FERRYMQ_ADMIN_USER / FERRYMQ_ADMIN_PASSWORD: run with --allow-env");
    return undefined;
  }
  if (!username || !password) return undefined;
  if (password.length < MIN_PASSWORD) {
    log.warn(
      `FERRYMQ_ADMIN_PASSWORD is shorter than ${MIN_PASSWORD} characters: the first admin is not created`,
    );
    return undefined;
  }
  return { username, password };
}

/** The console's handler when console/server.ts exists (it lands separately from this plugin). */
async function loadConsole(log: Logger, opts: ConsoleOptions): Promise<ConsoleHandler | undefined> {
  const url = new URL("../../console/server.ts", import.meta.url);
  try {
    await Deno.stat(url);
  } catch {
    log.info("console/server.ts not found: serving the API only");
    return undefined;
  }
  const mod = await import(url.href) as { consoleHandler?: (opts: ConsoleOptions) => ConsoleHandler };
  if (typeof mod.consoleHandler !== "function") {
    log.warn("console/server.ts exports no consoleHandler: serving the API only");
    return undefined;
  }
  return mod.consoleHandler(opts);
}
