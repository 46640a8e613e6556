/**
 * A delivered message as JSON (pull, SSE and WebSocket): UTF-8 bodies as text, others as base64.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import type { Delivery } from "../../../mod.ts";

export const OutMessage = z.object({
  id: z.string(),
  /** The id the producer gave (AMQP message-id), when it gave one; `id` is the broker's. */
  producerId: z.string().optional(),
  destination: z.string(),
  kind: z.enum(["queue", "topic"]),
  body: z.string(),
  bodyEncoding: z.enum(["utf8", "base64"]),
  contentType: z.string().optional(),
  properties: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  priority: z.number(),
  timestamp: z.number(),
  expiresAt: z.number(),
  redeliveryCount: z.number(),
  correlationId: z.string().optional(),
  replyTo: z.string().optional(),
  groupId: z.string().optional(),
}).openapi("Message");

const utf8 = new TextDecoder("utf-8", { fatal: true });

function encodeBody(b: Uint8Array): { body: string; bodyEncoding: "utf8" | "base64" } {
  try {
    return { body: utf8.decode(b), bodyEncoding: "utf8" };
  } catch {
    let s = "";
    for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
    return { body: btoa(s), bodyEncoding: "base64" };
  }
}

/** The JSON form of a delivery. */
export function deliveryJson(d: Delivery): z.infer<typeof OutMessage> {
  const m = d.message;
  return {
    id: m.id,
    producerId: m.producerId,
    destination: m.destination,
    kind: m.kind,
    ...encodeBody(m.body),
    contentType: m.contentType,
    properties: { ...m.properties },
    priority: m.priority,
    timestamp: m.timestamp,
    expiresAt: m.expiresAt,
    redeliveryCount: m.redeliveryCount,
    correlationId: m.correlationId,
    replyTo: m.replyTo,
    groupId: m.groupId,
  };
}
