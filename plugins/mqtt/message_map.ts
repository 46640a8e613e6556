/**
 * MQTT PUBLISH fields <-> core messages: QoS and retain travel as annotations, MQTT 5 properties map
 * to the core's cross-protocol fields (content type, correlation id, reply-to, user properties, ttl).
 *
 * A Response Topic is a topic: it maps like a topic name, to the reply address `topic://<name>`; a reply
 * address that is a queue has no MQTT form (MQTT publishes only to topics) and is not sent.
 *
 * Correlation data is binary in MQTT and a string in the core: valid UTF-8 that does not start with
 * `base64:` is carried as is; anything else becomes `base64:` followed by standard base64.
 *
 * @module
 */
import {
  formatReplyTo,
  isReject,
  type Message,
  type MessageInit,
  parseReplyTo,
  type PropertyValue,
  type Reject,
} from "../../mod.ts";
import { addressToTopic, topicToAddress } from "./address_map.ts";
import type { PublishProperties } from "./publish_codec.ts";

/** Annotation keys this plugin sets on messages. */
export const ANN = {
  QOS: "mqtt.qos",
  RETAIN: "mqtt.retain",
  /** 1 when the payload is declared UTF-8 (MQTT 5 payload format indicator). */
  PFI: "mqtt.pfi",
  /** JSON [[k, v], ...] of user properties when `properties` cannot give them back in order (userPropsIn). */
  USER_PROPS: "mqtt.userProperties",
  /** Set on copies of a retained message sent because of a new subscription. */
  FROM_RETAINED: "mqtt.fromRetained",
} as const;

const BASE64 = "base64:";
const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

// Frozen shared annotation objects: the common publish needs no allocation for them.
const QOS_ANN: readonly Readonly<Record<string, PropertyValue>>[] = [0, 1, 2].map((q) =>
  Object.freeze({ [ANN.QOS]: q })
);
const QOS_RETAIN_ANN: readonly Readonly<Record<string, PropertyValue>>[] = [0, 1, 2].map((q) =>
  Object.freeze({ [ANN.QOS]: q, [ANN.RETAIN]: true })
);

/** The shared annotations for a plain publish (no MQTT 5 extras). */
export function qosAnnotations(qos: number, retain: boolean): Record<string, PropertyValue> {
  return (retain ? QOS_RETAIN_ANN[qos] : QOS_ANN[qos]) as Record<string, PropertyValue>;
}

/** The QoS a message was published with; messages from other protocols let the subscription decide. */
export function messageQos(m: Message): number {
  const q = m.annotations?.[ANN.QOS];
  return typeof q === "number" ? q : 2;
}

/** MQTT correlation data -> core correlation id. */
export function correlationToId(data: Uint8Array): string {
  try {
    const s = decoder.decode(data);
    if (!s.startsWith(BASE64)) return s;
  } catch {
    // not UTF-8: fall through to base64
  }
  return BASE64 + toBase64(data);
}

/** Core correlation id -> MQTT correlation data. */
export function idToCorrelation(id: string): Uint8Array {
  if (id.startsWith(BASE64)) {
    try {
      return fromBase64(id.slice(BASE64.length));
    } catch {
      // not base64 after all: send the string as it is
    }
  }
  return encoder.encode(id);
}

/**
 * User Properties as they came -> core properties (the first value of each name) and, when those cannot give
 * the pairs back in their order, the pairs themselves: a name repeats, or an integer-like name, which an
 * object enumerates first.
 */
export function userPropsIn(
  pairs: [string, string][],
): { properties: Record<string, PropertyValue>; list?: string } {
  const properties: Record<string, PropertyValue> = {};
  for (const [k, v] of pairs) if (!Object.hasOwn(properties, k)) properties[k] = v;
  let i = 0, inOrder = true;
  for (const k in properties) inOrder &&= k === pairs[i++][0];
  return inOrder && i === pairs.length ? { properties } : { properties, list: JSON.stringify(pairs) };
}

/** The user property pairs to send for a message, in order. */
export function userPropsOut(m: Message): [string, string][] {
  const list = m.annotations?.[ANN.USER_PROPS];
  if (typeof list === "string") {
    try {
      const parsed = JSON.parse(list);
      if (Array.isArray(parsed)) return parsed as [string, string][];
    } catch {
      // fall back to the properties map
    }
  }
  const out: [string, string][] = [];
  for (const k in m.properties) {
    const v = m.properties[k];
    out.push([k, v === null ? "" : String(v)]);
  }
  return out;
}

/** Standard base64 of bytes. */
export function toBase64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Bytes of standard base64; throws on bad input. */
export function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const encoderUtf8 = new TextEncoder();

/**
 * An inbound PUBLISH (its topic already checked) -> the core's MessageInit; a Reject for a bad Response
 * Topic.
 */
export function publishInit(
  p: {
    payload: Uint8Array | string;
    qos: number;
    retain: boolean;
    // deno-lint-ignore no-explicit-any
    properties?: any;
  },
  address: string,
  version: number,
): MessageInit | Reject {
  const body = typeof p.payload === "string"
    ? encoderUtf8.encode(p.payload)
    : new Uint8Array(p.payload.buffer, p.payload.byteOffset, p.payload.byteLength);
  const init: MessageInit = {
    destination: address,
    kind: "topic",
    body,
    persistent: p.qos > 0,
    annotations: qosAnnotations(p.qos, p.retain),
  };
  const props = version === 5 ? p.properties : undefined;
  if (!props) return init;
  const ann: Record<string, PropertyValue> = { ...init.annotations };
  if (props.userProperties) {
    const { properties, list } = userPropsIn(props.userProperties);
    init.properties = properties;
    if (list) ann[ANN.USER_PROPS] = list;
  }
  if (props.payloadFormatIndicator) ann[ANN.PFI] = 1;
  if (props.contentType !== undefined) init.contentType = props.contentType;
  if (props.correlationData !== undefined) {
    init.correlationId = correlationToId(new Uint8Array(props.correlationData));
  }
  if (props.responseTopic !== undefined) {
    const reply = topicToAddress(props.responseTopic); // [MQTT-3.3.2-14]
    if (isReject(reply)) return { code: reply.code, reason: `Response Topic: ${reply.reason}` };
    init.replyTo = formatReplyTo("topic", reply);
  }
  if (props.messageExpiryInterval !== undefined) init.ttl = props.messageExpiryInterval * 1000;
  init.annotations = ann;
  return init;
}

/** MQTT 5 PUBLISH properties for an outbound message. */
export function publishProperties(m: Message, subscriptionId?: number): PublishProperties | undefined {
  const props: PublishProperties = {};
  let any = false;
  for (const _ in m.properties) {
    props.userProperties = userPropsOut(m);
    any = true;
    break;
  }
  if (m.contentType !== undefined) (props.contentType = m.contentType, any = true);
  if (m.correlationId !== undefined) (props.correlationData = idToCorrelation(m.correlationId), any = true);
  const reply = m.replyTo === undefined ? undefined : parseReplyTo(m.replyTo);
  if (reply?.kind === "topic") (props.responseTopic = addressToTopic(reply.name), any = true);
  if (m.annotations?.[ANN.PFI] === 1) (props.payloadFormatIndicator = true, any = true);
  if (m.expiresAt !== 0) {
    props.messageExpiryInterval = Math.max(1, Math.ceil((m.expiresAt - Date.now()) / 1000)); // [MQTT-3.3.2-6]
    any = true;
  }
  if (subscriptionId !== undefined) (props.subscriptionIdentifier = subscriptionId, any = true);
  return any ? props : undefined;
}

/** A CONNECT's will -> the MessageInit published when the client goes away unexpectedly, or a Reject. */
// deno-lint-ignore no-explicit-any
export function willInit(will: any, version: number): MessageInit | Reject {
  const address = topicToAddress(will.topic ?? "");
  if (isReject(address)) return address;
  return publishInit(
    {
      payload: will.payload ?? new Uint8Array(0),
      qos: will.qos ?? 0,
      retain: !!will.retain,
      properties: will.properties,
    },
    address,
    version,
  );
}
