/**
 * The message model: one immutable object from the producer's socket to every consumer's socket.
 * Bodies are `Uint8Array` and are never copied by the core.
 *
 * @module
 */
import { parseReplyTo } from "./address.ts";
import { BrokerError } from "./errors.ts";

/** A user property value: what every protocol can carry and every selector can read. */
export type PropertyValue = string | number | boolean | null;

/** Whether a destination is point-to-point (queue) or fan-out (topic). */
export type DestinationKind = "queue" | "topic";

/** A message as the core holds it. Fields are read-only; transforms return a new object. */
export interface Message {
  /**
   * The broker's id for the message, unique whatever producers send (stores key messages by it; STOMP
   * `message-id`, HTTP `id` and `JMSMessageID` in selectors are this). A producer's own id is `producerId`.
   */
  readonly id: string;
  /** Internal address ("a.b.c"). */
  readonly destination: string;
  readonly kind: DestinationKind;
  readonly body: Uint8Array;
  /** User properties (MQTT 5 user properties, AMQP application-properties, STOMP user headers). */
  readonly properties: Readonly<Record<string, PropertyValue>>;
  /** 0 (lowest) to 9 (highest); 4 is the default, as in JMS. */
  readonly priority: number;
  /** Persistent messages are stored before the publish is confirmed. */
  readonly persistent: boolean;
  /** Milliseconds since the epoch when the broker accepted the message. */
  readonly timestamp: number;
  /** Milliseconds since the epoch after which the message is never delivered; 0 = never expires. */
  readonly expiresAt: number;
  /** Milliseconds since the epoch before which the message is not delivered; 0 = at once. */
  readonly deliverAt: number;
  /** Times this message went back to its queue after a delivery (nack or lost consumer). */
  readonly redeliveryCount: number;
  readonly groupId?: string;
  readonly correlationId?: string;
  /**
   * Where replies go: a reply address, `queue://<name>` or `topic://<name>` with the name in the core form
   * (`formatReplyTo`); protocols translate it like a destination.
   */
  readonly replyTo?: string;
  /** AMQP subject, JMSType. */
  readonly subject?: string;
  readonly contentType?: string;
  /**
   * Protocol and plugin metadata that is carried but is not a user property
   * (MQTT payload format, AMQP message annotations, delay requests). Keys are namespaced: "mqtt.retain".
   */
  readonly annotations?: Readonly<Record<string, PropertyValue>>;
  /** Id of the session that published it (MQTT no-local, loop guards); empty for in-process producers. */
  readonly origin?: string;
  /**
   * The id the producer gave the message (AMQP message-id), as given: not unique, so the broker never keys
   * anything by it. Protocols that carry a message-id deliver this one when present, else `id`.
   */
  readonly producerId?: string;
}

/** What a producer supplies; the broker fills in the rest. */
export interface MessageInit {
  destination: string;
  /** Defaults to "topic". */
  kind?: DestinationKind;
  body?: Uint8Array | string;
  properties?: Record<string, PropertyValue>;
  priority?: number;
  persistent?: boolean;
  /** Time to live in ms; 0 or absent = never expires. Ignored when expiresAt is set. */
  ttl?: number;
  expiresAt?: number;
  /** Delay in ms; ignored when deliverAt is set. */
  delay?: number;
  deliverAt?: number;
  groupId?: string;
  correlationId?: string;
  /** A reply address, `queue://<name>` or `topic://<name>` (`formatReplyTo`). */
  replyTo?: string;
  subject?: string;
  contentType?: string;
  annotations?: Record<string, PropertyValue>;
  /** The producer's own id for the message (AMQP message-id); the broker's `id` is always its own. */
  producerId?: string;
  /**
   * An id from {@linkcode reserveMessageId}, for a publisher that must name the message before publish()
   * resolves (an HTTP 202): it becomes the message's `id`. Ignored unless it is an unused reservation.
   */
  reservedId?: ReservedMessageId;
}

/** A message id the broker handed out ahead of publishing; see {@linkcode reserveMessageId}. */
export interface ReservedMessageId {
  readonly id: string;
}

/** The default JMS priority. */
export const DEFAULT_PRIORITY = 4;
/** The number of priority levels (0-9). */
export const PRIORITY_LEVELS = 10;

const EMPTY_BODY = new Uint8Array(0);
const EMPTY_PROPS: Readonly<Record<string, PropertyValue>> = Object.freeze({});
const encoder = new TextEncoder();

// Ids: a random per-process prefix and a counter, so id creation costs one string concat.
const ID_PREFIX = crypto.randomUUID().slice(0, 8) + "-" + Date.now().toString(36) + "-";
let idCounter = 0;

/** A new message id, unique across processes and restarts. */
export function newMessageId(): string {
  return ID_PREFIX + (idCounter++).toString(36);
}

// Only objects made here are honoured, each once: a producer cannot name another message's id through one.
const reservations = new WeakSet<ReservedMessageId>();

/**
 * A fresh message id for the next publish that passes it as `reservedId`: for a publisher that answers with
 * the id before the publish resolves. Each reservation names one message; a second use gets a new id.
 */
export function reserveMessageId(): ReservedMessageId {
  const r = Object.freeze({ id: newMessageId() });
  reservations.add(r);
  return r;
}

/**
 * Builds a {@linkcode Message} from a producer's init; validates every field's type and range.
 *
 * @example
 * ```ts
 * const m = createMessage({ destination: "orders", kind: "queue", body: "hi", priority: 7 }, Date.now());
 * ```
 */
export function createMessage(init: MessageInit, now: number, origin?: string): Message {
  const body = init.body === undefined
    ? EMPTY_BODY
    : typeof init.body === "string"
    ? encoder.encode(init.body)
    : init.body;
  if (!(body instanceof Uint8Array)) throw invalid("body", "a Uint8Array or string");
  const priority = init.priority ?? DEFAULT_PRIORITY;
  if (!Number.isInteger(priority) || priority < 0 || priority > 9) {
    throw invalid("priority", "an integer from 0 to 9", priority);
  }
  const expiresAt = init.expiresAt ?? (init.ttl ? now + checkMs("ttl", init.ttl) : 0);
  const deliverAt = init.deliverAt ?? (init.delay ? now + checkMs("delay", init.delay) : 0);
  checkMs("expiresAt", expiresAt);
  checkMs("deliverAt", deliverAt);
  const kind = init.kind ?? "topic";
  if (kind !== "queue" && kind !== "topic") throw invalid("kind", '"queue" or "topic"', kind);
  if (typeof init.destination !== "string") throw invalid("destination", "a string", init.destination);
  return {
    id: init.reservedId !== undefined && reservations.delete(init.reservedId)
      ? init.reservedId.id
      : newMessageId(),
    destination: init.destination,
    kind,
    body,
    properties: init.properties ? checkProperties(init.properties) : EMPTY_PROPS,
    priority,
    persistent: init.persistent === true,
    timestamp: now,
    expiresAt,
    deliverAt,
    redeliveryCount: 0,
    groupId: optString("groupId", init.groupId),
    correlationId: optString("correlationId", init.correlationId),
    replyTo: replyAddress(init.replyTo),
    subject: optString("subject", init.subject),
    contentType: optString("contentType", init.contentType),
    annotations: init.annotations ? checkProperties(init.annotations) : undefined,
    origin,
    producerId: optString("producerId", init.producerId),
  };
}

/** Approximate memory a message holds, for limits and statistics. */
export function messageSize(m: Message): number {
  return m.body.byteLength + 128 + m.destination.length * 2;
}

function checkMs(field: string, v: number): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw invalid(field, "a non-negative number of milliseconds", v);
  }
  return v;
}

function optString(field: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw invalid(field, "a string", v);
  return v;
}

// Only the form is checked (a protocol that forgot to translate its own is caught here); the name is checked
// when a reply is published to it.
function replyAddress(v: unknown): string | undefined {
  const s = optString("replyTo", v);
  if (s !== undefined && !parseReplyTo(s)?.name) {
    throw invalid("replyTo", 'a reply address, "queue://<name>" or "topic://<name>"', s);
  }
  return s;
}

function checkProperties(p: Record<string, PropertyValue>): Readonly<Record<string, PropertyValue>> {
  for (const k in p) {
    const v = p[k];
    const t = typeof v;
    if (v !== null && t !== "string" && t !== "number" && t !== "boolean") {
      throw invalid(`properties.${k}`, "a string, number, boolean or null", v);
    }
  }
  return p;
}

function invalid(field: string, expected: string, got?: unknown): BrokerError {
  const shown = got === undefined ? "" : ` ${JSON.stringify(got) ?? String(got)}`;
  return new BrokerError(
    "invalid_message",
    `Cannot accept message field "${field}"${shown}: must be ${expected}`,
  );
}
