/**
 * Request and response schemas of the admin API (zod, named for the OpenAPI document), and the
 * `route()` shorthand every module declares its routes with.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";

export { z };

export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number(),
  detail: z.string(),
  reason: z.string(),
}).openapi("Problem");

export const User = z.object({
  username: z.string(),
  roles: z.array(z.string()),
  createdAt: z.number(),
}).openapi("User");

export const Kind = z.enum(["queue", "topic"]);

export const Destination = z.object({
  name: z.string(),
  kind: Kind,
  pending: z.number(),
  inflight: z.number(),
  consumers: z.number(),
  producers: z.number(),
  enqueued: z.number(),
  dequeued: z.number(),
  durable: z.boolean(),
  boundTo: z.array(z.string()),
  maxRedeliveries: z.number().optional(),
  maxLength: z.number().optional(),
}).openapi("Destination");

export const BrowsedMessage = z.object({
  id: z.string(),
  destination: z.string(),
  priority: z.number(),
  persistent: z.boolean(),
  timestamp: z.number(),
  expiresAt: z.number().nullable(),
  redeliveryCount: z.number(),
  headers: z.record(z.string(), z.string()),
  properties: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  body: z.string(),
  encoding: z.literal("base64").optional(),
  size: z.number(),
}).openapi("Message");

export const Stats = z.object({
  messagesIn: z.number(),
  messagesOut: z.number(),
  bytesIn: z.number(),
  bytesOut: z.number(),
  connections: z.number(),
  destinations: z.number(),
  pending: z.number(),
  enqueueRate: z.number(),
  dequeueRate: z.number(),
  storeFailures: z.number(),
}).openapi("Stats");

export const Connection = z.object({
  id: z.string(),
  clientId: z.string(),
  protocol: z.string(),
  remote: z.string(),
  listener: z.string().optional(),
  user: z.string(),
  connectedAt: z.number(),
  subscriptions: z.number(),
  messagesIn: z.number(),
  messagesOut: z.number(),
}).openapi("Connection");

export const Bridge = z.object({
  id: z.string(),
  peer: z.string(),
  peerNodeId: z.string().optional(),
  connected: z.boolean(),
  forwarded: z.number(),
  skipped: z.number(),
  rejected: z.number(),
  redelivered: z.number(),
  pending: z.number(),
  failures: z.number(),
  lastError: z.string().optional(),
  lastErrorAt: z.number().optional(),
  nextAttemptAt: z.number().optional(),
  /** Added through this API (so it can be deleted here), not from broker.json. */
  runtime: z.boolean(),
  links: z.array(
    z.object({
      from: z.string(),
      queue: z.string(),
      forwarded: z.number(),
      rejected: z.number(),
      redelivered: z.number(),
      pending: z.number(),
      lastRefusal: z.string().optional(),
      retryAt: z.number().optional(),
    }),
  ),
}).openapi("Bridge");

export const NewBridge = z.object({
  id: z.string().min(1).describe("Instance id: lowercase letters, digits, '.', '_', '-'"),
  options: z.record(z.string(), z.unknown()).describe(
    "The bridge plugin's options (host, port, username, password, tls, forward, credit, reconnect, " +
      "idleTimeoutMs), checked against its JSON Schema",
  ),
}).openapi("NewBridge");

/** Any JSON object; for responses whose shape docs/admin-api.md gives in full. */
export const Json = z.record(z.string(), z.unknown());

const PROBLEMS = {
  400: "Invalid request",
  401: "No valid session",
  403: "Missing or wrong X-CSRF-Token",
  404: "Not found",
  409: "Conflict",
  429: "Too many failed logins",
  503: "Feature not available",
} as const;

type Status = keyof typeof PROBLEMS;

/** A route with JSON in and out and the problem responses it can give. */
export function route(def: {
  method: "get" | "post" | "put" | "patch" | "delete";
  path: string;
  summary: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Success status and schema; no schema = no content. */
  ok: [number, z.ZodType?];
  problems?: Status[];
}) {
  const responses: Record<number, unknown> = {};
  const [status, schema] = def.ok;
  responses[status] = schema
    ? { description: "OK", content: { "application/json": { schema } } }
    : { description: "Done" };
  for (const s of [400, 401, 403, ...(def.problems ?? [])] as Status[]) {
    if (s === 403 && def.method === "get") continue;
    responses[s] = { description: PROBLEMS[s], content: { "application/problem+json": { schema: Problem } } };
  }
  return createRoute({
    method: def.method,
    path: "/api/v1/admin" + def.path,
    summary: def.summary,
    request: {
      params: def.params,
      query: def.query,
      body: def.body ? { content: { "application/json": { schema: def.body } }, required: true } : undefined,
    },
    // deno-lint-ignore no-explicit-any
    responses: responses as any,
  });
}
