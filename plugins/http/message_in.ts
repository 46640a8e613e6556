/**
 * HTTP request -> MessageInit. Options come from `X-` headers or query parameters; a body with
 * content type `application/vnd.ferrymq.message+json` (or `?envelope=true`) is a JSON envelope,
 * anything else is the raw body with its content type kept.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import type { DestinationKind, MessageInit, PropertyValue } from "../../mod.ts";

/** The bytes of a base64 text (padding optional, whitespace ignored); undefined when it is not base64. */
function base64(text: string): Uint8Array | undefined {
  try {
    return Uint8Array.fromBase64(text);
  } catch {
    return undefined;
  }
}

/** A date, or a date and time with an optional zone (Date.parse alone takes nearly anything: "-5"). */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?$/i;

/** The JSON envelope of one message (also the item of a batch). */
export const Envelope = z.object({
  body: z.string().default(""),
  bodyEncoding: z.enum(["utf8", "base64"]).default("utf8"),
  contentType: z.string().optional(),
  properties: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
  priority: z.number().int().min(0).max(9).optional(),
  ttl: z.number().int().min(0).optional(),
  delay: z.number().int().min(0).optional(),
  /** ms since the epoch, or an ISO 8601 time (as the X-Deliver-At header takes). */
  deliverAt: z.union([
    z.number().int().min(0),
    z.string().regex(ISO_8601, "an ISO 8601 time").transform((v) => Date.parse(v)).pipe(z.number().min(0)),
  ]).optional(),
  persistent: z.boolean().optional(),
  groupId: z.string().optional(),
  correlationId: z.string().optional(),
  replyTo: z.string().optional(),
}).refine((e) => e.bodyEncoding !== "base64" || base64(e.body) !== undefined, {
  path: ["body"],
  message: "Invalid base64",
}).openapi("MessageEnvelope");
export type Envelope = z.infer<typeof Envelope>;

export const ENVELOPE_TYPE = "application/vnd.ferrymq.message+json";

/** Builds a MessageInit from an envelope the schema accepted. */
export function fromEnvelope(e: Envelope, kind: DestinationKind, destination: string): MessageInit {
  const body = e.bodyEncoding === "base64" ? base64(e.body)! : e.body;
  return {
    kind,
    destination,
    body,
    contentType: e.contentType,
    properties: e.properties,
    priority: e.priority,
    ttl: e.ttl,
    delay: e.delay,
    deliverAt: e.deliverAt,
    persistent: e.persistent ?? true,
    groupId: e.groupId,
    correlationId: e.correlationId,
    replyTo: e.replyTo,
  };
}

/** Reads options from headers (`X-Priority`...) and query (`priority`...); throws a message on bad values. */
export function fromRequest(
  req: Request,
  url: URL,
  body: Uint8Array,
  kind: DestinationKind,
  destination: string,
): MessageInit {
  const q = url.searchParams;
  const opt = (header: string, query: string) => req.headers.get(`x-${header}`) ?? q.get(query) ?? undefined;
  const int = (name: string, v: string | undefined, max = Number.MAX_SAFE_INTEGER) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > max) {
      throw new Error(`"${name}" must be an integer from 0 to ${max}, not "${v}"`);
    }
    return n;
  };
  const time = (name: string, v: string) => {
    const t = ISO_8601.test(v) ? Date.parse(v) : NaN;
    if (!(t >= 0)) throw new Error(`"${name}" must be ms since the epoch or an ISO 8601 time, not "${v}"`);
    return t;
  };
  const persistent = opt("persistent", "persistent");
  if (persistent !== undefined && persistent !== "true" && persistent !== "false") {
    throw new Error(`"persistent" must be true or false, not "${persistent}"`);
  }
  const properties: Record<string, PropertyValue> = {};
  for (const [k, v] of req.headers) if (k.startsWith("x-property-")) properties[k.slice(11)] = v;
  for (const [k, v] of q) if (k.startsWith("property.")) properties[k.slice(9)] = v;
  // ms since the epoch, or a time as text (ISO 8601), as the delay plugin reads its `deliver-at`.
  const at = opt("deliver-at", "deliverAt");
  const deliverAt = at === undefined || /^\d+$/.test(at) ? int("deliverAt", at) : time("deliverAt", at);
  return {
    kind,
    destination,
    body,
    contentType: req.headers.get("content-type") ?? undefined,
    properties,
    priority: int("priority", opt("priority", "priority"), 9),
    ttl: int("ttl", opt("ttl", "ttl")),
    delay: int("delay", opt("delay", "delay")),
    deliverAt,
    persistent: persistent !== "false",
    groupId: opt("group-id", "group"),
    correlationId: opt("correlation-id", "correlationId"),
    replyTo: opt("reply-to", "replyTo"),
  };
}
