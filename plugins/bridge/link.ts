/**
 * One forwarding rule of a bridge: a local source (a queue, or a topic pattern read through a durable
 * subscription queue the bridge owns) consumed through its own in-process session with client acks and a
 * window of `credit`, each message sent on the AMQP sender and acked locally only when the peer accepts it.
 *
 * @module
 */
import {
  type BrokerApi,
  BrokerError,
  type Delivery,
  type DestinationKind,
  formatReplyTo,
  isReject,
  type Message,
  parseReplyTo,
  type Session,
  type Subscription,
  type SubscriptionSpec,
  validateName,
  validatePattern,
} from "../../mod.ts";
import { fromMessage } from "../amqp/message_map.ts";
import { backoff } from "./bridge.ts";
import { excludeSelector, mayForward, stamp, VIA, viaOf } from "./loop_guard.ts";

/** A forward rule from the options. */
export interface ForwardRule {
  from: string;
  to?: string;
}

/** Where a delivery sent to the peer came from, to settle it when the peer answers. */
export interface InFlight {
  readonly link: ForwardLink;
  readonly sub: Subscription;
  readonly tag: number;
}

/** The AMQP message to send and what to do with its outcome. */
export interface Outgoing {
  readonly message: Record<string, unknown>;
  readonly inflight: InFlight;
}

/** Counters of one link, summed into the bridge status. */
export interface LinkCounters {
  forwarded: number;
  skipped: number;
  rejected: number;
  redelivered: number;
}

/** An outcome the peer gave a message, other than accepted. */
/** `refused`: rejected for its route (the peer's ACL, a missing destination), kept here to retry. */
export type Refusal = "rejected" | "released" | "modified" | "refused";

/** The queue behind a topic source: durable, owned by the bridge instance, one per pattern. */
export function subscriptionQueue(bridgeId: string, pattern: string): string {
  const part = (s: string) => encodeURIComponent(s).replaceAll("*", "%2A").replaceAll(".", "%2E");
  return `$bridge.${part(bridgeId)}.${part(pattern)}`;
}

/** One rule's local consumer. */
export class ForwardLink {
  readonly kind: DestinationKind;
  /** Queue name or topic pattern. */
  readonly source: string;
  readonly to?: string;
  /** The local queue the messages wait in (the source queue, or the bridge's subscription queue). */
  readonly queue: string;
  readonly counters: LinkCounters = { forwarded: 0, skipped: 0, rejected: 0, redelivered: 0 };
  readonly #broker: BrokerApi;
  readonly #nodeId: string;
  readonly #credit: number;
  readonly #retry: { initialMs: number; maxMs: number };
  readonly #session: Session;
  /** Delivered by the core, not yet sent to the peer. */
  #held: { sub: Subscription; d: Delivery }[] = [];
  /** Sent, waiting for the peer's outcome. */
  readonly #sent = new Set<InFlight>();
  #sub: Subscription | undefined;
  /** Consumers of a past connection: what they delivered is not sent. */
  readonly #retired = new WeakSet<Subscription>();
  #opening: Promise<void> | undefined;
  #peer: string | undefined;
  /** Bumped by stop(): a subscribe that resolves after it is cancelled at once. */
  #generation = 0;
  #wake: () => void = () => {};
  /** Releases since the last accept: each pauses the link longer (a peer releasing all is not hammered). */
  #releases = 0;
  #pause: ReturnType<typeof setTimeout> | undefined;
  /** When the paused link takes deliveries again, ms since the epoch. */
  retryAt: number | undefined;
  /** The last refusal by the peer ("rejected: amqp:...", "released"), for the status. */
  lastRefusal: string | undefined;

  constructor(
    rule: ForwardRule,
    o: {
      broker: BrokerApi;
      bridgeId: string;
      index: number;
      credit: number;
      retry: { initialMs: number; maxMs: number };
    },
  ) {
    // Named as the options validation names a field, so a bad rule is found in broker.json at once.
    const field = `option "forward.${o.index}.from"`;
    const a = parseReplyTo(rule.from);
    if (!a) {
      throw new BrokerError(
        "invalid_argument",
        `${field}: use queue://name or topic://pattern, not "${rule.from}"`,
      );
    }
    try {
      if (a.kind === "queue") validateName(a.name);
      else validatePattern(a.name);
    } catch (e) {
      throw new BrokerError("invalid_argument", `${field}: ${(e as Error).message}`);
    }
    this.kind = a.kind;
    this.source = a.name;
    this.to = rule.to;
    this.queue = a.kind === "queue" ? a.name : subscriptionQueue(o.bridgeId, a.name);
    this.#broker = o.broker;
    this.#nodeId = o.broker.nodeId;
    this.#credit = o.credit;
    this.#retry = o.retry;
    this.#session = o.broker.internalSession(`bridge:${o.bridgeId}:${o.index}`, {
      deliver: (sub, d) => {
        this.#held.push({ sub, d });
        this.#wake();
      },
    });
  }

  /** Sends are possible again (the sender has credit): called when deliveries arrive. */
  set onDelivery(fn: () => void) {
    this.#wake = fn;
  }

  /** Messages waiting here to be sent, plus those sent and not yet answered. */
  get inMemory(): number {
    return this.#held.length + this.#sent.size;
  }

  /**
   * Makes the durable subscription queue of a topic source exist, so what is published while the peer is
   * away waits in it. No-op for queues.
   */
  async prepare(): Promise<void> {
    if (this.kind !== "topic") return;
    const sub = await this.#subscribe(0);
    await sub.cancel();
  }

  /** Starts consuming for a connection to node `peer` (its node id, when the peer is a FerryMQ). */
  start(peer: string | undefined): Promise<void> {
    this.#peer = peer;
    const generation = this.#generation;
    this.#opening = this.#subscribe(this.#credit).then(async (sub) => {
      if (generation !== this.#generation) return void await this.#retire(sub);
      this.#sub = sub;
    });
    return this.#opening;
  }

  async #subscribe(prefetch: number): Promise<Subscription> {
    const spec: SubscriptionSpec = this.kind === "queue"
      ? {
        kind: "queue",
        destination: this.source,
        prefetch,
        // Messages from the peer or that were here before stay in the queue for local consumers.
        selector: excludeSelector(this.#peer === undefined ? [this.#nodeId] : [this.#nodeId, this.#peer]),
      }
      : { kind: "topic", destination: this.source, durable: this.queue, prefetch };
    const sub = await this.#session.subscribe(spec);
    if (isReject(sub)) throw new BrokerError(sub.code, sub.reason);
    return sub;
  }

  /**
   * The next message to send, or undefined when none waits. Messages the loop guard stops are acked
   * here (only topic sources see them: a queue source's selector leaves them in the queue).
   */
  next(): Outgoing | undefined {
    while (this.#held.length !== 0) {
      const { sub, d } = this.#held.shift()!;
      if (this.#retired.has(sub)) continue;
      if (d.message.expiresAt !== 0 && d.message.expiresAt <= Date.now()) {
        // It expired while held here for want of the peer's credit: back to its queue, which expires it
        // as it would have there (counted, dead-lettered by the dlq plugin's policy).
        sub.nack([d.tag], true, false);
        this.#creditBack(sub);
        continue;
      }
      const via = viaOf(d.message.properties);
      if (!mayForward(via, this.#nodeId, this.#peer)) {
        this.counters.skipped++;
        sub.ack([d.tag]);
        this.#creditBack(sub);
        continue;
      }
      const inflight: InFlight = { link: this, sub, tag: d.tag };
      this.#sent.add(inflight);
      return { message: this.#toAmqp(d.message, stamp(via, this.#nodeId)), inflight };
    }
    return undefined;
  }

  #toAmqp(m: Message, route: string): Record<string, unknown> {
    const out = fromMessage(m);
    out.to = this.to ?? formatReplyTo(m.kind, m.destination);
    out.application_properties = { ...(out.application_properties as object), [VIA]: route };
    return out;
  }

  /** The peer's outcome for a sent message; `why` is the error of a rejection. */
  settle(f: InFlight, outcome: "accepted" | Refusal, counted = true, why?: string): void {
    if (!this.#sent.delete(f)) return;
    if (outcome === "accepted") {
      this.counters.forwarded++;
      this.#releases = 0;
      f.sub.ack([f.tag]);
    } else if (outcome === "rejected") {
      this.counters.rejected++;
      this.lastRefusal = why ? `rejected: ${why}` : "rejected";
      f.sub.nack([f.tag], false);
    } else {
      this.counters.redelivered++;
      this.lastRefusal = outcome === "refused" ? `rejected: ${why}` : outcome;
      // Paused before the nack: with credit left the queue would hand the message straight back, and a
      // peer that releases everything would get it again in a tight loop. A refused route is no fault of
      // the message: not counted, so it waits for the fix however long that takes.
      this.#pauseAfterRelease(f.sub);
      f.sub.nack([f.tag], true, counted && outcome !== "refused");
    }
    this.#creditBack(f.sub);
  }

  /** One delivery's credit back to `sub`, unless the link is paused (resuming sets the credit). */
  #creditBack(sub: Subscription): void {
    if (this.#pause === undefined) sub.credit(1);
  }

  /** No deliveries for the backoff of the consecutive releases (the reconnect backoff), then the window. */
  #pauseAfterRelease(sub: Subscription): void {
    const delay = backoff(this.#releases++, this.#retry);
    sub.setCredit(0);
    clearTimeout(this.#pause);
    this.retryAt = Date.now() + delay;
    this.#pause = setTimeout(() => {
      this.#pause = undefined;
      this.retryAt = undefined;
      if (!this.#retired.has(sub)) sub.setCredit(Math.max(0, this.#credit - this.inMemory));
    }, delay);
  }

  /**
   * The connection is gone: whatever was held or sent goes back to the queue uncounted (the peer may have
   * it: at least once), and the consumer is cancelled until the next connection. The state is taken at
   * once, so a start() for the next connection may follow before this resolves.
   */
  async stop(): Promise<void> {
    this.#generation++;
    clearTimeout(this.#pause);
    this.#pause = undefined;
    this.retryAt = undefined;
    const opening = this.#opening;
    this.#opening = undefined;
    const subs = new Set<Subscription>();
    if (this.#sub) subs.add(this.#sub);
    this.#sub = undefined;
    for (const { sub } of this.#held) subs.add(sub);
    for (const f of this.#sent) subs.add(f.sub);
    await Promise.all([...subs].map((sub) => this.#retire(sub)));
    await opening?.catch(() => {});
  }

  /** Ends one consumer: no more credit, its held and unanswered messages back uncounted, then cancel. */
  #retire(sub: Subscription): Promise<void> {
    this.#retired.add(sub);
    sub.setCredit(0);
    const tags: number[] = [];
    this.#held = this.#held.filter((h) => h.sub !== sub || (tags.push(h.d.tag), false));
    for (const f of this.#sent) {
      if (f.sub === sub) {
        tags.push(f.tag);
        this.#sent.delete(f);
      }
    }
    if (tags.length !== 0) sub.nack(tags, true, false);
    return sub.cancel();
  }

  /** Stops and closes the session; the queue (and a topic source's subscription queue) stays. */
  async close(): Promise<void> {
    await this.stop();
    await this.#session.close("bridge stopped");
  }

  /** Messages waiting in the local queue (not yet delivered to the bridge). */
  queued(): number {
    return this.#broker.destinations().find((d) => d.kind === "queue" && d.name === this.queue)?.pending ?? 0;
  }
}
