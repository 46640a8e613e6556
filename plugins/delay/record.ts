/**
 * The persisted form of a scheduled message: plain JSON (the body as base64), so it round-trips
 * through any store's key-value space, whatever that store uses to serialize values.
 *
 * @module
 */
import type { Message, PropertyValue } from "../../mod.ts";

/** One scheduled message as stored in the "delay" key-value space. */
export interface ScheduleRecord {
  /** Format version. */
  v: 1;
  /** Increases with each write; breaks ties between equal due times when reloading. */
  order?: number;
  /** Next due time, ms since the epoch. */
  at: number;
  /** Deliveries still to come after the next one; -1 = until cancelled. */
  remaining: number;
  /** Milliseconds between repeats; 0 when the job uses cron or does not repeat. */
  period: number;
  cron?: string;
  /** Deliveries so far. */
  fired: number;
  /** Due time of the first delivery (repeated copies keep their TTL relative to it). */
  firstAt: number;
  message: MessageRecord;
}

/** A {@linkcode Message} with its body as base64. */
export interface MessageRecord {
  id: string;
  destination: string;
  kind: Message["kind"];
  body: string;
  properties: Record<string, PropertyValue>;
  priority: number;
  persistent: boolean;
  timestamp: number;
  expiresAt: number;
  deliverAt: number;
  redeliveryCount: number;
  groupId?: string;
  correlationId?: string;
  replyTo?: string;
  subject?: string;
  contentType?: string;
  annotations?: Record<string, PropertyValue>;
  origin?: string;
  producerId?: string;
}

/** Message -> JSON-safe record. */
export function messageToRecord(m: Message): MessageRecord {
  return {
    ...m,
    body: m.body.toBase64(),
    properties: { ...m.properties },
    annotations: m.annotations ? { ...m.annotations } : undefined,
  };
}

/** Record -> Message; throws TypeError on a record that is not one. */
export function messageFromRecord(r: MessageRecord): Message {
  if (typeof r !== "object" || r === null || typeof r.id !== "string" || typeof r.destination !== "string") {
    throw new TypeError("not a scheduled message record");
  }
  const m: Message = {
    id: r.id,
    destination: r.destination,
    kind: r.kind === "queue" ? "queue" : "topic",
    body: Uint8Array.fromBase64(r.body ?? ""),
    properties: r.properties ?? {},
    priority: r.priority ?? 4,
    persistent: r.persistent === true,
    timestamp: r.timestamp ?? 0,
    expiresAt: r.expiresAt ?? 0,
    deliverAt: r.deliverAt ?? 0,
    redeliveryCount: r.redeliveryCount ?? 0,
  };
  const opt = m as { -readonly [K in keyof Message]: Message[K] };
  if (r.groupId !== undefined) opt.groupId = r.groupId;
  if (r.correlationId !== undefined) opt.correlationId = r.correlationId;
  if (r.replyTo !== undefined) opt.replyTo = r.replyTo;
  if (r.subject !== undefined) opt.subject = r.subject;
  if (r.contentType !== undefined) opt.contentType = r.contentType;
  if (r.annotations !== undefined) opt.annotations = r.annotations;
  if (r.origin !== undefined) opt.origin = r.origin;
  if (r.producerId !== undefined) opt.producerId = r.producerId;
  return m;
}
