/**
 * STOMP headers <-> core messages, and `/queue/` `/topic/` destinations <-> core destinations. A
 * `reply-to` header is a destination too: `/queue/r` is the reply address `queue://r`.
 *
 * @module
 */
import {
  type Delivery,
  type DestinationKind,
  formatReplyTo,
  isReject,
  type MessageInit,
  parseReplyTo,
  type PropertyValue,
  type Reject,
} from "../../mod.ts";

/** Destination prefixes (plugin options). */
export interface Prefixes {
  queuePrefix: string;
  topicPrefix: string;
}

/** Headers that map to core fields, or that STOMP itself owns; everything else is a user property. */
const RESERVED = new Set([
  "destination",
  "content-length",
  "content-type",
  "receipt",
  "transaction",
  "persistent",
  "priority",
  "expires",
  "correlation-id",
  "reply-to",
  "message-id",
  "subscription",
  "ack",
  "AMQ_SCHEDULED_DELAY",
  "delay",
  "deliver-at",
  "JMSXGroupID",
  "group-id",
  "type",
  "redelivered",
  "timestamp",
  "redelivery-count",
]);

/** `/queue/a.b` -> queue "a.b"; `/topic/a.*` -> topic "a.*". */
export function parseDestination(
  d: string | undefined,
  p: Prefixes,
): { kind: DestinationKind; name: string } | Reject {
  if (!d) return { code: "invalid_destination", reason: "Missing destination header" };
  if (d.startsWith(p.queuePrefix) && d.length > p.queuePrefix.length) {
    return { kind: "queue", name: d.slice(p.queuePrefix.length) };
  }
  if (d.startsWith(p.topicPrefix) && d.length > p.topicPrefix.length) {
    return { kind: "topic", name: d.slice(p.topicPrefix.length) };
  }
  return {
    code: "invalid_destination",
    reason: `Destination "${d}" must start with ${p.queuePrefix} or ${p.topicPrefix}`,
  };
}

/** The STOMP destination of a core destination. */
export function formatDestination(kind: DestinationKind, name: string, p: Prefixes): string {
  return (kind === "queue" ? p.queuePrefix : p.topicPrefix) + name;
}

/**
 * A reply address -> the `reply-to` header; undefined for a value that is none (a message stored before reply
 * addresses were checked).
 */
function replyToHeader(replyTo: string, p: Prefixes): string | undefined {
  const reply = parseReplyTo(replyTo);
  return reply && formatDestination(reply.kind, reply.name, p);
}

const num = (v: string | undefined): number | undefined => {
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : NaN;
};

/** A SEND frame -> MessageInit; a Reject for malformed values. */
export function sendInit(
  headers: Record<string, string>,
  body: Uint8Array,
  dest: { kind: DestinationKind; name: string },
  p: Prefixes,
): MessageInit | Reject {
  const properties: Record<string, PropertyValue> = {};
  for (const k in headers) if (!RESERVED.has(k)) properties[k] = headers[k];
  const priority = num(headers.priority);
  const expires = num(headers.expires);
  const delay = num(headers.AMQ_SCHEDULED_DELAY ?? headers.delay);
  const deliverAt = num(headers["deliver-at"]);
  for (
    const [name, v] of [["priority", priority], ["expires", expires], ["delay", delay], [
      "deliver-at",
      deliverAt,
    ]] as const
  ) {
    if (Number.isNaN(v)) return { code: "invalid_message", reason: `Header "${name}" is not a number` };
  }
  if (priority !== undefined && !(Number.isInteger(priority) && priority >= 0 && priority <= 9)) {
    return { code: "invalid_message", reason: `Header "priority" must be 0-9, not ${priority}` };
  }
  const reply = headers["reply-to"] === undefined ? undefined : parseDestination(headers["reply-to"], p);
  if (isReject(reply)) return { code: "invalid_message", reason: `Header "reply-to": ${reply.reason}` };
  return {
    destination: dest.name,
    kind: dest.kind,
    body,
    properties,
    persistent: headers.persistent === "true",
    priority,
    expiresAt: expires ? expires : undefined,
    delay: delay || undefined,
    deliverAt: deliverAt || undefined,
    correlationId: headers["correlation-id"],
    replyTo: reply && formatReplyTo(reply.kind, reply.name),
    groupId: headers.JMSXGroupID ?? headers["group-id"],
    subject: headers.type,
    contentType: headers["content-type"],
  };
}

/** MESSAGE frame headers for a delivery. */
export function messageHeaders(d: Delivery, subscription: string, ack: string | undefined, p: Prefixes) {
  const m = d.message;
  const h: Record<string, string | number | boolean | undefined> = {
    subscription,
    "message-id": m.id,
    destination: formatDestination(m.kind, m.destination, p),
    ack,
    "content-type": m.contentType,
    persistent: m.persistent ? "true" : undefined,
    priority: m.priority,
    timestamp: m.timestamp,
    expires: m.expiresAt || undefined,
    "correlation-id": m.correlationId,
    "reply-to": m.replyTo === undefined ? undefined : replyToHeader(m.replyTo, p),
    type: m.subject,
    JMSXGroupID: m.groupId,
    redelivered: m.redeliveryCount > 0 ? "true" : undefined,
    "redelivery-count": m.redeliveryCount || undefined,
  };
  for (const k in m.properties) {
    // A property another protocol named like a frame header never replaces it; content-length is the
    // encoder's, and a second one would tell the client another body length.
    if (!Object.hasOwn(h, k) && k !== "content-length") {
      const v = m.properties[k];
      h[k] = v === null ? "" : v;
    }
  }
  return h;
}
