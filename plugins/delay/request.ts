/**
 * Reading a delay request from a message: user properties (MQTT 5 user properties, STOMP headers,
 * AMQP application properties, HTTP headers) or annotations (`delay.<name>`), normalised into the
 * message's `deliverAt` and `delay.*` annotations the scheduler reads.
 *
 * @module
 */
import type { Message, PropertyValue, Reject } from "../../mod.ts";
import { parseCron } from "./cron.ts";

/** The request names, as user properties / headers; as annotations they carry a `delay.` prefix. */
export const DELAY = "delay";
export const DELIVER_AT = "deliver-at";
export const REPEAT_COUNT = "repeat-count";
export const REPEAT_PERIOD = "repeat-period";
export const CRON = "cron";
const NAMES = [DELAY, DELIVER_AT, REPEAT_COUNT, REPEAT_PERIOD, CRON] as const;
const ANN_NAMES = NAMES.map((n) => `delay.${n}`);
// AMQP 1.0 delivery annotations, for a protocol plugin that passes message annotations through.
const AMQP_DELAY = ["x-opt-delivery-delay", "amqp.x-opt-delivery-delay"];
const AMQP_TIME = ["x-opt-delivery-time", "amqp.x-opt-delivery-time"];

/** Annotations the scheduler reads (set by this fold, stripped before delivery). */
export const A_REPEAT_COUNT = "delay.repeat-count";
export const A_REPEAT_PERIOD = "delay.repeat-period";
export const A_CRON = "delay.cron";

/** Limits a request must respect. */
export interface RequestLimits {
  maxDelayMs: number;
  minRepeatPeriodMs: number;
  maxRepeatCount: number;
  cronTimezone: string;
  /** Remove the request properties from the delivered message. */
  stripProperties: boolean;
}

/**
 * Applies a delay request found on `m` and returns the message to continue with; `m` itself when it
 * carries no request (the common case, allocation-free), or a Reject naming the bad field.
 */
export function applyRequest(m: Message, now: number, lim: RequestLimits): Message | Reject {
  const props = m.properties, ann = m.annotations;
  let found = false;
  for (let i = 0; i < NAMES.length && !found; i++) {
    found = props[NAMES[i]] !== undefined || (ann !== undefined && ann[ANN_NAMES[i]] !== undefined);
  }
  if (!found && ann !== undefined) {
    for (const k of AMQP_DELAY) found ||= ann[k] !== undefined;
    for (const k of AMQP_TIME) found ||= ann[k] !== undefined;
  }
  if (!found) {
    if (m.deliverAt !== 0 && m.deliverAt - now > lim.maxDelayMs) return tooLong(m.deliverAt - now, lim);
    return m;
  }
  const amqp = (keys: string[]) => ann?.[keys[0]] ?? ann?.[keys[1]];
  const read = (n: string): PropertyValue | undefined =>
    ann?.[`delay.${n}`] ?? props[n] ??
      (n === DELAY ? amqp(AMQP_DELAY) : n === DELIVER_AT ? amqp(AMQP_TIME) : undefined);
  let deliverAt = m.deliverAt;
  const at = read(DELIVER_AT);
  const delay = read(DELAY);
  if (at !== undefined && at !== null && at !== "") {
    const t = typeof at === "number" ? at : /^\d+$/.test(String(at)) ? Number(at) : Date.parse(String(at));
    if (!Number.isFinite(t) || t < 0) return bad(DELIVER_AT, at, "ms since the epoch or an ISO 8601 time");
    deliverAt = t;
  } else if (delay !== undefined && delay !== null && delay !== "") {
    const d = num(delay);
    if (d === undefined || d < 0) return bad(DELAY, delay, "a non-negative number of milliseconds");
    deliverAt = d === 0 ? 0 : now + d;
  }
  if (deliverAt !== 0 && deliverAt - now > lim.maxDelayMs) return tooLong(deliverAt - now, lim);

  const annotations: Record<string, PropertyValue> = {};
  if (ann) { for (const k in ann) if (!k.startsWith("delay.")) annotations[k] = ann[k]; }
  const countRaw = read(REPEAT_COUNT), periodRaw = read(REPEAT_PERIOD), cronRaw = read(CRON);
  let count = 0;
  if (countRaw !== undefined && countRaw !== null && countRaw !== "") {
    const c = num(countRaw);
    if (c === undefined || !Number.isInteger(c) || c < -1 || c > lim.maxRepeatCount) {
      return bad(
        REPEAT_COUNT,
        countRaw,
        `an integer from 0 to ${lim.maxRepeatCount}, or -1 for "until cancelled"`,
      );
    }
    count = c;
  }
  let repeats = false;
  if (typeof cronRaw === "string" && cronRaw.trim() !== "") {
    try {
      const next = parseCron(cronRaw.trim(), lim.cronTimezone).next(deliverAt > now ? deliverAt - 1 : now);
      if (next === undefined) return bad(CRON, cronRaw, "a cron expression that matches a future time");
      if (deliverAt <= now) deliverAt = next;
    } catch (e) {
      return bad(CRON, cronRaw, `a cron expression (${(e as Error).message})`);
    }
    annotations[A_CRON] = cronRaw.trim();
    annotations[A_REPEAT_COUNT] = countRaw === undefined || countRaw === null || countRaw === "" ? -1 : count;
    repeats = true;
  } else if (cronRaw !== undefined && cronRaw !== null && cronRaw !== "") {
    return bad(CRON, cronRaw, "a cron expression string");
  } else if (count !== 0) {
    const p = num(periodRaw ?? null);
    if (p === undefined || p < lim.minRepeatPeriodMs) {
      return bad(
        REPEAT_PERIOD,
        periodRaw ?? null,
        `at least ${lim.minRepeatPeriodMs} ms when ${REPEAT_COUNT} is set`,
      );
    }
    annotations[A_REPEAT_COUNT] = count;
    annotations[A_REPEAT_PERIOD] = p;
    repeats = true;
  }
  // A repeating job must reach the scheduler even when its first delivery is due now: the core schedules a
  // message whose deliverAt is later than its acceptance.
  if (repeats && deliverAt <= now) deliverAt = now + 1;
  let properties = props;
  if (lim.stripProperties) {
    const kept: Record<string, PropertyValue> = {};
    for (const k in props) if (!(NAMES as readonly string[]).includes(k)) kept[k] = props[k];
    properties = kept;
  }
  const out: Message = { ...m, deliverAt, properties, annotations };
  if (Object.keys(annotations).length === 0) delete (out as { annotations?: unknown }).annotations;
  return out;
}

function num(v: PropertyValue): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (typeof v === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(v)) return Number(v);
  return undefined;
}

function bad(field: string, v: PropertyValue, expected: string): Reject {
  return {
    code: "invalid_message",
    reason: `Cannot schedule with "${field}" ${JSON.stringify(v)}: must be ${expected}`,
  };
}

function tooLong(ms: number, lim: RequestLimits): Reject {
  return {
    code: "invalid_message",
    reason: `Cannot delay a message by ${
      Math.round(ms)
    } ms: the limit is ${lim.maxDelayMs} ms (delay option maxDelayMs)`,
  };
}
