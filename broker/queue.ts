/**
 * Point-to-point delivery: priority levels (FIFO within each), one consumer per message, credit,
 * round-robin, exclusive consumers, selectors, message groups, ack/nack and redelivery. Topic
 * subscriptions are queues too (bound to a pattern), so every consumer shares this one model.
 *
 * @module
 */
import type { Delivery, DeliverySink, Message, Subscription, SubscriptionSpec } from "./api.ts";
import { SeqDeque } from "./deque.ts";
import { PRIORITY_LEVELS } from "./message.ts";
import type { RedeliveryDecision } from "./redelivery.ts";
import type { Selector } from "./selector.ts";

/** One message in one queue. */
export interface Entry {
  readonly seq: number;
  message: Message;
  /** True when the store holds this entry (persistent message in a durable queue). */
  readonly stored: boolean;
}

/** What a queue needs from the broker that owns it. */
export interface QueueOwner {
  now(): number;
  /** Runs the deliver fold; returns the message to send, or a string reason to dead-letter, or null to drop. */
  beforeDeliver(q: Queue, c: Consumer, m: Message): Message | string | null;
  /** The entry left the queue for good (acked, expired, dead-lettered, purged). */
  removed(q: Queue, e: Entry, why: "acked" | "expired" | "dead_letter" | "purged", reason?: string): void;
  /** The entry's redelivery count changed. */
  redelivered(q: Queue, e: Entry): void;
  /** A queue with no consumers left that should disappear (temporary subscription queues). */
  abandoned(q: Queue): void;
  /** Asked when an entry goes back to the queue: redelivery limit and delay. */
  redeliveryPolicy?(q: Queue, m: Message): RedeliveryDecision | undefined;
  /** Keeps a requeued entry from consumers for `delayMs`, then hands it to `q.restore(e)`. */
  holdBack?(q: Queue, e: Entry, delayMs: number): void;
}

/** Queue settings. */
export interface QueueOptions {
  /** Persistent messages in a durable queue are stored; non-durable queues never touch the store. */
  durable: boolean;
  /** Dead-letter after this many redeliveries; undefined = never. */
  maxRedeliveries?: number;
  /** Delete the queue when its last consumer leaves (non-durable subscription queues). */
  autoDelete: boolean;
  /**
   * Id of the session a temporary queue belongs to (a plain topic subscription's `$tmp.` queue, an AMQP
   * dynamic node): no other session may consume from it.
   */
  session?: string;
  /**
   * Most pending entries (in-flight ones do not count); one more dead-letters the oldest of the lowest
   * priority with reason "max_length". Unbounded when undefined.
   */
  maxLength?: number;
}

/** A consumer attached to a queue; the {@linkcode Subscription} handle protocols hold. */
export class Consumer implements Subscription {
  readonly id: string;
  readonly spec: Readonly<SubscriptionSpec>;
  readonly queue: string;
  readonly sessionId: string;
  readonly selector: Selector | undefined;
  readonly autoAck: boolean;
  readonly exclusive: boolean;
  readonly sink: DeliverySink;
  /** Remaining credit; Infinity for unbounded streams. */
  creditLeft: number;
  readonly inflight = new Map<number, Entry>();
  /** Messages delivered so far (counted by the owner once the deliver fold lets one through). */
  delivered = 0;
  #nextTag = 1;
  #q: Queue;
  #onCancel: (c: Consumer) => Promise<void>;
  closed = false;

  constructor(
    q: Queue,
    init: {
      id: string;
      spec: SubscriptionSpec;
      sessionId: string;
      selector?: Selector;
      sink: DeliverySink;
      prefetch: number;
      onCancel: (c: Consumer) => Promise<void>;
    },
  ) {
    this.#q = q;
    this.id = init.id;
    this.spec = init.spec;
    this.queue = q.name;
    this.sessionId = init.sessionId;
    this.selector = init.selector;
    this.autoAck = init.spec.ack === "auto";
    this.exclusive = init.spec.exclusive === true;
    this.sink = init.sink;
    this.creditLeft = init.prefetch;
    this.#onCancel = init.onCancel;
  }

  nextTag(): number {
    return this.#nextTag++;
  }

  credit(n: number): void {
    if (this.closed || !(n > 0)) return;
    this.creditLeft += n;
    this.#q.drain();
  }

  setCredit(n: number): void {
    if (this.closed || !(n >= 0)) return;
    this.creditLeft = n;
    if (n > 0) this.#q.drain();
  }

  ack(tags: readonly number[]): void {
    this.#q.ack(this, tags);
  }

  nack(tags: readonly number[], requeue: boolean, counted = true): void {
    this.#q.nack(this, tags, requeue, counted);
  }

  cancel(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.#onCancel(this);
  }
}

/** A queue: pending entries per priority level, consumers, in-flight tracking. */
export class Queue {
  readonly name: string;
  readonly options: QueueOptions;
  /** For subscription queues: the topic pattern it is bound to. */
  boundTo: string | undefined;
  readonly #levels: SeqDeque<Entry>[] = [];
  readonly #owner: QueueOwner;
  #consumers: Consumer[] = [];
  #rr = 0;
  #groups = new Map<string, Consumer>();
  #pending = 0;
  #inflight = 0;
  #expiring = 0;
  #draining = false;
  // Requeues that arrive while drain() iterates (a sink that nacks synchronously) wait for it to end.
  #deferred: Entry[] = [];
  enqueued = 0;
  dequeued = 0;

  constructor(name: string, owner: QueueOwner, options: QueueOptions) {
    this.name = name;
    this.#owner = owner;
    this.options = options;
    for (let i = 0; i < PRIORITY_LEVELS; i++) this.#levels.push(new SeqDeque<Entry>());
  }

  get pending(): number {
    return this.#pending;
  }
  get inflight(): number {
    return this.#inflight;
  }
  get consumers(): readonly Consumer[] {
    return this.#consumers;
  }
  /** Whether any entry carries an expiry (the sweep skips queues without). */
  get hasExpiring(): boolean {
    return this.#expiring > 0;
  }

  /** Adds an entry and delivers it at once when a consumer can take it. */
  enqueue(e: Entry): void {
    this.enqueued++;
    if (e.message.expiresAt !== 0) {
      this.#expiring++;
      // A message can arrive expired (a scheduled one whose TTL ran out first, a recovered one).
      if (e.message.expiresAt <= this.#owner.now()) {
        this.#expire(e);
        return;
      }
    }
    if (this.#pending === 0 && this.#consumers.length !== 0) {
      const c = this.#pick(e.message);
      if (c !== undefined) {
        this.#deliver(c, e);
        return;
      }
    }
    this.#levels[e.message.priority].push(e);
    this.#pending++;
    if (this.#pending > 1 && this.#consumers.length !== 0) this.drain();
    if (this.options.maxLength !== undefined && this.#pending > this.options.maxLength) this.trim();
  }

  /**
   * Dead-letters pending entries over `options.maxLength` ("max_length"). A full queue keeps the newest and
   * the most urgent: the oldest entries of the lowest priority go first.
   */
  trim(): void {
    const max = this.options.maxLength;
    if (max === undefined) return;
    for (const level of this.#levels) {
      while (this.#pending > max) {
        const e = level.shift();
        if (e === undefined) break;
        this.#pending--;
        this.#deadLetter(e, "max_length");
      }
    }
  }

  addConsumer(c: Consumer): void {
    this.#consumers.push(c);
    this.drain();
  }

  /** Detaches a consumer; its unacked entries go back with redeliveryCount + 1; its groups move. */
  removeConsumer(c: Consumer): void {
    c.closed = true;
    const i = this.#consumers.indexOf(c);
    if (i >= 0) this.#consumers.splice(i, 1);
    for (const [g, owner] of this.#groups) if (owner === c) this.#groups.delete(g);
    const back = [...c.inflight.values()];
    c.inflight.clear();
    this.#inflight -= back.length;
    for (const e of back) this.#requeue(e, true);
    if (this.#consumers.length === 0 && this.options.autoDelete) {
      this.#owner.abandoned(this);
      return;
    }
    this.drain();
  }

  ack(c: Consumer, tags: readonly number[]): void {
    for (const tag of tags) {
      const e = c.inflight.get(tag);
      if (e === undefined) continue;
      c.inflight.delete(tag);
      this.#inflight--;
      this.dequeued++;
      this.#forget(e);
      this.#owner.removed(this, e, "acked");
    }
  }

  nack(c: Consumer, tags: readonly number[], requeue: boolean, counted = true): void {
    for (const tag of tags) {
      const e = c.inflight.get(tag);
      if (e === undefined) continue;
      c.inflight.delete(tag);
      this.#inflight--;
      if (requeue) this.#requeue(e, counted);
      else this.#deadLetter(e, "rejected");
    }
    this.drain();
  }

  /** Delivers pending entries while some consumer has credit. Re-entrant calls are coalesced. */
  drain(): void {
    if (this.#draining || this.#pending === 0 || this.#consumers.length === 0) return;
    this.#draining = true;
    try {
      const now = this.#owner.now();
      for (let p = PRIORITY_LEVELS - 1; p >= 0 && this.#pending > 0; p--) {
        const level = this.#levels[p];
        if (level.size === 0) continue;
        for (const [pos, e] of level.entries()) {
          if (!this.#anyCredit()) return;
          const m = e.message;
          if (m.expiresAt !== 0 && m.expiresAt <= now) {
            level.removeAt(pos);
            this.#pending--;
            this.#expire(e);
            continue;
          }
          const c = this.#pick(m);
          if (c === undefined) continue;
          level.removeAt(pos);
          this.#pending--;
          this.#deliver(c, e);
        }
      }
    } finally {
      this.#draining = false;
      if (this.#deferred.length !== 0) {
        const back = this.#deferred;
        this.#deferred = [];
        for (const e of back) this.#levels[e.message.priority].insert(e);
        this.drain();
      }
    }
  }

  /** Removes expired entries that are still pending. */
  sweepExpired(now: number): number {
    if (this.#expiring === 0) return 0;
    let n = 0;
    for (const level of this.#levels) {
      for (const [pos, e] of level.entries()) {
        if (e.message.expiresAt !== 0 && e.message.expiresAt <= now) {
          level.removeAt(pos);
          this.#pending--;
          this.#expire(e);
          n++;
        }
      }
    }
    return n;
  }

  /** Pending entries, highest priority first, oldest first within a level. */
  *pendingEntries(): IterableIterator<Entry> {
    for (let p = PRIORITY_LEVELS - 1; p >= 0; p--) {
      for (const [, e] of this.#levels[p].entries()) yield e;
    }
  }

  /** Removes every pending entry; in-flight ones stay with their consumers. */
  purge(): number {
    let n = 0;
    for (const level of this.#levels) {
      for (const e of level.clear()) {
        this.#forget(e);
        this.#owner.removed(this, e, "purged");
        n++;
      }
    }
    this.#pending = 0;
    return n;
  }

  /**
   * Takes back entries whose publish failed, pending or in flight (a consumer's later ack or nack of one
   * does nothing), without the owner's `removed`: they were never accepted. Deletes each one found from
   * `entries`.
   */
  withdraw(entries: Set<Entry>): void {
    for (const e of entries) {
      if (!this.#levels[e.message.priority].remove(e)) continue;
      this.#pending--;
      this.#forget(e);
      entries.delete(e);
    }
    for (const c of this.#consumers) {
      if (entries.size === 0) return;
      for (const [tag, e] of c.inflight) {
        if (!entries.delete(e)) continue;
        c.inflight.delete(tag);
        this.#inflight--;
        this.#forget(e);
      }
    }
  }

  /** Detaches every consumer without requeueing (queue deletion). */
  close(): void {
    for (const c of this.#consumers) c.closed = true;
    this.#consumers = [];
  }

  #anyCredit(): boolean {
    for (const c of this.#consumers) if (c.creditLeft > 0) return true;
    return false;
  }

  // Picks the consumer for a message, or undefined when none can take it now.
  #pick(m: Message): Consumer | undefined {
    const cs = this.#consumers;
    if (cs[0].exclusive || (cs.length > 1 && cs.some((c) => c.exclusive))) {
      const ex = cs.find((c) => c.exclusive)!;
      return ex.creditLeft > 0 && (ex.selector === undefined || ex.selector(m)) ? ex : undefined;
    }
    const g = m.groupId;
    if (g !== undefined) {
      const owner = this.#groups.get(g);
      if (owner !== undefined) {
        return owner.creditLeft > 0 && (owner.selector === undefined || owner.selector(m))
          ? owner
          : undefined;
      }
    }
    const n = cs.length;
    for (let i = 0; i < n; i++) {
      const idx = (this.#rr + i) % n;
      const c = cs[idx];
      if (c.creditLeft > 0 && (c.selector === undefined || c.selector(m))) {
        this.#rr = idx + 1;
        if (g !== undefined) this.#groups.set(g, c);
        return c;
      }
    }
    return undefined;
  }

  #deliver(c: Consumer, e: Entry): void {
    const out = this.#owner.beforeDeliver(this, c, e.message);
    if (typeof out === "string") {
      this.#deadLetter(e, out);
      return;
    }
    if (out === null) {
      this.dequeued++;
      this.#forget(e);
      this.#owner.removed(this, e, "acked");
      return;
    }
    c.creditLeft--;
    let tag = 0;
    if (c.autoAck) {
      this.dequeued++;
      this.#forget(e);
      this.#owner.removed(this, e, "acked");
    } else {
      tag = c.nextTag();
      c.inflight.set(tag, e);
      this.#inflight++;
    }
    const d: Delivery = { message: out, tag, queue: this.name };
    c.sink.deliver(c, d);
  }

  #requeue(e: Entry, bump: boolean): void {
    if (bump) {
      e.message = { ...e.message, redeliveryCount: e.message.redeliveryCount + 1 };
      const policy = this.#owner.redeliveryPolicy?.(this, e.message);
      const max = this.options.maxRedeliveries ?? policy?.maxRedeliveries;
      if (max !== undefined && e.message.redeliveryCount > max) {
        this.#deadLetter(e, "max_redeliveries");
        return;
      }
      this.#owner.redelivered(this, e);
      if (policy?.delayMs && this.#owner.holdBack) {
        this.#owner.holdBack(this, e, policy.delayMs);
        return;
      }
    }
    this.#pending++;
    if (this.#draining) this.#deferred.push(e);
    else this.#levels[e.message.priority].insert(e);
  }

  /** Takes back an entry that waited out its redelivery delay. */
  restore(e: Entry): void {
    this.#pending++;
    if (this.#draining) this.#deferred.push(e);
    else this.#levels[e.message.priority].insert(e);
    this.drain();
  }

  #expire(e: Entry): void {
    this.#forget(e);
    this.#owner.removed(this, e, "expired");
  }

  #deadLetter(e: Entry, reason: string): void {
    this.#forget(e);
    this.#owner.removed(this, e, "dead_letter", reason);
  }

  #forget(e: Entry): void {
    if (e.message.expiresAt !== 0) this.#expiring--;
  }
}
