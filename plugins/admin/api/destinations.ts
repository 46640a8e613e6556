/**
 * Destinations: list with filters, create, edit limits, delete, purge, browse pending messages without
 * consuming them, and send a message.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import {
  type BrokerApi,
  BrokerError,
  type DestinationInfo,
  type DestinationKind,
  matchesPattern,
  type Message,
  reserveMessageId,
  validateName,
} from "../../../mod.ts";
import { errorProblem, problem } from "../problems.ts";
import { type AdminContext, audit, type Routes } from "./context.ts";
import { BrowsedMessage, Destination, Kind, route, z } from "./schemas.ts";

/** A destination as the API shows it. */
export type DestinationView = z.infer<typeof Destination>;

/** Every destination with producer counts and bindings, optionally filtered. */
export function listDestinations(
  broker: BrokerApi,
  filter: { kind?: DestinationKind; q?: string; name?: string } = {},
): DestinationView[] {
  const all = broker.destinations();
  const producers = new Map<string, number>();
  for (const p of broker.producers()) {
    const key = `${p.kind}:${p.destination}`;
    producers.set(key, (producers.get(key) ?? 0) + 1);
  }
  const q = filter.q?.toLowerCase();
  const out: DestinationView[] = [];
  for (const d of all) {
    if (filter.kind && d.kind !== filter.kind) continue;
    if (filter.name !== undefined && d.name !== filter.name) continue;
    if (q && !d.name.toLowerCase().includes(q)) continue;
    out.push(view(d, all, producers.get(`${d.kind}:${d.name}`) ?? 0));
  }
  return out.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
}

function view(d: DestinationInfo, all: readonly DestinationInfo[], producers: number): DestinationView {
  // A queue names the pattern it is bound to; a topic, the subscription queues it feeds.
  const boundTo = d.kind === "queue"
    ? (d.boundTo ? [d.boundTo] : [])
    : all.filter((x) => x.kind === "queue" && x.boundTo && matchesPattern(x.boundTo, d.name)).map((x) =>
      x.name
    );
  return {
    name: d.name,
    kind: d.kind,
    pending: d.pending,
    inflight: d.inflight,
    consumers: d.consumers,
    producers,
    enqueued: d.enqueued,
    dequeued: d.dequeued,
    durable: d.durable,
    boundTo,
    maxRedeliveries: d.maxRedeliveries,
    maxLength: d.maxLength,
  };
}

// Filtered before the views are built: each view scans every destination for its bindings.
const find = (broker: BrokerApi, kind: DestinationKind, name: string): DestinationView | undefined =>
  listDestinations(broker, { kind, name })[0];

const notFound = (kind: string, name: string) => problem("not_found", `No ${kind} named "${name}"`);

const decoder = new TextDecoder("utf-8", { fatal: true });

/** A message as the API shows it: the body as text when it is UTF-8, else base64. */
export function messageView(m: Message) {
  let body: string, encoding: "base64" | undefined;
  try {
    body = decoder.decode(m.body);
  } catch {
    body = Buffer.from(m.body).toString("base64");
    encoding = "base64";
  }
  const headers: Record<string, string> = {};
  for (const k of ["producerId", "groupId", "correlationId", "replyTo", "subject", "contentType"] as const) {
    if (m[k] !== undefined) headers[k] = m[k];
  }
  return {
    id: m.id,
    destination: m.destination,
    priority: m.priority,
    persistent: m.persistent,
    timestamp: m.timestamp,
    expiresAt: m.expiresAt || null,
    redeliveryCount: m.redeliveryCount,
    headers,
    properties: { ...m.properties },
    body,
    encoding,
    size: m.body.byteLength,
  };
}

const Params = z.object({ kind: Kind, name: z.string().min(1) });
const NewDestination = z.object({
  name: z.string().min(1),
  kind: Kind,
  durable: z.boolean().default(true),
  maxRedeliveries: z.number().int().min(0).optional(),
  maxLength: z.number().int().min(1).optional(),
}).openapi("NewDestination");
const Limits = z.object({
  maxRedeliveries: z.number().int().min(0).nullable().optional(),
  maxLength: z.number().int().min(1).nullable().optional(),
}).strict();
const Browse = z.object({
  selector: z.string().max(4096).optional(),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
const Send = z.object({
  body: z.string(),
  encoding: z.enum(["utf8", "base64"]).default("utf8"),
  properties: z.record(z.string().min(1), z.union([z.string(), z.number(), z.boolean(), z.null()])).default(
    {},
  ),
  priority: z.number().int().min(0).max(9).optional(),
  persistent: z.boolean().default(true),
  ttlMs: z.number().int().min(0).optional(),
}).openapi("SendMessage");

/** Registers the destination routes. */
export function destinationRoutes(app: Routes, ac: AdminContext): void {
  const broker = ac.broker;

  app.openapi(
    route({
      method: "get",
      path: "/destinations",
      summary: "Queues and topics",
      query: z.object({ kind: Kind.optional(), q: z.string().optional() }),
      ok: [200, z.array(Destination)],
    }),
    (c) => c.json(listDestinations(broker, c.req.valid("query"))),
  );

  app.openapi(
    route({
      method: "post",
      path: "/destinations",
      summary: "Create a queue (topics exist once published to)",
      body: NewDestination,
      ok: [201, Destination],
      problems: [409],
    }),
    async (c) => {
      const b = c.req.valid("json");
      try {
        validateName(b.name, {
          maxLength: broker.limits.maxDestinationLength,
          maxLevels: broker.limits.maxDestinationLevels,
        });
        if (b.kind === "topic") {
          throw new BrokerError(
            "invalid_argument",
            `Cannot create topic "${b.name}": topics need no creation, publish to it`,
          );
        }
        if (find(broker, "queue", b.name)) {
          throw new BrokerError("conflict", `Cannot create queue "${b.name}": it exists`);
        }
        await broker.createQueue(b.name, {
          durable: b.durable,
          maxRedeliveries: b.maxRedeliveries,
          maxLength: b.maxLength,
        });
      } catch (e) {
        return errorProblem(e);
      }
      const after = find(broker, "queue", b.name)!;
      audit(broker, c, { action: "destination.create", object: `queue:${b.name}`, before: null, after });
      return c.json(after, 201);
    },
  );

  app.openapi(
    route({
      method: "get",
      path: "/destinations/{kind}/{name}",
      summary: "One destination",
      params: Params,
      ok: [200, Destination],
      problems: [404],
    }),
    (c) => {
      const { kind, name } = c.req.valid("param");
      const d = find(broker, kind, name);
      return d ? c.json(d) : notFound(kind, name);
    },
  );

  app.openapi(
    route({
      method: "patch",
      path: "/destinations/{kind}/{name}",
      summary: "Change a queue's limits (null clears one)",
      params: Params,
      body: Limits,
      ok: [200, Destination],
      problems: [404],
    }),
    async (c) => {
      const { kind, name } = c.req.valid("param");
      const before = find(broker, kind, name);
      if (!before) return notFound(kind, name);
      if (kind === "topic") return problem("invalid_argument", `Topic "${name}" has no limits to change`);
      try {
        await broker.updateQueue(name, c.req.valid("json"));
      } catch (e) {
        return errorProblem(e);
      }
      const after = find(broker, kind, name)!;
      audit(broker, c, { action: "destination.update", object: `queue:${name}`, before, after });
      return c.json(after);
    },
  );

  app.openapi(
    route({
      method: "delete",
      path: "/destinations/{kind}/{name}",
      summary: "Delete a destination and its pending messages",
      params: Params,
      ok: [204],
      problems: [404],
    }),
    async (c) => {
      const { kind, name } = c.req.valid("param");
      const before = find(broker, kind, name);
      if (!before || !(await broker.deleteDestination(name, kind))) return notFound(kind, name);
      audit(broker, c, { action: "destination.delete", object: `${kind}:${name}`, before, after: null });
      return new Response(null, { status: 204 });
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/destinations/{kind}/{name}/purge",
      summary: "Remove every pending message of a queue",
      params: Params,
      ok: [200, z.object({ purged: z.number() })],
      problems: [404],
    }),
    async (c) => {
      const { kind, name } = c.req.valid("param");
      const before = find(broker, kind, name);
      if (!before) return notFound(kind, name);
      if (kind === "topic") return problem("invalid_argument", `Topic "${name}" holds no messages to purge`);
      const purged = await broker.purge(name);
      const after = find(broker, kind, name);
      audit(broker, c, {
        action: "destination.purge",
        object: `queue:${name}`,
        before,
        after: { ...after, purged },
      });
      return c.json({ purged });
    },
  );

  app.openapi(
    route({
      method: "get",
      path: "/destinations/{kind}/{name}/messages",
      summary: "Browse pending messages without consuming them",
      params: Params,
      query: Browse,
      ok: [200, z.object({ total: z.number(), messages: z.array(BrowsedMessage) })],
      problems: [404],
    }),
    (c) => {
      const { kind, name } = c.req.valid("param");
      const { selector, offset, limit } = c.req.valid("query");
      const d = find(broker, kind, name);
      if (!d) return notFound(kind, name);
      if (kind === "topic") return c.json({ total: 0, messages: [] });
      try {
        // With a selector the total is the number that match: one pass gives both it and the page.
        const matched = selector ? broker.browse(name, { selector, limit: Infinity }) : undefined;
        const page = matched?.slice(offset, offset + limit) ?? broker.browse(name, { offset, limit });
        return c.json({ total: matched?.length ?? d.pending, messages: page.map(messageView) });
      } catch (e) {
        return errorProblem(e);
      }
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/destinations/{kind}/{name}/messages",
      summary: "Send a message",
      params: Params,
      body: Send,
      ok: [201, z.object({ id: z.string() })],
      problems: [404],
    }),
    async (c) => {
      const { kind, name } = c.req.valid("param");
      const b = c.req.valid("json");
      if (kind === "queue" && !find(broker, kind, name)) return notFound(kind, name);
      let body: Uint8Array | string = b.body;
      if (b.encoding === "base64") {
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b.body)) {
          return problem("invalid_argument", "body: not base64 (encoding is base64)");
        }
        body = new Uint8Array(Buffer.from(b.body, "base64"));
      }
      const reserved = reserveMessageId();
      const id = reserved.id;
      try {
        await broker.publish({
          reservedId: reserved,
          kind,
          destination: name,
          body,
          properties: b.properties,
          priority: b.priority,
          persistent: b.persistent,
          ttl: b.ttlMs,
        });
      } catch (e) {
        return errorProblem(e);
      }
      audit(broker, c, {
        action: "message.send",
        object: `${kind}:${name}`,
        before: null,
        after: {
          id,
          size: typeof body === "string" ? new TextEncoder().encode(body).byteLength : body.byteLength,
        },
      });
      return c.json({ id }, 201);
    },
  );
}
