/**
 * Redelivery policy and backoff. When a queue takes a message back (nack with requeue, lost
 * consumer), the broker asks the policy a plugin set (the dlq plugin: per destination pattern) for
 * the redelivery limit and a delay; a delayed entry waits here, outside its queue, until it is
 * eligible again. One timer serves every held entry.
 *
 * @module
 */
import type { Message } from "./message.ts";

/** What the policy answers for one redelivery. */
export interface RedeliveryDecision {
  /** Dead-letter ("max_redeliveries") once redeliveryCount exceeds this; a queue's own limit wins. */
  readonly maxRedeliveries?: number;
  /** Keep the message out of reach of consumers this long before it is eligible again. */
  readonly delayMs?: number;
}

/**
 * Consulted each time a message goes back to `queue`; `message.redeliveryCount` is already the new
 * count. Undefined = the queue's own settings, no delay.
 */
export type RedeliveryPolicy = (queue: string, message: Message) => RedeliveryDecision | undefined;

interface Held<T> {
  readonly at: number;
  readonly seq: number;
  readonly item: T;
}

/**
 * Items waiting for their redelivery delay, released in due order through `release`. A min-heap
 * by (due time, arrival) with a single timer.
 */
export class DelayedRedeliveries<T> {
  readonly #heap: Held<T>[] = [];
  readonly #release: (item: T) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedAt = Infinity;
  #seq = 0;

  constructor(release: (item: T) => void) {
    this.#release = release;
  }

  get size(): number {
    return this.#heap.length;
  }

  /** Holds `item` for `delayMs`, then releases it. */
  hold(item: T, delayMs: number): void {
    const h = this.#heap;
    const e: Held<T> = { at: Date.now() + delayMs, seq: this.#seq++, item };
    let i = h.push(e) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!earlier(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
    this.#arm();
  }

  /** Drops everything held (broker stop: stored entries come back from the store on restart). */
  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#heap.length = 0;
  }

  #arm(): void {
    const top = this.#heap[0];
    if (top === undefined || (this.#timer !== undefined && this.#armedAt <= top.at)) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedAt = top.at;
    this.#timer = setTimeout(this.#fire, Math.max(0, Math.min(top.at - Date.now(), 2 ** 31 - 1)));
  }

  #fire = (): void => {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const now = Date.now();
    while (this.#heap.length !== 0 && this.#heap[0].at <= now) this.#release(this.#pop().item);
    this.#arm();
  };

  #pop(): Held<T> {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length !== 0) {
      h[0] = last;
      let i = 0;
      while (true) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && earlier(h[l], h[m])) m = l;
        if (r < h.length && earlier(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

function earlier<T>(a: Held<T>, b: Held<T>): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
