/**
 * Publishing over HTTP: one message (raw body or JSON envelope), an atomic batch (JSON array or
 * NDJSON), synchronous by default (201 after the store commit) or asynchronous with a receipt.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { type DestinationKind, isReject, type MessageInit, reserveMessageId } from "../../../mod.ts";
import { Envelope, ENVELOPE_TYPE, fromEnvelope, fromRequest } from "../message_in.ts";
import { issuesText, problem, rejectProblem } from "../problems.ts";
import { readBody } from "./body.ts";
import type { HttpContext, Routes } from "./context.ts";

const Kind = z.enum(["queues", "topics"]).openapi({ description: "Destination kind" });
const Params = z.object({
  kind: Kind,
  name: z.string().min(1).openapi({ description: "Destination in the core form (a.b.c)" }),
});
const PublishQuery = z.object({
  async: z.enum(["true", "false"]).optional().openapi({
    description: "202 at once; read the outcome at /api/v1/receipts/{id}",
  }),
  callback: z.string().url().optional().openapi({
    description: "http(s) URL that receives the receipt as JSON (async only)",
  }),
  envelope: z.enum(["true", "false"]).optional(),
});
const Accepted = z.object({ id: z.string(), status: z.enum(["confirmed", "pending"]) }).openapi(
  "PublishResult",
);
const Problem = z.object({ type: z.string(), title: z.string(), status: z.number(), detail: z.string() })
  .openapi("Problem");
const problemResponses = {
  400: { description: "Bad request", content: { "application/problem+json": { schema: Problem } } },
  401: { description: "Authentication failed", content: { "application/problem+json": { schema: Problem } } },
  403: { description: "Not authorized", content: { "application/problem+json": { schema: Problem } } },
  404: { description: "Unknown destination", content: { "application/problem+json": { schema: Problem } } },
  413: { description: "Body over the limit", content: { "application/problem+json": { schema: Problem } } },
};

const publishRoute = createRoute({
  method: "post",
  path: "/api/v1/{kind}/{name}/messages",
  summary: "Publish one message",
  description: `The body is the message as it is (any content type, kept), or a MessageEnvelope when the
content type is ${ENVELOPE_TYPE} or ?envelope=true. Options: X-Priority, X-TTL, X-Delay, X-Deliver-At,
X-Persistent, X-Group-Id, X-Correlation-Id, X-Reply-To, X-Property-<name> headers, or the query parameters
priority, ttl, delay, deliverAt, persistent, group, correlationId, replyTo, property.<name>. X-Deliver-At and
deliverAt are ms since the epoch or an ISO 8601 time. A reply-to is queue://<name> or topic://<name>.`,
  request: {
    params: Params,
    query: PublishQuery,
  },
  responses: {
    201: { description: "Stored and routed", content: { "application/json": { schema: Accepted } } },
    202: { description: "Accepted (async)", content: { "application/json": { schema: Accepted } } },
    ...problemResponses,
  },
});

const batchRoute = createRoute({
  method: "post",
  path: "/api/v1/{kind}/{name}/messages/batch",
  summary: "Publish a batch atomically (also at .../messages:batch)",
  description: "A JSON array (application/json) or NDJSON (application/x-ndjson) of MessageEnvelope objects.",
  request: {
    params: Params,
  },
  responses: {
    201: {
      description: "Every message stored",
      content: { "application/json": { schema: z.object({ ids: z.array(z.string()) }) } },
    },
    ...problemResponses,
  },
});

const receiptRoute = createRoute({
  method: "get",
  path: "/api/v1/receipts/{id}",
  summary: "The outcome of an async publish",
  request: { params: z.object({ id: z.string() }) },
  responses: {
    200: {
      description: "Receipt",
      content: {
        "application/json": {
          schema: z.object({
            id: z.string(),
            status: z.enum(["pending", "confirmed", "failed"]),
            error: Problem.optional(),
          }),
        },
      },
    },
    404: { description: "Unknown receipt", content: { "application/problem+json": { schema: Problem } } },
  },
});

const kindOf = (k: "queues" | "topics"): DestinationKind => (k === "queues" ? "queue" : "topic");

// The body limit middleware has refused any body over the limit by now.

/** Registers the publish routes. */
export function publishRoutes(app: Routes, hc: HttpContext): void {
  app.openapi(publishRoute, async (c) => {
    const { kind, name } = c.req.valid("param");
    const q = c.req.valid("query");
    const session = await hc.session(c.req.raw, c.env);
    if (isReject(session)) return rejectProblem(session);
    const body = await readBody(c.req.raw, hc.body);
    let init: MessageInit;
    try {
      const type = c.req.header("content-type") ?? "";
      if (type.startsWith(ENVELOPE_TYPE) || q.envelope === "true") {
        const parsed = Envelope.safeParse(JSON.parse(new TextDecoder().decode(body)));
        if (!parsed.success) {
          return problem("invalid_message", issuesText(parsed.error.issues));
        }
        init = fromEnvelope(parsed.data, kindOf(kind), name);
      } else {
        init = fromRequest(c.req.raw, new URL(c.req.url), body, kindOf(kind), name);
      }
    } catch (e) {
      return problem(
        e instanceof SyntaxError ? "invalid_json" : "invalid_argument",
        (e as Error).message,
        400,
      );
    }
    // Reserved: a 202 names the message before the core has made it.
    const reserved = init.reservedId = reserveMessageId();
    const id = reserved.id;
    const done = session.publish(init);
    if (q.async === "true") {
      hc.receipts.track(id, done, q.callback);
      return c.json({ id, status: "pending" as const }, 202);
    }
    const r = await done;
    if (r) return rejectProblem(r);
    return c.json({ id, status: "confirmed" as const }, 201);
  });

  app.openapi(batchRoute, async (c) => {
    const { kind, name } = c.req.valid("param");
    const session = await hc.session(c.req.raw, c.env);
    if (isReject(session)) return rejectProblem(session);
    const raw = await readBody(c.req.raw, hc.body);
    const text = new TextDecoder().decode(raw);
    let items: unknown[];
    try {
      items = (c.req.header("content-type") ?? "").includes("ndjson")
        ? text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l))
        : JSON.parse(text);
    } catch (e) {
      return problem("invalid_json", (e as Error).message, 400);
    }
    if (!Array.isArray(items) || items.length === 0) {
      return problem("invalid_argument", "A batch is a non-empty array");
    }
    if (items.length > hc.options.maxBatch) {
      return problem("payload_too_large", `A batch holds at most ${hc.options.maxBatch} messages`);
    }
    // All or none: every envelope is checked here, then the core checks every message before it routes any.
    const inits: MessageInit[] = [];
    for (const [i, item] of items.entries()) {
      const parsed = Envelope.safeParse(item);
      if (!parsed.success) {
        return problem("invalid_message", `item ${i}: ${issuesText(parsed.error.issues)}`);
      }
      inits.push({ ...fromEnvelope(parsed.data, kindOf(kind), name), reservedId: reserveMessageId() });
    }
    const r = await session.publishBatch(inits);
    if (r) return rejectProblem(r);
    return c.json({ ids: inits.map((m) => m.reservedId!.id) }, 201);
  });

  app.openapi(receiptRoute, (c) => {
    const r = hc.receipts.get(c.req.valid("param").id);
    if (!r) return problem("not_found", `No receipt "${c.req.valid("param").id}"`);
    return c.json(r, 200);
  });
}
