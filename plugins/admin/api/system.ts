/**
 * The node (version, memory, lag, store, listeners), statistics and their series, logs and levels,
 * loaded plugins, scheduled messages (delay plugin) and dead-letter queues (dlq plugin).
 *
 * @module
 */
import { statfs } from "node:fs/promises";
import { join } from "node:path";
import type { LogLevel } from "../../../mod.ts";
import { errorProblem, problem } from "../problems.ts";
import { INTERVAL_MS } from "../stats.ts";
import { type AdminContext, audit, type Routes } from "./context.ts";
import { Json, route, Stats, z } from "./schemas.ts";

/** Option names whose values the plugin list hides. */
const SECRET = /password|secret|token|passphrase|private|key$/i;

/** A copy of `v` with secret-looking fields replaced by "***". */
export function redact(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(redact);
  if (v === null || typeof v !== "object") return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = SECRET.test(k) && x !== undefined ? "***" : redact(x);
  return out;
}

async function dirSize(dir: string, depth = 0): Promise<number> {
  let n = 0;
  try {
    for await (const e of Deno.readDir(dir)) {
      const p = join(dir, e.name);
      if (e.isFile) n += (await Deno.stat(p)).size;
      else if (e.isDirectory && depth < 4) n += await dirSize(p, depth + 1);
    }
  } catch { /* no data dir yet */ }
  return n;
}

async function freeBytes(dir: string): Promise<number | null> {
  try {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}

const LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
const unavailable = (plugin: string) =>
  problem("unavailable", `The ${plugin} plugin is not running: add it to broker.json`);

/** Registers node, stats, logs, plugins, scheduled and DLQ routes. */
export function systemRoutes(app: Routes, ac: AdminContext): void {
  const broker = ac.broker;

  app.openapi(
    route({ method: "get", path: "/node", summary: "Node status", ok: [200, Json] }),
    async (c) => {
      const m = Deno.memoryUsage();
      return c.json({
        nodeId: broker.nodeId,
        version: ac.version,
        uptimeMs: Date.now() - broker.stats.startedAt,
        memory: { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external },
        eventLoopLagMs: ac.sampler.eventLoopLagMs,
        store: { sizeBytes: await dirSize(ac.dataDir), freeBytes: await freeBytes(ac.dataDir) },
        listeners: broker.listeners().map((l) => ({
          name: l.name,
          protocol: l.protocol,
          transport: l.transport,
          port: l.port,
          hostname: l.hostname,
          connections: l.connections(),
        })),
      });
    },
  );

  app.openapi(
    route({ method: "get", path: "/stats", summary: "Totals and rates now", ok: [200, Stats] }),
    (c) => c.json(ac.sampler.current()),
  );

  app.openapi(
    route({
      method: "get",
      path: "/stats/series",
      summary: "One sample a second, last 5 minutes",
      ok: [200, Json],
    }),
    (c) => c.json({ intervalMs: INTERVAL_MS, points: ac.sampler.series() }),
  );

  app.openapi(
    route({
      method: "get",
      path: "/logs",
      summary: "Recent log records, newest last",
      query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(200) }),
      ok: [200, z.array(Json)],
    }),
    (c) => {
      const { limit } = c.req.valid("query");
      const recent = broker.logs.recent();
      return c.json(recent.slice(Math.max(0, recent.length - limit)).map(logView));
    },
  );

  app.openapi(
    route({ method: "get", path: "/logs/levels", summary: "Log level per plugin", ok: [200, Json] }),
    (c) => c.json(broker.logs.levels()),
  );

  app.openapi(
    route({
      method: "put",
      path: "/logs/levels/{plugin}",
      summary: "Set a plugin's log level (and its children's)",
      params: z.object({ plugin: z.string().min(1) }),
      body: z.object({ level: z.enum(LEVELS) }),
      ok: [200, z.object({ plugin: z.string(), level: z.enum(LEVELS) })],
      problems: [404],
    }),
    (c) => {
      const { plugin } = c.req.valid("param");
      const { level } = c.req.valid("json") as { level: LogLevel };
      const before = broker.logs.levels()[plugin];
      if (before === undefined || !broker.logs.setLevel(plugin, level)) {
        return problem("not_found", `No logger "${plugin}"`);
      }
      audit(broker, c, { action: "log.level", object: plugin, before: { level: before }, after: { level } });
      return c.json({ plugin, level });
    },
  );

  app.openapi(
    route({
      method: "get",
      path: "/plugins",
      summary: "Loaded plugins with their manifests",
      ok: [200, z.array(Json)],
    }),
    (c) =>
      c.json(
        broker.plugins().map((p) => ({
          id: p.id,
          name: p.manifest.name,
          version: p.manifest.version,
          description: p.manifest.description,
          enabled: p.state === "running",
          state: p.state,
          options: redact(p.options),
          manifest: p.manifest,
        })),
      ),
  );

  app.openapi(
    route({
      method: "get",
      path: "/scheduled",
      summary: "Scheduled messages in due order (delay plugin)",
      query: z.object({
        offset: z.coerce.number().int().min(0).default(0),
        limit: z.coerce.number().int().min(1).max(500).default(50),
      }),
      ok: [200, Json],
      problems: [503],
    }),
    (c) => {
      const delay = ac.delay();
      return delay ? c.json(delay.list(c.req.valid("query"))) : unavailable("delay");
    },
  );

  app.openapi(
    route({
      method: "delete",
      path: "/scheduled/{id}",
      summary: "Cancel a scheduled message and its repeats",
      params: z.object({ id: z.string().min(1) }),
      ok: [204],
      problems: [404, 503],
    }),
    async (c) => {
      const delay = ac.delay();
      if (!delay) return unavailable("delay");
      const { id } = c.req.valid("param");
      const user = c.get("session").user;
      // The delay service reports the change through adminAction itself, with this principal.
      const ok = await delay.cancel(id, { id: user.username, groups: user.roles });
      return ok ? new Response(null, { status: 204 }) : problem("not_found", `No scheduled message "${id}"`);
    },
  );

  app.openapi(
    route({
      method: "get",
      path: "/dlq",
      summary: "Dead-letter queues (dlq plugin)",
      ok: [200, z.array(Json)],
      problems: [503],
    }),
    (c) => {
      const dlq = ac.dlq();
      if (!dlq) return unavailable("dlq");
      return c.json(dlq.queues().map((q) => ({ name: q.name, pending: q.pending, enqueued: q.enqueued })));
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/dlq/{name}/redrive",
      summary: "Move dead letters back to where they came from",
      params: z.object({ name: z.string().min(1) }),
      body: z.object({ selector: z.string().max(4096).optional() }),
      ok: [200, z.object({ redriven: z.number() })],
      problems: [404, 503],
    }),
    async (c) => {
      const dlq = ac.dlq();
      if (!dlq) return unavailable("dlq");
      const { name } = c.req.valid("param");
      if (!dlq.queues().some((q) => q.name === name)) {
        return problem("not_found", `No dead-letter queue "${name}"`);
      }
      const user = c.get("session").user;
      try {
        // The dlq service reports the change through adminAction itself, with this principal.
        const redriven = await dlq.redriveAll(name, {
          by: { id: user.username, groups: user.roles },
          selector: c.req.valid("json").selector,
        });
        return c.json({ redriven });
      } catch (e) {
        return errorProblem(e);
      }
    },
  );
}

/** A log record as the API shows it. */
export const logView = (
  r: { time: number; level: string; logger: string; msg: string; fields?: unknown },
) => ({
  t: r.time,
  level: r.level,
  plugin: r.logger,
  msg: r.msg,
  fields: r.fields === undefined ? undefined : JSON.parse(safeJson(r.fields)),
});

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => x instanceof Error ? { name: x.name, message: x.message } : x) ??
      "null";
  } catch {
    return '"[unserializable]"';
  }
}
