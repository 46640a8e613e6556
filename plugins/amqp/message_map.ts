/**
 * AMQP messages <-> core messages. Data sections travel as bytes; an amqp-value string body becomes
 * UTF-8 bytes marked so AMQP consumers get an amqp-value back; other amqp-values are carried as JSON.
 *
 * @module
 */
import rhea from "rhea";
import { Buffer } from "node:buffer";
import type { DestinationKind, Message, MessageInit, PropertyValue } from "../../mod.ts";
import { replyToAddress } from "./address_map.ts";

/** The annotation recording what kind of AMQP body a message came with. */
export const BODY = "amqp.body";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// deno-lint-ignore no-explicit-any
type AmqpMessage = Record<string, any>;

function bodyBytes(body: unknown): { bytes: Uint8Array; kind?: string } {
  if (body === undefined || body === null) return { bytes: new Uint8Array(0) };
  if (typeof body === "string") return { bytes: encoder.encode(body), kind: "string" };
  if (body instanceof Uint8Array) return { bytes: new Uint8Array(body) };
  const section = body as { typecode?: number; content?: unknown };
  if (section.typecode === 0x75 && section.content instanceof Uint8Array) {
    return { bytes: new Uint8Array(section.content) };
  }
  if (section.typecode === 0x77) return bodyBytes(section.content);
  return { bytes: encoder.encode(JSON.stringify(body)), kind: "json" };
}

const id = (v: unknown): string | undefined =>
  v === undefined || v === null ? undefined : v instanceof Uint8Array ? decoder.decode(v) : String(v);

/** An incoming AMQP message -> MessageInit for `destination`; a bare reply-to is of `defaultKind`. */
export function toInit(
  m: AmqpMessage,
  kind: DestinationKind,
  destination: string,
  defaultKind: DestinationKind,
): MessageInit {
  const { bytes, kind: bodyKind } = bodyBytes(m.body);
  const properties: Record<string, PropertyValue> = {};
  for (const [k, v] of Object.entries(m.application_properties ?? {})) {
    properties[k] = v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean"
      ? v
      : String(v);
  }
  const annotations: Record<string, PropertyValue> = {};
  if (bodyKind) annotations[BODY] = bodyKind;
  const ma = m.message_annotations ?? {};
  const delay = Number(ma["x-opt-delivery-delay"] ?? 0);
  const at = ma["x-opt-delivery-time"];
  for (const [k, v] of Object.entries(ma)) if (typeof v !== "object") annotations[k] = v as PropertyValue;
  const expiry = m.absolute_expiry_time instanceof Date
    ? m.absolute_expiry_time.getTime()
    : Number(m.absolute_expiry_time ?? 0);
  return {
    kind,
    destination,
    body: bytes,
    producerId: id(m.message_id),
    properties,
    annotations,
    persistent: m.durable === true,
    priority: m.priority === undefined ? undefined : Math.min(9, Number(m.priority)),
    ttl: m.ttl ? Number(m.ttl) : undefined,
    expiresAt: expiry > 0 ? expiry : undefined,
    delay: delay > 0 ? delay : undefined,
    deliverAt: at ? (at instanceof Date ? at.getTime() : Number(at)) : undefined,
    groupId: m.group_id,
    correlationId: id(m.correlation_id),
    replyTo: replyToAddress(m.reply_to, defaultKind),
    subject: m.subject,
    contentType: m.content_type,
  };
}

/** A core message -> the AMQP message to send. */
export function fromMessage(m: Message): AmqpMessage {
  const kind = m.annotations?.[BODY];
  const body = kind === "string"
    ? decoder.decode(m.body)
    : kind === "json"
    ? JSON.parse(decoder.decode(m.body))
    : rhea.message.data_section(Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength));
  const annotations: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m.annotations ?? {})) if (k.startsWith("x-opt-")) annotations[k] = v;
  return {
    body,
    message_id: m.producerId ?? m.id,
    durable: m.persistent,
    priority: m.priority,
    ttl: m.expiresAt ? Math.max(1, m.expiresAt - Date.now()) : undefined,
    absolute_expiry_time: m.expiresAt ? new Date(m.expiresAt) : undefined,
    creation_time: new Date(m.timestamp),
    delivery_count: m.redeliveryCount,
    first_acquirer: m.redeliveryCount === 0,
    group_id: m.groupId,
    correlation_id: m.correlationId,
    reply_to: m.replyTo, // a reply address is an AMQP address
    subject: m.subject,
    content_type: m.contentType,
    application_properties: { ...m.properties },
    message_annotations: Object.keys(annotations).length ? annotations : undefined,
  };
}

/** The selector of a source filter (`apache.org:selector-filter:string`), if any. */
export function selectorOf(filter: Record<string, unknown> | undefined): string | undefined {
  if (!filter) return undefined;
  for (const [k, v] of Object.entries(filter)) {
    if (!/selector/i.test(k)) continue;
    const found = dig(v);
    if (found !== undefined) return found;
  }
  return undefined;
}

function dig(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (v && typeof v === "object") {
    const typed = v as { value?: unknown };
    if (typeof typed.value === "string") return typed.value;
    for (const x of Object.values(v)) {
      const s = dig(x);
      if (s !== undefined) return s;
    }
  }
  return undefined;
}
