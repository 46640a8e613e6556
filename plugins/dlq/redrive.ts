/**
 * Moving dead letters back: a consumer on the dead-letter queue (an in-process session, so the move
 * uses the same credit and ack path as any client) takes each message, routes the restored original,
 * and acks only after the restored message is durable, so a crash in between duplicates rather than
 * loses it.
 *
 * @module
 */
import {
  type BrokerApi,
  BrokerError,
  type Delivery,
  isReject,
  type Message,
  type PropertyValue,
} from "../../mod.ts";

/** Property names the DLQ adds to a dead letter. */
export const P = {
  destination: "dlqOriginalDestination",
  kind: "dlqOriginalKind",
  queue: "dlqOriginalQueue",
  id: "dlqOriginalId",
  reason: "dlqReason",
  time: "dlqTime",
  deliveries: "dlqDeliveryCount",
  expiration: "dlqOriginalExpiration",
} as const;
const OWN = new Set<string>(Object.values(P));

/** The original message a dead letter stands for, ready to route again. */
export function restore(dl: Message): Message {
  const p = dl.properties;
  const properties: Record<string, PropertyValue> = {};
  for (const k in p) if (!OWN.has(k)) properties[k] = p[k];
  const kind = p[P.kind] === "topic" ? "topic" : "queue";
  const destination = typeof p[P.destination] === "string" ? p[P.destination] as string : dl.destination;
  const expiration = typeof p[P.expiration] === "number" ? p[P.expiration] as number : 0;
  return {
    ...dl,
    id: typeof p[P.id] === "string" ? p[P.id] as string : dl.id,
    destination,
    kind,
    properties,
    redeliveryCount: 0,
    deliverAt: 0,
    // An expired message sent back gets a fresh start; others keep their deadline.
    expiresAt: p[P.reason] === "expired" ? 0 : expiration,
  };
}

/** Quotes `s` as a selector string literal. */
export function literal(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

let seq = 0;

/**
 * Consumes up to `max` pending messages of `queue` (matching `selector`), calling `move` for each and
 * acking it once `move` resolves. Returns how many moved. Stops when nothing matching is pending.
 */
export async function drain(
  broker: BrokerApi,
  queue: string,
  opts: { selector?: string; max: number; idleMs?: number },
  move: (m: Message) => Promise<void>,
): Promise<number> {
  const inbox: Delivery[] = [];
  let wake: (() => void) | undefined;
  const session = broker.internalSession(`dlq-redrive-${++seq}`, {
    deliver(_sub, d) {
      inbox.push(d);
      wake?.();
    },
  });
  let moved = 0;
  try {
    const window = Math.max(1, Math.min(opts.max, 256));
    const sub = await session.subscribe({
      kind: "queue",
      destination: queue,
      selector: opts.selector,
      prefetch: window,
    });
    if (isReject(sub)) throw new BrokerError(sub.code, sub.reason);
    let idle = 0;
    while (moved < opts.max) {
      if (inbox.length === 0) {
        if (broker.browse(queue, { selector: opts.selector, limit: 1 }).length === 0) break;
        // Something matching is pending but not ours yet (another consumer holds its group): wait a little.
        if (++idle > (opts.idleMs ?? 1000) / 20) break;
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((r) => {
          wake = r;
          timer = setTimeout(r, 20);
        });
        clearTimeout(timer);
        wake = undefined;
        continue;
      }
      idle = 0;
      const batch = inbox.splice(0);
      const tags: number[] = [];
      for (const d of batch) {
        if (moved >= opts.max) break;
        await move(d.message);
        tags.push(d.tag);
        moved++;
      }
      sub.ack(tags);
      const room = Math.min(window, opts.max - moved) - inbox.length;
      if (room > 0) sub.setCredit(room);
    }
  } finally {
    // Anything delivered but not moved goes back to the queue.
    await session.close("redrive finished");
  }
  return moved;
}
